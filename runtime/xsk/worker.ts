// One AF_XDP worker thread: it owns the rings of its sockets (one producer and one
// consumer per ring, as the kernel requires), instantiates the handler module over the
// shared memory and calls the generated run loop (batches, and a bounded spin on an
// empty RX ring, all inside Wasm). JavaScript here only decides when to sleep and when
// to wake the kernel: sendto when the TX ring asks for a kick, poll(0) when the fill
// ring asks for a wakeup, and a sleeping poll when every RX ring stayed empty through
// the module's spins.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { CTL, rxRunExport, WAKE_FILL, WAKE_IDLE, WAKE_TX } from "../../compiler/wasm/xsk-abi.ts";
import { kickTx, pinThread, poller, threadId } from "../../native/xsk.ts";
import { instantiateHandler, type HandlerLayout } from "./module.ts";

export const WORKER_TAG = "xdpcXskWorker";

/** Control words of the run (an Int32Array over a SharedArrayBuffer). */
export const CONTROL_STOP = 0;

export interface WorkerJob {
  index: number;
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  layout: HandlerLayout;
  handler: string;
  sockets: { fd: number; ctl: number; queue: number }[];
  batch: number;
  /** Checks of an empty RX ring (inside Wasm, shared by the worker's sockets) before the worker sleeps in poll(). */
  spins: number;
  cpu?: number;
  /** Test hook: throw after this many frames (a crashing worker). */
  failAfter?: number;
}

export type WorkerMessage =
  | { kind: "ready"; index: number; tid: number }
  | { kind: "trace"; line: string }
  | { kind: "stopped"; index: number };

/** The worker's entry, as a URL a Worker can start (this module, through tsx when run from sources). */
export function workerUrl(): URL {
  const self = new URL(import.meta.url);
  if (!/\.[cm]?ts$/.test(self.pathname)) return self;
  const req = createRequire(import.meta.url);
  const pkgPath = req.resolve("tsx/package.json");
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as {
    exports: Record<string, { import: { default: string } }>;
  };
  const api = pathToFileURL(join(dirname(pkgPath), pkg.exports["./esm/api"]!.import.default)).href;
  const src = `import { register } from ${JSON.stringify(api)}; register(); await import(${JSON.stringify(self.href)});`;
  return new URL("data:text/javascript," + encodeURIComponent(src));
}

const POLL_MS = 100;
/** Batches one call of the run loop may take before it returns to JavaScript (to see a stop). */
const BATCHES_PER_CALL = 64;

function workerMain(job: WorkerJob): void {
  const port = parentPort!;
  if (job.cpu !== undefined) pinThread(job.cpu);
  const instance = instantiateHandler(job.module, job.memory, job.layout, job.index, (line) =>
    port.postMessage({ kind: "trace", line } satisfies WorkerMessage),
  );
  const run = instance.exports[rxRunExport(job.handler)] as (
    ctl: number,
    budget: number,
    batches: number,
    spins: number,
  ) => number;
  const control = new Int32Array(job.control);
  const mem = new Int32Array(job.memory.buffer);
  // The job came through structured clone (a dictionary-mode object): what the loop
  // reads per round is copied into locals once.
  const ctls = job.sockets.map((s) => s.ctl);
  const fds = job.sockets.map((s) => s.fd);
  const batch = job.batch;
  const poll = poller(fds);
  // Fill the fill rings before saying ready (a batch of budget 0 takes no frames): traffic
  // may start at once, and a frame that finds the fill ring empty is dropped by the kernel.
  for (const ctl of ctls) run(ctl, 0, 1, 0);
  port.postMessage({ kind: "ready", index: job.index, tid: threadId() } satisfies WorkerMessage);
  let fillWake = false;
  let idle = false;
  // Each socket's share of the spins on an empty RX ring before the worker sleeps.
  const spins = Math.max(1, Math.ceil(job.spins / ctls.length));
  const round = () => {
    let frames = 0;
    fillWake = false;
    idle = true;
    for (let i = 0; i < ctls.length; i++) {
      const ctl = ctls[i]!;
      frames += run(ctl, batch, BATCHES_PER_CALL, spins);
      const wake = mem[(ctl + CTL.wake) >> 2]!;
      if (wake & WAKE_TX) kickTx(fds[i]!);
      if (wake & WAKE_FILL) fillWake = true;
      if (!(wake & WAKE_IDLE)) idle = false;
    }
    return frames;
  };
  let seen = 0;
  const failAfter = job.failAfter;
  while (Atomics.load(control, CONTROL_STOP) === 0) {
    const frames = round();
    if (failAfter !== undefined && (seen += frames) >= failAfter)
      throw new Error(`injected failure after ${seen} frames`);
    if (fillWake) poll(0);
    // Every RX ring stayed empty through the spins: sleep until a socket has frames
    // (bounded, to see a stop).
    else if (idle) poll(POLL_MS);
  }
  // Stopping: handle what has already arrived (and send what is queued) before the
  // sockets close; two quiet rounds in a row end it.
  for (let quiet = 0, i = 0; quiet < 2 && i < 100_000; i++) {
    if (round() > 0) quiet = 0;
    else {
      quiet++;
      poll(1);
    }
  }
  port.postMessage({ kind: "stopped", index: job.index } satisfies WorkerMessage);
}

if (!isMainThread && workerData && typeof workerData === "object" && WORKER_TAG in workerData) {
  workerMain((workerData as Record<string, WorkerJob>)[WORKER_TAG]!);
}
