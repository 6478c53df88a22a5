// AF_XDP sockets for one interface, with the UMEM and all rings inside one shared
// WebAssembly.Memory: one socket per queue, the first registers the UMEM and the others
// share it (XDP_SHARED_UMEM, each with its own fill and completion rings). Every ring
// is mmap'ed (MAP_FIXED) at a page-aligned offset of the memory computed from
// XDP_MMAP_OFFSETS, so the generated batch loop (compiler/wasm/batch.ts) reads and
// writes them directly; this module writes each socket's control block and free stack
// and never touches a frame. ../shared/AFXDP.md has what was proven and the pitfalls.
//
// Memory layout (offsets; `base` is where the caller's own layout ends):
//   base          control blocks, CTL.size bytes per queue
//   ...           free stacks, 4 bytes × frames per queue
//   page-aligned  UMEM: queues × frames × frameSize
//   page-aligned  rings: per queue RX, TX, fill, completion, each page-aligned
// The memory's maximum equals its initial size: it never grows, so no allocator ever
// hands out a range under a ring, and the rings are replaced by anonymous pages before
// the memory is dropped (a hole would crash the next access).
import { CTL, RELEASE_PLAIN } from "../../compiler/wasm/xsk-abi.ts";
import { NativeError } from "../../native/lib.ts";
import { mapUpdate } from "../../native/object.ts";
import {
  closeSocket,
  mapAnonymous,
  memoryAddress,
  mmapOffsets,
  rxQueueCount,
  mmapRing,
  setRingSize,
  umemRegister,
  xskBind as xskBindNow,
  xskSocket,
  xskStatistics,
  xskZeroCopy,
  XDP_COPY,
  XDP_PGOFF_RX_RING,
  XDP_PGOFF_TX_RING,
  XDP_RX_RING,
  XDP_SHARED_UMEM,
  XDP_TX_RING,
  XDP_UMEM_COMPLETION_RING,
  XDP_UMEM_FILL_RING,
  XDP_UMEM_PGOFF_COMPLETION_RING,
  XDP_UMEM_PGOFF_FILL_RING,
  XDP_USE_NEED_WAKEUP,
  XDP_ZEROCOPY,
  type MmapOffsets,
  type RingOffsets,
  type XskStatistics,
} from "../../native/xsk.ts";

export const PAGE_SIZE = 4096;
const WASM_PAGE = 65536;

export type XskMode = "auto" | "copy" | "zerocopy";

export interface XskOptions {
  ifname: string;
  ifindex: number;
  queues: readonly number[];
  /** Entries of each of the four rings (a power of two; default 2048). */
  ringSize?: number;
  /** UMEM frames per queue (default 2 × ringSize). */
  frames?: number;
  /** UMEM chunk size (2048 or 4096; default 4096). */
  frameSize?: number;
  mode?: XskMode;
}

/** An AF_XDP failure the user can act on: one line, no stack. */
export class XskError extends Error {
  override name = "XskError";
}

export interface XskSocket {
  queue: number;
  fd: number;
  /** Offset of the socket's control block in the memory. */
  ctl: number;
  zeroCopy: boolean;
}

const pow2 = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

function ringBytes(off: RingOffsets, entries: number, descSize: number): number {
  return off.desc + entries * descSize;
}

/** Bytes the sockets need after `base` (ring lengths are the kernel's, so offsets are needed). */
export function xskFootprint(
  o: Required<Pick<XskOptions, "ringSize" | "frames" | "frameSize">> & { queues: number },
  off: MmapOffsets,
  base: number,
) {
  const ctl = alignUp(base, 64);
  const free = ctl + o.queues * CTL.size;
  const umem = alignUp(free + o.queues * o.frames * 4, PAGE_SIZE);
  const umemSize = o.queues * o.frames * o.frameSize;
  let at = umem + umemSize;
  const rings: { rx: number; tx: number; fr: number; cr: number }[] = [];
  const lens = {
    rx: ringBytes(off.rx, o.ringSize, 16),
    tx: ringBytes(off.tx, o.ringSize, 16),
    fr: ringBytes(off.fr, o.ringSize, 8),
    cr: ringBytes(off.cr, o.ringSize, 8),
  };
  for (let q = 0; q < o.queues; q++) {
    const r = { rx: 0, tx: 0, fr: 0, cr: 0 };
    for (const k of ["rx", "tx", "fr", "cr"] as const) {
      r[k] = at;
      at = alignUp(at + lens[k], PAGE_SIZE);
    }
    rings.push(r);
  }
  return { ctl, free, umem, umemSize, rings, lens, end: at };
}

/** The kernel's ring offsets (the same for every socket: the layout of its ring struct). */
export function probeOffsets(): MmapOffsets {
  const fd = xskSocket();
  try {
    return mmapOffsets(fd);
  } finally {
    closeSocket(fd);
  }
}

/**
 * Plain stores publish ring indices only where a plain store is a release store: x86-64
 * (total store order; compiler/wasm/batch.ts has the argument).
 */
export const releasePlain = (arch: string = process.arch) => arch === "x64";

/**
 * Writes queue `i`'s control block (ring addresses, UMEM, its free stack holding every
 * frame of its share) for the batch loop. The first batch moves as many frames as fit
 * onto the fill ring.
 */
export function initControlBlock(
  memory: WebAssembly.Memory,
  lay: ReturnType<typeof xskFootprint>,
  i: number,
  off: MmapOffsets,
  o: {
    ringSize: number;
    frames: number;
    frameSize: number;
    queue: number;
    ifindex: number;
    /** Publish ring indices with plain stores (default: releasePlain()). */
    plainStores?: boolean;
  },
): void {
  const view = new DataView(memory.buffer);
  const u32 = (at: number, v: number) => view.setUint32(at, v, true);
  const c = lay.ctl + i * CTL.size;
  const r = lay.rings[i]!;
  const mask = o.ringSize - 1;
  const ring = (at: number, ro: RingOffsets, field: number) => {
    u32(c + field, at + ro.producer);
    u32(c + field + 4, at + ro.consumer);
    u32(c + field + 8, at + ro.desc);
    u32(c + field + 12, mask);
  };
  new Uint8Array(memory.buffer, c, CTL.size).fill(0);
  ring(r.rx, off.rx, CTL.rxProducer);
  ring(r.tx, off.tx, CTL.txProducer);
  ring(r.fr, off.fr, CTL.frProducer);
  ring(r.cr, off.cr, CTL.crProducer);
  u32(c + CTL.txFlags, r.tx + off.tx.flags);
  u32(c + CTL.frFlags, r.fr + off.fr.flags);
  u32(c + CTL.umem, lay.umem);
  u32(c + CTL.chunkSize, o.frameSize);
  const free = lay.free + i * o.frames * 4;
  u32(c + CTL.freeBase, free);
  for (let f = 0; f < o.frames; f++) u32(free + 4 * f, (i * o.frames + f) * o.frameSize);
  u32(c + CTL.freeCount, o.frames);
  u32(c + CTL.rxQueue, o.queue);
  u32(c + CTL.ifindex, o.ifindex);
  u32(c + CTL.flags, (o.plainStores ?? releasePlain()) ? RELEASE_PLAIN : 0);
}

/**
 * bind(2), retried for up to a second while it says EBUSY: the kernel lets go of a closed
 * socket's queue in deferred work (xp_release_deferred), so a bind right after a close (a
 * restart, the next run) can briefly find the queue taken. A queue really held stays EBUSY.
 */
function bindWhenReleased(...args: Parameters<typeof xskBindNow>): void {
  const deadline = Date.now() + 1000;
  for (;;) {
    try {
      return xskBindNow(...args);
    } catch (e) {
      if (!(e instanceof NativeError && e.code === "EBUSY") || Date.now() > deadline) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}

/**
 * One interface's sockets. `open` registers the UMEM (which must lie in committed
 * memory), maps the rings, binds every queue and writes the control blocks; `close`
 * closes the sockets (their XskMap entries vanish with them) and puts anonymous
 * pages back over the rings.
 */
export class XskSet {
  readonly sockets: XskSocket[] = [];
  readonly ringSize: number;
  readonly frames: number;
  readonly frameSize: number;
  readonly mode: XskMode;
  private mapped: { addr: bigint; len: number }[] = [];
  private memBase = 0n;
  layout: ReturnType<typeof xskFootprint> | null = null;

  constructor(readonly opts: XskOptions) {
    this.ringSize = opts.ringSize ?? 2048;
    this.frames = opts.frames ?? 2 * this.ringSize;
    this.frameSize = opts.frameSize ?? 4096;
    this.mode = opts.mode ?? "auto";
    if (!pow2(this.ringSize) || this.ringSize < 64 || this.ringSize > 65536)
      throw new XskError(`ring size ${this.ringSize} is not a power of two between 64 and 65536`);
    if (this.frameSize !== 2048 && this.frameSize !== 4096)
      throw new XskError(`frame size ${this.frameSize} must be 2048 or 4096`);
    if (!Number.isInteger(this.frames) || this.frames < this.ringSize)
      throw new XskError(
        `${this.frames} UMEM frames per queue is fewer than the ring size ${this.ringSize}`,
      );
    if (!opts.queues.length) throw new XskError("no queues to open AF_XDP sockets on");
    const n = rxQueueCount(opts.ifname, opts.ifindex);
    for (const q of opts.queues)
      if (n !== null && q >= n)
        throw new XskError(
          `queue ${q} does not exist on '${opts.ifname}' (it has ${n} receive queue${n === 1 ? "" : "s"})`,
        );
  }

  /** Bytes of memory from `base` on that `open` will use (needs the kernel's offsets). */
  footprint(off: MmapOffsets, base: number) {
    return xskFootprint(
      {
        ringSize: this.ringSize,
        frames: this.frames,
        frameSize: this.frameSize,
        queues: this.opts.queues.length,
      },
      off,
      base,
    );
  }

  /** Memory pages (64 KiB) a memory needs to hold the sockets after `base`. */
  static pagesFor(end: number): number {
    return Math.ceil(end / WASM_PAGE);
  }

  open(memory: WebAssembly.Memory, off: MmapOffsets, base: number): void {
    const lay = this.footprint(off, base);
    if (lay.end > memory.buffer.byteLength)
      throw new Error(
        `the memory holds ${memory.buffer.byteLength} bytes, the sockets need ${lay.end}`,
      );
    this.layout = lay;
    this.memBase = memoryAddress(memory.buffer);
    try {
      let first = -1;
      this.opts.queues.forEach((queue, i) => {
        const fd = xskSocket();
        this.sockets.push({ queue, fd, ctl: lay.ctl + i * CTL.size, zeroCopy: false });
        if (first < 0) this.registerUmem(fd, lay.umem, lay.umemSize);
        setRingSize(fd, XDP_UMEM_FILL_RING, this.ringSize, "cannot size the fill ring");
        setRingSize(fd, XDP_UMEM_COMPLETION_RING, this.ringSize, "cannot size the completion ring");
        setRingSize(fd, XDP_RX_RING, this.ringSize, "cannot size the RX ring");
        setRingSize(fd, XDP_TX_RING, this.ringSize, "cannot size the TX ring");
        const r = lay.rings[i]!;
        // Rings are mapped before bind: the kernel refuses to map a bound socket's fill ring.
        this.map(fd, r.rx, lay.lens.rx, XDP_PGOFF_RX_RING, "RX");
        this.map(fd, r.tx, lay.lens.tx, XDP_PGOFF_TX_RING, "TX");
        this.map(fd, r.fr, lay.lens.fr, XDP_UMEM_PGOFF_FILL_RING, "fill");
        this.map(fd, r.cr, lay.lens.cr, XDP_UMEM_PGOFF_COMPLETION_RING, "completion");
        this.bind(fd, queue, first);
        if (first < 0) first = fd;
        const s = this.sockets[i]!;
        s.zeroCopy = xskZeroCopy(fd);

        initControlBlock(memory, lay, i, off, {
          ringSize: this.ringSize,
          frames: this.frames,
          frameSize: this.frameSize,
          queue,
          ifindex: this.opts.ifindex,
        });
      });
    } catch (e) {
      this.close();
      throw e;
    }
  }

  private registerUmem(fd: number, offset: number, size: number): void {
    try {
      umemRegister(fd, this.memBase + BigInt(offset), size, this.frameSize);
    } catch (e) {
      if (
        e instanceof NativeError &&
        (e.code === "ENOBUFS" || e.code === "ENOMEM" || e.code === "EPERM")
      )
        throw new XskError(
          `cannot register ${Math.round(size / 1048576)} MiB of AF_XDP UMEM: RLIMIT_MEMLOCK is too low ` +
            `(raise it with ulimit -l or LimitMEMLOCK=, or grant CAP_IPC_LOCK) [${e.code}]`,
        );
      throw e;
    }
  }

  private map(fd: number, at: number, len: number, pgoff: bigint, name: string): void {
    const addr = this.memBase + BigInt(at);
    mmapRing(fd, addr, len, pgoff, `cannot map the ${name} ring`);
    this.mapped.push({ addr, len });
  }

  private bind(fd: number, queue: number, sharedFd: number): void {
    const { ifname, ifindex } = this.opts;
    if (sharedFd >= 0) {
      // A socket sharing the UMEM inherits copy/zero-copy and need_wakeup from the first.
      try {
        bindWhenReleased(fd, ifindex, queue, XDP_SHARED_UMEM, sharedFd);
      } catch (e) {
        throw this.bindError(e, queue);
      }
      return;
    }
    const tryBind = (flags: number) =>
      bindWhenReleased(fd, ifindex, queue, flags | XDP_USE_NEED_WAKEUP);
    try {
      if (this.mode === "copy") return tryBind(XDP_COPY);
      try {
        return tryBind(XDP_ZEROCOPY);
      } catch (e) {
        if (this.mode === "zerocopy") {
          if (
            e instanceof NativeError &&
            (e.code === "EOPNOTSUPP" || e.code === "EINVAL" || e.code === "ENOTSUPP")
          )
            throw new XskError(
              `'${ifname}' does not support AF_XDP zero-copy (its driver lacks it); use --xsk-mode copy or auto`,
            );
          throw e;
        }
        return tryBind(XDP_COPY);
      }
    } catch (e) {
      throw this.bindError(e, queue);
    }
  }

  private bindError(e: unknown, queue: number): unknown {
    if (!(e instanceof NativeError)) return e;
    const { ifname } = this.opts;
    if (e.code === "EINVAL") {
      const n = rxQueueCount(ifname, this.opts.ifindex);
      if (n !== null && queue >= n)
        return new XskError(`queue ${queue} does not exist on '${ifname}' (it has ${n})`);
    }
    if (e.code === "EBUSY")
      return new XskError(
        `queue ${queue} of '${ifname}' already has an AF_XDP socket (another xdpc run or AF_XDP program) [EBUSY]`,
      );
    if (e.code === "ENETDOWN")
      return new XskError(`'${ifname}' is down; bring it up before opening AF_XDP sockets`);
    return e;
  }

  /** Puts each socket into the XskMap `mapFd` at its queue index. */
  insertInto(mapFd: number): void {
    for (const s of this.sockets) {
      const key = new Uint8Array(new Uint32Array([s.queue]).buffer);
      const value = new Uint8Array(new Uint32Array([s.fd]).buffer);
      try {
        mapUpdate(mapFd, key, value);
      } catch (e) {
        if (e instanceof NativeError && e.code === "E2BIG")
          throw new XskError(`queue ${s.queue} is beyond the XskMap's maxEntries`);
        throw e;
      }
    }
  }

  statistics(): { queue: number; stats: XskStatistics }[] {
    return this.sockets.map((s) => ({ queue: s.queue, stats: xskStatistics(s.fd) }));
  }

  /** Closes the sockets and maps anonymous pages back over every ring. Idempotent. */
  close(): void {
    for (const s of this.sockets.splice(0)) closeSocket(s.fd);
    for (const m of this.mapped.splice(0)) mapAnonymous(m.addr, m.len);
  }
}
