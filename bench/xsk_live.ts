// AF_XDP end to end on veth: the Wasm handler (generated batch loop in an `xdpc run`
// worker) against a C consumer on libxdp's rings (bench/xsk_consumer.c, built with the
// system C compiler here), on the same veth pair in a lab namespace, the same traffic
// and the same cores, one after the other in alternating rounds.
//
// The XDP program (test/xsk/support.ts STEER) redirects UDP ports 7 and 9 into an
// XskMap at the receive queue; the generator (runtime/lab/generator.ts, live frames)
// sends copies of one 60-byte UDP frame to port 9 from CPU 0, where veth's receive
// NAPI also runs (it copies each frame into the UMEM: copy mode), and the consumer
// runs alone on CPU 1. Both consumers use one queue, rings of 4096, 8192 frames of
// 4 KiB, batches of 64, need_wakeup, the same idle policy (256 empty batches, then
// poll), and read the same bytes of each frame (the handler's XSK_DROP path) before
// they return it to the fill ring.
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

export interface XskLiveResult {
  c: XskSide;
  wasm: XskSide;
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

interface Round {
  received: number;
  drops: number;
  cpuNs: number;
  sendMs: number;
}

const schedNs = (tid: number, pid: number | "self" = "self") =>
  Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);

/** Builds the C consumer; returns its path and the compiler used, or why it cannot be built. */
export function buildConsumer(work: string): Maybe<{ path: string; compiler: string }> {
  const out = join(work, "xsk_consumer");
  const src = join(REPO, "bench/xsk_consumer.c");
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
  return notMeasured(`the C consumer does not build (libxdp-dev?): ${errors.join("; ")}`);
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
  const consumer = buildConsumer(opts.work);
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
      const detach = attachNative(spec.hostIf, obj.programFd("steer"));
      const mapFd = obj.object.mapFd("sockets");
      const frame = buildFrame({
        srcMac: spec.peerMac,
        dstMac: spec.hostMac,
        src: spec.peerAddr,
        dst: spec.hostAddr,
        l4: { proto: "udp", sport: 4000, dport: 9 },
      });
      let zeroCopy = false;
      /** Sends the round's frames from the generator CPU; returns the send's wall time (ms). */
      const send = (n: number) => {
        const t0 = process.hrtime.bigint();
        gen.send(frame, n, undefined, GEN_CPU);
        return Number(process.hrtime.bigint() - t0) / 1e6;
      };

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

      const runWasm = async (n: number): Promise<Round> => {
        const runner = await XskRunner.start({
          ifname: spec.hostIf,
          ifindex: index,
          xskMapFd: mapFd,
          wasm,
          handler: "echo",
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
          const sendMs = send(n);
          await sleep(DRAIN_MS);
          const cpuNs = schedNs(tid) - cpu0;
          const c = runner.counters()[0]!;
          if (c.drop !== c.rx) throw new Error("Wasm handler: a frame was not dropped");
          const k = c.kernel;
          return {
            received: Number(c.rx),
            drops: Number(k.rxDropped + k.rxRingFull),
            cpuNs,
            sendMs,
          };
        } finally {
          await runner.stop();
        }
      };

      try {
        // Warm-up: V8 tiers the batch loop up; the kernel's paths and both binaries get hot.
        await runWasm(Math.min(opts.frames, 200_000));
        await runC(Math.min(opts.frames, 200_000));
        const rounds: { c: Round; wasm: Round }[] = [];
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
        return {
          c: side("c"),
          wasm: side("wasm"),
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
