// Packets as bytes: a structured description (PacketSpec) turned into wire bytes by
// build(), for the traffic generator, the demo and every test that crafts a packet (the
// one builder; test/support/corpus.ts builds its corpora with it). Every length and
// checksum is correct by default and every one can be overridden, so a test can make
// exactly the malformed packet it means. buildFrame() is the generator's shorthand for
// one Ethernet/IPv4 frame. Addresses default to the benchmarking range 198.18.0.0/15
// and documentation 2001:db8::/32.

export type Bytes = Uint8Array;

export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_8021Q = 0x8100;
export const ETH_P_8021AD = 0x88a8;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

export const DEFAULT_SRC4 = "198.18.0.1";
export const DEFAULT_DST4 = "198.19.0.1";
export const DEFAULT_SRC6 = "2001:db8::1";
export const DEFAULT_DST6 = "2001:db8::2";
export const DEFAULT_SRC_MAC = "02:00:00:00:00:01";
export const DEFAULT_DST_MAC = "02:00:00:00:00:02";

export interface VlanTag {
  /** 0x8100 (802.1Q) by default; 0x88a8 for the outer tag of QinQ. */
  tpid?: number;
  vid: number;
  pcp?: number;
  dei?: boolean;
}

export interface EthSpec {
  dst?: string;
  src?: string;
  /** Outermost first; at most two in the generated corpus, any number accepted here. */
  vlans?: VlanTag[];
  /** Overrides the EtherType derived from the L3 header. */
  type?: number;
}

export interface Ipv4Spec {
  kind: "ipv4";
  src?: string;
  dst?: string;
  tos?: number;
  id?: number;
  ttl?: number;
  /** Derived from the L4 header when absent. */
  protocol?: number;
  df?: boolean;
  mf?: boolean;
  /** The reserved ("evil") bit. */
  rf?: boolean;
  /** Fragment offset in 8-byte units. */
  fragOffset?: number;
  /** Raw option bytes, padded with zeros (EOL) to a multiple of 4. */
  options?: Bytes;
  /** Overrides: written as given, even when wrong. */
  version?: number;
  ihl?: number;
  totalLength?: number;
  checksum?: number;
}

export interface Ipv6Spec {
  kind: "ipv6";
  src?: string;
  dst?: string;
  trafficClass?: number;
  flowLabel?: number;
  hopLimit?: number;
  /** Derived from the L4 header when absent. */
  nextHeader?: number;
  payloadLength?: number;
  version?: number;
}

export interface ArpSpec {
  kind: "arp";
  op?: 1 | 2;
  sha?: string;
  spa?: string;
  tha?: string;
  tpa?: string;
}

export interface TcpSpec {
  kind: "tcp";
  sport?: number;
  dport?: number;
  seq?: number;
  ack?: number;
  flags?: number;
  window?: number;
  urgent?: number;
  /** Raw option bytes, padded with zeros (EOL) to a multiple of 4. */
  options?: Bytes;
  dataOffset?: number;
  checksum?: number;
}

export interface UdpSpec {
  kind: "udp";
  sport?: number;
  dport?: number;
  length?: number;
  checksum?: number;
}

export interface IcmpEchoSpec {
  /** "icmp" is ICMPv4 (echo request 8 / reply 0), "icmp6" is ICMPv6 (128 / 129). */
  kind: "icmp" | "icmp6";
  type?: number;
  code?: number;
  id?: number;
  seq?: number;
  checksum?: number;
}

export type L3Spec = Ipv4Spec | Ipv6Spec | ArpSpec | { kind: "raw"; etherType: number };
export type L4Spec = TcpSpec | UdpSpec | IcmpEchoSpec;

export interface PacketSpec {
  /** Ethernet header; present unless `eth === null` (then build() returns the L3 packet alone). */
  eth?: EthSpec | null;
  l3?: L3Spec;
  l4?: L4Spec;
  payload?: Bytes;
}

// ---------------------------------------------------------------- addresses

export function mac(s: string): Bytes {
  const parts = s.split(":");
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p)))
    throw new Error(`bad MAC address '${s}'`);
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

export function ipv4(s: string): Bytes {
  const parts = s.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255))
    throw new Error(`bad IPv4 address '${s}'`);
  return Uint8Array.from(parts, Number);
}

export function ipv6(s: string): Bytes {
  const [head, tail, extra] = s.split("::");
  if (extra !== undefined) throw new Error(`bad IPv6 address '${s}'`);
  const groups = (x: string | undefined) => (x ? x.split(":").map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const t = groups(tail);
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  const all = [...h, ...new Array<number>(fill).fill(0), ...t];
  if (all.length !== 8 || all.some((g) => !(g >= 0 && g <= 0xffff)))
    throw new Error(`bad IPv6 address '${s}'`);
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** IPv4 address as a host-order u32 (how filters compare addresses after a byte swap). */
export function ipv4ToU32(s: string): number {
  const b = ipv4(s);
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

// ---------------------------------------------------------------- bytes and checksums

export function concat(...parts: Bytes[]): Bytes {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

// Hex without Buffer: the browser playground bundles this file (playground/tsconfig.json
// type-checks it without Node's types).
export function hex(b: Bytes): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** Whitespace is ignored; like Buffer.from(s, "hex"), the bytes stop at the first pair that is not hex. */
export function fromHex(s: string): Bytes {
  const t = s.replace(/\s+/g, "");
  const out = new Uint8Array(t.length >> 1);
  for (let i = 0; i < out.length; i++) {
    const pair = t.slice(2 * i, 2 * i + 2);
    if (!/^[0-9a-fA-F]{2}$/.test(pair)) return out.slice(0, i);
    out[i] = parseInt(pair, 16);
  }
  return out;
}

/** RFC 1071 ones'-complement sum of the parts, folded and inverted (0 over bytes that include a correct checksum). */
export function inetChecksum(...parts: Bytes[]): number {
  let sum = 0;
  for (const p of parts) {
    for (let i = 0; i + 1 < p.length; i += 2) sum += (p[i]! << 8) | p[i + 1]!;
    if (p.length & 1) sum += p[p.length - 1]! << 8;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

const u16 = (v: number) => Uint8Array.of((v >> 8) & 0xff, v & 0xff);
const u32 = (v: number) =>
  Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
const put16 = (b: Bytes, at: number, v: number) => b.set(u16(v), at);
const pad4 = (b: Bytes) => (b.length % 4 ? concat(b, new Uint8Array(4 - (b.length % 4))) : b);

// ---------------------------------------------------------------- headers

export function ethHeader(spec: EthSpec, etherType: number): Bytes {
  const tags = (spec.vlans ?? []).map((v, i, all) => {
    // The TPID of a tag is the EtherType field before it; the last tag carries the L3 type.
    const tci = ((v.pcp ?? 0) << 13) | (v.dei ? 0x1000 : 0) | (v.vid & 0xfff);
    const next = i + 1 < all.length ? (all[i + 1]!.tpid ?? ETH_P_8021Q) : (spec.type ?? etherType);
    return concat(u16(tci), u16(next));
  });
  const first = spec.vlans?.length
    ? (spec.vlans[0]!.tpid ?? ETH_P_8021Q)
    : (spec.type ?? etherType);
  return concat(
    mac(spec.dst ?? DEFAULT_DST_MAC),
    mac(spec.src ?? DEFAULT_SRC_MAC),
    u16(first),
    ...tags,
  );
}

function l4Protocol(l4: L4Spec | undefined): number {
  if (!l4) return 59; // IPv6 "no next header"; harmless for IPv4
  switch (l4.kind) {
    case "tcp":
      return IPPROTO_TCP;
    case "udp":
      return IPPROTO_UDP;
    case "icmp":
      return IPPROTO_ICMP;
    case "icmp6":
      return IPPROTO_ICMPV6;
  }
}

export function ipv4Header(spec: Ipv4Spec, payloadLength: number, protocol: number): Bytes {
  const options = pad4(spec.options ?? new Uint8Array(0));
  const hdr = new Uint8Array(20 + options.length);
  const ihl = spec.ihl ?? hdr.length / 4;
  hdr[0] = ((spec.version ?? 4) << 4) | (ihl & 0xf);
  hdr[1] = spec.tos ?? 0;
  put16(hdr, 2, spec.totalLength ?? hdr.length + payloadLength);
  put16(hdr, 4, spec.id ?? 0x1234);
  const flags = (spec.rf ? 0x8000 : 0) | (spec.df ? 0x4000 : 0) | (spec.mf ? 0x2000 : 0);
  put16(hdr, 6, flags | ((spec.fragOffset ?? 0) & 0x1fff));
  hdr[8] = spec.ttl ?? 64;
  hdr[9] = spec.protocol ?? protocol;
  hdr.set(ipv4(spec.src ?? DEFAULT_SRC4), 12);
  hdr.set(ipv4(spec.dst ?? DEFAULT_DST4), 16);
  hdr.set(options, 20);
  put16(hdr, 10, spec.checksum ?? inetChecksum(hdr));
  return hdr;
}

export function ipv6Header(spec: Ipv6Spec, payloadLength: number, nextHeader: number): Bytes {
  const hdr = new Uint8Array(40);
  const tc = spec.trafficClass ?? 0;
  const fl = spec.flowLabel ?? 0;
  hdr.set(u32((((spec.version ?? 6) & 0xf) << 28) | ((tc & 0xff) << 20) | (fl & 0xfffff)), 0);
  put16(hdr, 4, spec.payloadLength ?? payloadLength);
  hdr[6] = spec.nextHeader ?? nextHeader;
  hdr[7] = spec.hopLimit ?? 64;
  hdr.set(ipv6(spec.src ?? DEFAULT_SRC6), 8);
  hdr.set(ipv6(spec.dst ?? DEFAULT_DST6), 24);
  return hdr;
}

export function arpPacket(spec: ArpSpec): Bytes {
  return concat(
    u16(1), // Ethernet
    u16(ETH_P_IP),
    Uint8Array.of(6, 4),
    u16(spec.op ?? 1),
    mac(spec.sha ?? DEFAULT_SRC_MAC),
    ipv4(spec.spa ?? DEFAULT_SRC4),
    mac(spec.tha ?? "00:00:00:00:00:00"),
    ipv4(spec.tpa ?? DEFAULT_DST4),
  );
}

/** The L4 header with a zero checksum field, and where that field is. */
function l4Header(l4: L4Spec, payloadLength: number): { hdr: Bytes; csumAt: number } {
  switch (l4.kind) {
    case "tcp": {
      const options = pad4(l4.options ?? new Uint8Array(0));
      const hdr = new Uint8Array(20 + options.length);
      put16(hdr, 0, l4.sport ?? 40000);
      put16(hdr, 2, l4.dport ?? 80);
      hdr.set(u32(l4.seq ?? 1), 4);
      hdr.set(u32(l4.ack ?? 0), 8);
      hdr[12] = ((l4.dataOffset ?? hdr.length / 4) & 0xf) << 4;
      hdr[13] = l4.flags ?? TCP_SYN;
      put16(hdr, 14, l4.window ?? 65535);
      put16(hdr, 18, l4.urgent ?? 0);
      hdr.set(options, 20);
      return { hdr, csumAt: 16 };
    }
    case "udp": {
      const hdr = new Uint8Array(8);
      put16(hdr, 0, l4.sport ?? 40000);
      put16(hdr, 2, l4.dport ?? 53);
      put16(hdr, 4, l4.length ?? 8 + payloadLength);
      return { hdr, csumAt: 6 };
    }
    case "icmp":
    case "icmp6": {
      const six = l4.kind === "icmp6";
      const hdr = new Uint8Array(8);
      hdr[0] = l4.type ?? (six ? 128 : 8);
      hdr[1] = l4.code ?? 0;
      put16(hdr, 4, l4.id ?? 0x4242);
      put16(hdr, 6, l4.seq ?? 1);
      return { hdr, csumAt: 2 };
    }
  }
}

function pseudoHeader(l3: Ipv4Spec | Ipv6Spec, protocol: number, length: number): Bytes {
  if (l3.kind === "ipv4") {
    return concat(
      ipv4(l3.src ?? DEFAULT_SRC4),
      ipv4(l3.dst ?? DEFAULT_DST4),
      Uint8Array.of(0, protocol),
      u16(length),
    );
  }
  return concat(
    ipv6(l3.src ?? DEFAULT_SRC6),
    ipv6(l3.dst ?? DEFAULT_DST6),
    u32(length),
    Uint8Array.of(0, 0, 0, protocol),
  );
}

/**
 * L4 segment (header + payload) with its checksum: TCP/UDP/ICMPv6 over the pseudo
 * header, ICMPv4 over the message only. A UDP checksum of 0 is sent as 0xffff.
 */
export function l4Segment(l3: Ipv4Spec | Ipv6Spec, l4: L4Spec, payload: Bytes): Bytes {
  const { hdr, csumAt } = l4Header(l4, payload.length);
  const seg = concat(hdr, payload);
  let csum = l4.checksum;
  if (csum === undefined) {
    const proto = l4Protocol(l4);
    csum =
      l4.kind === "icmp"
        ? inetChecksum(seg)
        : inetChecksum(pseudoHeader(l3, proto, seg.length), seg);
    if (l4.kind === "udp" && csum === 0) csum = 0xffff;
  }
  put16(seg, csumAt, csum);
  return seg;
}

/** Wire bytes of a packet description. */
export function build(spec: PacketSpec): Bytes {
  const payload = spec.payload ?? new Uint8Array(0);
  const l3 = spec.l3 ?? { kind: "ipv4" };
  let body: Bytes;
  let etherType: number;
  switch (l3.kind) {
    case "ipv4":
    case "ipv6": {
      const v6 = l3.kind === "ipv6";
      const seg = spec.l4 ? l4Segment(l3, spec.l4, payload) : payload;
      const proto = l4Protocol(spec.l4);
      body = v6
        ? concat(ipv6Header(l3, seg.length, proto), seg)
        : concat(ipv4Header(l3, seg.length, proto), seg);
      etherType = v6 ? ETH_P_IPV6 : ETH_P_IP;
      break;
    }
    case "arp":
      body = concat(arpPacket(l3), payload);
      etherType = ETH_P_ARP;
      break;
    case "raw":
      body = payload;
      etherType = l3.etherType;
      break;
  }
  if (spec.eth === null) return body;
  return concat(ethHeader(spec.eth ?? {}, etherType), body);
}

/**
 * Splits an IPv4 datagram into fragments of at most `chunk` payload bytes (rounded
 * down to a multiple of 8), each with a correct header: first (MF, offset 0), middle
 * (MF) and last (no MF). The L4 checksum covers the whole datagram, as on the wire.
 */
export function fragmentIpv4(spec: PacketSpec, chunk: number): Bytes[] {
  const l3 = spec.l3 ?? { kind: "ipv4" };
  if (l3.kind !== "ipv4") throw new Error(`fragmentIpv4 needs an IPv4 packet, not ${l3.kind}`);
  const payload = spec.payload ?? new Uint8Array(0);
  const seg = spec.l4 ? l4Segment(l3, spec.l4, payload) : payload;
  const proto = l3.protocol ?? l4Protocol(spec.l4);
  const step = Math.max(8, chunk & ~7);
  const out: Bytes[] = [];
  for (let off = 0; off < seg.length || off === 0; off += step) {
    const part = seg.subarray(off, off + step);
    const last = off + step >= seg.length;
    const hdr = ipv4Header({ ...l3, mf: !last || l3.mf, fragOffset: off / 8 }, part.length, proto);
    const eth = spec.eth === null ? new Uint8Array(0) : ethHeader(spec.eth ?? {}, ETH_P_IP);
    out.push(concat(eth, hdr, part));
    if (seg.length === 0) break;
  }
  return out;
}

/** A DNS query message (RFC 1035): header with RD set, one question. */
export function dnsQuery(name: string, qtype = 1, id = 0x1234): Bytes {
  const labels = name
    .split(".")
    .filter((l) => l.length > 0)
    .map((l) => concat(Uint8Array.of(l.length), new TextEncoder().encode(l)));
  return concat(
    u16(id),
    u16(0x0100),
    u16(1),
    u16(0),
    u16(0),
    u16(0),
    ...labels,
    Uint8Array.of(0),
    u16(qtype),
    u16(1),
  );
}

// ---------------------------------------------------------------- convenience

export const tcp4 = (
  l4: Omit<TcpSpec, "kind"> = {},
  l3: Omit<Ipv4Spec, "kind"> = {},
  payload?: Bytes,
): Bytes => build({ l3: { kind: "ipv4", ...l3 }, l4: { kind: "tcp", ...l4 }, payload });
export const udp4 = (
  l4: Omit<UdpSpec, "kind"> = {},
  l3: Omit<Ipv4Spec, "kind"> = {},
  payload?: Bytes,
): Bytes => build({ l3: { kind: "ipv4", ...l3 }, l4: { kind: "udp", ...l4 }, payload });
export const tcp6 = (
  l4: Omit<TcpSpec, "kind"> = {},
  l3: Omit<Ipv6Spec, "kind"> = {},
  payload?: Bytes,
): Bytes => build({ l3: { kind: "ipv6", ...l3 }, l4: { kind: "tcp", ...l4 }, payload });
export const udp6 = (
  l4: Omit<UdpSpec, "kind"> = {},
  l3: Omit<Ipv6Spec, "kind"> = {},
  payload?: Bytes,
): Bytes => build({ l3: { kind: "ipv6", ...l3 }, l4: { kind: "udp", ...l4 }, payload });

// ---------------------------------------------------------------- the generator's frames

export interface FrameSpec {
  srcMac: string;
  dstMac: string;
  src: string;
  dst: string;
  ttl?: number;
  /** IPv4 identification (default 0). */
  id?: number;
  l4:
    | {
        proto: "tcp";
        sport: number;
        dport: number;
        flags: number;
        seq?: number;
        ack?: number;
        window?: number;
      }
    | { proto: "udp"; sport: number; dport: number }
    | { proto: "icmp"; type?: number; code?: number; id?: number; seq?: number };
  payload?: Uint8Array;
  /** Pad the frame with zeros to at least this length (without FCS); default 60, the Ethernet minimum. */
  minLength?: number;
}

/**
 * One Ethernet/IPv4 frame (DF set, identification 0 unless given, TTL 64) with valid
 * checksums, padded with zeros to `minLength`: build() with the generator's defaults.
 */
export function buildFrame(spec: FrameSpec): Bytes {
  const l4 = spec.l4;
  const l4Spec: L4Spec =
    l4.proto === "tcp"
      ? {
          kind: "tcp",
          sport: l4.sport,
          dport: l4.dport,
          flags: l4.flags & 0xff,
          seq: l4.seq ?? 1,
          ack: l4.ack ?? 0,
          window: l4.window ?? 64240,
        }
      : l4.proto === "udp"
        ? { kind: "udp", sport: l4.sport, dport: l4.dport }
        : {
            kind: "icmp",
            type: l4.type ?? 8,
            code: l4.code ?? 0,
            id: l4.id ?? 1,
            seq: l4.seq ?? 1,
          };
  const packet = build({
    eth: { src: spec.srcMac, dst: spec.dstMac },
    l3: {
      kind: "ipv4",
      src: spec.src,
      dst: spec.dst,
      ttl: spec.ttl ?? 64,
      id: spec.id ?? 0,
      df: true,
    },
    l4: l4Spec,
    payload: spec.payload,
  });
  const min = spec.minLength ?? 60;
  if (packet.length >= min) return packet;
  const frame = new Uint8Array(min);
  frame.set(packet);
  return frame;
}
