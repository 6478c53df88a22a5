// Test wrapper over BPF_PROG_TEST_RUN (the cilium/ebpf habit): run a program over a
// list of packets and get verdicts and output bytes; load ELF objects through libbpf
// in isolation (maps pinned under a private bpffs directory); and fail tests that leak
// file descriptors. Usable outside vitest too (benchmarks): vitest is imported only
// when running under it.
import { mkdirSync, readdirSync, readlinkSync, rmSync, existsSync } from "node:fs";
import { join } from "node:path";
import { testRun } from "../../native/bpf.ts";
import { NativeError } from "../../native/lib.ts";
import { openObject, type LoadedObject, type OpenOptions } from "../../native/object.ts";
import { XDP_ACTION_NAMES } from "../../compiler/uapi/bpf.ts";

const vitest = process.env.VITEST ? await import("vitest") : undefined;

export { XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT } from "../../compiler/uapi/bpf.ts";

/** "XDP_PASS" for 2; unknown return codes (the kernel treats them as aborts) as "XDP_<n>". */
export function verdictName(v: number): string {
  return XDP_ACTION_NAMES[v] ?? `XDP_${v}`;
}

export interface XdpResult {
  /** r0 of the program, or -1 when the kernel refused to run the packet (see `error`). */
  verdict: number;
  name: string;
  /** The packet after the program (changed by writes, adjust_head/tail). */
  data: Uint8Array;
  /** tc runs: the fields of struct __sk_buff the program may write (mark, priority). */
  ctx?: Uint8Array;
  error?: string;
}

/**
 * Runs the program once per packet, in order (repeat = 1: a larger repeat swaps the
 * XDP dispatcher and costs ~20 ms per call). `beforeEach(i)` runs before packet i,
 * e.g. to reset maps.
 */
export function runXdp(
  progFd: number,
  packets: readonly Uint8Array[],
  opts: { beforeEach?: (i: number) => void; ingressIfindex?: number } = {},
): XdpResult[] {
  return packets.map((p, i) => {
    opts.beforeEach?.(i);
    try {
      const r = testRun(progFd, p, { repeat: 1, ingressIfindex: opts.ingressIfindex });
      return { verdict: r.retval, name: verdictName(r.retval), data: r.data };
    } catch (e) {
      if (!(e instanceof NativeError)) throw e;
      return { verdict: -1, name: `error:${e.code}`, data: new Uint8Array(0), error: e.message };
    }
  });
}

/** Counts verdict names: { XDP_PASS: 812, XDP_DROP: 3 }. */
export function verdictHistogram(results: readonly XdpResult[]): Record<string, number> {
  const h: Record<string, number> = {};
  for (const r of results) h[r.name] = (h[r.name] ?? 0) + 1;
  return h;
}

export interface XdpObject {
  object: LoadedObject;
  /** Names of the object's programs, in ELF order. */
  programs: string[];
  /** The fd of `name`, or of the only program when no name is given. */
  programFd(name?: string): number;
  mapFd(name: string): number;
  /** Closes the object and removes its private pin directory. */
  close(): void;
}

const BPFFS = "/sys/fs/bpf";
let objectSeq = 0;

/**
 * Opens and loads an ELF object through libbpf. Maps that ask for pinning are pinned
 * under a fresh directory of bpffs, so that two objects loaded side by side (a
 * differential run) never share a map, and nothing is left behind after close().
 * `beforeLoad` runs between open and load (set `.rodata` parameters there).
 */
export function loadXdpObject(
  bytes: Uint8Array,
  opts: OpenOptions & { beforeLoad?: (obj: LoadedObject) => void } = {},
): XdpObject {
  const pinRoot = opts.pinRoot ?? join(BPFFS, `xdpc-test-${process.pid}-${++objectSeq}`);
  const ownPinRoot = opts.pinRoot === undefined;
  if (ownPinRoot) mkdirSync(pinRoot, { recursive: true });
  const removePins = () => {
    if (ownPinRoot && existsSync(pinRoot)) rmSync(pinRoot, { recursive: true, force: true });
  };
  let object: LoadedObject;
  try {
    object = openObject(bytes, { ...opts, pinRoot });
  } catch (e) {
    removePins();
    throw e;
  }
  try {
    opts.beforeLoad?.(object); // e.g. setInitialValue(".rodata") for load-time parameters
    object.load();
  } catch (e) {
    object.close();
    removePins();
    throw e;
  }
  const programs = object.programNames();
  return {
    object,
    programs,
    programFd(name) {
      if (name === undefined) {
        if (programs.length !== 1)
          throw new Error(
            `object has ${programs.length} programs (${programs.join(", ")}); name one`,
          );
        name = programs[0]!;
      }
      return object.programFd(name);
    },
    mapFd: (name) => object.mapFd(name),
    close() {
      object.close();
      removePins();
    },
  };
}

// ---------------------------------------------------------------- descriptor leaks

/** Open descriptors of this process and what they point to (anon_inode:bpf-prog, pipe:[..], ...). */
export function openFds(): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of readdirSync("/proc/self/fd")) {
    try {
      out.set(Number(name), readlinkSync(`/proc/self/fd/${name}`));
    } catch {
      // Closed between readdir and readlink (the readdir handle itself, for one).
    }
  }
  return out;
}

/** BPF objects: programs, maps, links, BTF. */
export const isBpfFd = (target: string) => /^anon_inode:(bpf[-_]|btf|\[bpf)/.test(target);

/**
 * Descriptors open now that were not in `before` (optionally only those matching
 * `filter`). Descriptors the runtime itself opens lazily (Node's libuv, vitest's
 * pipes) come and go, so the default filter looks at BPF objects only.
 */
export function leakedFds(
  before: Map<number, string>,
  filter: (target: string) => boolean = isBpfFd,
): string[] {
  const leaks: string[] = [];
  for (const [fd, target] of openFds()) {
    if (before.get(fd) !== target && filter(target)) leaks.push(`fd ${fd} -> ${target}`);
  }
  return leaks;
}

export class FdLeakError extends Error {
  constructor(readonly leaks: string[]) {
    super(`leaked ${leaks.length} file descriptor(s):\n  ${leaks.join("\n  ")}`);
    this.name = "FdLeakError";
  }
}

/** Throws FdLeakError when descriptors were opened since `before` and not closed. */
export function assertNoFdLeaks(
  before: Map<number, string>,
  filter?: (target: string) => boolean,
): void {
  const leaks = leakedFds(before, filter);
  if (leaks.length) throw new FdLeakError(leaks);
}

/**
 * Registers hooks that snapshot descriptors before each test (or the whole file) and
 * fail when BPF descriptors are left open after it.
 */
export function checkFdLeaks(
  scope: "each" | "all" = "each",
  filter?: (target: string) => boolean,
): void {
  if (!vitest)
    throw new Error("checkFdLeaks registers vitest hooks; call it inside a vitest test file");
  const { afterAll, afterEach, beforeAll, beforeEach } = vitest;
  let before = new Map<number, string>();
  if (scope === "each") {
    beforeEach(() => {
      before = openFds();
    });
    afterEach(() => assertNoFdLeaks(before, filter));
  } else {
    beforeAll(() => {
      before = openFds();
    });
    afterAll(() => assertNoFdLeaks(before, filter));
  }
}
