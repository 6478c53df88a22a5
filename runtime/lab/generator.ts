// The lab's traffic generator. Two ways to put frames on the sending veth end:
//
// - live frames (preferred): BPF_PROG_TEST_RUN in live-frames mode
//   (BPF_F_TEST_XDP_LIVE_FRAMES) runs a two-instruction XDP program that redirects every
//   frame out of the sending end, so the kernel transmits `repeat` copies of a template
//   at near line rate, with no socket and no copy per frame. xdp-trafficgen does the
//   same in C; it fails on this kernel, so we own it. Each run with repeat > 1 swaps the
//   kernel's XDP dispatcher (~20 ms), so frames go out in large chunks; a rate limit
//   spaces chunks in time instead of frames. bpf_redirect resolves the ifindex in the
//   namespace of the calling thread, so every run happens inside the namespace that
//   holds the sending end (setns for the call).
// - a packet socket: some kernels refuse live frames (EPERM even as root), so an
//   AF_PACKET socket bound to the sending end sends the same frames with sendmmsg, in
//   batches, rewriting random sources in JavaScript. Slower, same counts.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { BPF_F_TEST_XDP_LIVE_FRAMES, closeFd, loadRawProgram, testRun } from "../../native/bpf.ts";
import { NativeError } from "../../native/lib.ts";
import { csumReplace4 } from "../wasm/instance.ts";
import { randomU32 } from "../wasm/platform.ts";
import {
  closePacketSocket,
  packetBatch,
  packetSocket,
  type PacketBatch,
} from "../../native/packet.ts";
import {
  assemble,
  randomSourceProgram,
  redirectProgram,
  dropProgram,
} from "../../compiler/bpf/programs.ts";
import { withSignalsBlocked } from "../../native/thread.ts";
import { ifindex, LabError, runInNetns } from "./netns.ts";
import { pinThread, setThreadCpus, threadCpus } from "../../native/xsk.ts";

/** Runs `fn` with the calling thread pinned to `cpu`, then restores its affinity. */
function onCpu<T>(cpu: number, fn: () => T): T {
  const before = threadCpus();
  pinThread(cpu);
  try {
    return fn();
  } finally {
    setThreadCpus(before);
  }
}

/** The kernel's smallest and largest frame for a live test run (ETH_HLEN; one page minus headroom and skb_shared_info). */
export const MIN_FRAME = 14;
export const MAX_FRAME = 3520;

/** Frames per unlimited test run: ~70 ms at 15 Mpps, so the ~20 ms dispatcher swap costs little. */
export const DEFAULT_CHUNK = 1 << 20;
/** Frames per unlimited chunk on a packet socket: ~25 ms at 0.65 Mpps, so a duration ends on time. */
export const PACKET_CHUNK = 1 << 14;

/** Parses "a.b.c.d/len" into a host-order base and the mask of its host bits. */
export function parseCidr(cidr: string): { base: number; hostMask: number } {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const octets = m ? m.slice(1, 5).map(Number) : [];
  const len = m ? Number(m[5]) : -1;
  if (!m || octets.some((o) => o > 255) || len < 0 || len > 32)
    throw new LabError(`bad IPv4 prefix '${cidr}' (a.b.c.d/len)`);
  const hostMask = len === 0 ? 0xffffffff : len === 32 ? 0 : 2 ** (32 - len) - 1;
  const addr = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  return { base: (addr & ~hostMask) >>> 0, hostMask };
}

export interface TrafficTemplate {
  /** Label in reports ("legit", "syn-flood", …). */
  name: string;
  frame: Uint8Array;
  /** Share of the mix (any positive number; shares are relative). */
  weight: number;
  /**
   * Give every frame a random IPv4 source inside this prefix ("198.19.128.0/17"), with
   * checksums fixed up: a flood from many hosts. Needs an Ethernet + IPv4 frame without
   * options or VLAN tags, at least 54 bytes.
   */
  randomSource?: string;
}

export interface GenerateOptions {
  mix: readonly TrafficTemplate[];
  /** Stop after exactly this many frames (split across the mix by weight). */
  count?: number;
  /** Stop after this long (milliseconds). With neither count nor duration: 1 s. */
  durationMs?: number;
  /** Target rate in frames per second; unlimited when absent. */
  pps?: number;
  /** Frames per send (default: 1/10 s worth at the target rate, else DEFAULT_CHUNK or PACKET_CHUNK by transport). */
  chunk?: number;
  /** Called after every chunk. */
  onProgress?: (p: GenerateProgress) => void;
  /** Stops the run between chunks. */
  signal?: AbortSignal;
  /** Send from this CPU (the thread is pinned for each run): a multi-queue veth receives on queue CPU % queues. */
  cpu?: number;
}

export interface GenerateProgress {
  sent: number;
  perTemplate: Record<string, number>;
  elapsedMs: number;
}

export interface GenerateReport extends GenerateProgress {
  /** Average achieved rate over the whole run. */
  pps: number;
  /** Sends made: test runs (each costs a dispatcher swap) or packet-socket bursts. */
  runs: number;
  /** Time spent transmitting (ns): as the kernel measured it for live frames, wall clock for a packet socket. */
  kernelNs: number;
  /** How the frames went out. */
  transport: Transport;
}

/** Splits `total` across weights by largest remainder: exact sum, deterministic. */
export function splitByWeight(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (!(sum > 0)) throw new RangeError("the traffic mix needs a positive weight");
  const exact = weights.map((w) => (total * w) / sum);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = exact
    .map((e, i) => [e - Math.floor(e), i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left <= 0) break;
    out[i]! += 1;
    left--;
  }
  return out;
}

/** How frames leave the sending end (see the top of this file). */
export type Transport = "live" | "packet";

let liveFrames: boolean | undefined;

/**
 * Whether this kernel runs live-frames test runs: a run of `return XDP_DROP` (which
 * transmits nothing), once per process. Some kernels refuse them with EPERM even to root.
 */
export function liveFramesAllowed(): boolean {
  if (liveFrames !== undefined) return liveFrames;
  const { fd } = loadRawProgram(assemble(dropProgram()), {
    name: "xdpc_probe",
    logLevel: 0,
  });
  try {
    testRun(fd, new Uint8Array(64), {
      repeat: 1,
      flags: BPF_F_TEST_XDP_LIVE_FRAMES,
      outSize: 0,
    });
    liveFrames = true;
  } catch (e) {
    if (!(e instanceof NativeError && ["EPERM", "EINVAL", "EOPNOTSUPP"].includes(e.code))) throw e;
    liveFrames = false;
  } finally {
    closeFd(fd);
  }
  return liveFrames;
}

/** The transport to use: XDPC_TRAFFICGEN=live|packet forces one, else live frames when the kernel runs them. */
export function defaultTransport(): Transport {
  const forced = process.env.XDPC_TRAFFICGEN;
  if (forced === "live" || forced === "packet") return forced;
  if (forced) throw new LabError(`XDPC_TRAFFICGEN is '${forced}' (live or packet)`);
  return liveFramesAllowed() ? "live" : "packet";
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * The transport-layer protocol of a frame whose IPv4 source can be rewritten (Ethernet +
 * IPv4 without VLAN tags or options, at least 54 bytes), or a LabError.
 */
function sourceRewritable(frame: Uint8Array): "tcp" | "udp" | "other" {
  if (frame.length < 54 || frame[12] !== 0x08 || frame[13] !== 0x00 || frame[14] !== 0x45)
    throw new LabError(
      "randomSource needs an Ethernet + IPv4 frame without VLAN tags or IP options, at least 54 bytes",
    );
  return frame[23] === 6 ? "tcp" : frame[23] === 17 ? "udp" : "other";
}

/**
 * What randomSourceProgram does, in JavaScript, to the first `count` frames of `len`
 * bytes in `frames`: a random source in `prefix`, and the IPv4 and TCP/UDP checksums
 * adjusted by the difference (RFC 1624), a zero UDP checksum staying "none".
 */
export function randomizeSources(
  frames: Uint8Array,
  len: number,
  count: number,
  prefix: { base: number; hostMask: number },
): void {
  const l4 = sourceRewritable(frames.subarray(0, len));
  // Raw (little-endian) words throughout: ones'-complement sums are byte-order blind.
  const view = new DataView(frames.buffer, frames.byteOffset, frames.byteLength);
  const fix = (at: number, from: number, to: number, udp: boolean) => {
    const sum = view.getUint16(at, true);
    if (udp && sum === 0) return;
    const next = csumReplace4(sum, from, to);
    view.setUint16(at, udp && next === 0 ? 0xffff : next, true);
  };
  for (let i = 0, at = 0; i < count; i++, at += len) {
    const addr = (prefix.base | (randomU32() & prefix.hostMask)) >>> 0;
    const from = view.getUint32(at + 26, true);
    view.setUint32(at + 26, addr, false);
    const to = view.getUint32(at + 26, true);
    fix(at + 24, from, to, false);
    if (l4 === "tcp") fix(at + 50, from, to, false);
    else if (l4 === "udp") fix(at + 40, from, to, true);
  }
}

/** Messages per sendmmsg (the kernel's limit is 1024); fewer when each has its own copy. */
const PACKET_BATCH = 1024;
const DISTINCT_BATCH = 256;

/**
 * A generator bound to one sending interface inside namespace `netns`. Holds one
 * program fd (live frames) or one packet socket until close().
 */
export class TrafficGenerator {
  readonly ifindex: number;
  readonly transport: Transport;
  private fd: number;
  private batches = new Map<string, PacketBatch>();

  constructor(
    readonly netns: string,
    readonly ifname: string,
    opts: { transport?: Transport } = {},
  ) {
    this.ifindex = ifindex(ifname, netns);
    this.transport = opts.transport ?? defaultTransport();
    if (this.transport === "live") {
      if (!liveFramesAllowed())
        throw new LabError(
          "this kernel refuses BPF_PROG_TEST_RUN live frames (EPERM); use the packet transport (XDPC_TRAFFICGEN=packet)",
        );
      this.fd = loadRawProgram(assemble(redirectProgram(this.ifindex)), {
        name: "xdpc_trafficgen",
        logLevel: 0,
      }).fd;
    } else {
      // Created inside the namespace, the socket stays bound to its device from any thread.
      this.fd = runInNetns(netns, () => packetSocket(this.ifindex));
    }
  }

  private randomizers = new Map<string, number>();

  /** The program for a template: plain redirect, or one that randomises the source first. */
  private programFor(frame: Uint8Array, randomSource?: string): number {
    if (!randomSource) return this.fd;
    const l4 = sourceRewritable(frame);
    if (this.transport === "packet") return this.fd;
    const key = `${randomSource}|${l4}`;
    let fd = this.randomizers.get(key);
    if (fd === undefined) {
      fd = loadRawProgram(
        assemble(randomSourceProgram(this.ifindex, parseCidr(randomSource), l4)),
        {
          name: "xdpc_trafficgen",
          logLevel: 0,
        },
      ).fd;
      this.randomizers.set(key, fd);
    }
    return fd;
  }

  /**
   * Transmits `n` copies of `frame` now (synchronously), with random IPv4 sources
   * inside `randomSource` when given; returns the ns spent transmitting (as the kernel
   * measured it for live frames, wall clock for a packet socket).
   */
  send(frame: Uint8Array, n: number, randomSource?: string, cpu?: number): number {
    if (this.fd < 0) throw new LabError("traffic generator is closed");
    if (frame.length < MIN_FRAME || frame.length > MAX_FRAME)
      throw new LabError(
        `frame of ${frame.length} bytes is outside the generator's ${MIN_FRAME}..${MAX_FRAME}`,
      );
    if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff)
      throw new RangeError(`bad frame count ${n}`);
    if (n === 0) return 0;
    const fd = this.programFor(frame, randomSource);
    const run =
      this.transport === "packet"
        ? () => this.sendPackets(frame, n, randomSource)
        : // A signal mid-run would end it with EINTR and an unknown count: hold signals off.
          () =>
            withSignalsBlocked(
              () =>
                runInNetns(this.netns, () =>
                  testRun(fd, frame, { repeat: n, flags: BPF_F_TEST_XDP_LIVE_FRAMES, outSize: 0 }),
                ).duration * n,
            );
    return cpu === undefined ? run() : onCpu(cpu, run);
  }

  /** The packet transport's send: whole batches, then the rest; a busy device is retried. */
  private sendPackets(frame: Uint8Array, n: number, randomSource?: string): number {
    const distinct = randomSource !== undefined;
    const key = `${frame.length}|${distinct}`;
    let batch = this.batches.get(key);
    if (!batch) {
      batch = packetBatch(this.fd, frame, distinct ? DISTINCT_BATCH : PACKET_BATCH, distinct);
      this.batches.set(key, batch);
    }
    const copies = distinct ? batch.size : 1;
    for (let i = 0; i < copies; i++) batch.frames.set(frame, i * frame.length);
    const prefix = distinct ? parseCidr(randomSource) : undefined;
    const start = process.hrtime.bigint();
    let sent = 0;
    while (sent < n) {
      const k = Math.min(batch.size, n - sent);
      if (prefix) randomizeSources(batch.frames, frame.length, k, prefix);
      let left = k;
      while (left > 0) {
        const r = batch.send(left);
        // Messages 0..r-1 went out: move the copies not sent yet to the front.
        if (r > 0 && r < left && prefix)
          batch.frames.copyWithin(0, r * frame.length, left * frame.length);
        left -= r;
        if (r === 0) Atomics.wait(pause, 0, 0, 1); // the device is busy: give it a millisecond
      }
      sent += k;
    }
    return Number(process.hrtime.bigint() - start);
  }

  /** Sends a weighted mix for a count and/or a duration, optionally rate-limited. */
  async generate(opts: GenerateOptions): Promise<GenerateReport> {
    const mix = opts.mix;
    if (mix.length === 0) throw new LabError("the traffic mix is empty");
    for (const t of mix) {
      if (!(t.weight >= 0)) throw new LabError(`template '${t.name}' has a bad weight ${t.weight}`);
      if (t.frame.length < MIN_FRAME || t.frame.length > MAX_FRAME)
        throw new LabError(
          `template '${t.name}' is ${t.frame.length} bytes, outside ${MIN_FRAME}..${MAX_FRAME}`,
        );
      if (t.randomSource) this.programFor(t.frame, t.randomSource);
    }
    if (opts.pps !== undefined && !(opts.pps > 0)) throw new LabError(`bad rate ${opts.pps} pps`);
    const weights = mix.map((t) => t.weight);
    const durationMs = opts.durationMs ?? (opts.count === undefined ? 1000 : Infinity);
    const chunk = Math.max(
      1,
      Math.floor(
        opts.chunk ??
          (opts.pps
            ? Math.max(1, opts.pps / 10)
            : this.transport === "live"
              ? DEFAULT_CHUNK
              : PACKET_CHUNK),
      ),
    );
    // With a count, the whole run's split is fixed up front so the totals are exact.
    const remaining = opts.count !== undefined ? splitByWeight(opts.count, weights) : undefined;
    const budget =
      opts.pps && Number.isFinite(durationMs)
        ? Math.floor((opts.pps * durationMs) / 1000)
        : Infinity;
    const perTemplate: Record<string, number> = Object.fromEntries(mix.map((t) => [t.name, 0]));
    const start = performance.now();
    let sent = 0;
    let runs = 0;
    let kernelNs = 0;
    const elapsed = () => performance.now() - start;
    while (!opts.signal?.aborted) {
      if (elapsed() >= durationMs) break;
      let share: number[];
      if (remaining) {
        const left = remaining.reduce((a, b) => a + b, 0);
        if (left === 0) break;
        // This chunk's share of each template, never beyond what is left of it.
        share = splitByWeight(Math.min(chunk, left), weights).map((s, i) =>
          Math.min(s, remaining[i]!),
        );
        if (share.every((s) => s === 0)) share = remaining.map((r) => Math.min(r, chunk));
      } else {
        // Rate × duration is the run's budget: timers may wake a little early, never send past it.
        const n = Math.min(chunk, budget - sent);
        if (n <= 0) break;
        share = splitByWeight(n, weights);
      }
      for (let i = 0; i < mix.length; i++) {
        const n = share[i]!;
        if (n === 0) continue;
        kernelNs += this.send(mix[i]!.frame, n, mix[i]!.randomSource, opts.cpu);
        runs++;
        sent += n;
        perTemplate[mix[i]!.name]! += n;
        if (remaining) remaining[i]! -= n;
      }
      opts.onProgress?.({ sent, perTemplate: { ...perTemplate }, elapsedMs: elapsed() });
      if (opts.pps) {
        // Wait until the schedule catches up with what was sent (never past the deadline).
        const due = (sent / opts.pps) * 1000;
        const wait = Math.min(due, durationMs) - elapsed();
        if (wait > 0) await sleep(wait);
      } else await sleep(0); // let timers and signal handlers run between chunks
    }
    const ms = elapsed();
    return {
      sent,
      perTemplate,
      elapsedMs: ms,
      pps: ms > 0 ? (sent * 1000) / ms : 0,
      runs,
      kernelNs,
      transport: this.transport,
    };
  }

  close(): void {
    if (this.transport === "packet") closePacketSocket(this.fd);
    else closeFd(this.fd);
    this.batches.clear();
    for (const fd of this.randomizers.values()) closeFd(fd);
    this.randomizers.clear();
    this.fd = -1;
  }
}

// ---- in the background: the same generator in a worker thread ------------------
//
// A test run blocks its thread for the whole chunk, so a caller that must stay
// responsive meanwhile (a live view, an atomic replace under load, Ctrl-C) runs the
// generator in a worker: the worker's own thread enters the namespace, the caller's
// event loop keeps turning. The worker is this very module (also inside the CLI
// bundle); from TypeScript sources it is bootstrapped through tsx.

const WORKER_TAG = "xdpcTrafficGenerator";

/** What a background run takes: the generator's options and, optionally, its transport. */
export type BackgroundOptions = Omit<GenerateOptions, "onProgress" | "signal"> & {
  transport?: Transport;
};

type WorkerJob = {
  netns: string;
  ifname: string;
  opts: BackgroundOptions;
};
type WorkerMessage =
  | { kind: "progress"; progress: GenerateProgress }
  | { kind: "done"; report: GenerateReport }
  | { kind: "error"; message: string; name: string };

function workerUrl(): URL {
  const self = new URL(import.meta.url);
  if (!/\.[cm]?ts$/.test(self.pathname)) return self;
  // Running from sources: register tsx in the worker first (its ESM API entry, from its package.json).
  const req = createRequire(import.meta.url);
  const pkgPath = req.resolve("tsx/package.json");
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as {
    exports: Record<string, { import: { default: string } }>;
  };
  const api = pathToFileURL(join(dirname(pkgPath), pkg.exports["./esm/api"]!.import.default)).href;
  const src = `import { register } from ${JSON.stringify(api)}; register(); await import(${JSON.stringify(self.href)});`;
  return new URL("data:text/javascript," + encodeURIComponent(src));
}

/** A generator running in a worker thread; `done` settles with the report (or the error). */
export class BackgroundGenerator {
  readonly done: Promise<GenerateReport>;
  private worker: Worker;
  private latest: GenerateProgress;

  private constructor(job: WorkerJob, onProgress?: (p: GenerateProgress) => void) {
    const url = workerUrl();
    this.latest = {
      sent: 0,
      perTemplate: Object.fromEntries(job.opts.mix.map((t) => [t.name, 0])),
      elapsedMs: 0,
    };
    this.worker = new Worker(url, { workerData: { [WORKER_TAG]: job } });
    this.done = new Promise<GenerateReport>((resolve, reject) => {
      let settled = false;
      this.worker.on("message", (m: WorkerMessage) => {
        if (m.kind === "progress") {
          this.latest = m.progress;
          onProgress?.(m.progress);
        } else if (m.kind === "done") {
          settled = true;
          this.latest = m.report;
          resolve(m.report);
        } else if (m.kind === "error") {
          settled = true;
          reject(m.name === "LabError" ? new LabError(m.message) : new Error(m.message));
        }
      });
      this.worker.on("error", (e) => {
        settled = true;
        reject(e);
      });
      this.worker.on("exit", (code) => {
        if (!settled) reject(new Error(`traffic generator worker exited with code ${code}`));
      });
    });
    // Never an unhandled rejection when the caller only stops.
    this.done.catch(() => {});
  }

  /** Starts sending from `ifname` inside namespace `netns`. */
  static start(
    netns: string,
    ifname: string,
    opts: BackgroundOptions,
    onProgress?: (p: GenerateProgress) => void,
  ): BackgroundGenerator {
    return new BackgroundGenerator({ netns, ifname, opts }, onProgress);
  }

  /** The most recent progress report (updated after every chunk). */
  progress(): GenerateProgress {
    return this.latest;
  }

  /** Asks the worker to stop after the chunk in flight; `done` then resolves with what was sent. */
  stop(): void {
    this.worker.postMessage({ kind: "stop" });
  }

  /** Ends the worker at once (cleanup paths); `done` rejects unless it had finished. */
  terminate(): void {
    void this.worker.terminate();
  }
}

async function workerMain(job: WorkerJob): Promise<void> {
  const port = parentPort!;
  const ac = new AbortController();
  port.on("message", (m: { kind: string }) => {
    if (m.kind === "stop") ac.abort();
  });
  let gen: TrafficGenerator | undefined;
  try {
    const { transport, ...opts } = job.opts;
    gen = new TrafficGenerator(job.netns, job.ifname, transport ? { transport } : {});
    const report = await gen.generate({
      ...opts,
      signal: ac.signal,
      onProgress: (progress) =>
        port.postMessage({ kind: "progress", progress } satisfies WorkerMessage),
    });
    port.postMessage({ kind: "done", report } satisfies WorkerMessage);
  } catch (e) {
    const err = e as Error;
    port.postMessage({
      kind: "error",
      message: err.message,
      name: err.name,
    } satisfies WorkerMessage);
  } finally {
    gen?.close();
    port.close();
  }
}

if (!isMainThread && workerData && typeof workerData === "object" && WORKER_TAG in workerData) {
  void workerMain((workerData as Record<string, WorkerJob>)[WORKER_TAG]!);
}
