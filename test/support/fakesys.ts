// A small fake kernel behind native/sys.ts, for unit tests of runtime modules without
// privileges: maps (kernel semantics for lookup/update/delete/next-key/batch, ENOENT
// at the end of a batch, ENOSPC when a chunk is too small), programs with their map
// ids and BTF, interfaces with an attached program, kernel BTF objects, and ring
// buffers whose pages are plain memory the test produces records into, and AF_XDP
// sockets (UMEM registration, ring sizes and mappings, bind with the kernel's errors:
// a missing queue, a queue taken or not yet released, no zero-copy, the memlock limit).
// Every fd the runtime opens through it must be closed: `openFds()` tells. A new native
// module belongs in the imports below.
import { fakeSys } from "../../native/sys.ts";
// Every native module, so that all operations are registered before a fake names them.
import "../../native/bpf.ts";
import "../../native/btf.ts";
import "../../native/flock.ts";
import "../../native/ifname.ts";
import "../../native/info.ts";
import "../../native/libxdp.ts";
import "../../native/object.ts";
import "../../native/ring.ts";
import "../../native/thread.ts";
import "../../native/xdp.ts";
import "../../native/xsk.ts";
import { NativeError } from "../../native/lib.ts";
import type { MapInfo, ProgInfo } from "../../native/info.ts";
import type { RingMapping } from "../../native/ring.ts";
import { XDP_SHARED_UMEM, XDP_ZEROCOPY, type MmapOffsets } from "../../native/xsk.ts";
import { BPF_MAP_TYPE, BPF_NOEXIST, BPF_EXIST } from "../../compiler/uapi/bpf.ts";

const ENOENT = 2;
const E2BIG = 7;
const EBADF = 9;
const EEXIST = 17;
const EINVAL = 22;
const ENOSPC = 28;
const ENOBUFS = 105;
const ENODEV = 19;
const ENETDOWN = 100;
const EBUSY = 16;
const EOPNOTSUPP = 95;

/** Ring offsets shaped like the kernel's (producer and consumer on their own cache lines). */
export const FAKE_XSK_OFFSETS: MmapOffsets = (() => {
  const r = { producer: 0, consumer: 128, flags: 192, desc: 256 };
  return { rx: r, tx: r, fr: r, cr: r };
})();

/** One AF_XDP socket of the fake kernel. */
export interface FakeXsk {
  umem?: { addr: bigint; len: number; chunkSize: number };
  /** Ring (XDP_RX_RING …) → entries. */
  rings: Map<number, number>;
  bound?: { ifindex: number; queue: number; zeroCopy: boolean };
}

const pow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;

export interface FakeMap {
  info: MapInfo;
  /** hex key → value (per-CPU maps: all CPUs' values, 8-aligned each). */
  entries: Map<string, Uint8Array>;
  /** Ring buffers: the producer position, consumer page and data (twice). */
  ring?: { prod: DataView; cons: DataView; data: Uint8Array };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

export class FakeKernel {
  readonly maps = new Map<number, FakeMap>();
  readonly progs = new Map<number, ProgInfo>();
  readonly btfs = new Map<number, Uint8Array>();
  /** name → ifindex. */
  readonly links = new Map<string, number>();
  /** ifindex → attached program id. */
  readonly attached = new Map<number, number>();
  cpus = 2;
  /** Map types whose batch lookup fails with EINVAL (as an old kernel's). */
  readonly noBatch = new Set<number>();
  /** Namespaces entered, in order (as `enterNetns` names them). */
  readonly entered: string[] = [];
  batchCalls = 0;
  /** Entries in one hash bucket: a batch lookup with a smaller count fails with ENOSPC. */
  bucketSize = 1;
  private nextId = 1;
  private nextFd = 100;
  private readonly fds = new Map<number, { kind: "map" | "prog" | "xsk"; id: number }>();
  /** AF_XDP: ifindex → receive queues (absent: sysfs cannot tell, and the device has one). */
  readonly rxQueues = new Map<number, number>();
  /** Interfaces whose driver does AF_XDP zero-copy. */
  readonly zeroCopy = new Set<number>();
  /** Interfaces that are down. */
  readonly down = new Set<number>();
  /** "ifindex/queue" → binds that still find the queue taken (a closed socket's deferred release). */
  readonly releasing = new Map<string, number>();
  /** Binds a closed socket's queue refuses with EBUSY after the close. */
  releaseDelay = 0;
  /** Bytes of UMEM RLIMIT_MEMLOCK allows. */
  memlock = Infinity;
  /** Open AF_XDP sockets by fd. */
  readonly xsks = new Map<number, FakeXsk>();
  /** Every bind(2): the socket, where, the flags, and the errno it got (0: bound). */
  readonly binds: { fd: number; ifindex: number; queue: number; flags: number; errno: number }[] =
    [];
  /** Ring mappings: address → length (MAP_FIXED over the caller's memory). */
  readonly mapped = new Map<bigint, number>();

  addMap(info: Partial<MapInfo> & Pick<MapInfo, "type" | "keySize" | "valueSize">): FakeMap {
    const id = this.nextId++;
    const m: FakeMap = {
      info: {
        id,
        maxEntries: 16,
        flags: 0,
        name: `map${id}`,
        btfId: 0,
        btfKeyTypeId: 0,
        btfValueTypeId: 0,
        ...info,
      },
      entries: new Map(),
    };
    if (m.info.type === BPF_MAP_TYPE.RINGBUF) {
      const size = m.info.maxEntries;
      m.ring = {
        prod: new DataView(new ArrayBuffer(8)),
        cons: new DataView(new ArrayBuffer(8)),
        data: new Uint8Array(2 * size),
      };
    }
    this.maps.set(id, m);
    return m;
  }

  addProg(info: Partial<ProgInfo>): ProgInfo {
    const id = this.nextId++;
    const p: ProgInfo = {
      type: 6,
      id,
      tag: "0000000000000000",
      name: `prog${id}`,
      jitedLen: 0,
      xlatedInsns: 0,
      loadTime: 0n,
      mapIds: [],
      btfId: 0,
      runTimeNs: 0n,
      runCnt: 0n,
      verifiedInsns: 0,
      ...info,
    };
    this.progs.set(id, p);
    return p;
  }

  addBtf(bytes: Uint8Array): number {
    const id = this.nextId++;
    this.btfs.set(id, bytes);
    return id;
  }

  /** Appends one committed record to ring buffer `m` (the kernel's 8-byte header). */
  produce(m: FakeMap, record: Uint8Array, opts: { discard?: boolean; busy?: boolean } = {}): void {
    const r = m.ring!;
    const size = m.info.maxEntries;
    const pos = Number(r.prod.getBigUint64(0, true));
    const header = new DataView(new ArrayBuffer(8));
    header.setUint32(
      0,
      (record.length | (opts.discard ? 0x40000000 : 0) | (opts.busy ? 0x80000000 : 0)) >>> 0,
      true,
    );
    const bytes = new Uint8Array([...new Uint8Array(header.buffer), ...record]);
    for (let i = 0; i < bytes.length; i++) {
      const at = (pos + i) % size;
      r.data[at] = bytes[i]!;
      r.data[at + size] = bytes[i]!;
    }
    r.prod.setBigUint64(0, BigInt(pos + ((bytes.length + 7) & ~7)), true);
  }

  openFds(): number[] {
    return [...this.fds.keys()];
  }

  private open(kind: "map" | "prog" | "xsk", id: number): number {
    const fd = this.nextFd++;
    this.fds.set(fd, { kind, id });
    return fd;
  }

  private map(fd: number): FakeMap {
    const f = this.fds.get(fd);
    const m = f?.kind === "map" ? this.maps.get(f.id) : undefined;
    if (!m) throw new NativeError("bad map fd", EBADF, "bpf_map_get_info_by_fd");
    return m;
  }

  private valueBytes(m: FakeMap): number {
    const t = m.info.type;
    const perCpu =
      t === BPF_MAP_TYPE.PERCPU_ARRAY ||
      t === BPF_MAP_TYPE.PERCPU_HASH ||
      t === BPF_MAP_TYPE.LRU_PERCPU_HASH;
    return perCpu ? Math.ceil(m.info.valueSize / 8) * 8 * this.cpus : m.info.valueSize;
  }

  /** Keys in the kernel's iteration order (arrays: every index). */
  private keys(m: FakeMap): Uint8Array[] {
    if (m.info.type === BPF_MAP_TYPE.ARRAY || m.info.type === BPF_MAP_TYPE.PERCPU_ARRAY)
      return Array.from({ length: m.info.maxEntries }, (_, i) => {
        const k = new Uint8Array(4);
        new DataView(k.buffer).setUint32(0, i, true);
        return k;
      });
    return [...m.entries.keys()].map((h) => new Uint8Array(Buffer.from(h, "hex")));
  }

  private lookup(m: FakeMap, key: Uint8Array): Uint8Array | null {
    const v = m.entries.get(hex(key));
    if (v) return v;
    if (m.info.type === BPF_MAP_TYPE.ARRAY || m.info.type === BPF_MAP_TYPE.PERCPU_ARRAY) {
      const i = new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true);
      return i < m.info.maxEntries ? new Uint8Array(this.valueBytes(m)) : null;
    }
    return null;
  }

  private xsk(fd: number, call: string): FakeXsk {
    const x = this.xsks.get(fd);
    if (!x) throw new NativeError("not an AF_XDP socket", EBADF, call);
    return x;
  }

  /** The AF_XDP operations of native/xsk.ts, with the errors the kernel gives. */
  private xskOps() {
    return {
      rxQueueCount: (ifname: string, ifindex: number) =>
        this.links.get(ifname) === ifindex ? (this.rxQueues.get(ifindex) ?? null) : null,
      memoryAddress: () => 0x7f0000000000n,
      xskSocket: () => {
        const fd = this.open("xsk", 0);
        this.xsks.set(fd, { rings: new Map() });
        return fd;
      },
      umemRegister: (fd: number, addr: bigint, len: number, chunkSize: number) => {
        const x = this.xsk(fd, "setsockopt");
        if (x.umem || !pow2(chunkSize))
          throw new NativeError("cannot register the UMEM", EINVAL, "setsockopt");
        if (len > this.memlock)
          throw new NativeError("cannot register the UMEM", ENOBUFS, "setsockopt");
        x.umem = { addr, len, chunkSize };
      },
      setRingSize: (fd: number, ring: number, entries: number, what: string) => {
        const x = this.xsk(fd, "setsockopt");
        if (!pow2(entries) || x.bound) throw new NativeError(what, EINVAL, "setsockopt");
        x.rings.set(ring, entries);
      },
      mmapOffsets: (fd: number) => (this.xsk(fd, "getsockopt"), FAKE_XSK_OFFSETS),
      mmapRing: (fd: number, addr: bigint, len: number, _pgoff: bigint, what: string) => {
        const x = this.xsk(fd, "mmap");
        if (x.bound || x.rings.size === 0) throw new NativeError(what, EINVAL, "mmap");
        this.mapped.set(addr, len);
      },
      mapAnonymous: (addr: bigint) => {
        this.mapped.delete(addr);
      },
      xskBind: (fd: number, ifindex: number, queue: number, flags: number, sharedFd = 0) => {
        const x = this.xsk(fd, "bind");
        const fail = (errno: number): never => {
          this.binds.push({ fd, ifindex, queue, flags, errno });
          throw new NativeError(`cannot bind the AF_XDP socket to queue ${queue}`, errno, "bind");
        };
        if (![...this.links.values()].includes(ifindex)) fail(ENODEV);
        if (this.down.has(ifindex)) fail(ENETDOWN);
        const shared = flags & XDP_SHARED_UMEM ? this.xsks.get(sharedFd) : undefined;
        if (flags & XDP_SHARED_UMEM ? !shared?.umem || !shared.bound : !x.umem) fail(EINVAL);
        if (queue >= (this.rxQueues.get(ifindex) ?? 1)) fail(EINVAL);
        const key = `${ifindex}/${queue}`;
        const left = this.releasing.get(key) ?? 0;
        if (left > 0) {
          this.releasing.set(key, left - 1);
          fail(EBUSY);
        }
        const taken = [...this.xsks.values()].some(
          (o) => o.bound?.ifindex === ifindex && o.bound.queue === queue,
        );
        if (taken) fail(EBUSY);
        const zeroCopy = shared ? shared.bound!.zeroCopy : (flags & XDP_ZEROCOPY) !== 0;
        if (zeroCopy && !this.zeroCopy.has(ifindex)) fail(EOPNOTSUPP);
        x.bound = { ifindex, queue, zeroCopy };
        this.binds.push({ fd, ifindex, queue, flags, errno: 0 });
      },
      xskZeroCopy: (fd: number) => this.xsk(fd, "getsockopt").bound?.zeroCopy ?? false,
      xskStatistics: (fd: number) => {
        this.xsk(fd, "getsockopt");
        return {
          rxDropped: 0n,
          rxInvalidDescs: 0n,
          txInvalidDescs: 0n,
          rxRingFull: 0n,
          rxFillRingEmptyDescs: 0n,
          txRingEmptyDescs: 0n,
        };
      },
      closeSocket: (fd: number) => {
        const x = this.xsk(fd, "close");
        this.xsks.delete(fd);
        this.fds.delete(fd);
        if (x.bound && this.releaseDelay > 0)
          this.releasing.set(`${x.bound.ifindex}/${x.bound.queue}`, this.releaseDelay);
      },
    };
  }

  /** Installs this kernel behind native/sys.ts; returns the function that removes it. */
  install(): () => void {
    return fakeSys({
      possibleCpus: () => this.cpus,
      ...this.xskOps(),
      closeFd: (fd: number) => {
        if (!this.fds.delete(fd)) throw new Error(`fake kernel: close of fd ${fd} not open`);
      },
      mapFdById: (id: number) => {
        if (!this.maps.has(id)) throw new NativeError("no map", ENOENT, "bpf_map_get_fd_by_id");
        return this.open("map", id);
      },
      progFdById: (id: number) => {
        if (!this.progs.has(id)) throw new NativeError("no prog", ENOENT, "bpf_prog_get_fd_by_id");
        return this.open("prog", id);
      },
      mapInfo: (fd: number) => ({ ...this.map(fd).info }),
      progInfo: (fd: number) => {
        const f = this.fds.get(fd);
        const p = f?.kind === "prog" ? this.progs.get(f.id) : undefined;
        if (!p) throw new NativeError("bad prog fd", EBADF, "bpf_prog_get_info_by_fd");
        return { ...p, mapIds: [...p.mapIds] };
      },
      kernelBtfBytes: (id: number) => {
        const b = this.btfs.get(id);
        if (!b)
          throw new NativeError(
            `cannot read BTF object ${id}`,
            ENOENT,
            "btf__load_from_kernel_by_id",
          );
        return b;
      },
      mapLookup: (fd: number, key: Uint8Array, valueSize: number) => {
        const v = this.lookup(this.map(fd), key);
        if (v && v.length !== valueSize) throw new Error(`fake kernel: value size ${valueSize}`);
        return v ? v.slice() : null;
      },
      mapUpdate: (fd: number, key: Uint8Array, value: Uint8Array, flags = 0) => {
        const m = this.map(fd);
        const exists = this.lookup(m, key) !== null;
        if (flags === BPF_NOEXIST && exists)
          throw new NativeError("map update failed", EEXIST, "bpf_map_update_elem");
        if (flags === BPF_EXIST && !exists)
          throw new NativeError("map update failed", ENOENT, "bpf_map_update_elem");
        if (!exists && m.entries.size >= m.info.maxEntries)
          throw new NativeError("map update failed", E2BIG, "bpf_map_update_elem");
        m.entries.set(hex(key), value.slice());
      },
      mapDelete: (fd: number, key: Uint8Array) => this.map(fd).entries.delete(hex(key)),
      mapNextKey: (fd: number, key: Uint8Array | null) => {
        const keys = this.keys(this.map(fd));
        const i = key ? keys.findIndex((k) => hex(k) === hex(key)) + 1 : 0;
        return keys[i] ?? null;
      },
      mapLookupBatch: (
        fd: number,
        inBatch: Uint8Array | null,
        outBatch: Uint8Array,
        keys: Uint8Array,
        values: Uint8Array,
        count: number,
      ) => {
        this.batchCalls++;
        const m = this.map(fd);
        if (this.noBatch.has(m.info.type)) return { ret: -EINVAL, count: 0 };
        const all = this.keys(m);
        // The cursor is the index of the next key (a bucket index, as for hashes).
        const from = inBatch
          ? new DataView(inBatch.buffer, inBatch.byteOffset).getUint32(0, true)
          : 0;
        if (count < this.bucketSize) return { ret: -ENOSPC, count: 0 };
        const n = Math.min(count, all.length - from);
        const vsize = this.valueBytes(m);
        for (let i = 0; i < n; i++) {
          keys.set(all[from + i]!, i * m.info.keySize);
          values.set(this.lookup(m, all[from + i]!)!, i * vsize);
        }
        new DataView(outBatch.buffer, outBatch.byteOffset).setUint32(0, from + n, true);
        return { ret: from + n >= all.length ? -ENOENT : 0, count: n };
      },
      xdpQuery: (ifindex: number) => {
        const id = this.attached.get(ifindex) ?? 0;
        return { progId: id, drvProgId: id, skbProgId: 0, hwProgId: 0, attachMode: id ? 1 : 0 };
      },
      ifNameToIndex: (name: string) => this.links.get(name) ?? 0,
      ifIndexToName: (index: number) => [...this.links].find(([, i]) => i === index)?.[0],
      mapRing: (fd: number, size: number): RingMapping => {
        const m = this.map(fd);
        if (!m.ring || size !== m.info.maxEntries)
          throw new NativeError("cannot map the ring buffer's data", EINVAL, "mmap");
        let mapped = true;
        return {
          consumer: m.ring.cons,
          producer: m.ring.prod,
          data: m.ring.data,
          unmap: () => {
            if (!mapped) throw new Error("fake kernel: ring unmapped twice");
            mapped = false;
          },
        };
      },
      enterNetns: (_fd: number, what: string) => {
        this.entered.push(what);
      },
      withSignalsBlocked: <T>(fn: () => T): T => fn(),
    });
  }
}
