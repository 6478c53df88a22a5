// `xdpc test` through the built CLI (run `npm run build` first: the CLI runs from dist/).
import { afterAll, beforeAll, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeKernel, describeWithPath } from "../support/kernel.ts";
import { build, udp4 } from "../../runtime/packets/build.ts";
import { readPcap, writePcap, writePcapng, LINKTYPE_RAW } from "../../runtime/packets/pcap.ts";
import { buildObject } from "../../compiler/elf/object.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const bin = join(root, "bin/xdpc.js");
const xdpc = (...args: string[]) => {
  // The kernel engine, named: the default would add a note saying which engine ran.
  const engine = args[0] === "test" ? ["--engine", "kernel"] : [];
  const r = spawnSync(process.execPath, [bin, ...args, ...engine], {
    encoding: "utf8",
    cwd: root,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const bpffsTestDirs = () => readdirSync("/sys/fs/bpf").filter((n) => n.startsWith("xdpc-test-"));

const echo = build({
  eth: { src: "02:00:00:00:00:01", dst: "02:00:00:00:00:02" },
  l3: { kind: "ipv4", src: "198.18.0.2", dst: "198.18.0.1" },
  l4: { kind: "icmp", type: 8, id: 7, seq: 1 },
});
const udp = udp4({ sport: 5000, dport: 53 }, { src: "198.18.0.2", dst: "198.18.0.1" });

describeKernel("xdpc test", () => {
  let dir: string;
  const f = (name: string) => join(dir, name);
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "xdpct-test-"));
    const packets = [echo, udp, new Uint8Array(10), new Uint8Array(80_000)];
    writeFileSync(
      f("mix.pcap"),
      writePcap(
        packets.map((data, i) => ({ data, ts: BigInt(i + 1) * 1_000_000_000n })),
        { snapLen: 262144 },
      ),
    );
    writeFileSync(f("mix.pcapng"), writePcapng(packets.map((data) => ({ data }))));
    writeFileSync(
      f("raw.pcap"),
      writePcap([{ data: udp.subarray(14) }], { linkType: LINKTYPE_RAW }),
    );
    const whole = writePcap([{ data: echo }, { data: udp }]);
    writeFileSync(f("cut.pcap"), whole.subarray(0, whole.length - 10));
    writeFileSync(f("untagged.pcap"), writePcap([{ data: udp }]));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("prints a verdict table and writes the packets that leave the program, rewritten", () => {
    const r = xdpc("test", "filters/icmp_echo.ts", "--pcap", f("mix.pcap"), "--out", f("out.pcap"));
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      `filters/icmp_echo.ts (program icmp_echo) over ${f("mix.pcap")}: 4 packets\n` +
        "  verdict   packets   share\n" +
        "  XDP_PASS        1   25.0%\n" +
        "  XDP_TX          1   25.0%\n" +
        "  not run         2   50.0%\n" +
        "  total           4\n" +
        "rewritten by the program: 1 packet\n" +
        `wrote 2 packets to ${f("out.pcap")}\n`,
    );
    const out = readPcap(readFileSync(f("out.pcap"))).packets;
    expect(out.map((p) => p.ts)).toEqual([1_000_000_000n, 2_000_000_000n]);
    const reply = out[0]!.data;
    expect(reply[34]).toBe(0); // echo reply
    expect([...reply.subarray(26, 30)]).toEqual([198, 18, 0, 1]); // addresses swapped
    expect([...reply.subarray(30, 34)]).toEqual([198, 18, 0, 2]);
    expect([...reply.subarray(0, 6)]).toEqual([2, 0, 0, 0, 0, 1]); // MACs swapped
    expect(new Uint8Array(out[1]!.data)).toEqual(udp);
  });

  it("--verbose prints one line per packet, pcapng input gives the same verdicts", () => {
    const r = xdpc("test", "filters/icmp_echo.ts", "--pcap", f("mix.pcapng"), "--verbose");
    expect(r.code).toBe(0);
    const lines = r.out.split("\n");
    expect(lines[0]).toMatch(/^#1 +\d+ B  XDP_TX +changed \d+ bytes$/);
    expect(lines[1]).toMatch(/^#2 +\d+ B  XDP_PASS$/);
    expect(lines[2]).toBe(
      "#3     10 B  not run      not run: 10 bytes is shorter than an Ethernet header (14), which the kernel refuses",
    );
    expect(lines[3]).toBe(
      "#4  80000 B  not run      not run: 80000 bytes is longer than the kernel's test-run limit (73152)",
    );
    expect(r.out).toContain("  XDP_TX          1   25.0%\n");
  });

  it("--json prints one object with the summary, and every packet with --verbose", () => {
    const r = xdpc(
      "test",
      "filters/icmp_echo.ts",
      "--pcap",
      f("mix.pcap"),
      "--json",
      "--verbose",
      "--out",
      f("j.pcap"),
    );
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc).toMatchObject({
      file: "filters/icmp_echo.ts",
      program: "icmp_echo",
      packets: 4,
      verdicts: { XDP_TX: 1, XDP_PASS: 1 },
      notRun: 2,
      rewritten: 1,
      out: { path: f("j.pcap"), packets: 2 },
    });
    expect(doc.results[0]).toMatchObject({ index: 1, verdict: "XDP_TX", outLength: echo.length });
    expect(doc.results[0].changedBytes).toBeGreaterThan(0);
    expect(doc.results[1]).toEqual({
      index: 2,
      length: udp.length,
      origLen: udp.length,
      verdict: "XDP_PASS",
      outLength: udp.length,
      changedBytes: 0,
    });
    expect(doc.results[2].error).toMatch(/^not run: 10 bytes/);
    expect(r.out.trim().split("\n")).toHaveLength(1);
  });

  it("applies --set parameters and runs .o files", () => {
    expect(xdpc("test", "filters/vlan_filter.ts", "--pcap", f("untagged.pcap")).out).toContain(
      "  XDP_PASS        1  100.0%",
    );
    expect(
      xdpc(
        "test",
        "filters/vlan_filter.ts",
        "--pcap",
        f("untagged.pcap"),
        "--set",
        "allowUntagged=false",
      ).out,
    ).toContain("  XDP_DROP        1  100.0%");
    expect(xdpc("build", "filters/icmp_echo.ts", "-o", f("echo.o")).code).toBe(0);
    const r = xdpc("test", f("echo.o"), "--pcap", f("mix.pcap"), "--program", "icmp_echo");
    expect(r.code).toBe(0);
    expect(r.out).toContain("  XDP_TX          1   25.0%");
  });

  it("pinned maps go to a private pin root that is removed afterwards", () => {
    const before = bpffsTestDirs();
    const r = xdpc("test", "filters/lpm_firewall.ts", "--pcap", f("mix.pcap"));
    expect(r.code).toBe(0);
    expect(r.out).toContain("  XDP_PASS        2   50.0%");
    expect(bpffsTestDirs()).toEqual(before);
    expect(readdirSync("/sys/fs/bpf")).not.toContain("blocklist4");
  });

  it("reports bad captures, parameters and programs with one line and exit 1", () => {
    expect(xdpc("test", "filters/icmp_echo.ts", "--pcap", f("raw.pcap"))).toEqual({
      code: 1,
      out: "",
      err: `xdpc: error: ${f("raw.pcap")}: packet 1 has unsupported link type raw IP (LINKTYPE 101); expected Ethernet (LINKTYPE 1) (at byte offset 24)\n`,
    });
    const cut = xdpc("test", "filters/icmp_echo.ts", "--pcap", f("cut.pcap"));
    expect(cut.code).toBe(1);
    expect(cut.err).toMatch(
      new RegExp(`^xdpc: error: ${f("cut.pcap")}: .*truncated.* \\(at byte offset \\d+\\)\\n$`),
    );
    expect(xdpc("test", "filters/icmp_echo.ts", "--pcap", f("missing.pcap"))).toMatchObject({
      code: 1,
      err: `xdpc: error: cannot read '${f("missing.pcap")}': no such file\n`,
    });
    const bad = xdpc(
      "test",
      "filters/vlan_filter.ts",
      "--pcap",
      f("untagged.pcap"),
      "--set",
      "nope=1",
    );
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(
      /^xdpc: error: filters\/vlan_filter.ts: unknown parameter 'nope' \(parameters: .*vid: u16 = 100.*\)\n$/,
    );
    const range = xdpc(
      "test",
      "filters/vlan_filter.ts",
      "--pcap",
      f("untagged.pcap"),
      "--set",
      "vid=70000",
    );
    expect(range).toMatchObject({ code: 1 });
    expect(range.err).toContain("out of range for parameter 'vid: u16 = 100'");
    expect(xdpc("test", f("echo.o"), "--pcap", f("mix.pcap"), "--program", "other")).toMatchObject({
      code: 1,
      err: `xdpc: error: ${f("echo.o")}: no program named 'other' (programs: icmp_echo)\n`,
    });
    writeFileSync(f("junk.o"), "not an object");
    const junk = xdpc("test", f("junk.o"), "--pcap", f("mix.pcap"));
    expect(junk.code).toBe(1);
    expect(junk.err).toMatch(/^xdpc: error: .*junk\.o: not a valid eBPF object: /);
  });

  it("a verifier rejection is a diagnostic; several programs need --program", () => {
    const ok = new Uint8Array([0xb7, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]); // r0 = XDP_PASS; exit
    const bad = new Uint8Array([0xbf, 0x20, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]); // r0 = r2 (never written); exit
    writeFileSync(
      f("bad.o"),
      buildObject({ license: "GPL", programs: [{ name: "bad", section: "xdp", insns: bad }] }),
    );
    writeFileSync(
      f("two.o"),
      buildObject({
        license: "GPL",
        programs: [
          { name: "one", section: "xdp", insns: ok },
          { name: "two", section: "xdp", insns: ok },
        ],
      }),
    );
    expect(xdpc("test", f("bad.o"), "--pcap", f("mix.pcap"))).toEqual({
      code: 1,
      out: "",
      err: `${f("bad.o")}: error XDP5002: the kernel verifier rejected program 'bad': R2 !read_ok\n`,
    });
    expect(xdpc("test", f("two.o"), "--pcap", f("mix.pcap"))).toMatchObject({
      code: 1,
      err: `xdpc: error: ${f("two.o")}: the object has 2 programs (one, two); pick one with --program\n`,
    });
    const two = xdpc("test", f("two.o"), "--pcap", f("mix.pcap"), "--program", "two");
    expect(two.code).toBe(0);
    expect(two.out).toContain(`(program two) over ${f("mix.pcap")}: 4 packets`);
  });

  it("compile errors are diagnostics (exit 1); a missing --pcap or a bad --set is usage (exit 2)", () => {
    writeFileSync(f("broken.ts"), "export function f(ctx: XdpContext): XdpAction { return 7 }\n");
    const r = xdpc("test", f("broken.ts"), "--pcap", f("mix.pcap"));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/broken\.ts:1:\d+: error XDP\d{4}/);
    expect(xdpc("test", "filters/icmp_echo.ts").code).toBe(2);
    expect(
      xdpc("test", "filters/icmp_echo.ts", "--pcap", f("mix.pcap"), "--set", "novalue"),
    ).toMatchObject({ code: 2, err: "xdpc: error: --set expects name=value, got 'novalue'\n" });
  });
});

describeWithPath(
  "xdpc test over the tcpdump corpus",
  join(root, "../shared/corpus/tcpdump"),
  () => {
    const corpus = join(root, "../shared/corpus/tcpdump");
    let dir: string;
    beforeAll(() => void (dir = mkdtempSync(join(tmpdir(), "xdpct-test-"))));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("answers the echo requests of a DHCP capture and passes the rest", () => {
      const out = join(dir, "dhcp.pcap");
      const r = xdpc(
        "test",
        "filters/icmp_echo.ts",
        "--pcap",
        join(corpus, "dhcp-rfc4388.pcap"),
        "--out",
        out,
        "--verbose",
      );
      expect(r.code).toBe(0);
      expect(r.out).toContain(
        "  XDP_PASS       51   94.4%\n  XDP_TX          3    5.6%\n  total          54\n",
      );
      expect(
        r.out
          .split("\n")
          .filter((l) => /XDP_TX/.test(l) && l.startsWith("#"))
          .map((l) => l.split(/\s+/)[0]),
      ).toEqual(["#2", "#12", "#32"]);
      const written = readPcap(readFileSync(out)).packets;
      expect(written).toHaveLength(54);
      expect(written.filter((p) => p.data[23] === 1 && p.data[34] === 0)).toHaveLength(3); // echo replies
    });

    it("reports a BIG TCP packet beyond the kernel's limit instead of failing", () => {
      const r = xdpc(
        "test",
        "filters/lpm_firewall.ts",
        "--pcap",
        join(corpus, "bigtcp-ipv4.pcap"),
        "--verbose",
      );
      expect(r.code).toBe(0);
      expect(r.out).toContain(
        "#1  80066 B  not run      not run: 80066 bytes is longer than the kernel's test-run limit (73152)",
      );
      expect(r.out).toContain("  not run        1  100.0%");
    });

    it("runs packets cut by the capture's snaplen and says so", () => {
      const r = xdpc(
        "test",
        "filters/lpm_firewall.ts",
        "--pcap",
        join(corpus, "pim-packet-assortment.pcap"),
        "--verbose",
      );
      expect(r.code).toBe(0);
      expect(r.out).toContain("(captured 65535 of 65549)");
      expect(r.out).toContain("  XDP_PASS      245  100.0%");
    });
  },
);
