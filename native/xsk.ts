// AF_XDP through raw syscalls (libc via koffi): socket, the SOL_XDP socket options,
// bind, mmap of the rings at fixed addresses, poll/sendto for wakeups, and
// sched_setaffinity for pinning workers. libxdp's ring functions are `static inline`
// in xsk.h and cannot be called through FFI; the rings are read and written by the
// generated Wasm batch loop instead (runtime/xsk), so nothing here touches a frame.
// Every operation is registered with native/sys.ts, so test/support/fakesys.ts can play
// the kernel for runtime/xsk's socket setup.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { koffi, library, NativeError } from "./lib.ts";
import { sys } from "./sys.ts";

export const AF_XDP = 44;
export const SOCK_RAW = 3;
export const SOL_XDP = 283;
const SOCK_CLOEXEC = 0x80000; // a child must not inherit (and keep bound) a queue's socket

// setsockopt/getsockopt names (linux/if_xdp.h)
export const XDP_MMAP_OFFSETS = 1;
export const XDP_RX_RING = 2;
export const XDP_TX_RING = 3;
export const XDP_UMEM_REG = 4;
export const XDP_UMEM_FILL_RING = 5;
export const XDP_UMEM_COMPLETION_RING = 6;
export const XDP_STATISTICS = 7;
export const XDP_OPTIONS = 8;

// sockaddr_xdp.sxdp_flags
export const XDP_SHARED_UMEM = 1 << 0;
export const XDP_COPY = 1 << 1;
export const XDP_ZEROCOPY = 1 << 2;
export const XDP_USE_NEED_WAKEUP = 1 << 3;

/** Ring flags word: the kernel wants a syscall to make progress. */
export const XDP_RING_NEED_WAKEUP = 1;
/** XDP_OPTIONS result: the socket is bound in zero-copy mode. */
export const XDP_OPTIONS_ZEROCOPY = 1;

/** mmap page offsets of the four rings. */
export const XDP_PGOFF_RX_RING = 0n;
export const XDP_PGOFF_TX_RING = 0x80000000n;
export const XDP_UMEM_PGOFF_FILL_RING = 0x100000000n;
export const XDP_UMEM_PGOFF_COMPLETION_RING = 0x180000000n;

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 0x01;
const MAP_PRIVATE = 0x02;
const MAP_FIXED = 0x10;
const MAP_ANONYMOUS = 0x20;
const MAP_POPULATE = 0x8000;
const MAP_FAILED = -1n;
const POLLIN = 0x1;
const MSG_DONTWAIT = 0x40;

/** Where producer, consumer, flags and descriptors sit in one mapped ring. */
export interface RingOffsets {
  producer: number;
  consumer: number;
  flags: number;
  desc: number;
}
export interface MmapOffsets {
  rx: RingOffsets;
  tx: RingOffsets;
  fr: RingOffsets;
  cr: RingOffsets;
}

export interface XskStatistics {
  rxDropped: bigint;
  rxInvalidDescs: bigint;
  txInvalidDescs: bigint;
  rxRingFull: bigint;
  rxFillRingEmptyDescs: bigint;
  txRingEmptyDescs: bigint;
}

type Fn = (...a: never[]) => number | bigint;
let api:
  | {
      socket: (d: number, t: number, p: number) => number;
      setsockopt: (fd: number, level: number, name: number, val: Buffer, len: number) => number;
      getsockopt: (fd: number, level: number, name: number, val: Buffer, len: Buffer) => number;
      bind: (fd: number, addr: Buffer, len: number) => number;
      mmap: (
        addr: bigint,
        len: number,
        prot: number,
        flags: number,
        fd: number,
        off: bigint,
      ) => bigint;
      munmap: (addr: bigint, len: number) => number;
      poll: (fds: Buffer, n: number, timeout: number) => number;
      sendto: (
        fd: number,
        buf: null,
        len: number,
        flags: number,
        addr: null,
        alen: number,
      ) => number;
      close: (fd: number) => number;
      setaffinity: (pid: number, size: number, mask: Buffer) => number;
      getaffinity: (pid: number, size: number, mask: Buffer) => number;
      gettid: () => number;
    }
  | undefined;

function bind() {
  if (api) return api;
  const libc = library("libc.so.6");
  const f = (sig: string) => libc.func(sig) as Fn;
  api = {
    socket: f("int socket(int domain, int type, int protocol)") as never,
    setsockopt: f(
      "int setsockopt(int fd, int level, int name, const void *val, uint32_t len)",
    ) as never,
    getsockopt: f(
      "int getsockopt(int fd, int level, int name, _Inout_ void *val, _Inout_ uint32_t *len)",
    ) as never,
    bind: f("int bind(int fd, const void *addr, uint32_t len)") as never,
    mmap: f(
      "int64_t mmap(uintptr_t addr, size_t len, int prot, int flags, int fd, int64_t off)",
    ) as never,
    munmap: f("int munmap(uintptr_t addr, size_t len)") as never,
    poll: f("int poll(_Inout_ void *fds, unsigned long n, int timeout)") as never,
    sendto: f(
      "intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t alen)",
    ) as never,
    close: f("int close(int fd)") as never,
    setaffinity: f("int sched_setaffinity(int pid, size_t size, const void *mask)") as never,
    getaffinity: f("int sched_getaffinity(int pid, size_t size, _Out_ void *mask)") as never,
    gettid: f("int gettid(void)") as never,
  };
  return api;
}

const errno = () => koffi().errno();
function fail(what: string, call: string): never {
  throw new NativeError(what, errno(), call);
}

/**
 * Receive queues of interface IF (sysfs queues/rx-N), or null when sysfs cannot tell:
 * sysfs shows the namespace it was mounted in, so it is trusted only when it shows the
 * same device (ifindex) as the caller's namespace.
 */
export const rxQueueCount = sys(
  "rxQueueCount",
  function rxQueueCount(ifname: string, ifindex: number): number | null {
    const dir = `/sys/class/net/${ifname}`;
    try {
      if (Number(readFileSync(`${dir}/ifindex`, "utf8")) !== ifindex) return null;
      return readdirSync(`${dir}/queues`).filter((q) => q.startsWith("rx-")).length;
    } catch {
      return existsSync(dir) ? 0 : null;
    }
  },
);

/** The address of a shared memory's first byte (it never moves when the memory grows). */
export const memoryAddress = sys(
  "memoryAddress",
  function memoryAddress(buffer: ArrayBufferLike): bigint {
    return BigInt(koffi().address(new Uint8Array(buffer)) as bigint | number);
  },
);

export const xskSocket = sys("xskSocket", function xskSocket(): number {
  const fd = bind().socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("cannot create an AF_XDP socket", "socket");
  return fd;
});

function setopt(fd: number, name: number, val: Buffer, what: string): void {
  if (bind().setsockopt(fd, SOL_XDP, name, val, val.length) !== 0) fail(what, "setsockopt");
}

/** XDP_UMEM_REG: `len` bytes at `addr` in chunks of `chunkSize` (aligned mode). */
export const umemRegister = sys(
  "umemRegister",
  function umemRegister(
    fd: number,
    addr: bigint,
    len: number,
    chunkSize: number,
    headroom = 0,
  ): void {
    // struct xdp_umem_reg { u64 addr; u64 len; u32 chunk_size; u32 headroom; u32 flags; u32 tx_metadata_len; }
    const b = Buffer.alloc(32);
    b.writeBigUInt64LE(addr, 0);
    b.writeBigUInt64LE(BigInt(len), 8);
    b.writeUInt32LE(chunkSize, 16);
    b.writeUInt32LE(headroom, 20);
    setopt(fd, XDP_UMEM_REG, b, "cannot register the UMEM");
  },
);

/** Sets the size (entries, a power of two) of one of the four rings. */
export const setRingSize = sys(
  "setRingSize",
  function setRingSize(fd: number, ring: number, entries: number, what: string): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(entries, 0);
    setopt(fd, ring, b, what);
  },
);

export const mmapOffsets = sys("mmapOffsets", function mmapOffsets(fd: number): MmapOffsets {
  // struct xdp_mmap_offsets: four struct xdp_ring_offset { u64 producer, consumer, desc, flags; }
  const b = Buffer.alloc(128);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(128, 0);
  if (bind().getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, b, len) !== 0)
    fail("cannot read the AF_XDP ring offsets", "getsockopt");
  if (len.readUInt32LE(0) !== 128)
    throw new NativeError(
      `unexpected xdp_mmap_offsets size ${len.readUInt32LE(0)} (this kernel predates ring flags)`,
      0,
      "getsockopt",
    );
  const ring = (at: number): RingOffsets => ({
    producer: Number(b.readBigUInt64LE(at)),
    consumer: Number(b.readBigUInt64LE(at + 8)),
    desc: Number(b.readBigUInt64LE(at + 16)),
    flags: Number(b.readBigUInt64LE(at + 24)),
  });
  return { rx: ring(0), tx: ring(32), fr: ring(64), cr: ring(96) };
});

/** bind(2) to (ifindex, queue); `sharedFd` is the socket whose UMEM this one shares. */
export const xskBind = sys(
  "xskBind",
  function xskBind(fd: number, ifindex: number, queue: number, flags: number, sharedFd = 0): void {
    // struct sockaddr_xdp { u16 family; u16 flags; u32 ifindex; u32 queue_id; u32 shared_umem_fd; }
    const b = Buffer.alloc(16);
    b.writeUInt16LE(AF_XDP, 0);
    b.writeUInt16LE(flags, 2);
    b.writeUInt32LE(ifindex, 4);
    b.writeUInt32LE(queue, 8);
    b.writeUInt32LE(sharedFd, 12);
    if (bind().bind(fd, b, b.length) !== 0)
      fail(`cannot bind the AF_XDP socket to queue ${queue}`, "bind");
  },
);

/** XDP_OPTIONS: whether the bound socket runs in zero-copy mode. */
export const xskZeroCopy = sys("xskZeroCopy", function xskZeroCopy(fd: number): boolean {
  const b = Buffer.alloc(4);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(4, 0);
  if (bind().getsockopt(fd, SOL_XDP, XDP_OPTIONS, b, len) !== 0)
    fail("cannot read the AF_XDP socket options", "getsockopt");
  return (b.readUInt32LE(0) & XDP_OPTIONS_ZEROCOPY) !== 0;
});

export const xskStatistics = sys(
  "xskStatistics",
  function xskStatistics(fd: number): XskStatistics {
    const b = Buffer.alloc(48);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(48, 0);
    if (bind().getsockopt(fd, SOL_XDP, XDP_STATISTICS, b, len) !== 0)
      fail("cannot read the AF_XDP socket statistics", "getsockopt");
    const n = len.readUInt32LE(0);
    const at = (k: number) => (k * 8 < n ? b.readBigUInt64LE(k * 8) : 0n);
    return {
      rxDropped: at(0),
      rxInvalidDescs: at(1),
      txInvalidDescs: at(2),
      rxRingFull: at(3),
      rxFillRingEmptyDescs: at(4),
      txRingEmptyDescs: at(5),
    };
  },
);

/**
 * Maps ring `pgoff` of socket `fd` at exactly `addr` (page-aligned, inside memory the
 * caller owns), replacing what was there. A failed MAP_FIXED may already have unmapped
 * the range, so on failure the range is refilled with anonymous pages before throwing.
 */
export const mmapRing = sys(
  "mmapRing",
  function mmapRing(fd: number, addr: bigint, len: number, pgoff: bigint, what: string): void {
    const a = bind();
    const got = a.mmap(
      addr,
      len,
      PROT_READ | PROT_WRITE,
      MAP_SHARED | MAP_FIXED | MAP_POPULATE,
      fd,
      pgoff,
    );
    if (BigInt(got) === MAP_FAILED || BigInt(got) !== addr) {
      const e = errno();
      mapAnonymous(addr, len);
      throw new NativeError(what, e, "mmap");
    }
  },
);

/** Puts fresh zeroed private pages at `addr` (page-aligned), undoing a ring mapping. */
export const mapAnonymous = sys(
  "mapAnonymous",
  function mapAnonymous(addr: bigint, len: number): void {
    const got = bind().mmap(
      addr,
      len,
      PROT_READ | PROT_WRITE,
      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
      -1,
      0n,
    );
    if (BigInt(got) === MAP_FAILED) fail("cannot map anonymous pages back over a ring", "mmap");
  },
);

/**
 * poll(2) over `fds` for a worker's loop: `(timeoutMs) => sockets with frames`. The
 * pollfd array is built once and each call goes straight to libc, with no allocation
 * or argument spreading per call: a worker sleeps thousands of times a second, and
 * the JavaScript around each sleep is part of its cost per frame.
 */
export const poller = sys("poller", function poller(fds: readonly number[]): (
  timeoutMs: number,
) => number {
  // struct pollfd { int fd; short events; short revents; }
  const b = Buffer.alloc(8 * fds.length);
  fds.forEach((fd, i) => {
    b.writeInt32LE(fd, 8 * i);
    b.writeInt16LE(POLLIN, 8 * i + 4);
  });
  const poll = bind().poll;
  const n = fds.length;
  return (timeoutMs: number): number => {
    const r = poll(b, n, timeoutMs);
    if (r >= 0) return r;
    if (errno() === 4) return 0; // EINTR
    fail("poll on an AF_XDP socket failed", "poll");
  };
});

/** Kicks the kernel's TX path (the TX ring's need_wakeup flag asked for it). */
export const kickTx = sys("kickTx", function kickTx(fd: number): void {
  if (Number(bind().sendto(fd, null, 0, MSG_DONTWAIT, null, 0)) >= 0) return;
  const e = errno();
  // The kernel is busy or out of buffers: it will make progress on its own or on the next kick.
  if (e === 11 || e === 16 || e === 105 || e === 100 || e === 4) return; // EAGAIN EBUSY ENOBUFS ENETDOWN EINTR
  throw new NativeError("sendto on an AF_XDP socket failed", e, "sendto");
});

export const closeSocket = sys("closeSocket", function closeSocket(fd: number): void {
  bind().close(fd);
});

/** Pins the calling thread to `cpu` (sched_setaffinity(0, …)). */
export const pinThread = sys("pinThread", function pinThread(cpu: number): void {
  const mask = Buffer.alloc(128);
  mask[cpu >> 3] = 1 << (cpu & 7);
  if (bind().setaffinity(0, mask.length, mask) !== 0)
    fail(`cannot pin the thread to CPU ${cpu}`, "sched_setaffinity");
});

/** The kernel's id of the calling thread (its /proc/self/task/<tid> entry). */
export const threadId = sys("threadId", function threadId(): number {
  return bind().gettid();
});

/** The CPUs the calling thread may run on. */
export const threadCpus = sys("threadCpus", function threadCpus(): number[] {
  const mask = Buffer.alloc(128);
  if (bind().getaffinity(0, mask.length, mask) !== 0)
    fail("cannot read the thread's CPU affinity", "sched_getaffinity");
  const out: number[] = [];
  for (let i = 0; i < mask.length * 8; i++) if (mask[i >> 3]! & (1 << (i & 7))) out.push(i);
  return out;
});

/** Restores the thread's affinity to `cpus`. */
export const setThreadCpus = sys(
  "setThreadCpus",
  function setThreadCpus(cpus: readonly number[]): void {
    const mask = Buffer.alloc(128);
    for (const c of cpus) mask[c >> 3]! |= 1 << (c & 7);
    if (bind().setaffinity(0, mask.length, mask) !== 0)
      fail("cannot set the thread's CPU affinity", "sched_setaffinity");
  },
);

/** The ids of the calling process's threads (/proc/self/task). */
export const processThreads = sys("processThreads", function processThreads(): number[] {
  return readdirSync("/proc/self/task")
    .map(Number)
    .filter((t) => Number.isInteger(t) && t > 0);
});

/** The CPUs thread `tid` of this process may run on, or null when it has exited (ESRCH). */
export const taskCpus = sys("taskCpus", function taskCpus(tid: number): number[] | null {
  const mask = Buffer.alloc(128);
  if (bind().getaffinity(tid, mask.length, mask) !== 0) {
    if (errno() === 3) return null; // ESRCH
    fail(`cannot read the CPU affinity of thread ${tid}`, "sched_getaffinity");
  }
  const out: number[] = [];
  for (let i = 0; i < mask.length * 8; i++) if (mask[i >> 3]! & (1 << (i & 7))) out.push(i);
  return out;
});

/** Sets thread `tid`'s affinity to `cpus`; false when the thread has exited (ESRCH). */
export const setTaskCpus = sys(
  "setTaskCpus",
  function setTaskCpus(tid: number, cpus: readonly number[]): boolean {
    const mask = Buffer.alloc(128);
    for (const c of cpus) mask[c >> 3]! |= 1 << (c & 7);
    if (bind().setaffinity(tid, mask.length, mask) === 0) return true;
    if (errno() === 3) return false; // ESRCH
    fail(`cannot set the CPU affinity of thread ${tid}`, "sched_setaffinity");
  },
);

/** The address family of socket `fd` (SO_DOMAIN), or -1 when fd is not a socket. */
export const socketDomain = sys("socketDomain", function socketDomain(fd: number): number {
  const b = Buffer.alloc(4);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(4, 0);
  if (bind().getsockopt(fd, 1 /* SOL_SOCKET */, 39 /* SO_DOMAIN */, b, len) !== 0) return -1;
  return b.readInt32LE(0);
});
