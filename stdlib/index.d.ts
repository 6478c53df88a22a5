// The "xdpc" module: the built-ins a filter imports. These declarations exist so that tsc and
// editors type-check and complete filters; xdpc's checker enforces the real rules (integer
// widths, the language subset). docs/language.md is the reference; keep the two in step.

// ───────────────────────────── integers ─────────────────────────────

/** Unsigned 8-bit integer (xdpc enforces the width; tsc sees a number). */
export type u8 = number;
/** Unsigned 16-bit integer (xdpc enforces the width; tsc sees a number). */
export type u16 = number;
/** Unsigned 32-bit integer; the type of a bare literal that fits. */
export type u32 = number;
declare const bits64: unique symbol;
/**
 * Marks the 64-bit integer types, which are numbers to tsc but bigints to a control plane
 * (`xdpc/runtime` maps a filter's u64/i64 map fields to bigint). Assignable both ways with number.
 */
export interface Bits64 {
  readonly [bits64]?: true;
}
/** Unsigned 64-bit integer; the type of a bare literal above 0xFFFF_FFFF. Exact up to 2^53 in tsc, full width in xdpc. */
export type u64 = number & Bits64;
/** Signed 8-bit integer (two's complement). */
export type i8 = number;
/** Signed 16-bit integer (two's complement). */
export type i16 = number;
/** Signed 32-bit integer (two's complement). */
export type i32 = number;
/** Signed 64-bit integer (two's complement). */
export type i64 = number & Bits64;
/** Boolean, stored as one byte (0 or 1) in structs and maps. */
export type bool = boolean;

/** A fixed-size array of N elements of T, laid out inline like a C array; a constant index is checked at compile time, a variable one at run time. */
export interface FixedArray<T, N extends number> {
  /** Element `index`; 0 ≤ index < N. */
  [index: number]: T;
  /**
   * The element count N, a compile-time constant in xdpc. Typed `number` for tsc so that an
   * array literal (`[0x02, 0, 0, 0, 0, 0x01]`) is accepted where a FixedArray is expected;
   * xdpc checks that it has exactly N elements.
   */
  readonly length: number;
}

/** An IPv6 address: 16 bytes in network order, as on the wire. */
export type Ipv6Addr = FixedArray<u8, 16>;

// ───────────────────────────── verdicts ─────────────────────────────

/** The verdict of an XDP program: one of the XDP_* constants (a u32). */
export type XdpAction = u32;
/** Verdict: an error occurred; drop the frame and fire the xdp_exception tracepoint. */
export declare const XDP_ABORTED = 0;
/** Verdict: drop the frame. */
export declare const XDP_DROP = 1;
/** Verdict: pass the frame on to the kernel network stack. */
export declare const XDP_PASS = 2;
/** Verdict: send the (possibly modified) frame back out of the interface it arrived on. */
export declare const XDP_TX = 3;
/** Verdict: redirect the frame as set up by `redirect()` or a map's `redirect()`. */
export declare const XDP_REDIRECT = 4;

/** The verdict of a tc program: one of the TC_ACT_* (or, in a tcx program, TCX_*) constants (an i32). */
export type TcAction = i32;
/** tc verdict: use the default action configured for the filter (tcx: run the next program). */
export declare const TC_ACT_UNSPEC = -1;
/** tc verdict: let the packet continue. */
export declare const TC_ACT_OK = 0;
/** tc verdict: restart classification from the first filter. */
export declare const TC_ACT_RECLASSIFY = 1;
/** tc verdict: drop the packet. */
export declare const TC_ACT_SHOT = 2;
/** tc verdict: continue with the next action (classic tc action chains). */
export declare const TC_ACT_PIPE = 3;
/** tc verdict: the packet was consumed (no further processing, not counted as a drop). */
export declare const TC_ACT_STOLEN = 4;
/** tc verdict: the packet was queued by the program. */
export declare const TC_ACT_QUEUED = 5;
/** tc verdict: repeat the action. */
export declare const TC_ACT_REPEAT = 6;
/** tc verdict: redirect as set up by `redirect()`. */
export declare const TC_ACT_REDIRECT = 7;
/**
 * tcx verdict: run the next program attached to the hook (= TC_ACT_UNSPEC). A tcx
 * program (`ctx: TcContext<"tcx/ingress">` or `"tcx/egress"`) returns TCX_NEXT,
 * TCX_PASS, TCX_DROP or TCX_REDIRECT; another constant is a compile error (XDP3071),
 * since the kernel runs it as TCX_NEXT.
 */
export declare const TCX_NEXT = -1;
/** tcx verdict: pass the packet (= TC_ACT_OK). */
export declare const TCX_PASS = 0;
/** tcx verdict: drop the packet (= TC_ACT_SHOT). */
export declare const TCX_DROP = 2;
/** tcx verdict: redirect (= TC_ACT_REDIRECT). */
export declare const TCX_REDIRECT = 7;

/** A fallback verdict for a map redirect when the key has no entry (the kernel allows only these four). */
export type RedirectFallback =
  typeof XDP_ABORTED | typeof XDP_DROP | typeof XDP_PASS | typeof XDP_TX;

/** The verdict of an AF_XDP handler: XSK_DROP or XSK_TX (a u32). */
export type XskVerdict = u32;
/** Handler verdict: recycle the frame. */
export declare const XSK_DROP = 0;
/** Handler verdict: transmit the (possibly modified) frame out of the queue it arrived on. */
export declare const XSK_TX = 1;

// ───────────────────────────── headers ─────────────────────────────
// Header views: fields read and write the packet in place, in host byte order (the compiler
// emits the byte swaps and bit-field masking).

/** Ethernet header view (14 bytes at offset 0). */
export interface EthHeader {
  /** Destination MAC, the 48 bits as a number (00:11:22:33:44:55 is 0x001122334455). */
  dst: u64;
  /** Source MAC, the 48 bits as a number. */
  src: u64;
  /** Outer EtherType (0x0800 IPv4, 0x86DD IPv6, 0x8100/0x88A8 VLAN). */
  proto: u16;
}

/** 802.1Q / 802.1ad tag view: the outer tag, the 4 bytes after the Ethernet header. */
export interface VlanHeader {
  /** Tag control information: PCP (3 bits), DEI (1 bit), VID (12 bits). */
  tci: u16;
  /** VLAN id, the low 12 bits of `tci`; writing it keeps PCP and DEI. */
  vid: u16;
  /** The EtherType that follows this tag (an inner tag or the payload's). */
  proto: u16;
}

/** IPv4 header view. */
export interface Ipv4Header {
  /** Version, always 4 (read-only: the accessor's checks depend on it). */
  readonly version: u8;
  /** Header length in 32-bit words, 5..15 (read-only: the accessor's checks depend on it). */
  readonly ihl: u8;
  /** Type of service / DSCP+ECN byte. */
  tos: u8;
  /** Total length of the datagram in bytes. */
  totalLength: u16;
  /** Identification. */
  id: u16;
  /** Flags, 3 bits: 0x4 reserved, 0x2 don't fragment, 0x1 more fragments. */
  flags: u8;
  /** Fragment offset in 8-byte units, 13 bits. */
  fragmentOffset: u16;
  /** Time to live. */
  ttl: u8;
  /** Payload protocol (IPPROTO_*). */
  protocol: u8;
  /** Header checksum (ones' complement, host order; not recomputed for you). */
  checksum: u16;
  /** Source address (198.18.0.1 is 0xC6120001). */
  src: u32;
  /** Destination address. */
  dst: u32;
}

/** IPv6 fixed header view (40 bytes). */
export interface Ipv6Header {
  /** Version, always 6 (read-only: the accessor's checks depend on it). */
  readonly version: u8;
  /** Traffic class, 8 bits. */
  trafficClass: u8;
  /** Flow label, 20 bits. */
  flowLabel: u32;
  /** Payload length in bytes (after the fixed header). */
  payloadLength: u16;
  /** Next header (IPPROTO_*); extension headers are not walked. */
  nextHeader: u8;
  /** Hop limit. */
  hopLimit: u8;
  /** Source address, a view of the packet's 16 bytes. */
  src: Ipv6Addr;
  /** Destination address, a view of the packet's 16 bytes. */
  dst: Ipv6Addr;
}

/** TCP header view (the fixed 20 bytes). */
export interface TcpHeader {
  /** Source port. */
  srcPort: u16;
  /** Destination port. */
  dstPort: u16;
  /** Sequence number. */
  seq: u32;
  /** Acknowledgement number. */
  ack: u32;
  /** Header length in 32-bit words, 4 bits. */
  dataOffset: u8;
  /** Flag byte: TCP_FIN 0x01 … TCP_CWR 0x80. */
  flags: u8;
  /** Receive window. */
  window: u16;
  /** Checksum (host order; not recomputed for you). */
  checksum: u16;
  /** Urgent pointer. */
  urgent: u16;
}

/** UDP header view. */
export interface UdpHeader {
  /** Source port. */
  srcPort: u16;
  /** Destination port. */
  dstPort: u16;
  /** Length of header and payload in bytes. */
  length: u16;
  /** Checksum (host order; 0 means none over IPv4). */
  checksum: u16;
}

/** ICMP / ICMPv6 header view (the first 8 bytes; `id` and `seq` are meaningful for echo messages). */
export interface IcmpHeader {
  /** Message type (ICMP_ECHO_REQUEST, ICMPV6_ECHO_REQUEST, …). */
  type: u8;
  /** Message code. */
  code: u8;
  /** Checksum (host order; not recomputed for you). */
  checksum: u16;
  /** Echo identifier (bytes 4..5). */
  id: u16;
  /** Echo sequence number (bytes 6..7). */
  seq: u16;
}

// ───────────────────────────── packets ─────────────────────────────

/** What XDP programs and AF_XDP handlers share: bounds-checked header accessors and raw loads. */
export interface PacketView {
  /** Packet length in bytes. */
  readonly len: u32;
  /** The Ethernet header, or null when the packet is shorter than 14 bytes. */
  eth(): EthHeader | null;
  /** The outer VLAN tag, or null unless the outer EtherType is 0x8100/0x88A8 and the 4-byte tag is present. */
  vlan(): VlanHeader | null;
  /** The IPv4 header (after up to `vlanTags` VLAN tags, a constant 0..8, default 2), or null unless EtherType 0x0800, version 4, ihl ≥ 5 and ihl×4 bytes present. */
  ipv4(vlanTags?: u32): Ipv4Header | null;
  /** The IPv6 header (after up to `vlanTags` VLAN tags, default 2), or null unless EtherType 0x86DD, 40 bytes present and version 6. */
  ipv6(vlanTags?: u32): Ipv6Header | null;
  /** The TCP header, or null unless IPv4 protocol 6 with fragment offset 0 (or IPv6 next header 6) and 20 bytes present; `vlanTags` as for ipv4(). */
  tcp(vlanTags?: u32): TcpHeader | null;
  /** The UDP header, or null unless IPv4 protocol 17 with fragment offset 0 (or IPv6 next header 17) and 8 bytes present; `vlanTags` as for ipv4(). */
  udp(vlanTags?: u32): UdpHeader | null;
  /** The ICMP header, or null unless IPv4 protocol 1 with fragment offset 0 and 8 bytes present; `vlanTags` as for ipv4(). */
  icmp(vlanTags?: u32): IcmpHeader | null;
  /** The ICMPv6 header, or null unless IPv6 next header 58 and 8 bytes present; `vlanTags` as for ipv4(). */
  icmp6(vlanTags?: u32): IcmpHeader | null;
  /**
   * Walks an IPv6 extension-header chain from `chain` (offset and protocol number of a
   * header, e.g. 14 + 40 and the fixed header's next header): while it names hop-by-hop
   * (0), routing (43), destination options (60), mobility (135), AH (51) or fragment (44),
   * steps over it, at most `maxHeaders` (a constant 1..16) times. True when the chain ends
   * at another protocol (chain then holds its offset and number); false when a header's
   * first two bytes are missing or more than `maxHeaders` extension headers follow.
   */
  skipIpv6Ext(chain: Ipv6Chain, maxHeaders: u32): bool;
  /** The byte at packet offset `off`, or null when out of bounds. */
  load8(off: u32): u8 | null;
  /** The big-endian 16-bit value at packet offset `off`, or null when out of bounds. */
  load16(off: u32): u16 | null;
  /** The big-endian 32-bit value at packet offset `off`, or null when out of bounds. */
  load32(off: u32): u32 | null;
  /** Stores byte `v` at packet offset `off` (any byte, no header checks); false when out of bounds. */
  store8(off: u32, v: u8): bool;
  /** Stores `v` big-endian at packet offset `off`; false when out of bounds. */
  store16(off: u32, v: u16): bool;
  /** Stores `v` big-endian at packet offset `off`; false when out of bounds. */
  store32(off: u32, v: u32): bool;
  /** bpf_csum_diff(NULL, 0, data + off, len, seed): the 32-bit partial ones' complement sum of `len` packet bytes (len a constant multiple of 4, ≤ 512), or null when out of bounds. */
  csum(off: u32, len: u32, seed: u32): u32 | null;
}

/** The cursor of `skipIpv6Ext`: a header's offset in the frame and its protocol number. */
export interface Ipv6Chain {
  /** Byte offset of the header from the start of the frame. */
  offset: u32;
  /** Its protocol number (IPPROTO_*; 0, 43, 44, 51, 60, 135 are extension headers). */
  nextHeader: u8;
}

/** The frame an XDP program sees (struct xdp_md). */
export interface XdpContext extends PacketView {
  /** Index of the interface the frame arrived on. */
  readonly ifindex: u32;
  /** Index of the receive queue the frame arrived on. */
  readonly rxQueue: u32;
  /** Grow (delta < 0) or shrink (delta > 0) the packet at its head; true on success. Invalidates earlier header views. */
  adjustHead(delta: i32): bool;
  /** Grow (delta > 0) or shrink (delta < 0) the packet at its tail; true on success. Invalidates earlier header views. */
  adjustTail(delta: i32): bool;
}

/**
 * The packet a tc program sees (struct __sk_buff). Header accessors and raw loads and
 * stores reach the linear part of the buffer (all of it for most packets at tc).
 *
 * `S` is the program's ELF section: `"tc"` (the default: libbpf's classic section, the
 * hook chosen at attach), `"tcx/ingress"` or `"tcx/egress"` (a tcx program for that
 * hook: `xdpc load --iface IF f.ts` attaches it there; it returns TCX_NEXT, TCX_PASS,
 * TCX_DROP or TCX_REDIRECT, and any other constant is a compile error, XDP3071). No
 * member uses `S`, so every `TcContext<S>` is one type: a helper typed `c: TcContext`
 * takes the context of any tc program.
 */
export interface TcContext<
  S extends "tc" | "tcx/ingress" | "tcx/egress" = "tc",
> extends PacketView {
  /** Length of the whole packet (skb->len), linear part and fragments. */
  readonly len: u32;
  /** Index of the interface the packet is on (egress: the device it leaves by). */
  readonly ifindex: u32;
  /** Index of the interface the packet arrived on (0 for locally generated packets). */
  readonly ingressIfindex: u32;
  /** The packet's mark (skb->mark): routing rules (`ip rule fwmark`), iptables and qdiscs read it. */
  mark: u32;
  /** The packet's queueing priority (skb->priority). */
  priority: u32;
  /** The link-layer protocol (skb->protocol) in host order, e.g. 0x0800 for IPv4. */
  readonly protocol: u16;
  /** 1 when the device stripped a VLAN tag into vlanTci/vlanProto, else 0. */
  readonly vlanPresent: u32;
  /** The stripped VLAN tag's TCI (valid when vlanPresent is 1). */
  readonly vlanTci: u16;
  /** The stripped VLAN tag's TPID in host order, e.g. 0x8100. */
  readonly vlanProto: u16;
  /** The packet's flow hash (skb->hash; 0 when not yet computed). */
  readonly hash: u32;
  /** PACKET_HOST (0), PACKET_BROADCAST (1), PACKET_MULTICAST (2), PACKET_OTHERHOST (3), PACKET_OUTGOING (4). */
  readonly pktType: u32;
  /**
   * bpf_l3_csum_replace: updates the 16-bit checksum at packet offset `off` (even) for a
   * `size`-byte (constant 2 or 4) field that changed from `from` to `to` (host order, as
   * header fields read); true on success. Invalidates earlier header views.
   */
  l3CsumReplace(off: u32, from: u32, to: u32, size: 2 | 4): bool;
  /**
   * bpf_l4_csum_replace: the same for a TCP/UDP checksum; `pseudoHeader` when the field is
   * in the pseudo-header (an IP address), `mangledZero` for UDP (a 0 checksum stays 0, a
   * result of 0 becomes 0xffff). Invalidates earlier header views.
   */
  l4CsumReplace(
    off: u32,
    from: u32,
    to: u32,
    size: 2 | 4,
    options?: { pseudoHeader?: boolean; mangledZero?: boolean },
  ): bool;
  /**
   * bpf_skb_store_bytes: writes the bytes of `src` (a struct, FixedArray or header view,
   * as laid out in memory: multi-byte integer fields in host order) at packet offset
   * `off`; `recomputeCsum` keeps skb->csum right for CHECKSUM_COMPLETE, `invalidateHash`
   * clears skb->hash. False, nothing written, past the packet. Invalidates earlier header views.
   */
  storeBytes(
    off: u32,
    src: object,
    options?: { recomputeCsum?: boolean; invalidateHash?: boolean },
  ): bool;
  /**
   * bpf_skb_change_tail: trims or grows the packet to `len` bytes (grown bytes are zero);
   * false, nothing changed, below the network header's offset, above BPF_SKB_MAX_LEN or
   * with `flags` other than 0. Invalidates earlier header views.
   */
  changeTail(len: u32, flags?: u64): bool;
  /**
   * bpf_skb_change_head: pushes `len` zero bytes in front of the packet (room for an
   * outer header; the accessors parse from the new first byte); false, nothing changed,
   * above BPF_SKB_MAX_LEN or with `flags` other than 0. Invalidates earlier header views.
   */
  changeHead(len: u32, flags?: u64): bool;
}

/** A frame an AF_XDP handler sees, in the handler's shared memory. */
export interface XskPacket extends PacketView {
  /** Index of the queue (and socket) the frame arrived on. */
  readonly rxQueue: u32;
}

// ───────────────────────────── maps ─────────────────────────────

/** Options common to every map. */
export interface MapOptions {
  /** Maximum number of entries (for RingBuf: the buffer size in bytes, a power of two ≥ 4096). */
  maxEntries: number;
  /** Pin the map in bpffs by its name (LIBBPF_PIN_BY_NAME) so it outlives the program. */
  pinned?: boolean;
}

/** Options of an XskMap. */
export interface XskMapOptions extends MapOptions {
  /** The AF_XDP handler (an exported `(pkt: XskPacket) => XskVerdict` function) run on the frames redirected into this map. */
  handler?: (pkt: XskPacket) => XskVerdict;
}

/** Update flag: create or replace (the default). */
export declare const BPF_ANY = 0;
/** Update flag: create only; fail when the key exists. */
export declare const BPF_NOEXIST = 1;
/** Update flag: replace only; fail when the key is absent. */
export declare const BPF_EXIST = 2;
/** One of BPF_ANY, BPF_NOEXIST, BPF_EXIST. */
export type UpdateFlag = typeof BPF_ANY | typeof BPF_NOEXIST | typeof BPF_EXIST;

/** An array indexed 0..maxEntries-1, zero-initialised (BPF_MAP_TYPE_ARRAY). */
export declare class ArrayMap<V> {
  /** Keeps map kinds apart for tsc (xdpc/runtime types live maps by kind). */
  private readonly __array: V;
  /** Declares the map (top level only). */
  constructor(options: MapOptions);
  /** The value at `index` (a view for struct V, a copy for integer V), or null when out of range. */
  lookup(index: u32): V | null;
  /** For an integer V: a view of the value (`r.value` reads and writes the map in place), or null. */
  lookupRef(this: ArrayMap<number>, index: u32): Ref<number> | null;
  /** Stores a copy of `value` at `index`; true on success (BPF_NOEXIST always fails on arrays). */
  update(index: u32, value: V, flag?: UpdateFlag): bool;
  /** Atomically adds `by` (default 1) to the integer value at `index`; no effect when out of range. */
  increment(this: ArrayMap<number>, index: u32, by?: u64): void;
}

/** A per-CPU array: each CPU has its own copy, so increments need no atomics (BPF_MAP_TYPE_PERCPU_ARRAY). */
export declare class PerCpuArray<V> {
  /** Keeps map kinds apart for tsc (xdpc/runtime types live maps by kind). */
  private readonly __perCpuArray: V;
  /** Declares the map (top level only). */
  constructor(options: MapOptions);
  /** This CPU's value at `index` (a view for struct V, a copy for integer V), or null when out of range. */
  lookup(index: u32): V | null;
  /** For an integer V: a view of the value (`r.value` reads and writes the map in place), or null. */
  lookupRef(this: PerCpuArray<number>, index: u32): Ref<number> | null;
  /** Stores a copy of `value` in this CPU's slot at `index`; true on success. */
  update(index: u32, value: V, flag?: UpdateFlag): bool;
  /** Adds `by` (default 1) to this CPU's integer value at `index`; no effect when out of range. */
  increment(this: PerCpuArray<number>, index: u32, by?: u64): void;
}

/** A view of an integer map value, from `lookupRef`: `r.value += 1` updates the map in place. */
export interface Ref<T> {
  value: T;
}

/** A hash table keyed by an integer or struct K (BPF_MAP_TYPE_HASH). */
export declare class HashMap<K, V> {
  /** Keeps map kinds apart for tsc (xdpc/runtime types live maps by kind). */
  private readonly __hash: [K, V];
  /** Declares the map (top level only). */
  constructor(options: MapOptions);
  /** The value for `key` (a view for struct V, a copy for integer V), or null when absent. */
  lookup(key: K): V | null;
  /** For an integer V: a view of the value (`r.value` reads and writes the map in place), or null. */
  lookupRef(this: HashMap<K, number>, key: K): Ref<number> | null;
  /** Stores a copy of `value` under `key`; true on success. */
  update(key: K, value: V, flag?: UpdateFlag): bool;
  /** Removes `key`; true when it was present. */
  delete(key: K): bool;
  /** Atomically adds `by` (default 1) to the integer value of `key`, inserting `by` when absent. */
  increment(this: HashMap<K, number>, key: K, by?: u64): void;
}

/** A hash table with a value per CPU (BPF_MAP_TYPE_PERCPU_HASH). */
export declare class PerCpuHash<K, V> {
  /** Keeps map kinds apart for tsc (xdpc/runtime types live maps by kind). */
  private readonly __perCpuHash: [K, V];
  /** Declares the map (top level only). */
  constructor(options: MapOptions);
  /** This CPU's value for `key`, or null when absent. */
  lookup(key: K): V | null;
  /** For an integer V: a view of the value (`r.value` reads and writes the map in place), or null. */
  lookupRef(this: PerCpuHash<K, number>, key: K): Ref<number> | null;
  /** Stores a copy of `value` in this CPU's slot for `key`; true on success. */
  update(key: K, value: V, flag?: UpdateFlag): bool;
  /** Removes `key` (on every CPU); true when it was present. */
  delete(key: K): bool;
  /** Adds `by` (default 1) to this CPU's integer value of `key`, inserting `by` when absent. */
  increment(this: PerCpuHash<K, number>, key: K, by?: u64): void;
}

/** A hash table that evicts the least recently used entry when full (BPF_MAP_TYPE_LRU_HASH). */
export declare class LruHash<K, V> {
  /** Keeps map kinds apart for tsc (xdpc/runtime types live maps by kind). */
  private readonly __lruHash: [K, V];
  /** Declares the map (top level only). */
  constructor(options: MapOptions);
  /** The value for `key` (a view for struct V, a copy for integer V), or null when absent. */
  lookup(key: K): V | null;
  /** For an integer V: a view of the value (`r.value` reads and writes the map in place), or null. */
  lookupRef(this: LruHash<K, number>, key: K): Ref<number> | null;
  /** Stores a copy of `value` under `key`, evicting an old entry if needed; true on success. */
  update(key: K, value: V, flag?: UpdateFlag): bool;
  /** Removes `key`; true when it was present. */
  delete(key: K): bool;
  /** Atomically adds `by` (default 1) to the integer value of `key`, inserting `by` when absent. */
  increment(this: LruHash<K, number>, key: K, by?: u64): void;
}

/** An LRU hash table with a value per CPU (BPF_MAP_TYPE_LRU_PERCPU_HASH). */
export declare class LruPerCpuHash<K, V> {
  /** Keeps map kinds apart for tsc (xdpc/runtime types live maps by kind). */
  private readonly __lruPerCpuHash: [K, V];
  /** Declares the map (top level only). */
  constructor(options: MapOptions);
  /** This CPU's value for `key`, or null when absent. */
  lookup(key: K): V | null;
  /** For an integer V: a view of the value (`r.value` reads and writes the map in place), or null. */
  lookupRef(this: LruPerCpuHash<K, number>, key: K): Ref<number> | null;
  /** Stores a copy of `value` in this CPU's slot for `key`; true on success. */
  update(key: K, value: V, flag?: UpdateFlag): bool;
  /** Removes `key`; true when it was present. */
  delete(key: K): bool;
  /** Adds `by` (default 1) to this CPU's integer value of `key`, inserting `by` when absent. */
  increment(this: LruPerCpuHash<K, number>, key: K, by?: u64): void;
}

/** A longest-prefix-match trie (BPF_MAP_TYPE_LPM_TRIE); K starts with `prefixlen: u32`, followed by the address in network order. */
export declare class LpmTrie<K extends { prefixlen: u32 }, V> {
  /** Keeps map kinds apart for tsc (xdpc/runtime types live maps by kind). */
  private readonly __lpmTrie: [K, V];
  /** Declares the map (top level only; created with BPF_F_NO_PREALLOC as the kernel requires). */
  constructor(options: MapOptions);
  /** The value of the longest stored prefix that matches `key` (a view for struct V, a copy for integer V), or null. */
  lookup(key: K): V | null;
  /** For an integer V: a view of the value (`r.value` reads and writes the map in place), or null. */
  lookupRef(this: LpmTrie<K, number>, key: K): Ref<number> | null;
  /** Stores a copy of `value` for the prefix `key`; true on success. */
  update(key: K, value: V, flag?: UpdateFlag): bool;
  /** Removes the exact prefix `key`; true when it was present. */
  delete(key: K): bool;
}

/** Interfaces to redirect frames to, filled from userspace (BPF_MAP_TYPE_DEVMAP). */
export declare class DevMap {
  /** Keeps map kinds apart for tsc (xdpc/runtime types live maps by kind). */
  private readonly __devMap: u32;
  /** Declares the map (top level only). */
  constructor(options: MapOptions);
  /** The ifindex stored at `index`, or null when the slot is empty (is this egress device configured?). */
  lookup(index: u32): u32 | null;
  /** Redirects to the interface at `index`: XDP_REDIRECT, or `fallback` when the slot is empty. */
  redirect(index: u32, fallback: RedirectFallback): XdpAction;
}

/** Interfaces to redirect frames to, keyed by any u32 (usually the ifindex), filled from userspace (BPF_MAP_TYPE_DEVMAP_HASH). */
export declare class DevMapHash {
  /** Keeps map kinds apart for tsc (xdpc/runtime types live maps by kind). */
  private readonly __devMapHash: u32;
  /** Declares the map (top level only). */
  constructor(options: MapOptions);
  /** The ifindex stored under `key`, or null when absent. */
  lookup(key: u32): u32 | null;
  /** Redirects to the interface under `key`: XDP_REDIRECT, or `fallback` when absent. */
  redirect(key: u32, fallback: RedirectFallback): XdpAction;
}

/** CPUs to hand frames to, filled from userspace (BPF_MAP_TYPE_CPUMAP). */
export declare class CpuMap {
  /** Keeps map kinds apart for tsc (xdpc/runtime types live maps by kind). */
  private readonly __cpuMap: u32;
  /** Declares the map (top level only). */
  constructor(options: MapOptions);
  /** Redirects to the CPU at `index`: XDP_REDIRECT, or `fallback` when the slot is empty. */
  redirect(index: u32, fallback: RedirectFallback): XdpAction;
}

/** AF_XDP sockets by queue index (BPF_MAP_TYPE_XSKMAP); the runtime opens one per queue and runs `handler` on their frames. */
export declare class XskMap {
  /** Keeps map kinds apart for tsc (xdpc/runtime types live maps by kind). */
  private readonly __xskMap: u32;
  /** Declares the map (top level only) and binds the AF_XDP handler. */
  constructor(options: XskMapOptions);
  /** Redirects to the socket at `index` (normally ctx.rxQueue): XDP_REDIRECT, or `fallback` when none is bound. */
  redirect(index: u32, fallback: RedirectFallback): XdpAction;
}

/** A ring buffer of T records to userspace (BPF_MAP_TYPE_RINGBUF); maxEntries is its size in bytes. */
export declare class RingBuf<T> {
  /** Keeps map kinds apart for tsc (xdpc/runtime types live maps by kind). */
  private readonly __ringBuf: T;
  /** Declares the map (top level only). */
  constructor(options: MapOptions);
  /** Copies `record` into the ring and wakes readers; false when the ring is full. */
  output(record: T): bool;
}

// ───────────────────────────── helpers ─────────────────────────────

/** Nanoseconds since boot (bpf_ktime_get_ns; CLOCK_MONOTONIC). */
export declare function ktimeNs(): u64;
/** A pseudo-random 32-bit number (bpf_get_prandom_u32); not cryptographic. */
export declare function randomU32(): u32;
/** The id of the CPU running the program (bpf_get_smp_processor_id). */
export declare function cpuId(): u32;
/** Atomically adds `n` to an integer field of a map-value view or a global variable (a locked add, no fetch). */
export declare function atomicAdd(field: number, n: number): void;
/** Prints to the trace pipe (bpf_trace_printk, at most 3 integer arguments); `xdpc trace` shows it. */
export declare function trace(format: string, a?: number, b?: number, c?: number): void;
/** Redirects the frame out of interface `ifindex` (bpf_redirect): XDP_REDIRECT in XDP programs, TC_ACT_REDIRECT in tc programs. */
export declare function redirect(ifindex: u32): XdpAction;
/** tc only: with `{ ingress: true }` (BPF_F_INGRESS) the packet is received on `ifindex` instead of sent out of it; TC_ACT_REDIRECT (TC_ACT_SHOT on error). */
export declare function redirect(ifindex: u32, options: { ingress: boolean }): TcAction;
/** tc only: bpf_redirect_neigh — out of `ifindex`, the next hop found in the FIB and its MAC in the neighbour table (resolved if needed); TC_ACT_REDIRECT. */
export declare function redirectNeigh(ifindex: u32): TcAction;
/** tc ingress only: bpf_redirect_peer — into the peer device of veth/netkit `ifindex` (in its namespace), skipping the backlog; TC_ACT_REDIRECT. */
export declare function redirectPeer(ifindex: u32): TcAction;
declare const paramBrand: unique symbol;
/**
 * Marks a load-time parameter's type, so that `xdpc/runtime` types `load({ params })` from
 * the filter's exports; a phantom, assignable both ways with the plain type.
 */
export interface ParamBrand {
  readonly [paramBrand]?: true;
}
/** A load-time parameter: a `.rodata` constant the loader may set before load (`--set name=value`); top-level `const` only. */
export declare function param<T extends number | boolean>(name: string, def: T): T & ParamBrand;
/** A zero-filled struct value of type T on the stack (for structs with FixedArray fields or many fields). */
export declare function zeroed<T extends object>(): T;

/** Input and output of fibLookup: struct bpf_fib_lookup (64 bytes); network-order fields are swapped for you. */
export interface FibLookupParams {
  /** In: address family, AF_INET or AF_INET6 (offset 0). */
  family: u8;
  /** In: L4 protocol for policy routing (offset 1). */
  l4Protocol: u8;
  /** In: source port for policy routing (offset 2, network order). */
  sport: u16;
  /** In: destination port for policy routing (offset 4, network order). */
  dport: u16;
  /** In: total length of the packet, for the MTU check (offset 6). */
  totLen: u16;
  /** Out: the MTU of the egress device when the lookup returns BPF_FIB_LKUP_RET_FRAG_NEEDED (offset 6, aliases totLen). */
  mtuResult: u16;
  /** In: the ingress ifindex; out: the egress ifindex (offset 8). */
  ifindex: u32;
  /** In (IPv4): type of service (offset 12). */
  tos: u8;
  /** In (IPv6): flow information (offset 12, network order, aliases tos). */
  flowinfo: u32;
  /** Out: the route's metric (offset 12, aliases tos). */
  rtMetric: u32;
  /** In (IPv4): source address (offset 16, network order); out with BPF_FIB_LOOKUP_SRC: the source address for the next hop. */
  ipv4Src: u32;
  /** In (IPv4): destination address (offset 32, network order); out: the gateway, for a route via one. */
  ipv4Dst: u32;
  /** In (IPv6): source address (offset 16, aliases ipv4Src); out with BPF_FIB_LOOKUP_SRC. */
  ipv6Src: Ipv6Addr;
  /** In (IPv6): destination address (offset 32, aliases ipv4Dst); out: the gateway, for a route via one. */
  ipv6Dst: Ipv6Addr;
  /** Out: VLAN protocol of the egress device (offset 48, network order; 0: the kernel sets no VLAN). */
  vlanProto: u16;
  /** Out: VLAN TCI of the egress device (offset 50, network order). */
  vlanTci: u16;
  /** In: the routing table BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_TBID looks up (offset 48, aliases vlanProto/vlanTci; the lookup zeroes it). */
  tbid: u32;
  /** Out: source MAC for the next hop, 48 bits as a number (offset 52). */
  smac: u64;
  /** Out: destination MAC for the next hop, 48 bits as a number (offset 58). */
  dmac: u64;
}

/** Swaps the two bytes of a u16 (BPF_END; eBPF and Wasm hosts are little-endian). */
export declare function bswap16(x: u16): u16;
/** Swaps the four bytes of a u32. */
export declare function bswap32(x: u32): u32;
/** Swaps the eight bytes of a u64. */
export declare function bswap64(x: u64): u64;
/** Host to network order, 16 bits (= bswap16 on the hosts eBPF runs on). */
export declare function htons(x: u16): u16;
/** Host to network order, 32 bits. */
export declare function htonl(x: u32): u32;
/** Network to host order, 16 bits. */
export declare function ntohs(x: u16): u16;
/** Network to host order, 32 bits. */
export declare function ntohl(x: u32): u32;
/** bpf_csum_diff: the 32-bit partial sum of `to`'s words minus `from`'s, plus `seed` (structs, FixedArrays or header views of 4-byte multiples, or null; ≤ 512 bytes together). */
export declare function csumDiff(from: object | null, to: object | null, seed: u32): u32;
/** Folds a 32-bit partial sum to 16 bits and complements it: the checksum field's value. */
export declare function csumFold(sum: u32): u16;
/** RFC 1624: the checksum after one 16-bit word of the covered data changes from `old` to `now`. */
export declare function csumReplace16(check: u16, old: u16, now: u16): u16;
/** RFC 1624: the checksum after one 32-bit word (two 16-bit words) changes from `old` to `now`. */
export declare function csumReplace32(check: u16, old: u32, now: u32): u16;

/** Looks up the kernel's routing table (bpf_fib_lookup); fills `params` in place and returns a BPF_FIB_LKUP_RET_* code. */
export declare function fibLookup(
  ctx: XdpContext | TcContext,
  params: FibLookupParams,
  flags?: u32,
): u32;

/** fibLookup flag: look up the FIB table directly, skipping policy rules. */
export declare const BPF_FIB_LOOKUP_DIRECT = 1;
/** fibLookup flag: do the lookup from the egress perspective. */
export declare const BPF_FIB_LOOKUP_OUTPUT = 2;
/** fibLookup flag: stop before the neighbour table; smac and dmac are not set (e.g. for redirectNeigh). */
export declare const BPF_FIB_LOOKUP_SKIP_NEIGH = 4;
/** fibLookup flag, with BPF_FIB_LOOKUP_DIRECT: look up the table numbered `params.tbid` (0: main). */
export declare const BPF_FIB_LOOKUP_TBID = 8;
/** fibLookup flag: set ipv4Src/ipv6Src to the source address the kernel would use for the next hop (Linux ≥ 6.7). */
export declare const BPF_FIB_LOOKUP_SRC = 16;
/** fibLookup result: success; smac, dmac and ifindex are set. */
export declare const BPF_FIB_LKUP_RET_SUCCESS = 0;
/** fibLookup result: the destination is a blackhole route. */
export declare const BPF_FIB_LKUP_RET_BLACKHOLE = 1;
/** fibLookup result: the destination is unreachable. */
export declare const BPF_FIB_LKUP_RET_UNREACHABLE = 2;
/** fibLookup result: the destination is prohibited. */
export declare const BPF_FIB_LKUP_RET_PROHIBIT = 3;
/** fibLookup result: the packet is not forwarded (local delivery, broadcast, no route; IPv6 link-local, loopback or multicast addresses, …). */
export declare const BPF_FIB_LKUP_RET_NOT_FWDED = 4;
/** fibLookup result: forwarding is disabled on the ingress device. */
export declare const BPF_FIB_LKUP_RET_FWD_DISABLED = 5;
/** fibLookup result: the egress device is not supported for XDP. */
export declare const BPF_FIB_LKUP_RET_UNSUPP_LWT = 6;
/** fibLookup result: no neighbour entry for the next hop. */
export declare const BPF_FIB_LKUP_RET_NO_NEIGH = 7;
/** fibLookup result: the packet exceeds the egress MTU (see mtuResult). */
export declare const BPF_FIB_LKUP_RET_FRAG_NEEDED = 8;
/** fibLookup result: BPF_FIB_LOOKUP_SRC found no source address (IPv6 only); smac and dmac are not set. */
export declare const BPF_FIB_LKUP_RET_NO_SRC_ADDR = 9;

// ───────────────────────────── constants ─────────────────────────────

/** Address family IPv4 (for FibLookupParams.family). */
export declare const AF_INET = 2;
/** Address family IPv6 (for FibLookupParams.family). */
export declare const AF_INET6 = 10;

/** IP protocol number of ICMP. */
export declare const IPPROTO_ICMP = 1;
/** IP protocol number of TCP. */
export declare const IPPROTO_TCP = 6;
/** IP protocol number of UDP. */
export declare const IPPROTO_UDP = 17;
/** IP protocol number of ICMPv6. */
export declare const IPPROTO_ICMPV6 = 58;

/** EtherType of IPv4. */
export declare const ETH_P_IP = 0x0800;
/** EtherType of ARP. */
export declare const ETH_P_ARP = 0x0806;
/** EtherType of IPv6. */
export declare const ETH_P_IPV6 = 0x86dd;
/** EtherType of an 802.1Q VLAN tag. */
export declare const ETH_P_8021Q = 0x8100;
/** EtherType of an 802.1ad (QinQ service) VLAN tag. */
export declare const ETH_P_8021AD = 0x88a8;

/** TCP flag: no more data from sender. */
export declare const TCP_FIN = 0x01;
/** TCP flag: synchronise sequence numbers. */
export declare const TCP_SYN = 0x02;
/** TCP flag: reset the connection. */
export declare const TCP_RST = 0x04;
/** TCP flag: push function. */
export declare const TCP_PSH = 0x08;
/** TCP flag: the acknowledgement field is significant. */
export declare const TCP_ACK = 0x10;
/** TCP flag: the urgent pointer field is significant. */
export declare const TCP_URG = 0x20;
/** TCP flag: ECN echo. */
export declare const TCP_ECE = 0x40;
/** TCP flag: congestion window reduced. */
export declare const TCP_CWR = 0x80;

/** ICMP type: echo reply. */
export declare const ICMP_ECHO_REPLY = 0;
/** ICMP type: destination unreachable. */
export declare const ICMP_DEST_UNREACH = 3;
/** ICMP type: echo request. */
export declare const ICMP_ECHO_REQUEST = 8;
/** ICMP type: time exceeded. */
export declare const ICMP_TIME_EXCEEDED = 11;
/** ICMPv6 type: echo request. */
export declare const ICMPV6_ECHO_REQUEST = 128;
/** ICMPv6 type: echo reply. */
export declare const ICMPV6_ECHO_REPLY = 129;
