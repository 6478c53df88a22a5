// What a call changes about the calling thread: its network namespace (setns(2)) and
// its signal mask (pthread_sigmask(3)).
import { koffi, library, NativeError } from "./lib.ts";
import { sys } from "./sys.ts";

const CLONE_NEWNET = 0x40000000;
const SIG_BLOCK = 0;
const SIG_SETMASK = 2;
const SIGSET_BYTES = 128; // glibc sigset_t

let setnsFn: ((fd: number, nstype: number) => number) | undefined;
let sigmaskFn: ((how: number, set: Uint8Array, old: Uint8Array) => number) | undefined;

/** Moves the calling thread into the network namespace open as `fd` (`what` names it in errors). */
export const enterNetns = sys("enterNetns", function enterNetns(fd: number, what: string): void {
  setnsFn ??= library("libc.so.6").func("int setns(int fd, int nstype)") as (
    fd: number,
    t: number,
  ) => number;
  if (setnsFn(fd, CLONE_NEWNET) !== 0)
    throw new NativeError(`cannot enter network namespace ${what}`, koffi().errno(), "setns");
});

/**
 * Runs a synchronous function with every signal blocked on the calling thread, then
 * restores the mask (pending signals are delivered then). For kernel work that a
 * signal would abort with EINTR and no way to resume, such as a live-frames test run
 * (Node gets SIGCHLD for every child that exits).
 */
export const withSignalsBlocked = sys("withSignalsBlocked", function withSignalsBlocked<
  T,
>(fn: () => T): T {
  sigmaskFn ??= library("libc.so.6").func(
    "int pthread_sigmask(int how, const uint8_t *set, _Out_ uint8_t *oldset)",
  ) as (how: number, set: Uint8Array, old: Uint8Array) => number;
  const old = new Uint8Array(SIGSET_BYTES);
  if (sigmaskFn(SIG_BLOCK, new Uint8Array(SIGSET_BYTES).fill(0xff), old) !== 0) return fn();
  try {
    return fn();
  } finally {
    sigmaskFn(SIG_SETMASK, old, new Uint8Array(SIGSET_BYTES));
  }
});
