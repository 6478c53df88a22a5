// `xdpc run`'s start and stop as a user sees them: Ctrl-C (SIGINT) ends the run with its
// counters and leaves nothing behind — no AF_XDP socket, XDP program, pin, record or
// control socket — and without --workers it runs one worker per queue of the interface,
// capped at the CPUs (2-, 1- and 3-queue veths; the counts are the startup line's and
// `xdpc stats`'s). Lab indexes 42 and 44; waits are bounded, counts exact.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { buildFrame } from "../../runtime/packets/build.ts";
import { attachedProgramId } from "../../runtime/observe/maps.ts";
import { describeKernel } from "../support/kernel.ts";
import { until } from "../support/wait.ts";
import { ROOT } from "../runtime/loader-support.ts";
import { STEER, useRunLab, type RunLab } from "./support.ts";

/** Socket inodes process `pid` holds open (all its threads share one fd table). */
function socketInodes(pid: number | "*"): Set<string> {
  const out = new Set<string>();
  const pids = pid === "*" ? readdirSync("/proc").filter((d) => /^\d+$/.test(d)) : [`${pid}`];
  for (const p of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${p}/fd`);
    } catch {
      continue; // gone meanwhile
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${p}/fd/${fd}`));
        if (m) out.add(m[1]!);
      } catch {
        // closed meanwhile
      }
    }
  }
  return out;
}

/**
 * The AF_XDP sockets of process `pid`: its sockets that no /proc/net table lists (this
 * kernel has no XDP sock_diag for `ss --xdp`; AF_XDP is the only family xdpc run opens
 * that /proc/net does not show).
 */
function xskSockets(pid: number): Set<string> {
  const listed = new Set<string>();
  for (const t of ["unix", "netlink", "packet", "tcp", "tcp6", "udp", "udp6", "raw", "raw6"]) {
    let text = "";
    try {
      text = readFileSync(`/proc/net/${t}`, "utf8");
    } catch {
      continue;
    }
    const lines = text.split("\n").slice(1);
    const col = t === "unix" ? 6 : t === "netlink" ? 9 : t === "packet" ? 8 : 9;
    for (const l of lines) {
      const f = l.trim().split(/\s+/);
      if (f[col]) listed.add(f[col]!);
    }
  }
  return new Set([...socketInodes(pid)].filter((i) => !listed.has(i)));
}

/** `xdpc stats --json` of the run on L's interface (one interval). */
function stats(L: RunLab) {
  const r = spawnSync(
    "node",
    [
      join(ROOT, "bin/xdpc.js"),
      "stats",
      "--iface",
      L.lab.hostIf,
      "--json",
      "-n",
      "1",
      "--interval",
      "50",
    ],
    { cwd: ROOT, env: L.env, encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as {
    handler: {
      queues: { queue: number; worker: number }[];
      workers: { worker: number; queues: number[] }[];
    };
  };
}

/** Queue q goes to worker q % workers. */
const assignment = (queues: number, workers: number) =>
  Array.from({ length: workers }, (_, w) => ({
    worker: w,
    queues: Array.from({ length: queues }, (_, q) => q).filter((q) => q % workers === w),
  }));

describeKernel("xdpc run: Ctrl-C, and the default worker count", () => {
  describe("a 2-queue veth", () => {
    const L = useRunLab({
      name: "hxsks2",
      index: 42,
      queues: 2,
      source: STEER,
      pinRoot: `/sys/fs/bpf/xdpc-xsk-ss2-${process.pid}`,
    });

    it("SIGINT stops the run with its counters and leaves nothing behind", async () => {
      const workers = Math.min(2, availableParallelism());
      const r = await L.run();
      expect(r.lines[0]).toMatchObject({ event: "running", queues: [0, 1], workers });
      expect(stats(L).handler.workers.map((w) => ({ worker: w.worker, queues: w.queues }))).toEqual(
        assignment(2, workers),
      );
      const xsks = xskSockets(r.child.pid!);
      expect(xsks.size).toBe(2); // one socket per queue while it runs
      const frame = buildFrame({
        srcMac: L.lab.peerMac,
        dstMac: L.lab.hostMac,
        src: L.lab.peerAddr,
        dst: L.lab.hostAddr,
        l4: { proto: "udp", sport: 4000, dport: 9 },
      });
      L.gen.send(frame, 300, undefined, 0);
      L.gen.send(frame, 200, undefined, 1);
      await until(() => L.counter("redirected") === 500, 30_000, "500 redirected frames");

      r.child.kill("SIGINT");
      expect(await r.exit).toBe(0);
      expect(r.lines.find((l) => l.event === "stopped")).toMatchObject({
        signal: "SIGINT",
        queues: [
          { queue: 0, rx: 300, drop: 300, tx: 0, kernelDrops: 0 },
          { queue: 1, rx: 200, drop: 200, tx: 0, kernelDrops: 0 },
        ],
      });
      expect(r.stderr()).toBe("");
      // No process holds the sockets any more (nothing inherited them).
      expect([...socketInodes("*")].filter((i) => xsks.has(i))).toEqual([]);
      expect(attachedProgramId(L.lab.hostIf)).toBe(0);
      expect(existsSync(L.pinRoot) ? readdirSync(L.pinRoot) : []).toEqual([]);
      expect(existsSync(L.sock)).toBe(false);
      const records = join(L.runDir, "filters");
      expect(existsSync(records) ? readdirSync(records) : []).toEqual([]);
    });
  });

  for (const [name, index, queues] of [
    ["hxsks1", 44, 1],
    ["hxsks3", 44, 3],
  ] as const)
    describe(`a ${queues}-queue veth`, () => {
      const L = useRunLab({
        name,
        index,
        queues,
        source: STEER,
        pinRoot: `/sys/fs/bpf/xdpc-xsk-${name}-${process.pid}`,
      });
      it(`runs min(${queues} queues, CPUs) workers by default`, async () => {
        const workers = Math.min(queues, availableParallelism());
        const r = await L.run();
        try {
          expect(r.lines[0]).toMatchObject({
            event: "running",
            queues: Array.from({ length: queues }, (_, q) => q),
            workers,
          });
          const s = stats(L).handler;
          expect(s.workers.map((w) => ({ worker: w.worker, queues: w.queues }))).toEqual(
            assignment(queues, workers),
          );
          expect(s.queues.map((q) => [q.queue, q.worker])).toEqual(
            Array.from({ length: queues }, (_, q) => [q, q % workers]),
          );
        } finally {
          r.child.kill("SIGTERM");
        }
        expect(await r.exit).toBe(0);
      });
    });
});
