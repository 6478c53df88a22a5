// `xdpc test` and xdpc/testing on a tc program (filters/tc/egress_policy.ts): the
// verdict table in tc action names on the Wasm engine (no privilege needed), and
// `--engine both` agreeing with the kernel's skb test run, refusals included.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeKernel } from "../support/kernel.ts";
import { build } from "../../runtime/packets/build.ts";
import { writePcap } from "../../runtime/packets/pcap.ts";
import { repo } from "../support/unprivileged.ts";
import { testFilter } from "../../runtime/testing/index.ts";
import { packetDiffs } from "../../runtime/testing/engines.ts";
import type { PacketOutcome } from "../../runtime/packets/testrun.ts";

const bin = join(repo, "bin/xdpc.js");
const xdpc = (...args: string[]) => {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", cwd: repo });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

const udp = (dport: number, tos = 0) =>
  build({ l3: { kind: "ipv4", tos }, l4: { kind: "udp", dport } });
const tcp = (dport: number) => build({ l3: { kind: "ipv4" }, l4: { kind: "tcp", dport } });
const frames = [
  udp(53),
  tcp(443),
  tcp(23),
  udp(9999),
  udp(53, 46 << 2),
  udp(53).subarray(0, 30), // an IPv4 header cut short: the skb test run refuses it
  new Uint8Array(10),
];
const setup = {
  policies: {
    "53": { mark: 5, priority: 0, drop: 0 },
    "443": { mark: 2, priority: 3, drop: 0 },
    "23": { mark: 0, priority: 0, drop: 1 },
  },
};
const TABLE =
  "  verdict      packets   share\n" +
  "  TC_ACT_OK          4   57.1%\n" +
  "  TC_ACT_SHOT        1   14.3%\n" +
  "  not run            2   28.6%\n" +
  "  total              7\n" +
  "rewritten by the program: 0 packets\n" +
  "mark set by the program: 3 packets (mark 2: 1, mark 5: 2)\n" +
  "priority set by the program: 2 packets (priority 3: 1, priority 6: 1)\n";
// --verbose: each packet's mark and priority as the program left them (0 going in).
const VERBOSE =
  "#1     42 B  TC_ACT_OK    mark 5, priority 0\n" +
  "#2     54 B  TC_ACT_OK    mark 2, priority 3\n" +
  "#3     54 B  TC_ACT_SHOT  mark 0, priority 0\n" +
  "#4     42 B  TC_ACT_OK    mark 0, priority 0\n" +
  "#5     42 B  TC_ACT_OK    mark 5, priority 6\n" +
  "#6     30 B  not run      refused by the kernel: BPF_PROG_TEST_RUN failed: invalid argument [EINVAL]\n";
const MARKS = [5, 2, 0, 0, 5, undefined, undefined];
const PRIORITIES = [0, 3, 0, 0, 6, undefined, undefined];

let dir: string;
const f = (name: string) => join(dir, name);
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "xdpct-tc-"));
  writeFileSync(f("tc.pcap"), writePcap(frames.map((data) => ({ data }))));
  writeFileSync(f("setup.json"), JSON.stringify(setup));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const args = ["test", "filters/tc/egress_policy.ts", "--pcap", "", "--maps", ""];
const withFiles = () => {
  const a = [...args];
  a[3] = f("tc.pcap");
  a[5] = f("setup.json");
  return a;
};

describe("xdpc test --engine wasm on a tc program", () => {
  it("prints the verdict table in tc action names and the per-mark counts", () => {
    const r = xdpc(...withFiles(), "--engine", "wasm", "--maps-out", "-");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      `filters/tc/egress_policy.ts (program egress_policy) over ${f("tc.pcap")}: 7 packets\n` +
        TABLE,
    );
    expect(r.out).toContain('"perMark": [\n    {"key":2,"value":1},\n    {"key":5,"value":2}\n  ]');
  });

  it("testFilter runs it too: tc verdict names and actions", async () => {
    const run = await testFilter("filters/tc/egress_policy.ts", {
      engine: "wasm",
      maps: setup,
    });
    const r = run.runAll(frames);
    expect(r.map((x) => x.verdict ?? "not run")).toEqual([
      "TC_ACT_OK",
      "TC_ACT_OK",
      "TC_ACT_SHOT",
      "TC_ACT_OK",
      "TC_ACT_OK",
      "not run",
      "not run",
    ]);
    expect(r.map((x) => x.action ?? null)).toEqual([0, 0, 2, 0, 0, null, null]);
    expect(r.map((x) => x.mark)).toEqual(MARKS);
    expect(r.map((x) => x.priority)).toEqual(PRIORITIES);
    run.close();
  });

  it("--verbose shows each packet's mark and priority, --json too", () => {
    const v = xdpc(...withFiles(), "--engine", "wasm", "--verbose");
    expect(v.code).toBe(0);
    expect(v.out.startsWith(VERBOSE)).toBe(true);
    const j = xdpc(...withFiles(), "--engine", "wasm", "--verbose", "--json");
    expect(j.code).toBe(0);
    const doc = JSON.parse(j.out) as {
      marks: object;
      priorities: object;
      results: { mark?: number; priority?: number }[];
    };
    expect(doc.marks).toEqual({ 2: 1, 5: 2 });
    expect(doc.priorities).toEqual({ 3: 1, 6: 1 });
    expect(doc.results.map((x) => x.mark)).toEqual(MARKS);
    expect(doc.results.map((x) => x.priority)).toEqual(PRIORITIES);
  });

  it("a mark or priority that differs between engines is a difference", () => {
    const o = (mark: number, priority: number): PacketOutcome => ({
      index: 1,
      length: 1,
      origLen: 1,
      verdict: 0,
      hook: "tc",
      data: new Uint8Array(1),
      changedBytes: 0,
      ts: 0n,
      mark,
      priority,
    });
    expect(packetDiffs(o(5, 0), o(5, 0), ["kernel", "wasm"])).toEqual([]);
    expect(packetDiffs(o(5, 1), o(4, 2), ["kernel", "wasm"])).toEqual([
      "mark: kernel 5, wasm 4",
      "priority: kernel 1, wasm 2",
    ]);
  });
});

describeKernel("xdpc test --engine both on a tc program", () => {
  it("agrees with the kernel on verdicts, refusals, bytes and maps", () => {
    const r = xdpc(...withFiles(), "--engine", "both");
    expect(r.err).toBe("");
    expect(r.out).toContain(TABLE);
    const v = xdpc(...withFiles(), "--engine", "kernel", "--verbose");
    expect(v.out.startsWith(VERBOSE)).toBe(true);
    expect(r.out).toMatch(/kernel and wasm agree on all 7 packets: verdicts, bytes and maps\n/);
    expect(r.code).toBe(0);
  });

  it("testFilter with engine both agrees", async () => {
    const run = await testFilter("filters/tc/egress_policy.ts", { engine: "both", maps: setup });
    const r = run.runAll(frames);
    expect(r.map((x) => x.mark)).toEqual(MARKS);
    expect(r.map((x) => x.priority)).toEqual(PRIORITIES);
    expect(r.map((x) => x.verdict ?? "not run")).toEqual([
      "TC_ACT_OK",
      "TC_ACT_OK",
      "TC_ACT_SHOT",
      "TC_ACT_OK",
      "TC_ACT_OK",
      "not run",
      "not run",
    ]);
    run.close();
  });
});
