// The workers' CPUs are kept for the workers. A Node process is not one thread: next to
// the workers run the main thread, V8's platform threads (background compilation —
// TurboFan optimizing a fresh worker's JavaScript as traffic starts, Wasm tier-up — and
// concurrent GC) and libuv's pool. Left anywhere, the scheduler puts them on a worker's
// CPU too — on a quiet machine most of all, where the worker's CPU is the idle one —
// and each run of theirs is a stall of the worker. Measured (perf sched, a bench runner's
// start and one round on veth): ~370 ms of V8's threads on the worker's CPU, in runs of up
// to 27 ms, most of it while the fresh worker boots and its JavaScript is optimized, and
// 3.5 ms (one 2 ms run) in the send window of a round on a loaded machine; the RX ring and
// the fill ring hold 4096 frames, ~2–3 ms of traffic at 1.5–2 Mpps, and every frame past
// that is a kernel drop (rx_dropped, the fill ring found empty). A C consumer is one
// thread and has no such neighbours.
//
// So when the workers are pinned, every other thread of the process moves to the CPUs
// it may use that are not a worker's, for as long as the run lasts, and gets its own
// affinity back at stop. Threads created later inherit the affinity of their creator:
// the main thread's (moved) for new workers, which then pin themselves, and for
// anything else the process starts. When the workers take every CPU the process may
// use, nothing moves (there is nowhere to go).
import { processThreads, setTaskCpus, taskCpus } from "../../native/xsk.ts";

/**
 * Moves the process's threads off `reserved` (the workers' CPUs) and returns the
 * function that gives each moved thread its affinity back (threads that exited since
 * are skipped). `keep` are threads left where they are (none when called before the
 * workers start).
 */
export function reserveCpus(reserved: readonly number[], keep: readonly number[] = []): () => void {
  const off = new Set(reserved);
  const moved: { tid: number; cpus: number[] }[] = [];
  for (const tid of processThreads()) {
    if (keep.includes(tid)) continue;
    const cpus = taskCpus(tid);
    if (!cpus) continue;
    const rest = cpus.filter((c) => !off.has(c));
    // Already off the reserved CPUs, or nowhere else to go.
    if (rest.length === cpus.length || rest.length === 0) continue;
    if (setTaskCpus(tid, rest)) moved.push({ tid, cpus });
  }
  return () => {
    for (const m of moved.splice(0)) setTaskCpus(m.tid, m.cpus);
  };
}
