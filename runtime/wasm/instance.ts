// A JS host for compiled modules: instantiates a module over its shared memory
// (memory.ts lays it out), implements the helper imports over maps kept in JS
// (maps.ts), and runs an exported program or handler over one frame. It is what tests
// and the runtime's workers instantiate; a module importing a helper this host does not
// implement is refused up front with the helper's name, never run with a stub.
import {
  IMPORT_MODULE,
  INLINE_ARRAY_KINDS,
  MEMORY_MODULE,
  MEMORY_NAME,
  mapBaseImport,
  readMeta,
  SKB_IMAGE_SIZE,
  type WasmMeta,
} from "../../compiler/wasm/abi.ts";
import { formatTrace } from "./trace.ts";
import { FibTable, type RouteTable } from "./fib.ts";
import { fromHex, monotonicNs, randomU32 } from "./platform.ts";
import {
  ArrayStore,
  EINVAL,
  HashStore,
  LpmStore,
  RedirectStore,
  RingBufStore,
  type HostMap,
} from "./maps.ts";
import {
  DATA_BASE,
  FRAME_HEADROOM,
  FRAME_ROOM,
  MemoryLayout,
  USABLE_HEADROOM,
  type UmemRegion,
} from "./memory.ts";

export class WasmHostError extends Error {
  override name = "WasmHostError";
}

export interface WasmHostOptions {
  /** Largest frame `run` accepts (default 128 KiB). */
  frameCapacity?: number;
  /** Bytes from a frame's start that adjustTail may grow it to (default FRAME_ROOM). */
  frameRoom?: number;
  /** Reserve this many bytes (rounded up to 4096) for an AF_XDP UMEM; see `umem`. */
  umemBytes?: number;
  /** bpf_ktime_get_ns (default: the monotonic clock, as the kernel's). */
  ktimeNs?: () => bigint;
  /** bpf_get_prandom_u32 (default: crypto). */
  randomU32?: () => number;
  /** bpf_get_smp_processor_id (default 0). */
  cpu?: number;
  /** Receives each trace() line (default: kept in `host.traceLines`). */
  trace?: (line: string) => void;
  /**
   * The routes, interfaces and neighbours bpf_fib_lookup looks up in (runtime/wasm/fib.ts);
   * a module calling fibLookup is refused without them.
   */
  routes?: RouteTable | FibTable;
}

export interface RunResult {
  /** The returned verdict (an XDP action, or XSK_DROP 0 / XSK_TX 1). */
  verdict: number;
  /** The frame after the program (writes are made in place). */
  data: Uint8Array;
}

/**
 * The struct __sk_buff a tc program sees, as the host is given it. Defaults are what
 * BPF_PROG_TEST_RUN gives a SCHED_CLS program whose ctx_in sets only mark and priority
 * (the skb on the loopback device): `skbFor` derives protocol and pktType from the
 * frame as eth_type_trans does.
 */
export interface SkbFields {
  /** skb->len (default: the frame's length). */
  len?: number;
  pktType?: number;
  mark?: number;
  queueMapping?: number;
  /** Host order, e.g. 0x0800 (the image holds it in network order, as the kernel's field). */
  protocol?: number;
  vlanPresent?: number;
  vlanTci?: number;
  /** Host order. */
  vlanProto?: number;
  priority?: number;
  ingressIfindex?: number;
  /** Default 1 (lo). */
  ifindex?: number;
  tcIndex?: number;
  hash?: number;
  tcClassid?: number;
}

export interface TcRunResult {
  /** The returned tc action, as the kernel's int (TC_ACT_UNSPEC is -1). */
  verdict: number;
  data: Uint8Array;
  /** skb->mark and skb->priority after the program. */
  mark: number;
  priority: number;
  /**
   * The target of bpf_redirect (or bpf_redirect_neigh / bpf_redirect_peer, `via`) when the
   * program returned TC_ACT_REDIRECT.
   */
  redirect?: { ifindex: number; ingress: boolean; via?: "neigh" | "peer" };
}

/** PACKET_HOST / BROADCAST / MULTICAST / OTHERHOST (linux/if_packet.h). */
export const PACKET_TYPE = { HOST: 0, BROADCAST: 1, MULTICAST: 2, OTHERHOST: 3 } as const;

/**
 * skb->protocol and skb->pkt_type as eth_type_trans sets them for a frame arriving on a
 * device with address `devAddr` and broadcast address `devBroadcast` (lo: both all
 * zero, so ff:ff:ff:ff:ff:ff is multicast there): the EtherType when ≥ 0x600, else
 * 802.3 raw (0x0001, payload 0xffff) or 802.2 (0x0004).
 */
export function ethTypeTrans(
  frame: Uint8Array,
  devAddr: Uint8Array = new Uint8Array(6),
  devBroadcast: Uint8Array = new Uint8Array(6),
): { protocol: number; pktType: number } {
  const dst = frame.subarray(0, 6);
  let pktType: number = PACKET_TYPE.HOST;
  if (!dst.every((b, i) => b === devAddr[i])) {
    if (dst[0]! & 1)
      pktType = dst.every((b, i) => b === devBroadcast[i])
        ? PACKET_TYPE.BROADCAST
        : PACKET_TYPE.MULTICAST;
    else pktType = PACKET_TYPE.OTHERHOST;
  }
  const type = (frame[12]! << 8) | frame[13]!;
  if (type >= 0x600) return { protocol: type, pktType };
  if (frame[14] === 0xff && frame[15] === 0xff) return { protocol: 0x0001, pktType };
  return { protocol: 0x0004, pktType };
}

const bswap16 = (v: number) => ((v & 0xff) << 8) | ((v >> 8) & 0xff);

/** The 32-bit ones' complement sum (end-around carry) of little-endian words, plus seed. */
function partialSum(b: Uint8Array, seed: number): number {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let s = seed >>> 0;
  for (let i = 0; i + 4 <= b.length; i += 4) {
    s += dv.getUint32(i, true);
    if (s > 0xffffffff) s -= 0xffffffff; // end-around carry
  }
  return s;
}

/**
 * bpf_csum_diff as Linux ≥ 6.13 computes it on every architecture: the partial sum of
 * `to` (seeded) minus that of `from`, folded to 16 bits (not complemented). Older
 * kernels returned x86's unfolded 32-bit sum; csumFold() of either is the same checksum.
 */
export function csumDiff(from: Uint8Array, to: Uint8Array, seed: bigint): number {
  let s = partialSum(to, Number(BigInt.asUintN(32, seed))) + (~partialSum(from, 0) >>> 0);
  if (s > 0xffffffff) s -= 0xffffffff;
  const rot = ((s >>> 16) | (s << 16)) >>> 0;
  return ((s + rot) >>> 16) & 0xffff;
}

const EFAULT = 14;
const ETH_HLEN = 14;
/**
 * BPF_SKB_MAX_LEN, the most bpf_skb_change_head/tail may grow a packet to: SKB_MAX_ALLOC,
 * four pages less skb_shared_info (320 bytes on x86-64; test/tc/resize.test.ts measures it).
 */
const BPF_SKB_MAX_LEN = 16384 - 320;
const fold = (s: number) => {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
};
/** The 32-bit ones' complement add with end-around carry (the kernel's csum_add). */
const add32 = (a: number, b: number) => {
  const s = (a >>> 0) + (b >>> 0);
  return (s > 0xffffffff ? s - 0xffffffff : s) >>> 0;
};
/** csum_replace4: the checksum (raw u16) after a 32-bit word changes from → to (raw). */
export function csumReplace4(sum: number, from: number, to: number): number {
  const t = add32(add32(~sum >>> 0, ~from >>> 0), to >>> 0);
  return ~fold(t) & 0xffff;
}
/** csum_replace2: the same with 16-bit arithmetic (csum16_add/csum16_sub). */
function csumReplace2(sum: number, from: number, to: number): number {
  const add16 = (a: number, b: number) => {
    const r = (a + b) & 0xffff;
    return (r + (r < b ? 1 : 0)) & 0xffff;
  };
  return ~add16(add16(~sum & 0xffff, ~from & 0xffff), to & 0xffff) & 0xffff;
}

/**
 * bpf_l3_csum_replace / bpf_l4_csum_replace on the frame at `frame` (`len` bytes) as the
 * kernel's skb test run sees them (ip_summed CHECKSUM_NONE, so l4 is csum_replace4 with
 * or without the pseudo-header flag): 0, -EINVAL for bad flags, -EFAULT out of bounds.
 */
export function skbCsumReplace(
  mem: Uint8Array,
  frame: number,
  len: number,
  l4: boolean,
  offset: bigint,
  fromW: bigint,
  toW: bigint,
  flags: bigint,
): number {
  const size = Number(flags & 0xfn);
  // BPF_F_MARK_MANGLED_0 0x20, BPF_F_MARK_ENFORCE 0x40, BPF_F_PSEUDO_HDR 0x10, BPF_F_IPV6 0x80.
  if (flags & ~(l4 ? 0xffn : 0xfn)) return -EINVAL;
  if (offset > 0xffffn || offset & 1n) return -EFAULT;
  const off = Number(offset);
  if (off + 2 > len) return -EFAULT;
  const dv = new DataView(mem.buffer, mem.byteOffset + frame + off, 2);
  const sum = dv.getUint16(0, true);
  const mmzero = l4 && (flags & 0x20n) !== 0n;
  if (mmzero && (flags & 0x40n) === 0n && sum === 0) return 0;
  const from = Number(BigInt.asUintN(32, fromW));
  const to = Number(BigInt.asUintN(32, toW));
  let next: number;
  if (size === 2 && !l4) next = csumReplace2(sum, from & 0xffff, to & 0xffff);
  else if (size === 2) next = csumReplace4(sum, from & 0xffff, to & 0xffff);
  else if (size === 4) next = csumReplace4(sum, from, to);
  else if (size === 0)
    throw new WasmHostError("csum_replace by a diff (size 0) is not modelled by the host");
  else return -EINVAL;
  if (mmzero && next === 0) next = 0xffff; // CSUM_MANGLED_0
  dv.setUint16(0, next, true);
  return 0;
}

/** Helper import names this host implements. */
export const HOST_HELPERS = [
  "map_lookup_elem",
  "map_update_elem",
  "map_delete_elem",
  "ktime_get_ns",
  "get_prandom_u32",
  "get_smp_processor_id",
  "redirect",
  "redirect_map",
  "redirect_neigh",
  "redirect_peer",
  "l3_csum_replace",
  "l4_csum_replace",
  "skb_store_bytes",
  "skb_change_tail",
  "skb_change_head",
  "ringbuf_output",
  "csum_diff",
] as const;

/** trace() with n arguments imports `trace_printk<n>`. */
const TRACE_IMPORT = /^trace_printk(\d)$/;

/**
 * Helpers a filter can call that this host implements only when given what they read
 * (docs/wasm.md), each with the filter function that calls it: bpf_fib_lookup needs a
 * route table (`routes`); a module importing one without it is refused.
 */
export const UNIMPLEMENTED_HELPERS: Readonly<Record<string, string>> = { fib_lookup: "fibLookup" };

/**
 * The refusal of a module importing `helpers` (import names), in one line naming each
 * helper as the kernel does and the engine that has it:
 * `the wasm engine does not implement helper bpf_fib_lookup (fibLookup); the kernel engine has it`.
 */
export function refusalMessage(helpers: readonly string[]): string {
  const names = helpers.map((h) =>
    UNIMPLEMENTED_HELPERS[h] ? `bpf_${h} (${UNIMPLEMENTED_HELPERS[h]})` : `bpf_${h}`,
  );
  const many = helpers.length > 1;
  return `the wasm engine does not implement helper${many ? "s" : ""} ${names.join(", ")}; the kernel engine has ${many ? "them" : "it"}`;
}

/**
 * The helper imports of a module that this host does not implement (empty: it can run);
 * with `routes`, bpf_fib_lookup counts as implemented.
 */
export function missingHelpers(
  binary: Uint8Array | WebAssembly.Module,
  opts: { routes?: boolean } = {},
): string[] {
  const mod =
    binary instanceof WebAssembly.Module
      ? binary
      : new WebAssembly.Module(binary as Uint8Array<ArrayBuffer>);
  const known = new Set<string>(HOST_HELPERS);
  if (opts.routes) known.add("fib_lookup");
  return WebAssembly.Module.imports(mod)
    .filter(
      (i) =>
        i.module === IMPORT_MODULE &&
        i.kind === "function" &&
        !known.has(i.name) &&
        !TRACE_IMPORT.test(i.name),
    )
    .map((i) => i.name);
}

export class WasmHost {
  readonly meta: WasmMeta;
  readonly memory: WebAssembly.Memory;
  readonly instance: WebAssembly.Instance;
  private readonly maps = new Map<string, HostMap>();
  private readonly ringbufs = new Map<string, RingBufStore>();
  /** Map id → store (null for maps the host does not hold: DevMap, CpuMap, XskMap). */
  private readonly byId: (HostMap | RingBufStore | null)[] = [];
  private readonly stackBase: number;
  private readonly frameBase: number;
  private readonly frameCapacity: number;
  private readonly frameRoom: number;
  /** The target of the last bpf_redirect (ifindex), or null. */
  lastRedirect: number | null = null;
  /** bpf_redirect's flags at tc (BPF_F_INGRESS) of the last redirect. */
  private lastRedirectFlags = 0n;
  /** Whether the last redirect was bpf_redirect_neigh's or bpf_redirect_peer's. */
  private lastRedirectVia: "neigh" | "peer" | undefined;
  /** The hook of the function running: bpf_redirect answers in its actions. */
  private hook: "xdp" | "tc" = "xdp";
  /** skb->len of the tc program running (bpf_fib_lookup's skb variant checks it). */
  private skbLen = 0;
  /** The running tc program's network header offset from skb->data (changeHead moves data, not it). */
  private skbNetworkOffset = 0;
  /** Where a tc program's struct __sk_buff image lives. */
  private readonly skbBase: number;
  /** The UMEM region (offset and size in the memory), when `umemBytes` was given. */
  readonly umem: UmemRegion | null = null;
  /** trace() output, when no `trace` option was given. */
  readonly traceLines: string[] = [];

  constructor(binary: Uint8Array, opts: WasmHostOptions = {}) {
    const mod = new WebAssembly.Module(binary as Uint8Array<ArrayBuffer>);
    const meta = readMeta(mod);
    if (!meta) throw new WasmHostError("not an xdpc module: no xdpc.meta section");
    this.meta = meta;
    const missing = missingHelpers(mod, { routes: opts.routes !== undefined });
    if (missing.length) throw new WasmHostError(refusalMessage(missing));
    const fib =
      opts.routes === undefined || opts.routes instanceof FibTable
        ? opts.routes
        : new FibTable(opts.routes);

    const layout = new MemoryLayout(meta);
    this.stackBase = layout.stackBase;
    const heap = layout;
    for (const m of meta.maps) {
      let store: HostMap | RingBufStore | null = null;
      switch (m.kind) {
        case "ArrayMap":
        case "PerCpuArray":
          store = new ArrayStore(m.name, heap, m.valueSize, m.maxEntries);
          break;
        case "HashMap":
        case "PerCpuHash":
          store = new HashStore(m.name, heap, m.valueSize, m.maxEntries, false);
          break;
        case "LruHash":
        case "LruPerCpuHash":
          store = new HashStore(m.name, heap, m.valueSize, m.maxEntries, true);
          break;
        case "LpmTrie":
          store = new LpmStore(m.name, heap, m.keySize, m.valueSize, m.maxEntries);
          break;
        case "DevMap":
        case "DevMapHash":
          // Programs look these up (is the egress device in the map?): values in memory.
          store = new RedirectStore(m.name, m.maxEntries, {
            heap,
            valueSize: m.valueSize,
            hashed: m.kind === "DevMapHash",
          });
          break;
        case "CpuMap":
        case "XskMap":
          store = new RedirectStore(m.name, m.maxEntries);
          break;
        case "RingBuf":
          store = new RingBufStore(m.name, m.maxEntries);
          this.ringbufs.set(m.name, store);
          break;
      }
      if (store && !(store instanceof RingBufStore)) this.maps.set(m.name, store);
      this.byId.push(store);
    }
    this.frameCapacity = opts.frameCapacity ?? 128 * 1024;
    this.frameRoom = Math.min(opts.frameRoom ?? FRAME_ROOM, this.frameCapacity);
    this.skbBase = layout.alloc(SKB_IMAGE_SIZE);
    this.frameBase = layout.reserveFrame(this.frameCapacity);
    if (opts.umemBytes) this.umem = layout.reserveUmem(opts.umemBytes);
    const mem = layout.create();
    this.memory = mem;
    for (const g of meta.globals) this.bytes().set(fromHex(g.init), DATA_BASE + g.offset);

    const ktime = opts.ktimeNs ?? monotonicNs;
    const random = opts.randomU32 ?? randomU32;
    const cpu = BigInt(opts.cpu ?? 0);
    const keySizes = new Map(meta.maps.map((m) => [m.name, m.keySize]));
    const keyOf = (m: { name: string }, ptr: number) =>
      new Uint8Array(this.memory.buffer, ptr, keySizes.get(m.name)!).slice();
    const map = (id: number): HostMap => {
      const s = this.byId[id];
      if (!s || s instanceof RingBufStore)
        throw new WasmHostError(
          `map ${this.meta.maps[id]?.name ?? id} is not held by the Wasm host`,
        );
      return s;
    };
    const helpers: Record<
      (typeof HOST_HELPERS)[number] | "fib_lookup",
      (...a: never[]) => number | bigint
    > = {
      map_lookup_elem: (id: number, key: number) => map(id).lookup(keyOf(map(id), key)),
      map_update_elem: (id: number, key: number, value: number, flags: bigint) => {
        const m = map(id);
        const spec = this.meta.maps[id]!;
        const v = this.bytes().slice(value, value + spec.valueSize);
        return BigInt(m.update(keyOf(m, key), v, Number(BigInt.asUintN(32, flags))));
      },
      map_delete_elem: (id: number, key: number) => BigInt(map(id).delete(keyOf(map(id), key))),
      ktime_get_ns: () => ktime(),
      get_prandom_u32: () => BigInt(random() >>> 0),
      get_smp_processor_id: () => cpu,
      redirect: (ifindex: number, flags: bigint) => {
        if (this.hook === "tc") {
          // bpf_redirect at tc: BPF_F_INGRESS (1) is the only flag; others give TC_ACT_SHOT.
          if (flags & ~1n) return 2n;
          this.lastRedirect = ifindex >>> 0;
          this.lastRedirectFlags = flags;
          this.lastRedirectVia = undefined;
          return 7n; // TC_ACT_REDIRECT
        }
        if (flags !== 0n) return 0n; // XDP_ABORTED, as the kernel for unknown flags
        this.lastRedirect = ifindex >>> 0;
        return 4n; // XDP_REDIRECT
      },
      // tc only (the verifier refuses them elsewhere): any flag, or neighbour parameters
      // shorter than struct bpf_redir_neigh (20 bytes), give TC_ACT_SHOT.
      redirect_neigh: (ifindex: number, _params: number, plen: bigint, flags: bigint) => {
        if (flags !== 0n || (plen !== 0n && plen < 20n)) return 2n;
        if (plen !== 0n)
          throw new WasmHostError("bpf_redirect_neigh with a next hop is not modelled by the host");
        this.lastRedirect = ifindex >>> 0;
        this.lastRedirectFlags = 0n;
        this.lastRedirectVia = "neigh";
        return 7n;
      },
      l3_csum_replace: (_c: number, off: bigint, from: bigint, to: bigint, flags: bigint) =>
        this.csumReplace(false, off, from, to, flags),
      l4_csum_replace: (_c: number, off: bigint, from: bigint, to: bigint, flags: bigint) =>
        this.csumReplace(true, off, from, to, flags),
      skb_store_bytes: (_c: number, off: bigint, from: number, len: bigint, flags: bigint) =>
        BigInt(this.skbStoreBytes(off, from, Number(BigInt.asUintN(32, len)), flags)),
      skb_change_tail: (_c: number, len: number, flags: bigint) =>
        BigInt(this.skbChangeTail(len >>> 0, flags)),
      skb_change_head: (_c: number, room: number, flags: bigint) =>
        BigInt(this.skbChangeHead(room >>> 0, flags)),
      redirect_peer: (ifindex: number, flags: bigint) => {
        if (flags !== 0n) return 2n;
        this.lastRedirect = ifindex >>> 0;
        this.lastRedirectFlags = 0n;
        this.lastRedirectVia = "peer";
        return 7n;
      },
      // The kernel's __bpf_xdp_redirect_map: unknown flags abort; a missing entry
      // returns the fallback action in the low two bits of flags.
      redirect_map: (id: number, key: number, flags: bigint) => {
        const s = this.byId[id];
        if (!(s instanceof RedirectStore))
          throw new WasmHostError(`redirect_map on ${this.meta.maps[id]?.name ?? id}`);
        if (flags & ~3n) return 0n;
        return s.has(key) ? 4n : flags & 3n;
      },
      csum_diff: (from: number, fromSize: bigint, to: number, toSize: bigint, seed: bigint) => {
        const fs = Number(fromSize);
        const ts = Number(toSize);
        if ((fs | ts) & 3) return BigInt(-EINVAL);
        const mem = this.bytes();
        return BigInt(csumDiff(mem.subarray(from, from + fs), mem.subarray(to, to + ts), seed));
      },
      fib_lookup: (_ctx: number, params: number, plen: bigint, flags: bigint) =>
        BigInt(
          fib!.lookup(
            new DataView(this.memory.buffer, params, 64),
            Number(plen),
            Number(BigInt.asUintN(32, flags)),
            this.hook === "tc" ? this.skbLen : undefined,
          ),
        ),
      ringbuf_output: (id: number, data: number, size: bigint, flags: bigint) => {
        const rb = this.byId[id];
        if (!(rb instanceof RingBufStore)) return BigInt(-EINVAL);
        if (flags & ~3n) return BigInt(-EINVAL);
        return BigInt(rb.output(this.bytes().slice(data, data + Number(size))));
      },
    };
    // Array maps the module indexes itself: the address of each one's first value.
    const arrayBases: Record<string, WebAssembly.Global> = {};
    meta.maps.forEach((m, id) => {
      const s = this.byId[id];
      if (INLINE_ARRAY_KINDS.has(m.kind) && s instanceof ArrayStore)
        arrayBases[mapBaseImport(id)] = new WebAssembly.Global({ value: "i32" }, s.base);
    });
    const sink = opts.trace ?? ((line: string) => this.traceLines.push(line));
    const traces: Record<string, (...a: never[]) => bigint> = {};
    for (const i of WebAssembly.Module.imports(mod)) {
      if (i.module !== IMPORT_MODULE || !TRACE_IMPORT.test(i.name)) continue;
      traces[i.name] = ((fmt: number, size: bigint, ...args: bigint[]) => {
        const bytes = this.bytes().slice(fmt, fmt + Number(size));
        const end = bytes.indexOf(0);
        const line = formatTrace(
          new TextDecoder().decode(bytes.subarray(0, end < 0 ? undefined : end)),
          args,
        );
        sink(line);
        return BigInt(line.length);
      }) as (...a: never[]) => bigint;
    }
    this.instance = new WebAssembly.Instance(mod, {
      [MEMORY_MODULE]: { [MEMORY_NAME]: mem },
      [IMPORT_MODULE]: {
        ...helpers,
        ...traces,
        ...arrayBases,
        stack: new WebAssembly.Global({ value: "i32", mutable: false }, this.stackBase),
        data: new WebAssembly.Global({ value: "i32", mutable: false }, DATA_BASE),
      },
    });
  }

  /** The whole memory, as bytes (a fresh view: the buffer may be replaced by growth). */
  bytes(): Uint8Array {
    return new Uint8Array(this.memory.buffer);
  }

  /** A map the host holds, by name (fill it before running, read it after). */
  map(name: string): HostMap {
    const m = this.maps.get(name);
    if (!m) throw new WasmHostError(`no map ${name} in the Wasm host`);
    return m;
  }
  mapNames(): string[] {
    return [...this.maps.keys()];
  }
  ringbuf(name: string): RingBufStore {
    const r = this.ringbufs.get(name);
    if (!r) throw new WasmHostError(`no ring buffer ${name} in the Wasm host`);
    return r;
  }

  /** The bytes of a data section (".rodata", ".bss", ".data"); empty when the module has none. */
  section(name: string): Uint8Array {
    const s = this.meta.sections.find((x) => x.name === name);
    if (!s) return new Uint8Array(0);
    return this.bytes().slice(DATA_BASE + s.offset, DATA_BASE + s.offset + s.size);
  }
  /** Replaces a data section's bytes (a loader setting load-time parameters). */
  setSection(name: string, bytes: Uint8Array): void {
    const s = this.meta.sections.find((x) => x.name === name);
    if (!s) throw new WasmHostError(`no section ${name} in the module`);
    if (bytes.length !== s.size)
      throw new WasmHostError(`${name} holds ${s.size} bytes, got ${bytes.length}`);
    this.bytes().set(bytes, DATA_BASE + s.offset);
  }

  /**
   * Runs `name` over a frame already in the memory (a UMEM chunk): no copy in or out.
   * `headroom` / `tailroom` are the bytes before and after it the function may claim
   * with adjustHead / adjustTail. Returns the verdict and the frame's final bounds.
   */
  runInPlace(
    name: string,
    frame: { offset: number; len: number; headroom?: number; tailroom?: number },
    ctx: { rxQueue?: number; ifindex?: number } = {},
  ): { verdict: number; offset: number; len: number } {
    const { fn, meta } = this.entry(name);
    const verdict = fn(
      frame.offset,
      frame.len,
      ctx.rxQueue ?? 0,
      ctx.ifindex ?? 1,
      frame.headroom ?? 0,
      frame.tailroom ?? 0,
    );
    if (!meta.adjusts) return { verdict: verdict >>> 0, offset: frame.offset, len: frame.len };
    const b = this.bounds();
    return { verdict: verdict >>> 0, offset: b.start, len: b.end - b.start };
  }

  private entry(name: string) {
    const fn = this.instance.exports[name];
    const meta = this.meta.functions.find((f) => f.name === name);
    if (typeof fn !== "function" || !meta)
      throw new WasmHostError(`no program or handler ${name} in the module`);
    return { fn: fn as (...a: number[]) => number, meta };
  }

  /** The frame bounds an adjusting function left in xdpc_data / xdpc_end. */
  private bounds(): { start: number; end: number } {
    const g = (n: string) => Number((this.instance.exports[n] as WebAssembly.Global).value);
    return { start: g("xdpc_data"), end: g("xdpc_end") };
  }

  /**
   * Runs tc program `name` over a copy of one frame with the given __sk_buff fields
   * (defaults as BPF_PROG_TEST_RUN's, see SkbFields); returns the action, the frame, and
   * mark and priority as the program left them.
   */
  runTc(name: string, frame: Uint8Array, skb: SkbFields = {}): TcRunResult {
    const { fn, meta } = this.entry(name);
    if (meta.kind !== "tc") throw new WasmHostError(`${name} is not a tc program`);
    if (frame.length > this.frameCapacity)
      throw new WasmHostError(`frame of ${frame.length} bytes exceeds ${this.frameCapacity}`);
    const mem = this.bytes();
    mem.set(frame, this.frameBase);
    const eth = frame.length >= 14 ? ethTypeTrans(frame) : { protocol: 0, pktType: 0 };
    mem.fill(0, this.skbBase, this.skbBase + SKB_IMAGE_SIZE);
    const dv = new DataView(this.memory.buffer, this.skbBase, SKB_IMAGE_SIZE);
    const put = (off: number, v: number | undefined) => dv.setUint32(off, (v ?? 0) >>> 0, true);
    put(0, skb.len ?? frame.length);
    put(4, skb.pktType ?? eth.pktType);
    put(8, skb.mark);
    put(12, skb.queueMapping);
    put(16, bswap16(skb.protocol ?? eth.protocol));
    put(20, skb.vlanPresent);
    put(24, skb.vlanTci);
    put(28, bswap16(skb.vlanProto ?? 0));
    put(32, skb.priority);
    put(36, skb.ingressIfindex);
    put(40, skb.ifindex ?? 1);
    put(44, skb.tcIndex);
    put(68, skb.hash);
    put(72, skb.tcClassid);
    put(76, this.frameBase);
    put(80, this.frameBase + frame.length);
    this.lastRedirect = null;
    this.hook = "tc";
    this.skbLen = skb.len ?? frame.length;
    this.skbNetworkOffset = ETH_HLEN; // the test run's eth_type_trans + skb_reset_network_header
    let verdict: number;
    try {
      verdict = fn(this.frameBase, frame.length, this.skbBase, 0, 0, 0) | 0;
    } finally {
      this.hook = "xdp";
    }
    // changeHead / changeTail leave the frame's bounds in the image.
    const { data, end } = this.skbBounds();
    const out: TcRunResult = {
      verdict,
      data: this.bytes().slice(data, end),
      mark: dv.getUint32(8, true),
      priority: dv.getUint32(32, true),
    };
    if (verdict === 7 && this.lastRedirect !== null)
      out.redirect = {
        ifindex: this.lastRedirect,
        ingress: (this.lastRedirectFlags & 1n) !== 0n,
        ...(this.lastRedirectVia ? { via: this.lastRedirectVia } : {}),
      };
    return out;
  }

  /** The running tc program's packet (skb->data, skb->data + headlen) from its __sk_buff image. */
  private skbBounds(): { data: number; end: number } {
    const dv = new DataView(this.memory.buffer, this.skbBase, SKB_IMAGE_SIZE);
    return { data: dv.getUint32(76, true), end: dv.getUint32(80, true) };
  }

  /**
   * bpf_skb_store_bytes as in the kernel's skb test run: -EINVAL for unknown flags,
   * -EFAULT for an offset above INT_MAX or past skb->len. BPF_F_RECOMPUTE_CSUM changes
   * nothing there (ip_summed is CHECKSUM_NONE); BPF_F_INVALIDATE_HASH clears skb->hash.
   */
  private skbStoreBytes(offset: bigint, from: number, len: number, flags: bigint): number {
    if (flags & ~3n) return -EINVAL;
    const off = BigInt.asUintN(32, offset);
    if (off > 0x7fffffffn || Number(off) + len > this.skbLen) return -EFAULT;
    const { data, end } = this.skbBounds();
    if (data + Number(off) + len > end)
      throw new WasmHostError("skb_store_bytes past the linear data is not modelled by the host");
    this.bytes().copyWithin(data + Number(off), from, from + len);
    if (flags & 2n) new DataView(this.memory.buffer, this.skbBase).setUint32(68, 0, true);
    return 0;
  }

  /** bpf_l3/l4_csum_replace over the running skb's current bounds (changeHead moves data). */
  private csumReplace(l4: boolean, off: bigint, from: bigint, to: bigint, flags: bigint): bigint {
    const data = this.skbBounds().data;
    return BigInt(skbCsumReplace(this.bytes(), data, this.skbLen, l4, off, from, to, flags));
  }

  /**
   * bpf_skb_change_tail as in the kernel's skb test run (a linear skb, CHECKSUM_NONE, no
   * GSO): -EINVAL for flags, a length above BPF_SKB_MAX_LEN or below the network header's
   * offset; grown bytes are zero.
   */
  private skbChangeTail(len: number, flags: bigint): number {
    const { data, end } = this.linearSkb("skb_change_tail");
    if (flags !== 0n || len > BPF_SKB_MAX_LEN || len < this.skbNetworkOffset) return -EINVAL;
    if (data + len > this.frameBase + this.frameCapacity)
      throw new WasmHostError(`skb_change_tail to ${len} bytes exceeds the host's frame capacity`);
    if (data + len > end) this.bytes().fill(0, end, data + len);
    this.setSkbBounds(data, len);
    return 0;
  }

  /**
   * bpf_skb_change_head as in the kernel's skb test run: -EINVAL for flags or a length
   * (skb->len + room, in u32) above BPF_SKB_MAX_LEN or wrapped; `room` zero bytes pushed,
   * the network header left where it is. Past the host's headroom the frame moves up, as
   * skb_cow reallocates the head.
   */
  private skbChangeHead(room: number, flags: bigint): number {
    let { data, end } = this.linearSkb("skb_change_head");
    const len = end - data;
    const next = (len + room) >>> 0;
    if (flags !== 0n || next > BPF_SKB_MAX_LEN || next < len) return -EINVAL;
    const lowest = this.frameBase - FRAME_HEADROOM;
    if (data - room < lowest) {
      if (lowest + next > this.frameBase + this.frameCapacity)
        throw new WasmHostError(
          `skb_change_head to ${next} bytes exceeds the host's frame capacity`,
        );
      this.bytes().copyWithin(lowest + room, data, end);
      data = lowest + room;
    }
    this.bytes().fill(0, data - room, data);
    this.skbNetworkOffset += room;
    this.setSkbBounds(data - room, next);
    return 0;
  }

  /** The running tc program's bounds, refusing a packet whose skb->len is not its linear data. */
  private linearSkb(helper: string): { data: number; end: number } {
    const b = this.skbBounds();
    if (b.end - b.data !== this.skbLen)
      throw new WasmHostError(
        `${helper} on a packet with fragments (len above its data) is not modelled by the host`,
      );
    return b;
  }

  /** New skb->data and length: the image's data, data_end and len, and the host's skbLen. */
  private setSkbBounds(data: number, len: number): void {
    const dv = new DataView(this.memory.buffer, this.skbBase, SKB_IMAGE_SIZE);
    dv.setUint32(0, len, true);
    dv.setUint32(76, data, true);
    dv.setUint32(80, data + len, true);
    this.skbLen = len;
  }

  /** Runs exported function `name` over a copy of one frame. */
  run(
    name: string,
    frame: Uint8Array,
    ctx: { rxQueue?: number; ifindex?: number } = {},
  ): RunResult {
    const { fn, meta } = this.entry(name);
    if (frame.length > this.frameCapacity)
      throw new WasmHostError(`frame of ${frame.length} bytes exceeds ${this.frameCapacity}`);
    // A fresh, zeroed headroom (as the kernel's test buffer): adjustHead must not
    // expose bytes of an earlier frame.
    this.bytes().fill(0, this.frameBase - FRAME_HEADROOM, this.frameBase);
    this.bytes().set(frame, this.frameBase);
    const verdict = fn(
      this.frameBase,
      frame.length,
      ctx.rxQueue ?? 0,
      ctx.ifindex ?? 1,
      USABLE_HEADROOM,
      Math.max(0, this.frameRoom - frame.length),
    );
    const { start, end } = meta.adjusts
      ? this.bounds()
      : { start: this.frameBase, end: this.frameBase + frame.length };
    return { verdict: verdict >>> 0, data: this.bytes().slice(start, end) };
  }
}
