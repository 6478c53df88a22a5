// One AF_XDP worker thread: it owns the rings of its sockets (one producer and one
// consumer per ring, as the kernel requires), instantiates the handler module over the
// shared memory and calls the generated batch loop. JavaScript here only decides when
// to sleep and when to wake the kernel: sendto when the TX ring asks for a kick,
// poll when there was nothing to do for a while (or the fill ring asks for a wakeup).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { CTL, rxBatchExport, WAKE_FILL, WAKE_TX } from "../../compiler/wasm/xsk-abi.ts";
import { kickTx, pinThread, pollFds, threadId } from "../../native/xsk.ts";
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
  /** Empty batches before the worker sleeps in poll(). */
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

function workerMain(job: WorkerJob): void {
  const port = parentPort!;
  if (job.cpu !== undefined) pinThread(job.cpu);
  const instance = instantiateHandler(job.module, job.memory, job.layout, job.index, (line) =>
    port.postMessage({ kind: "trace", line } satisfies WorkerMessage),
  );
  const batch = instance.exports[rxBatchExport(job.handler)] as (ctl: number, n: number) => number;
  const control = new Int32Array(job.control);
  const mem = new Int32Array(job.memory.buffer);
  const fds = job.sockets.map((s) => s.fd);
  port.postMessage({ kind: "ready", index: job.index, tid: threadId() } satisfies WorkerMessage);
  let fillWake = false;
  const round = () => {
    let frames = 0;
    fillWake = false;
    for (const s of job.sockets) {
      frames += batch(s.ctl, job.batch);
      const wake = mem[(s.ctl + CTL.wake) >> 2]!;
      if (wake & WAKE_TX) kickTx(s.fd);
      if (wake & WAKE_FILL) fillWake = true;
    }
    return frames;
  };
  let idle = 0;
  let seen = 0;
  while (Atomics.load(control, CONTROL_STOP) === 0) {
    const frames = round();
    if (job.failAfter !== undefined && (seen += frames) >= job.failAfter)
      throw new Error(`injected failure after ${seen} frames`);
    if (frames > 0) {
      idle = 0;
      if (fillWake) pollFds(fds, 0);
    } else if (++idle >= job.spins) {
      // Nothing for a while: sleep until a socket has frames (bounded, to see a stop).
      pollFds(fds, POLL_MS);
      idle = 0;
    }
  }
  // Stopping: handle what has already arrived (and send what is queued) before the
  // sockets close; two quiet rounds in a row end it.
  for (let quiet = 0, i = 0; quiet < 2 && i < 100_000; i++) {
    if (round() > 0) quiet = 0;
    else {
      quiet++;
      pollFds(fds, 1);
    }
  }
  port.postMessage({ kind: "stopped", index: job.index } satisfies WorkerMessage);
}

if (!isMainThread && workerData && typeof workerData === "object" && WORKER_TAG in workerData) {
  workerMain((workerData as Record<string, WorkerJob>)[WORKER_TAG]!);
}
