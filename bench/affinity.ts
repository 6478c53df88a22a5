// CPU affinity through sched_setaffinity(2): pins the calling thread (pid 0) or
// another task (a NAPI kthread) to one CPU, and restores the previous mask.
import { koffi, library, NativeError } from "../native/lib.ts";
import { readdirSync, readFileSync } from "node:fs";

const MASK_BYTES = 128; // 1024 CPUs

let api:
  | {
      set: (pid: number, size: number, mask: Buffer) => number;
      get: (pid: number, size: number, mask: Buffer) => number;
    }
  | undefined;
function bind() {
  const libc = library("libc.so.6");
  api ??= {
    set: libc.func("int sched_setaffinity(int pid, size_t size, const void *mask)") as never,
    get: libc.func("int sched_getaffinity(int pid, size_t size, _Out_ void *mask)") as never,
  };
  return api;
}

/** Pins task `pid` (0: the calling thread) to `cpu`; returns a function that restores its old mask. */
export function pinToCpu(pid: number, cpu: number): () => void {
  const a = bind();
  const old = Buffer.alloc(MASK_BYTES);
  if (a.get(pid, MASK_BYTES, old) < 0)
    throw new NativeError(
      `cannot read the CPU mask of task ${pid}`,
      koffi().errno(),
      "sched_getaffinity",
    );
  const mask = Buffer.alloc(MASK_BYTES);
  mask[cpu >> 3] = 1 << (cpu & 7);
  if (a.set(pid, MASK_BYTES, mask) < 0)
    throw new NativeError(
      `cannot pin task ${pid} to CPU ${cpu}`,
      koffi().errno(),
      "sched_setaffinity",
    );
  return () => void a.set(pid, MASK_BYTES, old);
}

/** Pids of the threaded-NAPI kthreads of interface IF (comm "napi/<IF>-<id>"). */
export function napiThreads(ifname: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, "utf8").startsWith(`napi/${ifname}-`))
        out.push(Number(d));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Total on-CPU time (ns) of the given tasks, from /proc/<pid>/schedstat. */
export function onCpuNs(pids: readonly number[]): number {
  let ns = 0;
  for (const pid of pids)
    ns += Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]);
  return ns;
}
