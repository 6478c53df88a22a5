// Running AF_XDP handlers on an interface: one shared WebAssembly.Memory holding the
// handler's data, the UMEM and every socket's rings; one AF_XDP socket per queue,
// inserted into the filter's XskMap at its queue index; worker threads that each own
// some sockets and run the generated batch loop. A worker that fails is reported and
// started again over the same sockets (the rings and the control block keep its
// state), so the other queues never stop. stop() ends the workers, then closes the
// sockets — their XskMap entries vanish with them, and the XDP program's fallback
// action applies from then on, exactly as when the process dies.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { CTL } from "../../compiler/wasm/xsk-abi.ts";
import { rxQueueCount, type XskStatistics } from "../../native/xsk.ts";
import {
  checkHandlerModule,
  handlerLayout,
  initData,
  instantiateHandler,
  type HandlerLayout,
} from "./module.ts";
import { reserveCpus } from "./cpus.ts";
import { SharedMaps, usedMapIds } from "./maps.ts";
import { probeOffsets, XskError, XskSet, type XskMode } from "./sockets.ts";
import {
  CONTROL_STOP,
  WORKER_TAG,
  workerUrl,
  type WorkerJob,
  type WorkerMessage,
} from "./worker.ts";

export interface XskRunOptions {
  ifname: string;
  ifindex: number;
  /** fd of the XskMap the XDP program redirects into. */
  xskMapFd: number;
  /** The handler module (built with the batch loop: compileToWasm's `rxBatch`). */
  wasm: Uint8Array;
  handler: string;
  /** Queues to open (default: all receive queues of the interface). */
  queues?: number[];
  /** Worker threads (default: one per queue, capped at the CPUs). */
  workers?: number;
  mode?: XskMode;
  ringSize?: number;
  frames?: number;
  /** Frames per batch (default 64). */
  batch?: number;
  /** Checks of an empty RX ring (spun inside Wasm) before a worker sleeps in poll() (default 256). */
  spins?: number;
  /** Pin worker i to cpus[i % cpus.length]. */
  cpus?: number[];
  /**
   * With `cpus`: keep the process's other threads (main, V8's compiler and GC threads,
   * libuv's pool) off the workers' CPUs while the run lasts (default true; see cpus.ts).
   */
  reserveCpus?: boolean;
  /** The handler's .rodata image (load-time parameters), as the eBPF object got it. */
  rodata?: Uint8Array;
  onTrace?: (line: string) => void;
  /** A worker failed (and is restarted unless it failed too often). */
  onWorkerError?: (index: number, message: string) => void;
  /** Test hook: worker `worker` throws after `frames` frames, once. */
  failAfter?: { worker: number; frames: number };
}

export interface QueueCounters {
  queue: number;
  worker: number;
  /** Frames the handler saw. */
  rx: bigint;
  /** XSK_TX frames put on the TX ring. */
  tx: bigint;
  /** XSK_DROP frames. */
  drop: bigint;
  /** XSK_TX frames dropped because the TX ring was full. */
  txFull: bigint;
  /** TX frames the kernel has completed. */
  completed: bigint;
  batches: bigint;
  kernel: XskStatistics;
}

const MAX_RESTARTS = 10;

export class XskRunner {
  readonly memory: WebAssembly.Memory;
  readonly workers: number;
  readonly zeroCopy: boolean;
  private readonly threads: (Worker | null)[] = [];
  private readonly exited: Promise<void>[] = [];
  private readonly restarts: number[] = [];
  private readonly tids: number[] = [];
  private readonly control = new SharedArrayBuffer(64);
  private stopping = false;
  /** The counters when the run stopped (the sockets are closed then). */
  private final: QueueCounters[] | null = null;
  private readonly jobs: WorkerJob[] = [];
  private sharedMaps: SharedMaps | null = null;
  /** Gives the threads moved off the workers' CPUs their affinity back. */
  private releaseCpus: () => void = () => {};

  private constructor(
    private readonly opts: XskRunOptions,
    private readonly set: XskSet,
    private readonly module: WebAssembly.Module,
    private readonly layout: HandlerLayout,
    memory: WebAssembly.Memory,
    workers: number,
  ) {
    this.memory = memory;
    this.workers = workers;
    this.zeroCopy = set.sockets.every((s) => s.zeroCopy);
  }

  /** Opens the sockets, fills the XskMap and starts the workers; resolves once all are running. */
  static async start(opts: XskRunOptions): Promise<XskRunner> {
    const module = new WebAssembly.Module(opts.wasm);
    const meta = checkHandlerModule(module, opts.handler);
    let queues = opts.queues;
    if (!queues) {
      const n = rxQueueCount(opts.ifname, opts.ifindex) ?? 1;
      queues = Array.from({ length: Math.max(1, n) }, (_, q) => q);
    }
    const workers = Math.max(
      1,
      Math.min(opts.workers ?? Math.min(queues.length, availableParallelism()), queues.length),
    );
    const batch = opts.batch ?? 64;
    if (!Number.isInteger(batch) || batch < 1 || batch > 65536)
      throw new XskError(`batch size ${batch} is outside 1..65536`);
    const set = new XskSet({
      ifname: opts.ifname,
      ifindex: opts.ifindex,
      queues,
      ringSize: opts.ringSize,
      frames: opts.frames,
      mode: opts.mode,
    });
    const layout = handlerLayout(meta, workers, usedMapIds(module));
    const off = probeOffsets();
    const foot = set.footprint(off, layout.end);
    const pages = XskSet.pagesFor(foot.end);
    // Committed at its final size before XDP_UMEM_REG; it never grows.
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    initData(meta, memory, opts.rodata, layout);
    set.open(memory, off, layout.end);
    const runner = new XskRunner(opts, set, module, layout, memory, workers);
    try {
      set.insertInto(opts.xskMapFd);
      await runner.startWorkers(batch);
    } catch (e) {
      await runner.stop();
      throw e;
    }
    return runner;
  }

  /** The CPUs the workers are pinned to (none unless `cpus` was given). */
  workerCpus(): number[] {
    const cpus = this.opts.cpus ?? [];
    if (!cpus.length) return [];
    return [...new Set(Array.from({ length: this.workers }, (_, w) => cpus[w % cpus.length]!))];
  }

  private async startWorkers(batch: number): Promise<void> {
    // Before the workers exist: every thread now is one of the process's own, and the
    // workers (created by this thread) inherit its new affinity, then pin themselves.
    const reserved = this.workerCpus();
    if (reserved.length && this.opts.reserveCpus !== false)
      this.releaseCpus = reserveCpus(reserved);
    const ready: Promise<void>[] = [];
    for (let w = 0; w < this.workers; w++) {
      const sockets = this.set.sockets
        .filter((_, i) => i % this.workers === w)
        .map((s) => ({ fd: s.fd, ctl: s.ctl, queue: s.queue }));
      const job: WorkerJob = {
        index: w,
        module: this.module,
        memory: this.memory,
        control: this.control,
        layout: this.layout,
        handler: this.opts.handler,
        sockets,
        batch,
        spins: this.opts.spins ?? 256,
        cpu: this.opts.cpus?.length ? this.opts.cpus[w % this.opts.cpus.length] : undefined,
      };
      this.jobs.push(job);
      this.restarts.push(0);
      const failAfter = this.opts.failAfter?.worker === w ? this.opts.failAfter.frames : undefined;
      ready.push(this.spawn(w, failAfter));
    }
    await Promise.all(ready);
  }

  /** Starts worker `w`; resolves when it runs its loop, rejects if it fails before. */
  private spawn(w: number, failAfter?: number): Promise<void> {
    const job = { ...this.jobs[w]!, failAfter };
    const worker = new Worker(workerUrl(), { workerData: { [WORKER_TAG]: job } });
    this.threads[w] = worker;
    let running = false;
    return new Promise<void>((resolve, reject) => {
      let failure: Error | null = null;
      worker.on("message", (m: WorkerMessage) => {
        if (m.kind === "ready") {
          running = true;
          this.tids[w] = m.tid;
          resolve();
        } else if (m.kind === "trace") this.opts.onTrace?.(m.line);
      });
      worker.on("error", (e) => {
        failure = e;
      });
      this.exited[w] = new Promise<void>((done) =>
        worker.on("exit", (code) => {
          if (this.threads[w] === worker) this.threads[w] = null;
          done();
          if (this.stopping) return;
          const message = failure?.message ?? `exited with code ${code}`;
          if (!running) {
            reject(new XskError(`AF_XDP worker ${w} failed to start: ${message}`));
            return;
          }
          this.opts.onWorkerError?.(w, message);
          if (++this.restarts[w]! > MAX_RESTARTS) {
            this.opts.onWorkerError?.(w, `failed ${MAX_RESTARTS} times; not restarted`);
            return;
          }
          this.spawn(w).catch((e: Error) => this.opts.onWorkerError?.(w, e.message));
        }),
      );
    });
  }

  /** The queues' counters (kept by the batch loop in the control blocks) and the kernel's statistics. */
  counters(): QueueCounters[] {
    if (this.final) return this.final;
    const view = new DataView(this.memory.buffer);
    const u64 = (at: number) => view.getBigUint64(at, true);
    const stats = new Map(this.set.statistics().map((s) => [s.queue, s.stats]));
    return this.set.sockets.map((s, i) => ({
      queue: s.queue,
      worker: i % this.workers,
      rx: u64(s.ctl + CTL.rx),
      tx: u64(s.ctl + CTL.tx),
      drop: u64(s.ctl + CTL.drop),
      txFull: u64(s.ctl + CTL.txFull),
      completed: u64(s.ctl + CTL.completed),
      batches: u64(s.ctl + CTL.batches),
      kernel: stats.get(s.queue)!,
    }));
  }

  /** Frames on each socket's fill ring (the kernel's for the taking), by queue. */
  fillLevels(): { queue: number; frames: number }[] {
    const mem = new Uint32Array(this.memory.buffer);
    const at = (ctl: number, field: number) => mem[mem[(ctl + field) >> 2]! >> 2]!;
    return this.set.sockets.map((s) => ({
      queue: s.queue,
      frames: (at(s.ctl, CTL.frProducer) - at(s.ctl, CTL.frConsumer)) >>> 0,
    }));
  }

  /**
   * The handlers' maps, reached through an instance of the handler module of the
   * control plane's own (its map code takes the same locks as the workers').
   */
  maps(): SharedMaps {
    if (!this.sharedMaps) {
      const inst = instantiateHandler(
        this.module,
        this.memory,
        this.layout,
        this.workers,
        () => {},
      );
      this.sharedMaps = new SharedMaps(
        this.layout.maps,
        this.memory,
        inst.exports,
        this.layout.scratch,
      );
    }
    return this.sharedMaps;
  }

  /** Each worker thread's kernel thread id (its /proc/self/task/<tid>, for CPU time). */
  threadIds(): number[] {
    return [...this.tids];
  }

  /** How many times each worker was restarted. */
  restartCounts(): number[] {
    return [...this.restarts];
  }

  /** Stops the workers, then closes the sockets and unmaps the rings; counters() keeps the last values. Idempotent. */
  async stop(): Promise<void> {
    this.stopping = true;
    Atomics.store(new Int32Array(this.control), CONTROL_STOP, 1);
    await Promise.all(this.exited);
    if (!this.final && this.set.sockets.length) this.final = this.counters();
    this.set.close();
    this.releaseCpus();
    this.releaseCpus = () => {};
  }
}
