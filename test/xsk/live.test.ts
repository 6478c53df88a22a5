// AF_XDP handlers with live frames: a 2-queue veth lab, an XDP program that redirects
// UDP ports 7 and 9 into an XskMap (falling back to XDP_PASS, counted), the handler
// compiled to Wasm and run by workers over rings inside the shared memory. veth picks
// the receiving queue from the sending CPU, so the generator sends from CPU 0 for
// queue 0 and CPU 1 for queue 1. Frames go in chunks below the ring size and each
// wait is for a count (bounded), never for a time; then exact counts are asserted.
import { afterAll, beforeAll, expect, it } from "vitest";
import { readdirSync, readlinkSync } from "node:fs";
import { availableParallelism } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { compile, compileWasm } from "../../compiler/driver/index.ts";
import { mapLookup } from "../../native/object.ts";
import { AF_XDP, processThreads, socketDomain, taskCpus } from "../../native/xsk.ts";
import { attachNative } from "../../runtime/lab/control.ts";
import {
  createLab,
  destroyLab,
  ifindex,
  labSpec,
  runInNetns,
  type LabSpec,
} from "../../runtime/lab/netns.ts";
import { TrafficGenerator } from "../../runtime/lab/generator.ts";
import { buildFrame } from "../../runtime/packets/build.ts";
import { XskRunner } from "../../runtime/xsk/run.ts";
import { XskError, XskSet } from "../../runtime/xsk/sockets.ts";
import { describeKernel } from "../support/kernel.ts";
import { loadXdpObject, type XdpObject } from "../support/xdp.ts";
import { STEER } from "./support.ts";

// On the sender's end: counts reflected frames whose bytes are exactly what the handler writes.
const CHECK = (lab: LabSpec) => {
  const ip = (s: string) => s.split(".").reduce((a, b) => a * 256 + Number(b), 0);
  const mac = (s: string) => `0x${s.replace(/:/g, "")}`;
  return `import { XdpContext, XdpAction, XDP_DROP, XDP_PASS, ArrayMap, u64 } from "xdpc";
const seen = new ArrayMap<u64>({ maxEntries: 2 });
export function check(ctx: XdpContext): XdpAction {
  const eth = ctx.eth();
  if (eth === null) return XDP_PASS;
  const ip = ctx.ipv4();
  if (ip === null) return XDP_PASS;
  const udp = ctx.udp();
  if (udp === null) return XDP_PASS;
  if (udp.srcPort !== 7) return XDP_PASS;
  if (eth.dst === ${mac(lab.peerMac)} && eth.src === ${mac(lab.hostMac)} && ip.src === ${ip(lab.hostAddr)} &&
      ip.dst === ${ip(lab.peerAddr)} && ip.ttl === 7 && udp.dstPort === 4000 && ctx.len === 60) seen.increment(0);
  else seen.increment(1);
  return XDP_DROP;
}
`;
};

function build(source: string) {
  const out = compile(source, { file: "steer.ts", emit: "object" });
  if (!out.object) throw new Error(out.diagnostics.map((d) => d.message).join("\n"));
  return out;
}

const u64At = (fd: number, key: number) =>
  new DataView(
    mapLookup(fd, new Uint8Array(new Uint32Array([key]).buffer), 8)!.buffer,
  ).getBigUint64(0, true);

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** AF_XDP sockets this process holds (none once a run has stopped). */
function xdpSockets(): number {
  return readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return (
        readlinkSync(`/proc/self/fd/${fd}`).startsWith("socket:") &&
        socketDomain(Number(fd)) === AF_XDP
      );
    } catch {
      return false;
    }
  }).length;
}

describeKernel("AF_XDP handlers on live frames", () => {
  const lab: LabSpec = { ...labSpec("xskl", 9), queues: 2 };
  let steer: XdpObject;
  let checker: XdpObject;
  let detach: () => void = () => {};
  let detachPeer: () => void = () => {};
  let wasm: Uint8Array;
  let gen: TrafficGenerator;
  let index = 0;
  const frame = (dport: number) =>
    buildFrame({
      srcMac: lab.peerMac,
      dstMac: lab.hostMac,
      src: lab.peerAddr,
      dst: lab.hostAddr,
      l4: { proto: "udp", sport: 4000, dport },
    });
  /** Sends n frames from `cpu` in chunks of at most 500 (below the fill ring), each once the handler has seen the last. */
  const send = async (runner: XskRunner, cpu: number, dport: number, n: number) => {
    const q = cpu % 2;
    const rx = () => runner.counters().find((c) => c.queue === q)!.rx;
    for (let left = n; left > 0;) {
      const k = Math.min(500, left);
      const want = rx() + BigInt(k);
      gen.send(frame(dport), k, undefined, cpu);
      await until(`${want} frames on queue ${q}`, () => rx() >= want);
      left -= k;
    }
  };

  beforeAll(async () => {
    destroyLab(lab);
    createLab(lab);
    const out = build(STEER);
    wasm = (await compileWasm(out, { only: "handler", rxBatch: true }))!.binary!;
    steer = loadXdpObject(out.object!);
    index = ifindex(lab.hostIf);
    detach = attachNative(lab.hostIf, steer.programFd("steer"));
    checker = loadXdpObject(build(CHECK(lab)).object!);
    detachPeer = runInNetns(lab.name, () => attachNative(lab.peerIf, checker.programFd("check")));
    gen = new TrafficGenerator(lab.name, lab.peerIf);
  });
  afterAll(() => {
    gen?.close();
    try {
      runInNetns(lab.name, () => detachPeer());
    } catch {
      /* the lab is gone */
    }
    detach();
    steer?.close();
    checker?.close();
    destroyLab(lab);
  });

  const start = (extra: Partial<Parameters<typeof XskRunner.start>[0]> = {}) =>
    XskRunner.start({
      ifname: lab.hostIf,
      ifindex: index,
      xskMapFd: steer.object.mapFd("sockets"),
      wasm,
      handler: "echo",
      workers: 2,
      ...extra,
    });

  it.skipIf(availableParallelism() < 2)(
    "every redirected frame reaches the handler once, per queue; XSK_TX frames return rewritten",
    async () => {
      const runner = await start();
      try {
        expect(runner.workers).toBe(2);
        expect(runner.zeroCopy).toBe(false); // veth has no zero-copy: auto chose copy mode
        expect(xdpSockets()).toBe(2);
        // Ready means the fill rings are full (default rings of 2048): the first frame finds a buffer.
        expect(runner.fillLevels()).toEqual([
          { queue: 0, frames: 2048 },
          { queue: 1, frames: 2048 },
        ]);
        await send(runner, 0, 9, 1500);
        await send(runner, 1, 9, 700);
        await send(runner, 1, 7, 600);
        // The reflected frames reach the sender's end with the handler's bytes.
        const cfd = checker.object.mapFd("seen");
        await until("600 reflected frames", () => u64At(cfd, 0) + u64At(cfd, 1) >= 600n);
        const c = runner.counters();
        expect(c.map((q) => [q.queue, q.rx, q.drop, q.tx, q.txFull])).toEqual([
          [0, 1500n, 1500n, 0n, 0n],
          [1, 1300n, 700n, 600n, 0n],
        ]);
        for (const q of c) expect(q.kernel.rxDropped).toBe(0n);
        expect([u64At(cfd, 0), u64At(cfd, 1)]).toEqual([600n, 0n]);
        await until("600 completions", () => runner.counters()[1]!.completed === 600n);
        expect(u64At(steer.object.mapFd("fallback"), 0)).toBe(0n);
      } finally {
        await runner.stop();
      }
      // Stopped: no socket left, and the XDP program's fallback applies to redirected frames.
      expect(xdpSockets()).toBe(0);
      gen.send(frame(9), 100, undefined, 0);
      expect(u64At(steer.object.mapFd("fallback"), 0)).toBe(100n);
    },
  );

  it.skipIf(availableParallelism() < 2)(
    "a worker that fails is reported and restarted; no frame is lost or seen twice",
    async () => {
      const errors: string[] = [];
      const runner = await start({
        failAfter: { worker: 0, frames: 300 },
        onWorkerError: (w, m) => errors.push(`${w}: ${m}`),
      });
      try {
        await send(runner, 0, 9, 1000);
        await send(runner, 1, 9, 400);
        await until("the restart", () => runner.restartCounts()[0] === 1);
        await send(runner, 0, 9, 200);
        const c = runner.counters();
        expect(c.map((q) => [q.queue, q.rx, q.drop])).toEqual([
          [0, 1200n, 1200n],
          [1, 400n, 400n],
        ]);
        for (const q of c) expect(q.kernel.rxDropped).toBe(0n);
        expect(errors).toEqual([expect.stringMatching(/^0: .*injected failure after \d+ frames/)]);
        expect(runner.restartCounts()).toEqual([1, 0]);
      } finally {
        await runner.stop();
      }
      expect(xdpSockets()).toBe(0);
    },
  );

  it.skipIf(availableParallelism() < 2)(
    "a pinned worker has its CPU to itself while the run lasts; stop gives the threads their CPUs back",
    async () => {
      const affinity = () => new Map(processThreads().map((t) => [t, taskCpus(t)] as const));
      const before = affinity();
      const cpu = availableParallelism() - 1;
      const runner = await start({ queues: [0], workers: 1, cpus: [cpu] });
      try {
        const worker = runner.threadIds()[0]!;
        expect(taskCpus(worker)).toEqual([cpu]);
        for (const [tid, cpus] of affinity()) {
          if (tid === worker || !cpus) continue;
          expect(cpus, `thread ${tid}`).not.toContain(cpu);
        }
        // The sockets work as ever: every frame reaches the handler.
        await send(runner, 0, 9, 500);
        expect(runner.counters()[0]!.rx).toBe(500n);
      } finally {
        await runner.stop();
      }
      const after = affinity();
      for (const [tid, cpus] of before)
        if (cpus && after.get(tid)) expect(after.get(tid), `thread ${tid}`).toEqual(cpus);
    },
  );

  it("refuses what the kernel would refuse, in one line", async () => {
    const set = (o: object) => () =>
      new XskSet({ ifname: lab.hostIf, ifindex: index, queues: [0], ...o });
    expect(set({ ringSize: 1000 })).toThrow(
      new XskError("ring size 1000 is not a power of two between 64 and 65536"),
    );
    expect(set({ queues: [5] })).toThrow(
      new XskError(`queue 5 does not exist on '${lab.hostIf}' (it has 2 receive queues)`),
    );
    await expect(start({ mode: "zerocopy" })).rejects.toThrow(
      new XskError(
        `'${lab.hostIf}' does not support AF_XDP zero-copy (its driver lacks it); use --xsk-mode copy or auto`,
      ),
    );
    expect(xdpSockets()).toBe(0);
  });
});
