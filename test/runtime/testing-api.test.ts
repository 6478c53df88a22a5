// `xdpc/testing` (runtime/testing/index.ts): testFilter over frames and captures on the
// Wasm engine (anywhere, no privilege) and on the kernel and both (kernel tests).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeKernel } from "../support/kernel.ts";
import { build, udp4 } from "../../runtime/packets/build.ts";
import { repo } from "../support/unprivileged.ts";
import { writePcap } from "../../runtime/packets/pcap.ts";
import {
  EngineMismatchError,
  FilterError,
  testFilter,
  type FilterRun,
} from "../../runtime/testing/index.ts";

const echo = build({
  eth: { src: "02:00:00:00:00:01", dst: "02:00:00:00:00:02" },
  l3: { kind: "ipv4", src: "198.18.0.2", dst: "198.18.0.1" },
  l4: { kind: "icmp", type: 8, id: 7, seq: 1 },
});
const udpFrom = (src: string) => udp4({ sport: 5000, dport: 53 }, { src, dst: "198.18.0.1" });
const filter = (name: string) => join(repo, "filters", `${name}.ts`);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "xdpct-api-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The same assertions on any engine: verdicts, rewritten bytes, maps. */
async function checkEcho(t: FilterRun) {
  const r = t.run(echo);
  expect(r).toMatchObject({ index: 1, verdict: "XDP_TX", action: 3 });
  expect([...r.data.subarray(26, 30)]).toEqual([198, 18, 0, 1]); // addresses swapped
  expect(r.data[34]).toBe(0); // echo reply
  expect(r.changedBytes).toBeGreaterThan(0);
  const rest = t.runAll([udpFrom("198.18.0.3"), new Uint8Array(8)]);
  expect(rest.map((x) => [x.index, x.verdict])).toEqual([
    [2, "XDP_PASS"],
    [3, undefined],
  ]);
  expect(rest[1]!.error).toMatch(/^not run: 8 bytes is shorter than an Ethernet header/);
  expect(t.verdicts()).toEqual({ XDP_TX: 1, XDP_PASS: 1, "not run": 1 });
  expect(t.map("replies").get(0)).toBe(1n);
  expect(t.maps()).toEqual({ replies: [{ key: 0, value: 1n }] });
}

describe("testFilter on the wasm engine", () => {
  it("runs frames through a .ts filter compiled on the fly", async () => {
    const t = await testFilter(filter("icmp_echo"), { engine: "wasm" });
    expect(t.engine).toBe("wasm");
    expect(t.program).toBe("icmp_echo");
    await checkEcho(t);
    t.close();
  });

  it("takes source text, a map setup in xdpc map set's syntax, parameters and a pcap", async () => {
    const t = await testFilter(
      { source: readFileSync(filter("lpm_firewall"), "utf8"), file: "fw.ts" },
      { engine: "wasm", maps: { blocklist4: { "198.19.66.0/24": 4 } } },
    );
    const pcap = join(dir, "fw.pcap");
    const frames = ["198.19.66.7", "198.18.0.9"].map(udpFrom);
    writeFileSync(pcap, writePcap(frames.map((data) => ({ data }))));
    expect(t.runPcap(pcap).map((r) => r.verdict)).toEqual(["XDP_DROP", "XDP_PASS"]);
    t.map("blocklist4").set("198.18.0.0/16", "5");
    expect(t.run(frames[1]!).verdict).toBe("XDP_DROP");
    expect(t.map("ruleStats").entries()).toEqual([
      { key: 4, value: { packets: 1n, bytes: BigInt(frames[0]!.length) } },
      { key: 5, value: { packets: 1n, bytes: BigInt(frames[1]!.length) } },
    ]);
    expect(t.map("blocklist4").get("198.19.66.0/24")).toBe(4);

    const vlan = await testFilter(filter("vlan_filter"), {
      engine: "wasm",
      params: { allowUntagged: false },
    });
    expect(vlan.run(udpFrom("198.18.0.2")).verdict).toBe("XDP_DROP");
  });

  it("reports compile errors, unknown maps and refused helpers as FilterError", async () => {
    const broken = testFilter(
      { source: "export function f(ctx: XdpContext) { return 1 }" },
      {
        engine: "wasm",
      },
    );
    await expect(broken).rejects.toThrow(FilterError);
    await expect(broken).rejects.toThrow(
      /filter\.ts does not compile:\nfilter\.ts:1:\d+: error XDP/,
    );
    await expect(
      testFilter(filter("icmp_echo"), { engine: "wasm", maps: { nosuch: {} } }),
    ).rejects.toThrow("maps: no map 'nosuch' in the filter (maps: replies)");
    const fib = `import { XdpContext, XdpAction, XDP_PASS, FibLookupParams, fibLookup, zeroed } from "xdpc";
export function route(ctx: XdpContext): XdpAction {
  const p = zeroed<FibLookupParams>();
  p.ifindex = ctx.ifindex;
  fibLookup(ctx, p);
  return XDP_PASS;
}
`;
    await expect(testFilter({ source: fib, file: "fib.ts" }, { engine: "wasm" })).rejects.toThrow(
      "fib.ts: the wasm engine does not implement helper bpf_fib_lookup (fibLookup); the kernel engine has it (--engine kernel; or give the wasm engine a route table: --routes FILE.json)",
    );
    const t = await testFilter(filter("icmp_echo"), { engine: "wasm" });
    expect(() => t.map("nosuch")).toThrow("no map 'nosuch' in the filter (maps: replies)");
  });
});

describeKernel("testFilter on the kernel and on both engines", () => {
  it("the kernel gives what the wasm engine gives", async () => {
    const t = await testFilter(filter("icmp_echo"), { engine: "kernel" });
    expect(t.engine).toBe("kernel");
    await checkEcho(t);
    t.close();
    const auto = await testFilter(filter("icmp_echo"));
    expect(auto.engine).toBe("kernel"); // root here: the kernel is the default
    auto.close();
  });

  it("both: runs agree, or an EngineMismatchError lists each difference", async () => {
    const t = await testFilter(filter("icmp_echo"), { engine: "both" });
    expect(t.engine).toBe("both");
    await checkEcho(t);
    t.close();
    // syn_guard stamps its buckets with ktime(): the engines' clocks differ.
    const syn = await testFilter(filter("syn_guard"), { engine: "both" });
    const frame = build({
      eth: {},
      l3: { kind: "ipv4", src: "198.18.0.2", dst: "198.18.0.1" },
      l4: { kind: "tcp", sport: 1000, dport: 80, flags: 0x02 },
    });
    let err: unknown;
    try {
      syn.run(frame);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EngineMismatchError);
    const d = (err as EngineMismatchError).differences;
    expect(d).toHaveLength(1);
    expect(d[0]!.index).toBe(1);
    expect(d[0]!.what[0]).toMatch(/^map buckets\[\d+\]: kernel \{"tokens":\d+,"last":\d+\}, wasm /);
    syn.close();
  });
});
