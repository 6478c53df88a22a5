// `xdpc test --engine kernel|wasm|both`, `--maps`, `--maps-out`, and the default engine:
// the wasm engine needs no privilege (the first block runs anywhere), `both` reports
// every packet where the engines differ, and as an unprivileged user the default is the
// wasm engine with the same verdict table the kernel gives root.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeKernel } from "../support/kernel.ts";
import { TCPDUMP_DIR } from "../support/corpus.ts";
import { build, udp4 } from "../../runtime/packets/build.ts";
import {
  asNobody,
  openUp,
  repo,
  stagePackage,
  type StagedPackage,
} from "../support/unprivileged.ts";
import { writePcap } from "../../runtime/packets/pcap.ts";
import { runEngines, type Engine, type MapsJson } from "../../runtime/testing/engines.ts";
import type { PacketOutcome, TestPacket } from "../../runtime/packets/testrun.ts";

const bin = join(repo, "bin/xdpc.js");
const xdpc = (...args: string[]) => {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", cwd: repo });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

const echo = build({
  eth: { src: "02:00:00:00:00:01", dst: "02:00:00:00:00:02" },
  l3: { kind: "ipv4", src: "198.18.0.2", dst: "198.18.0.1" },
  l4: { kind: "icmp", type: 8, id: 7, seq: 1 },
});
const udpFrom = (src: string) => udp4({ sport: 5000, dport: 53 }, { src, dst: "198.18.0.1" });

let dir: string;
const f = (name: string) => join(dir, name);
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "xdpct-engine-"));
  const frames = [echo, udpFrom("198.18.0.2"), new Uint8Array(10)];
  writeFileSync(f("mix.pcap"), writePcap(frames.map((data) => ({ data }))));
  writeFileSync(
    f("fw.pcap"),
    writePcap(
      ["198.19.66.7", "198.18.0.9", "198.19.130.1", "198.19.66.8"].map((s) => ({
        data: udpFrom(s),
      })),
    ),
  );
  writeFileSync(
    f("setup.json"),
    JSON.stringify({ blocklist4: { "198.19.66.0/24": 1 }, blocklist6: [] }),
  );
  writeFileSync(
    f("setup-list.json"),
    JSON.stringify({ blocklist4: [{ key: "198.19.128.0/17", value: "2" }] }),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TABLE_ECHO =
  "  verdict   packets   share\n" +
  "  XDP_PASS        1   33.3%\n" +
  "  XDP_TX          1   33.3%\n" +
  "  not run         1   33.3%\n" +
  "  total           3\n" +
  "rewritten by the program: 1 packet\n";

describe("xdpc test --engine wasm (no privilege needed)", () => {
  it("prints the same verdict table as the kernel, and no engine note when --engine is given", () => {
    const r = xdpc("test", "filters/icmp_echo.ts", "--pcap", f("mix.pcap"), "--engine", "wasm");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      `filters/icmp_echo.ts (program icmp_echo) over ${f("mix.pcap")}: 3 packets\n` + TABLE_ECHO,
    );
  });

  it("--maps fills maps (both setup forms, map set's value syntax); --maps-out writes them back", () => {
    const args = ["test", "filters/lpm_firewall.ts", "--pcap", f("fw.pcap"), "--engine", "wasm"];
    const r = xdpc(...args, "--maps", f("setup.json"), "--maps-out", f("out.json"));
    expect(r.err).toBe("");
    expect(r.out).toContain("  XDP_DROP        2   50.0%\n  XDP_PASS        2   50.0%\n");
    const out = JSON.parse(readFileSync(f("out.json"), "utf8")) as MapsJson;
    expect(out).toEqual({
      blocklist4: [{ key: "198.19.66.0/24", value: 1 }],
      blocklist6: [],
      ruleStats: [{ key: 1, value: { packets: 2, bytes: 2 * udpFrom("198.19.66.7").length } }],
    });
    // The list form, with a value given as map-set text, and stdout output.
    const l = xdpc(...args, "--maps", f("setup-list.json"), "--maps-out", "-");
    expect(l.out).toContain("  XDP_DROP        1   25.0%\n");
    expect(l.out).toContain('"blocklist4": [\n    {"key":"198.19.128.0/17","value":2}\n  ]');
    // What --maps-out wrote is a setup: the counts carry on from it.
    const again = xdpc(...args, "--maps", f("out.json"), "--maps-out", f("out2.json"));
    expect(again.code).toBe(0);
    const out2 = JSON.parse(readFileSync(f("out2.json"), "utf8")) as MapsJson;
    expect(out2.ruleStats).toEqual([
      { key: 1, value: { packets: 4, bytes: 4 * udpFrom("198.19.66.7").length } },
    ]);
  });

  it("--json carries the engine and the final maps", () => {
    const r = xdpc(
      "test",
      "filters/icmp_echo.ts",
      "--pcap",
      f("mix.pcap"),
      "--engine",
      "wasm",
      "--json",
    );
    const doc = JSON.parse(r.out);
    expect(doc).toMatchObject({
      engine: "wasm",
      packets: 3,
      verdicts: { XDP_PASS: 1, XDP_TX: 1 },
      maps: { replies: [{ key: 0, value: 1 }] },
    });
  });

  it("setup and engine mistakes are one-line errors", () => {
    const bad = (json: unknown) => {
      writeFileSync(f("bad.json"), typeof json === "string" ? json : JSON.stringify(json));
      const r = xdpc(
        "test",
        "filters/lpm_firewall.ts",
        "--pcap",
        f("fw.pcap"),
        "--engine",
        "wasm",
        "--maps",
        f("bad.json"),
      );
      expect(r.code).toBe(1);
      expect(r.out).toBe("");
      expect(r.err.split("\n")).toHaveLength(2);
      return r.err;
    };
    expect(bad({ nosuch: {} })).toBe(
      `xdpc: error: ${f("bad.json")}: no map 'nosuch' in the filter (maps: blocklist4, blocklist6, ruleStats)\n`,
    );
    expect(bad({ blocklist4: { "300.1.2.3/8": 1 } })).toMatch(
      /^xdpc: error: .*bad\.json: map blocklist4, key "300\.1\.2\.3\/8": /,
    );
    expect(bad({ blocklist4: [{ key: "198.18.0.0/15" }] })).toContain(
      'blocklist4[0] needs "key" and "value"',
    );
    expect(bad("{ nope")).toMatch(/bad\.json: not valid JSON/);

    writeFileSync(f("echo.o"), new Uint8Array(64));
    const o = xdpc("test", f("echo.o"), "--pcap", f("mix.pcap"), "--engine", "wasm");
    expect(o).toMatchObject({ code: 1, out: "" });
    expect(o.err).toBe(
      `xdpc: error: ${f("echo.o")}: the wasm engine runs a filter compiled from its source: give the .ts file\n`,
    );
    const engine = xdpc(
      "test",
      "filters/icmp_echo.ts",
      "--pcap",
      f("mix.pcap"),
      "--engine",
      "qemu",
    );
    expect(engine.code).toBe(2);
  });

  it("a helper the Wasm host lacks is refused in one line naming it and the kernel engine", () => {
    writeFileSync(
      f("fib.ts"),
      `import { XdpContext, XdpAction, XDP_PASS, XDP_DROP, FibLookupParams, fibLookup, zeroed } from "xdpc";
export function route(ctx: XdpContext): XdpAction {
  const p = zeroed<FibLookupParams>();
  p.ifindex = ctx.ifindex;
  if (fibLookup(ctx, p) === 0) return XDP_DROP;
  return XDP_PASS;
}
`,
    );
    const r = xdpc("test", f("fib.ts"), "--pcap", f("mix.pcap"), "--engine", "wasm");
    expect(r.out).toBe("");
    expect(r.err).toBe(
      `xdpc: error: ${f("fib.ts")}: the wasm engine does not implement helper bpf_fib_lookup (fibLookup); the kernel engine has it (--engine kernel; or give the wasm engine a route table: --routes FILE.json)\n`,
    );
    expect(r.code).toBe(1);
  });
});

describe("runEngines compares two engines packet by packet", () => {
  /** A scripted engine: verdicts and map contents after each packet. */
  const fake = (
    name: "kernel" | "wasm",
    script: { verdict: number; byte?: number; count: number }[],
  ): Engine => {
    let n = 0;
    let count = 0;
    return {
      name,
      program: "p",
      run(p: TestPacket, index: number): PacketOutcome {
        const s = script[n++]!;
        count = s.count;
        const data = p.data.slice();
        if (s.byte !== undefined) data[s.byte] ^= 0xff;
        return {
          index,
          length: p.data.length,
          origLen: p.origLen,
          ts: 0n,
          verdict: s.verdict,
          data,
          changedBytes: 0,
        };
      },
      maps: () => [
        {
          name: "counts",
          type: 2,
          key: null!,
          value: null!,
          set() {},
          entries: () => (count ? [{ key: 0, value: count }] : []),
          get: () => null,
        },
      ],
      globals: () => ({}),
      close() {},
    };
  };
  const packets = Array.from({ length: 4 }, () => ({
    data: new Uint8Array(60),
    origLen: 60,
    ts: 0n,
  }));

  it("reports verdicts, bytes and a map entry at the packet after which it first differed", () => {
    const k = fake("kernel", [
      { verdict: 2, count: 1 },
      { verdict: 2, count: 2 },
      { verdict: 1, count: 3 },
      { verdict: 2, count: 4 },
    ]);
    const w = fake("wasm", [
      { verdict: 2, count: 1 },
      { verdict: 1, count: 1 },
      { verdict: 1, byte: 6, count: 1 },
      { verdict: 2, count: 4 },
    ]);
    const { outcomes, differences } = runEngines([k, w], packets);
    expect(outcomes.map((o) => o.verdict)).toEqual([2, 2, 1, 2]);
    expect(differences).toEqual([
      {
        index: 2,
        what: ["verdict: kernel XDP_PASS, wasm XDP_DROP", "map counts[0]: kernel 2, wasm 1"],
      },
      {
        index: 3,
        what: ["bytes: 1 differ, the first at offset 6", "map counts[0]: kernel 3, wasm 1"],
      },
    ]);
  });

  it("finds nothing when the engines agree", () => {
    const s = [1, 2, 3, 4].map((c) => ({ verdict: 2, count: c }));
    expect(runEngines([fake("kernel", s), fake("wasm", s)], packets).differences).toEqual([]);
  });
});

describeKernel("xdpc test on both engines, and as an unprivileged user", () => {
  let staged: StagedPackage;
  let work: string;
  /** Corpus captures and the filters run over them (lpm_firewall with a setup). */
  const CASES: { filter: string; pcap: string; maps?: unknown }[] = [
    { filter: "icmp_echo", pcap: "icmp-rfc8335.pcap" },
    {
      filter: "lpm_firewall",
      pcap: "dhcp-rfc4388.pcap",
      maps: { blocklist4: { "0.0.0.0/1": 1, "128.0.0.0/2": 2 }, blocklist6: { "::/0": 3 } },
    },
    { filter: "vlan_filter", pcap: "802.1ad_QinQ.pcap", maps: { blockedPorts: { "53": 1 } } },
    { filter: "dns_policy", pcap: "dns-uri.pcap" },
  ];
  beforeAll(() => {
    staged = stagePackage();
    work = join(staged.root, "work");
    spawnSync("mkdir", [work]);
    for (const c of CASES) {
      copyFileSync(join(repo, `filters/${c.filter}.ts`), join(work, `${c.filter}.ts`));
      copyFileSync(join(TCPDUMP_DIR, c.pcap), join(work, c.pcap));
      if (c.maps) writeFileSync(join(work, `${c.filter}.json`), JSON.stringify(c.maps));
    }
    openUp(work);
  });
  afterAll(() => rmSync(staged.root, { recursive: true, force: true }));

  const argsOf = (c: (typeof CASES)[number]) => [
    "test",
    `${c.filter}.ts`,
    "--pcap",
    c.pcap,
    ...(c.maps ? ["--maps", `${c.filter}.json`] : []),
  ];
  const asRoot = (args: string[]) => {
    const r = spawnSync(process.execPath, [staged.bin, ...args], { encoding: "utf8", cwd: work });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it("as nobody the default engine is wasm, with the verdict table root gets from the kernel", () => {
    for (const c of CASES) {
      const root = asRoot(argsOf(c));
      expect(root.stderr).toBe(
        "xdpc: note: engine: kernel (BPF_PROG_TEST_RUN; --engine wasm runs without privilege)\n",
      );
      expect(root.status).toBe(0);
      const nobody = asNobody(process.execPath, [staged.bin, ...argsOf(c)], { cwd: work });
      expect(nobody.stderr).toBe(
        "xdpc: note: engine: wasm (this process may not load BPF programs without CAP_BPF (or root))\n",
      );
      expect(nobody.status).toBe(0);
      expect(nobody.stdout, c.filter).toBe(root.stdout);
      expect(root.stdout).toMatch(/: \d+ packets\n {2}verdict/);
    }
  });

  it("a filter calling fibLookup: the Wasm engine refuses it in one line (default as nobody, --engine wasm, both), the kernel runs it", () => {
    writeFileSync(
      join(work, "fib.ts"),
      `import { XdpContext, XdpAction, XDP_PASS, XDP_DROP, FibLookupParams, fibLookup, zeroed } from "xdpc";
export function route(ctx: XdpContext): XdpAction {
  const p = zeroed<FibLookupParams>();
  p.ifindex = ctx.ifindex;
  if (fibLookup(ctx, p) === 0) return XDP_DROP;
  return XDP_PASS;
}
`,
    );
    openUp(work);
    const args = ["test", "fib.ts", "--pcap", CASES[0]!.pcap];
    const refusal =
      "xdpc: error: fib.ts: the wasm engine does not implement helper bpf_fib_lookup (fibLookup); the kernel engine has it (--engine kernel; or give the wasm engine a route table: --routes FILE.json)\n";
    const nobody = asNobody(process.execPath, [staged.bin, ...args], { cwd: work });
    expect(nobody).toEqual({
      status: 1,
      stdout: "",
      stderr:
        "xdpc: note: engine: wasm (this process may not load BPF programs without CAP_BPF (or root))\n" +
        refusal,
    });
    const wasm = asNobody(process.execPath, [staged.bin, ...args, "--engine", "wasm"], {
      cwd: work,
    });
    expect(wasm).toEqual({ status: 1, stdout: "", stderr: refusal });
    expect(asRoot([...args, "--engine", "both"])).toEqual({
      status: 1,
      stdout: "",
      stderr: refusal,
    });
    const kernel = asRoot([...args, "--engine", "kernel"]);
    expect(kernel.stderr).toBe("");
    expect(kernel.status).toBe(0);
    expect(kernel.stdout).toMatch(
      /^fib\.ts \(program route\) over icmp-rfc8335\.pcap: \d+ packets\n/,
    );
  });

  it("as nobody an explicit --engine kernel is one line, not libbpf's RLIMIT_MEMLOCK text", () => {
    const r = asNobody(process.execPath, [staged.bin, ...argsOf(CASES[0]!), "--engine", "kernel"], {
      cwd: work,
    });
    expect(r).toEqual({
      status: 1,
      stdout: "",
      stderr:
        "xdpc: error: icmp_echo.ts: the kernel engine cannot run here: this process may not load BPF programs without CAP_BPF (or root); --engine wasm runs without privilege\n",
    });
  });

  it("--engine both agrees on verdicts, bytes and maps over corpus captures", () => {
    for (const c of CASES) {
      const r = asRoot([...argsOf(c), "--engine", "both", "--maps-out", "-"]);
      expect(r.stderr).toBe("");
      expect(r.stdout, c.filter).toMatch(
        /kernel and wasm agree on all \d+ packets: verdicts, bytes and maps\n/,
      );
      expect(r.status).toBe(0);
    }
  });

  it("--engine both reports every packet where they differ (syn_guard's clock stamps) and exits 1", () => {
    copyFileSync(join(repo, "filters/syn_guard.ts"), join(work, "syn_guard.ts"));
    copyFileSync(join(TCPDUMP_DIR, "bgp-4byte-asn.pcap"), join(work, "bgp.pcap"));
    const r = asRoot(["test", "syn_guard.ts", "--pcap", "bgp.pcap", "--engine", "both", "--json"]);
    expect(r.status).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.engine).toBe("kernel+wasm");
    expect(doc.differences.length).toBeGreaterThan(0);
    for (const d of doc.differences)
      for (const w of d.what)
        expect(w).toMatch(
          /^map buckets\[\d+\]: kernel \{"tokens":\d+,"last":\d+\}, wasm \{"tokens":\d+,"last":\d+\}$/,
        );
  });
});
