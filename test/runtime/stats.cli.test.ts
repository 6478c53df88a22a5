// `xdpc map|stats|events|trace` against filters attached (with `xdpc load`) to veths in
// a network namespace this test makes and always deletes. Packets reach the attached
// programs through BPF_PROG_TEST_RUN on their ids, so every expected count is exact.
import { afterAll, beforeAll, expect, it } from "vitest";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../compiler/driver/index.ts";
import { closeFd, testRun } from "../../native/bpf.ts";
import { progFdById } from "../../native/info.ts";
import { describeKernel } from "../support/kernel.ts";
import { loadXdpObject } from "../support/xdp.ts";
import { tcp4, udp4 } from "../../runtime/packets/build.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const NS = `xdpct-obs${process.pid % 10000}`;
const PIN_ROOT = `/sys/fs/bpf/xdpct-obs-${process.pid}`;
const LPM_IF = "xdpct0";
const EVENTS_IF = "xdpct1";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `node bin/xdpc.js …` inside the test namespace. */
function xdpc(args: string[], opts: { timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      "nsenter",
      [`--net=/run/netns/${NS}`, "node", join(ROOT, "bin/xdpc.js"), ...args],
      { cwd: ROOT },
    );
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    const t = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 50_000);
    p.on("error", reject);
    p.on("close", (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

function build(path: string): string {
  const out = compile(readFileSync(join(ROOT, path), "utf8"), {
    file: path,
    emit: "object",
    verdictStats: true,
  });
  if (!out.object) throw new Error(out.diagnostics.map((d) => d.message).join("\n"));
  const file = join(tmpDir, path.replace(/\W/g, "_") + ".o");
  writeFileSync(file, out.object);
  return file;
}

let tmpDir: string;
const progIds: Record<string, number> = {};

/** Runs packets through the program attached to `iface` (by its id). */
function send(iface: string, packets: Uint8Array[]): number[] {
  const fd = progFdById(progIds[iface]!);
  try {
    return packets.map((p) => testRun(fd, p).retval);
  } finally {
    closeFd(fd);
  }
}

describeKernel("xdpc map/stats/events/trace CLI in a test namespace", () => {
  beforeAll(async () => {
    execFileSync("npm", ["run", "build"], { cwd: ROOT, stdio: "ignore" });
    tmpDir = mkdtempSync(join(tmpdir(), "xdpct-obs-"));
    mkdirSync(PIN_ROOT, { recursive: true });
    execFileSync("ip", ["netns", "add", NS]);
    execFileSync("ip", [
      "-n",
      NS,
      "link",
      "add",
      LPM_IF,
      "type",
      "veth",
      "peer",
      "name",
      EVENTS_IF,
    ]);
    for (const i of [LPM_IF, EVENTS_IF]) execFileSync("ip", ["-n", NS, "link", "set", i, "up"]);
    for (const [iface, file] of [
      [LPM_IF, "filters/lpm_firewall.ts"],
      [EVENTS_IF, "filters/tcp_events.ts"],
    ] as const) {
      const r = await xdpc([
        "load",
        "--iface",
        iface,
        "--pin-root",
        PIN_ROOT,
        "--json",
        build(file),
      ]);
      if (r.code !== 0) throw new Error(`xdpc load failed: ${r.stderr}`);
      progIds[iface] = JSON.parse(r.stdout).progId;
    }
  }, 120000);

  afterAll(async () => {
    for (const iface of [LPM_IF, EVENTS_IF])
      await xdpc(["unload", "--iface", iface, "--pin-root", PIN_ROOT]).catch(() => undefined);
    try {
      execFileSync("ip", ["netns", "del", NS]);
    } catch {
      // not created
    }
    rmSync(PIN_ROOT, { recursive: true, force: true });
    if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
  });

  it("map set/get/dump/delete with CIDR keys; counters after traffic are exact", async () => {
    expect(
      (await xdpc(["map", "set", "--iface", LPM_IF, "blocklist4", "198.18.7.0/24", "7"])).code,
    ).toBe(0);
    expect(
      (
        await xdpc([
          "map",
          "update",
          "--iface",
          LPM_IF,
          "blocklist4",
          '{"prefixlen":16,"addr":"198.19.0.0"}',
          "8",
        ])
      ).code,
    ).toBe(0);
    expect(
      (await xdpc(["map", "set", "--iface", LPM_IF, "blocklist6", "2001:db8::/32", "9"])).code,
    ).toBe(0);
    const dump = await xdpc(["map", "dump", "--iface", LPM_IF, "blocklist4"]);
    expect(dump.stdout.trim().split("\n").sort()).toEqual(["198.18.7.0/24: 7", "198.19.0.0/16: 8"]);
    const p = tcp4({}, { src: "198.18.7.20" });
    expect(
      send(LPM_IF, [p, p, p, tcp4({}, { src: "198.19.3.3" }), tcp4({}, { src: "10.1.1.1" })]),
    ).toEqual([1, 1, 1, 1, 2]);
    const rule7 = await xdpc(["map", "get", "--iface", LPM_IF, "ruleStats", "7", "--json"]);
    expect(JSON.parse(rule7.stdout)).toEqual({
      key: 7,
      value: { packets: 3, bytes: 3 * p.length },
    });
    const v = await xdpc(["map", "dump", "--iface", LPM_IF, "xdpc_verdicts", "--json"]);
    expect(JSON.parse(v.stdout)[1]).toEqual({ key: 1, value: 4 });
    expect(
      (await xdpc(["map", "delete", "--iface", LPM_IF, "blocklist4", "198.19.0.0/16"])).code,
    ).toBe(0);
    const gone = await xdpc(["map", "delete", "--iface", LPM_IF, "blocklist4", "198.19.0.0/16"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe("xdpc: error: no entry 198.19.0.0/16 in map blocklist4\n");
    const list = await xdpc(["map", "list", "--iface", LPM_IF, "--json"]);
    expect(
      JSON.parse(list.stdout)
        .maps.map((m: { name: string }) => m.name)
        .sort(),
    ).toEqual(["blocklist4", "blocklist6", "ruleStats", "xdpc_verdicts"]);
    // By pin path and by id too.
    const pinned = await xdpc(["map", "dump", "--pinned", `${PIN_ROOT}/${LPM_IF}/maps/blocklist6`]);
    expect(pinned.stdout).toBe("2001:db8::/32: 9\n");
  }, 60000);

  it("map errors are one line with a usage or failure exit code", async () => {
    const bad = await xdpc(["map", "set", "--iface", LPM_IF, "blocklist4", "198.18.0.0/40", "1"]);
    expect([bad.code, bad.stderr]).toEqual([
      2,
      "xdpc: error: prefix length 40 is longer than 32\n",
    ]);
    const noMap = await xdpc(["map", "dump", "--iface", LPM_IF, "nope"]);
    expect(noMap.code).toBe(2);
    expect(noMap.stderr).toMatch(
      /^xdpc: error: no map 'nope' in the filter on xdpct0 \(maps: .*blocklist4.*\)\n$/,
    );
    const noIf = await xdpc(["map", "list", "--iface", "xdpct9"]);
    expect([noIf.code, noIf.stderr]).toEqual([
      1,
      "xdpc: error: no network interface named 'xdpct9': no such network interface [ENODEV]\n",
    ]);
    // Without --iface: the only interface with XDP, else a usage error naming them.
    const which = await xdpc(["map", "list"]);
    expect([which.code, which.stderr]).toEqual([
      2,
      "xdpc: error: XDP programs are attached to xdpct0, xdpct1: say which with --iface\n",
    ]);
    const range = await xdpc(["map", "set", "--iface", LPM_IF, "ruleStats", "1", '{"packets":-1}']);
    expect(range.code).toBe(2);
    expect(range.stderr).toMatch(/\.packets: -1 does not fit u64/);
  }, 60000);

  it("stats prints JSON lines with exact totals and announces its Prometheus endpoint", async () => {
    const drops = Array.from({ length: 10 }, () => tcp4({}, { src: "198.18.7.99" }));
    const before = JSON.parse(
      (await xdpc(["map", "dump", "--iface", LPM_IF, "xdpc_verdicts", "--json"])).stdout,
    )[1].value as number;
    send(LPM_IF, drops);
    const r = await xdpc([
      "stats",
      "--iface",
      LPM_IF,
      "--interval",
      "300",
      "--count",
      "2",
      "--prometheus",
      "127.0.0.1:0",
    ]);
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0].verdicts.drop.total).toBe(before + 10);
    expect(lines[0].counters["ruleStats[7].packets"].total).toBe(13);
    expect(lines[0]).toMatchObject({
      iface: LPM_IF,
      program: "lpm_firewall",
      progId: progIds[LPM_IF],
    });
    expect(r.stderr).toMatch(/^xdpc: Prometheus metrics at http:\/\/127\.0\.0\.1:\d+\/metrics\n$/);
  }, 60000);

  it("stats rates follow traffic sent during the interval", async () => {
    const child = xdpc([
      "stats",
      "--iface",
      LPM_IF,
      "--interval",
      "1000",
      "--count",
      "1",
      "--json",
    ]);
    // Drops are sent until the command exits, so its one interval (whenever the child's
    // start-up lets it begin) has traffic in it, however slow the machine is.
    let exited = false;
    void child.then(() => (exited = true));
    while (!exited) {
      send(
        LPM_IF,
        Array.from({ length: 50 }, () => tcp4({}, { src: "198.18.7.5" })),
      );
      await new Promise((r) => setTimeout(r, 50));
    }
    const r = await child;
    const line = JSON.parse(r.stdout.trim());
    expect(line.verdicts.drop.pps).toBeGreaterThan(0);
    expect(line.counters["ruleStats[7].packets"].perSecond).toBeGreaterThan(0);
  }, 60000);

  it("events prints decoded ring buffer records", async () => {
    send(EVENTS_IF, [
      tcp4({ sport: 40001, dport: 443, flags: 0x02 }, { src: "198.18.0.5", dst: "198.19.0.9" }),
      udp4(),
      tcp4({ sport: 22, dport: 40001, flags: 0x04 }, { src: "198.19.0.9", dst: "198.18.0.5" }),
    ]);
    const r = await xdpc([
      "events",
      "--iface",
      EVENTS_IF,
      "--count",
      "2",
      "--json",
      "--timeout",
      "10000",
    ]);
    expect(r.code).toBe(0);
    const recs = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(recs).toEqual([
      expect.objectContaining({
        src: "198.18.0.5",
        dst: "198.19.0.9",
        srcPort: 40001,
        dstPort: 443,
        flags: 2,
      }),
      expect.objectContaining({
        src: "198.19.0.9",
        dst: "198.18.0.5",
        srcPort: 22,
        dstPort: 40001,
        flags: 4,
      }),
    ]);
    send(EVENTS_IF, [
      tcp4({ sport: 5, dport: 6, flags: 0x02 }, { src: "198.18.0.6" }),
      tcp4({ sport: 7, dport: 6, flags: 0x02 }),
    ]);
    const text = await xdpc(["events", "--iface", EVENTS_IF, "--count", "1"]);
    expect(text.stdout).toMatch(
      /^timeNs=\d+ src=198\.18\.0\.6 dst=198\.19\.0\.1 srcPort=5 dstPort=6 ifindex=\d+ flags=2\n$/,
    );
    // --count took exactly one record: the second is still in the ring for the next reader.
    const next = await xdpc(["events", "--iface", EVENTS_IF, "--count", "1", "--json"]);
    expect(JSON.parse(next.stdout)).toMatchObject({ srcPort: 7, dstPort: 6 });
    const none = await xdpc(["events", "--iface", LPM_IF]);
    expect([none.code, none.stderr]).toEqual([
      2,
      "xdpc: error: the filter on xdpct0 has no ring buffer\n",
    ]);
  }, 60000);

  it("trace streams bpf_trace_printk output", async () => {
    const path = "test/runtime/fixtures/traced.ts";
    const out = compile(readFileSync(join(ROOT, path), "utf8"), { file: path, emit: "object" });
    const obj = loadXdpObject(out.object!);
    try {
      // The line is printed until the reader has taken it: trace_pipe keeps what no reader
      // took yet, and printing on until the command exits needs no guess of its start-up time.
      const child = xdpc(["trace", "--count", "20", "--timeout", "30000"]);
      const pkt = udp4({}, {}, new Uint8Array(77));
      let exited = false;
      void child.then(() => (exited = true));
      while (!exited) {
        testRun(obj.programFd(), pkt);
        await new Promise((r) => setTimeout(r, 100));
      }
      const r = await child;
      expect(r.code).toBe(0);
      expect(r.stdout.split("\n")).toContain(`xdpct-trace len=${pkt.length}`);
    } finally {
      obj.close();
    }
  }, 60000);
});
