// flock(2), for the loader's per-interface lock (runtime/sys/lock.ts).
import { koffi, library, NativeError } from "./lib.ts";
import { sys } from "./sys.ts";

let flockFn: ((fd: number, op: number) => number) | undefined;
function bind() {
  flockFn ??= library("libc.so.6").func("int flock(int fd, int op)") as (
    fd: number,
    op: number,
  ) => number;
  return flockFn;
}

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;

/**
 * flock(2): an exclusive lock the kernel drops when the holder dies (kill -9
 * included), so a crashed load never leaves a stale lock. False when another
 * process holds it and `wait` is false.
 */
export const flockExclusive = sys(
  "flockExclusive",
  function flockExclusive(fd: number, wait: boolean): boolean {
    const ret = bind()(fd, LOCK_EX | (wait ? 0 : LOCK_NB));
    if (ret === 0) return true;
    const errno = koffi().errno();
    if (errno === 11 /* EWOULDBLOCK */) return false;
    throw new NativeError("cannot lock", errno, "flock");
  },
);

export const funlock = sys("funlock", function funlock(fd: number): void {
  bind()(fd, LOCK_UN);
});
