// AF_XDP end to end on veth: the Wasm handler (generated batch loop in an `xdpc run`
// worker) against a C consumer on libxdp's rings (bench/xsk_consumer.c, built with the
// system C compiler here), on the same veth pair in a lab namespace, the same traffic
// and the same cores, one after the other in alternating rounds.
//
// The XDP program (test/xsk/support.ts STEER) redirects UDP ports 7 and 9 into an
// XskMap at the receive queue; the generator (runtime/lab/generator.ts)
// sends copies of one 60-byte UDP frame to port 9 from CPU 0, where veth's receive
// NAPI also runs (it copies each frame into the UMEM: copy mode), and the consumer
// runs alone on CPU 1. Both consumers use one queue, rings of 4096, 8192 frames of
// 4 KiB, batches of 64, need_wakeup, the same idle policy (256 looks at an empty RX
// ring — the Wasm worker spins inside its run loop — then poll), and read the same
// bytes of each frame (the handler's XSK_DROP path) before they return it to the fill
// ring. Then the example handler, filters/afxdp/udp_echo.ts, runs live the same way
// (its edge program steering port 7), answering every request or none; its replies
// are dropped by an XDP program on the peer.
//
// Figures per round: frames received / wall time of the send (pps), the socket's own
// drop counters (XDP_STATISTICS rx_dropped, which counts fill-ring starvation, plus
// rx_ring_full), and the consumer thread's on-CPU time (schedstat) over the send and a
// 100 ms drain, divided by frames received (ns/frame). On veth the kernel's copy bounds pps, so
// ns/frame is the figure that ranks the consumers.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { compile, compileWasm } from "../compiler/driver/index.ts";
import { mapInfo } from "../native/info.ts";
import { buildFrame } from "../runtime/packets/build.ts";
import { STEER } from "../test/xsk/support.ts";
import { loadXdpObject } from "../test/support/xdp.ts";
import { labUnavailableReason } from "./e2e.ts";
import { median, notMeasured, type Maybe } from "./stats.ts";
import { REPO } from "./twins.ts";

export interface XskSide {
  /** Frames received per second of sending (median over rounds). */
  pps: number;
  /** Frames the socket's counters say the kernel dropped (median over rounds). */
  drops: number;
  /** Consumer thread on-CPU ns per frame received (median over rounds). */
  nsPerFrame: number;
  /** Frames offered per round. */
  offered: number;
  /** Frames received in the median round. */
  received: number;
}

/** An example handler run live: its on-CPU cost per frame in the worker, no C counterpart. */
export interface XskExampleRow {
  path: string;
  /** Frames received per second of sending, kernel drops and worker ns/frame (medians). */
  pps: number;
  drops: number;
  nsPerFrame: number;
  /** Frames the handler answered with XSK_TX in the median round. */
  tx: number;
  received: number;
}

export interface XskLiveResult {
  c: XskSide;
  wasm: XskSide;
  /** filters/afxdp/udp_echo.ts live, its edge program steering port 7 (rounds: at most 3). */
  examples: XskExampleRow[];
  exampleRounds: number;
  /** Medians of the per-round ratios Wasm / C. */
  nsRatio: number;
  ppsRatio: number;
  rounds: number;
  frames: number;
  batch: number;
  ringSize: number;
  zeroCopy: boolean;
  compiler: string;
  generatorCpu: number;
  consumerCpu: number;
}

export interface XskLiveOptions {
  rounds: number;
  /** Frames per round (one generator run). */
  frames: number;
  work: string;
  lab?: string;
  labIndex?: number;
}

const BATCH = 64;
const RING = 4096;
const UMEM_FRAMES = 2 * RING;
const SPINS = 256;
const GEN_CPU = 0;
const CONSUMER_CPU = 1;
const DRAIN_MS = 100;

/** On the peer: udp_echo's replies (from port 7) are dropped in XDP, the rest passes. */
const SINK = `import { XdpContext, XdpAction, XDP_DROP, XDP_PASS } from "xdpc";
export function sink(ctx: XdpContext): XdpAction {
  const udp = ctx.udp();
  if (udp !== null && udp.srcPort === 7) return XDP_DROP;
  return XDP_PASS;
}
`;

interface Handler {
  wasm: Uint8Array;
  handler: string;
  mapFd: number;
  rodata?: Uint8Array;
  /** The frame the generator sends. */
  frame: Uint8Array;
}

interface Round {
  received: number;
  drops: number;
  cpuNs: number;
  sendMs: number;
}

const schedNs = (tid: number, pid: number | "self" = "self") =>
  Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);

/** Builds bench/NAME.c (a C consumer, libxdp's ring ops); returns its path and the compiler used, or why it cannot be built. */
export function buildC(work: string, name: string): Maybe<{ path: string; compiler: string }> {
  const out = join(work, name);
  const src = join(REPO, `bench/${name}.c`);
  const errors: string[] = [];
  for (const cc of ["clang", "gcc"]) {
    const r = spawnSync(cc, ["-O2", "-Wall", "-o", out, src, "-lxdp", "-lbpf"], {
      encoding: "utf8",
    });
    if (r.status === 0) {
      const v = spawnSync(cc, ["--version"], { encoding: "utf8" }).stdout.split("\n")[0] ?? cc;
      return { path: out, compiler: `${v.trim()} -O2` };
    }
    errors.push(`${cc}: ${(r.error?.message ?? r.stderr).trim().split("\n")[0]}`);
  }
  return notMeasured(`bench/${name}.c does not build (libxdp-dev?): ${errors.join("; ")}`);
}

/** Lines a child prints, as a queue to await. */
function lines(child: ChildProcess) {
  const got: string[] = [];
  const waiters: (() => void)[] = [];
  let buf = "";
  let errText = "";
  child.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    for (let i; (i = buf.indexOf("\n")) >= 0;) {
      got.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    waiters.splice(0).forEach((w) => w());
  });
  child.stderr!.on("data", (d: Buffer) => (errText += d.toString()));
  child.on("exit", () => waiters.splice(0).forEach((w) => w()));
  return async (what: string): Promise<string> => {
    const end = Date.now() + 10_000;
    while (got.length === 0) {
      if (child.exitCode !== null || child.signalCode !== null || Date.now() > end)
        throw new Error(`C consumer: no ${what}: ${errText.trim() || "no output"}`);
      await Promise.race([new Promise<void>((r) => waiters.push(r)), sleep(100)]);
    }
    return got.shift()!;
  };
}

export async function measureXskLive(opts: XskLiveOptions): Promise<Maybe<XskLiveResult>> {
  const why = labUnavailableReason();
  if (why) return notMeasured(why);
  const consumer = buildC(opts.work, "xsk_consumer");
  if ("notMeasured" in consumer) return consumer;
  const netns = await import("../runtime/lab/netns.ts");
  const { attachNative } = await import("../runtime/lab/control.ts");
  const { TrafficGenerator } = await import("../runtime/lab/generator.ts");
  const { XskRunner } = await import("../runtime/xsk/run.ts");
  const out = compile(STEER, { file: "steer.ts", emit: "object" });
  if (!out.object) return notMeasured("the steering filter does not compile");
  const wasm = (await compileWasm(out, { only: "handler", rxBatch: true }))!.binary!;

  return netns.withLab(
    opts.lab ?? "xdpc-hxbench",
    async (spec) => {
      const obj = loadXdpObject(out.object!, { name: "bench_xsk" });
      const gen = new TrafficGenerator(spec.name, spec.peerIf);
      const index = netns.ifindex(spec.hostIf);
      let detach = attachNative(spec.hostIf, obj.programFd("steer"));
      const mapFd = obj.object.mapFd("sockets");
      const frame = buildFrame({
        srcMac: spec.peerMac,
        dstMac: spec.hostMac,
        src: spec.peerAddr,
        dst: spec.hostAddr,
        l4: { proto: "udp", sport: 4000, dport: 9 },
      });
      let zeroCopy = false;
      // udp_echo's requests: port 7 from a port above 1024 (its edge program redirects them).
      const echoFrame = buildFrame({
        srcMac: spec.peerMac,
        dstMac: spec.hostMac,
        src: spec.peerAddr,
        dst: spec.hostAddr,
        l4: { proto: "udp", sport: 4000, dport: 7 },
        payload: new TextEncoder().encode("xdpc echo bench"),
      });
      /** Sends the round's frames from the generator CPU; returns the send's wall time (ms). */
      const send = (n: number, f: Uint8Array = frame) => {
        const t0 = process.hrtime.bigint();
        gen.send(f, n, undefined, GEN_CPU);
        return Number(process.hrtime.bigint() - t0) / 1e6;
      };

      const exampleRounds = Math.min(3, opts.rounds);
      const runC = async (n: number): Promise<Round> => {
        const child = spawn(
          consumer.path,
          [spec.hostIf, "0", String(mapInfo(mapFd).id), String(RING), String(UMEM_FRAMES)].concat([
            String(BATCH),
            String(SPINS),
            String(CONSUMER_CPU),
          ]),
          { stdio: ["ignore", "pipe", "pipe"] },
        );
        const next = lines(child);
        try {
          if ((await next("ready line")) !== "ready") throw new Error("C consumer: bad start");
          const cpu0 = schedNs(child.pid!, child.pid!);
          const sendMs = send(n);
          await sleep(DRAIN_MS);
          const cpuNs = schedNs(child.pid!, child.pid!) - cpu0;
          child.kill("SIGTERM");
          const r = JSON.parse(await next("counters")) as Record<string, number>;
          if (r.udp !== r.rx) throw new Error("C consumer: a frame was not the bench's UDP frame");
          return {
            received: r.rx!,
            drops: r.rxDropped! + r.rxRingFull!,
            cpuNs,
            sendMs,
          };
        } finally {
          if (child.exitCode === null) child.kill("SIGKILL");
          await new Promise<void>((r) =>
            child.exitCode !== null ? r() : child.on("exit", () => r()),
          );
        }
      };

      /** One round through a handler in an `xdpc run` worker; `check` vets its counters. */
      const runHandler = async (
        n: number,
        h: Handler,
        check: (c: { rx: bigint; tx: bigint; drop: bigint }) => void,
      ): Promise<Round & { tx: number }> => {
        const runner = await XskRunner.start({
          ifname: spec.hostIf,
          ifindex: index,
          xskMapFd: h.mapFd,
          wasm: h.wasm,
          handler: h.handler,
          rodata: h.rodata,
          queues: [0],
          workers: 1,
          cpus: [CONSUMER_CPU],
          ringSize: RING,
          frames: UMEM_FRAMES,
          batch: BATCH,
          spins: SPINS,
        });
        try {
          zeroCopy = runner.zeroCopy;
          const tid = runner.threadIds()[0]!;
          const cpu0 = schedNs(tid);
          const sendMs = send(n, h.frame);
          await sleep(DRAIN_MS);
          const cpuNs = schedNs(tid) - cpu0;
          const c = runner.counters()[0]!;
          check(c);
          const k = c.kernel;
          return {
            received: Number(c.rx),
            drops: Number(k.rxDropped + k.rxRingFull),
            cpuNs,
            sendMs,
            tx: Number(c.tx),
          };
        } finally {
          await runner.stop();
        }
      };
      const steerHandler: Handler = { wasm, handler: "echo", mapFd, frame };
      const runWasm = (n: number) =>
        runHandler(n, steerHandler, (c) => {
          if (c.drop !== c.rx) throw new Error("Wasm handler: a frame was not dropped");
        });

      try {
        // Warm-up: V8 tiers the batch loop up; the kernel's paths and both binaries get hot.
        await runWasm(Math.min(opts.frames, 200_000));
        await runC(Math.min(opts.frames, 200_000));
        const rounds: { c: Round; wasm: Round }[] = [];
        const examples: XskExampleRow[] = [];
        for (let r = 0; r < opts.rounds; r++) {
          // Alternate which consumer goes first, so neither always follows the other.
          if (r % 2 === 0) {
            const c = await runC(opts.frames);
            rounds.push({ c, wasm: await runWasm(opts.frames) });
          } else {
            const wasm = await runWasm(opts.frames);
            rounds.push({ c: await runC(opts.frames), wasm });
          }
        }
        const side = (k: "c" | "wasm"): XskSide => {
          const rs = rounds.map((x) => x[k]);
          const byNs = [...rs].sort((a, b) => a.cpuNs / a.received - b.cpuNs / b.received);
          return {
            pps: median(rs.map((x) => (x.received * 1000) / x.sendMs)),
            drops: median(rs.map((x) => x.drops)),
            nsPerFrame: median(rs.map((x) => x.cpuNs / x.received)),
            offered: opts.frames,
            received: byNs[byNs.length >> 1]!.received,
          };
        };
        // The example handler, live: udp_echo's edge program steers port 7 to it.
        const ex = compile(readFileSync(join(REPO, "filters/afxdp/udp_echo.ts"), "utf8"), {
          file: "udp_echo.ts",
          emit: "object",
        });
        if (!ex.object) throw new Error("filters/afxdp/udp_echo.ts does not compile");
        const exWasm = (await compileWasm(ex, { only: "handler", rxBatch: true }))!.binary!;
        const exObj = loadXdpObject(ex.object, { name: "bench_udp_echo" });
        // The replies end at the peer's XDP (dropped there): not in its stack, whose
        // receive would run on the worker's CPU inside its sendto and count as its cost.
        const sink = compile(SINK, { file: "sink.ts", emit: "object" });
        if (!sink.object) throw new Error("the reply sink does not compile");
        const sinkObj = loadXdpObject(sink.object, { name: "bench_sink" });
        const detachSink = netns.runInNetns(spec.name, () =>
          attachNative(spec.peerIf, sinkObj.programFd("sink")),
        );
        detach();
        detach = attachNative(spec.hostIf, exObj.programFd("edge"));
        try {
          const cases = [
            {
              path: "udp_echo: answered (bucket lookup, clock, checksum, XSK_TX; the kernel's TX in sendto included)",
              limit: 0xffffffff,
              check: (c: { rx: bigint; tx: bigint; drop: bigint }) => {
                if (c.drop !== 0n) throw new Error("udp_echo: a request was not answered");
              },
            },
            {
              path: "udp_echo: rate-limited (bucket lookup, clock, XSK_DROP)",
              limit: 0,
              check: (c: { rx: bigint; tx: bigint; drop: bigint }) => {
                if (c.drop !== c.rx) throw new Error("udp_echo: a request was answered");
              },
            },
          ];
          for (const k of cases) {
            const h: Handler = {
              wasm: exWasm,
              handler: "echo",
              mapFd: exObj.object.mapFd("sockets"),
              // limit, window_ms (the longest window: no reset while measured)
              rodata: new Uint8Array(new Uint32Array([k.limit, 0xffffffff]).buffer),
              frame: echoFrame,
            };
            await runHandler(Math.min(opts.frames, 200_000), h, k.check);
            const rs: (Round & { tx: number })[] = [];
            for (let r = 0; r < exampleRounds; r++)
              rs.push(await runHandler(opts.frames, h, k.check));
            const byNs = [...rs].sort((a, b) => a.cpuNs / a.received - b.cpuNs / b.received);
            const mid = byNs[byNs.length >> 1]!;
            examples.push({
              path: k.path,
              pps: median(rs.map((x) => (x.received * 1000) / x.sendMs)),
              drops: median(rs.map((x) => x.drops)),
              nsPerFrame: median(rs.map((x) => x.cpuNs / x.received)),
              tx: mid.tx,
              received: mid.received,
            });
          }
        } finally {
          detach();
          detach = () => {};
          exObj.close();
          netns.runInNetns(spec.name, () => detachSink());
          sinkObj.close();
        }
        return {
          c: side("c"),
          wasm: side("wasm"),
          examples,
          exampleRounds,
          nsRatio: median(
            rounds.map((x) => x.wasm.cpuNs / x.wasm.received / (x.c.cpuNs / x.c.received)),
          ),
          ppsRatio: median(
            rounds.map((x) => x.wasm.received / x.wasm.sendMs / (x.c.received / x.c.sendMs)),
          ),
          rounds: opts.rounds,
          frames: opts.frames,
          batch: BATCH,
          ringSize: RING,
          zeroCopy,
          compiler: consumer.compiler,
          generatorCpu: GEN_CPU,
          consumerCpu: CONSUMER_CPU,
        };
      } finally {
        detach();
        gen.close();
        obj.close();
      }
    },
    opts.labIndex ?? 42,
  );
}

// Run alone: `node --import tsx bench/xsk_live.ts [rounds] [frames]` prints the result as JSON.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const work = mkdtempSync(join(tmpdir(), "xdpc-xsk-bench-"));
  try {
    const r = await measureXskLive({
      rounds: Number(process.argv[2] ?? 5),
      frames: Number(process.argv[3] ?? 1 << 20),
      work,
    });
    process.stdout.write(JSON.stringify(r, null, 2) + "\n");
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
