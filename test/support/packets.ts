// Packet crafting for tests: a structured description (PacketSpec) turned into wire
// bytes by build(). Every length and checksum is correct by default and every one can
// be overridden, so tests can make exactly the malformed packet they mean.
// Addresses default to the benchmarking range 198.18.0.0/15 and documentation 2001:db8::/32.
import fc from "fast-check";
import { inetChecksum } from "../../runtime/packets/build.ts";

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
  if (parts.length !== 6) throw new Error(`bad MAC address ${s}`);
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

export function ipv4(s: string): Bytes {
  const parts = s.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`bad IPv4 address ${s}`);
  }
  return Uint8Array.from(parts);
}

export function ipv6(s: string): Bytes {
  const [head, tail, extra] = s.split("::");
  if (extra !== undefined) throw new Error(`bad IPv6 address ${s}`);
  const groups = (x: string | undefined) => (x ? x.split(":").map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const t = groups(tail);
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  const all = [...h, ...new Array<number>(fill).fill(0), ...t];
  if (all.length !== 8 || all.some((g) => !(g >= 0 && g <= 0xffff)))
    throw new Error(`bad IPv6 address ${s}`);
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

export function hex(b: Bytes): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

export function fromHex(s: string): Bytes {
  return new Uint8Array(Buffer.from(s.replace(/\s+/g, ""), "hex"));
}

/** RFC 1071 one's-complement checksum: the runtime's (one implementation for both). */
export { inetChecksum };

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

/** Every proper prefix of `pkt`, from `min` bytes up to `pkt.length - 1`. */
export function truncations(pkt: Bytes, min = 0): Bytes[] {
  const out: Bytes[] = [];
  for (let n = min; n < pkt.length; n++) out.push(pkt.slice(0, n));
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

// ---------------------------------------------------------------- crafted corpus

export interface CraftedPacket {
  /** What the packet is, e.g. "tcp4-syn" or "udp4-dns/trunc-33". */
  name: string;
  data: Bytes;
}

/** Deterministic PRNG (mulberry32) so the corpus is the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ascii = (s: string) => new TextEncoder().encode(s);

/**
 * The crafted corpus: typical packets with every truncation (down to `minLength`,
 * 14 by default because BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet
 * header), VLAN/QinQ, IPv4 options and bad IHL/version, fragments, IPv6, TCP flag
 * mixes, DNS over UDP, ICMP echo, ARP, and random bytes.
 */
export function craftedCorpus(
  opts: { minLength?: number; randomCount?: number; seed?: number } = {},
): CraftedPacket[] {
  const min = opts.minLength ?? 14;
  const out: CraftedPacket[] = [];
  const add = (name: string, data: Bytes) => {
    if (data.length >= min) out.push({ name, data });
  };
  const addWithTruncations = (name: string, data: Bytes) => {
    add(name, data);
    for (const t of truncations(data, min)) add(`${name}/trunc-${t.length}`, t);
  };

  const http = ascii("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
  const dns = dnsQuery("www.example.com");
  const icmpData = Uint8Array.from({ length: 32 }, (_, i) => 0x61 + (i % 23));

  // Typical packets, each with all its truncations.
  const typical: [string, PacketSpec][] = [
    [
      "tcp4-syn",
      {
        l4: {
          kind: "tcp",
          flags: TCP_SYN,
          options: fromHex("020405b4 0402 080a 00000001 00000000 01 030307"),
        },
      },
    ],
    ["tcp4-http", { l4: { kind: "tcp", flags: TCP_PSH | TCP_ACK, dport: 80 }, payload: http }],
    ["udp4-dns", { l4: { kind: "udp", dport: 53 }, payload: dns }],
    ["icmp4-echo-request", { l4: { kind: "icmp", type: 8 }, payload: icmpData }],
    ["tcp6-syn", { l3: { kind: "ipv6" }, l4: { kind: "tcp", flags: TCP_SYN } }],
    [
      "udp6-dns",
      {
        l3: { kind: "ipv6" },
        l4: { kind: "udp", dport: 53 },
        payload: dnsQuery("example.org", 28),
      },
    ],
    [
      "icmp6-echo-request",
      { l3: { kind: "ipv6" }, l4: { kind: "icmp6", type: 128 }, payload: icmpData },
    ],
    ["arp-request", { l3: { kind: "arp", op: 1 } }],
    [
      "vlan100-udp4-dns",
      { eth: { vlans: [{ vid: 100 }] }, l4: { kind: "udp", dport: 53 }, payload: dns },
    ],
    [
      "qinq-tcp4-syn",
      {
        eth: { vlans: [{ tpid: ETH_P_8021AD, vid: 10 }, { vid: 20 }] },
        l4: { kind: "tcp", flags: TCP_SYN },
      },
    ],
    [
      "ipv4-options-udp",
      { l3: { kind: "ipv4", options: fromHex("94040000") }, l4: { kind: "udp" }, payload: dns },
    ],
  ];
  for (const [name, spec] of typical) addWithTruncations(name, build(spec));

  // VLAN and QinQ over every L3.
  const tagSets: [string, VlanTag[]][] = [
    ["vlan", [{ vid: 1 }]],
    ["vlan-pcp", [{ vid: 4094, pcp: 7, dei: true }]],
    ["qinq", [{ tpid: ETH_P_8021AD, vid: 100 }, { vid: 200 }]],
    ["qinq-8100x2", [{ vid: 100 }, { vid: 200 }]],
    ["vlan-vid0", [{ vid: 0 }]],
  ];
  for (const [tn, vlans] of tagSets) {
    add(`${tn}-udp4`, build({ eth: { vlans }, l4: { kind: "udp", dport: 53 }, payload: dns }));
    add(`${tn}-tcp6`, build({ eth: { vlans }, l3: { kind: "ipv6" }, l4: { kind: "tcp" } }));
    add(`${tn}-arp`, build({ eth: { vlans }, l3: { kind: "arp" } }));
    add(`${tn}-icmp4`, build({ eth: { vlans }, l4: { kind: "icmp" }, payload: icmpData }));
  }
  // Three tags: deeper than filters usually parse.
  add(
    "vlan3-udp4",
    build({
      eth: { vlans: [{ tpid: ETH_P_8021AD, vid: 1 }, { vid: 2 }, { vid: 3 }] },
      l4: { kind: "udp" },
    }),
  );

  // IPv4 options and broken headers.
  const opts4: [string, Bytes][] = [
    ["nop", fromHex("01")],
    ["router-alert", fromHex("94040000")],
    ["record-route", fromHex("0707040000000000")],
    ["timestamp", fromHex("44 0c 05 00 00000000 00000000")],
    ["max-40", Uint8Array.from({ length: 40 }, () => 1)],
    ["eol-first", fromHex("00 01 01 01")],
  ];
  for (const [n, o] of opts4) {
    add(
      `ipv4-opt-${n}-udp`,
      build({ l3: { kind: "ipv4", options: o }, l4: { kind: "udp", dport: 53 }, payload: dns }),
    );
    add(
      `ipv4-opt-${n}-tcp`,
      build({ l3: { kind: "ipv4", options: o }, l4: { kind: "tcp", flags: TCP_SYN } }),
    );
  }
  for (let ihl = 0; ihl < 16; ihl++) {
    if (ihl === 5) continue;
    add(
      `ipv4-ihl-${ihl}-udp`,
      build({ l3: { kind: "ipv4", ihl }, l4: { kind: "udp" }, payload: dns }),
    );
  }
  for (const version of [0, 5, 6, 15]) {
    add(
      `ipv4-version-${version}`,
      build({ l3: { kind: "ipv4", version }, l4: { kind: "udp" }, payload: dns }),
    );
  }
  add(
    "ipv6-version-4",
    build({ l3: { kind: "ipv6", version: 4 }, l4: { kind: "udp" }, payload: dns }),
  );
  add(
    "ipv4-bad-checksum",
    build({ l3: { kind: "ipv4", checksum: 0xdead }, l4: { kind: "udp" }, payload: dns }),
  );
  add(
    "ipv4-totlen-short",
    build({ l3: { kind: "ipv4", totalLength: 20 }, l4: { kind: "udp" }, payload: dns }),
  );
  add(
    "ipv4-totlen-long",
    build({ l3: { kind: "ipv4", totalLength: 1500 }, l4: { kind: "udp" }, payload: dns }),
  );
  add("ipv4-ttl-0", build({ l3: { kind: "ipv4", ttl: 0 }, l4: { kind: "udp" } }));
  add("ipv4-ttl-1", build({ l3: { kind: "ipv4", ttl: 1 }, l4: { kind: "tcp" } }));
  add("ipv4-evil-bit", build({ l3: { kind: "ipv4", rf: true }, l4: { kind: "tcp" } }));
  add("ipv4-df", build({ l3: { kind: "ipv4", df: true }, l4: { kind: "tcp" } }));
  add(
    "ipv4-proto-gre",
    build({ l3: { kind: "ipv4", protocol: 47 }, payload: fromHex("00000800") }),
  );
  add("udp-len-short", build({ l4: { kind: "udp", length: 4 }, payload: dns }));
  add("udp-len-long", build({ l4: { kind: "udp", length: 9000 }, payload: dns }));
  add("udp-no-checksum", build({ l4: { kind: "udp", checksum: 0 }, payload: dns }));
  add("tcp-doff-4", build({ l4: { kind: "tcp", dataOffset: 4 }, payload: http }));
  add("tcp-doff-15", build({ l4: { kind: "tcp", dataOffset: 15 }, payload: http }));
  add("tcp-bad-checksum", build({ l4: { kind: "tcp", checksum: 0x0bad } }));

  // Fragments: first, middle, last (and a tiny first fragment that splits the TCP header).
  const bigUdp: PacketSpec = {
    l3: { kind: "ipv4", id: 0x7777 },
    l4: { kind: "udp", dport: 53 },
    payload: Uint8Array.from({ length: 100 }, (_, i) => i),
  };
  const frags = fragmentIpv4(bigUdp, 40);
  frags.forEach((f, i) =>
    add(`ipv4-frag-${i === 0 ? "first" : i === frags.length - 1 ? "last" : `middle-${i}`}`, f),
  );
  fragmentIpv4({ l4: { kind: "tcp", flags: TCP_SYN }, payload: http }, 8).forEach((f, i) =>
    add(`ipv4-tiny-frag-${i}`, f),
  );
  add(
    "ipv6-fragment-header",
    build({
      l3: { kind: "ipv6", nextHeader: 44 },
      payload: fromHex("11 00 0001 00000042 9c40 0035 0010 0000 0102030405060708"),
    }),
  );
  add(
    "ipv6-hop-by-hop",
    build({
      l3: { kind: "ipv6", nextHeader: 0 },
      payload: fromHex("11 00 05020000 0100 9c40 0035 0008 0000"),
    }),
  );

  // IPv6 variants.
  add("ipv6-no-next", build({ l3: { kind: "ipv6" } }));
  add(
    "ipv6-hop-limit-1",
    build({ l3: { kind: "ipv6", hopLimit: 1 }, l4: { kind: "udp" }, payload: dns }),
  );
  add(
    "ipv6-flow",
    build({ l3: { kind: "ipv6", trafficClass: 0xb8, flowLabel: 0xabcde }, l4: { kind: "tcp" } }),
  );
  add(
    "ipv6-paylen-long",
    build({ l3: { kind: "ipv6", payloadLength: 1400 }, l4: { kind: "udp" } }),
  );

  // TCP flag mixes, over both IP versions.
  const flagMixes: [string, number][] = [
    ["syn", TCP_SYN],
    ["syn-ack", TCP_SYN | TCP_ACK],
    ["ack", TCP_ACK],
    ["rst", TCP_RST],
    ["rst-ack", TCP_RST | TCP_ACK],
    ["fin", TCP_FIN],
    ["fin-ack", TCP_FIN | TCP_ACK],
    ["xmas", TCP_FIN | TCP_PSH | TCP_URG],
    ["null", 0],
    ["syn-fin", TCP_SYN | TCP_FIN],
    ["all", 0xff],
  ];
  for (const [n, flags] of flagMixes) {
    add(
      `tcp4-flags-${n}`,
      build({ l4: { kind: "tcp", flags, dport: 443, urgent: flags & TCP_URG ? 1 : 0 } }),
    );
    add(`tcp6-flags-${n}`, build({ l3: { kind: "ipv6" }, l4: { kind: "tcp", flags, dport: 22 } }));
  }

  // DNS queries over UDP.
  const names = ["example.com", "a.b.c.d.example.net", "x".repeat(63) + ".example", ""];
  names.forEach((n, i) => {
    for (const qtype of [1, 28, 255]) {
      add(
        `dns4-${i}-q${qtype}`,
        build({ l4: { kind: "udp", sport: 50000 + i, dport: 53 }, payload: dnsQuery(n, qtype, i) }),
      );
      add(
        `dns6-${i}-q${qtype}`,
        build({
          l3: { kind: "ipv6" },
          l4: { kind: "udp", dport: 53 },
          payload: dnsQuery(n, qtype, i),
        }),
      );
    }
  });
  add("dns4-response-port", build({ l4: { kind: "udp", sport: 53, dport: 50000 }, payload: dns }));

  // ICMP echo requests and replies.
  for (const size of [0, 8, 56, 1400]) {
    const data = Uint8Array.from({ length: size }, (_, i) => i & 0xff);
    add(
      `icmp4-request-${size}`,
      build({ l4: { kind: "icmp", type: 8, seq: size }, payload: data }),
    );
    add(`icmp4-reply-${size}`, build({ l4: { kind: "icmp", type: 0, seq: size }, payload: data }));
    add(
      `icmp6-request-${size}`,
      build({ l3: { kind: "ipv6" }, l4: { kind: "icmp6", type: 128 }, payload: data }),
    );
    add(
      `icmp6-reply-${size}`,
      build({ l3: { kind: "ipv6" }, l4: { kind: "icmp6", type: 129 }, payload: data }),
    );
  }
  add(
    "icmp4-unreachable",
    build({
      l4: { kind: "icmp", type: 3, code: 3 },
      payload: build({ eth: null, l4: { kind: "udp" } }),
    }),
  );

  // ARP.
  add(
    "arp-reply",
    build({
      l3: {
        kind: "arp",
        op: 2,
        sha: "02:00:00:00:00:02",
        spa: DEFAULT_DST4,
        tha: DEFAULT_SRC_MAC,
        tpa: DEFAULT_SRC4,
      },
    }),
  );
  add(
    "arp-gratuitous",
    build({
      eth: { dst: "ff:ff:ff:ff:ff:ff" },
      l3: { kind: "arp", op: 1, spa: "198.18.0.9", tpa: "198.18.0.9" },
    }),
  );

  // Other EtherTypes and addressing.
  add(
    "ethertype-lldp",
    build({
      eth: { dst: "01:80:c2:00:00:0e" },
      l3: { kind: "raw", etherType: 0x88cc },
      payload: new Uint8Array(32),
    }),
  );
  add(
    "ethertype-802.3-length",
    build({ l3: { kind: "raw", etherType: 0x0030 }, payload: new Uint8Array(48) }),
  );
  add(
    "broadcast-udp4",
    build({
      eth: { dst: "ff:ff:ff:ff:ff:ff" },
      l3: { kind: "ipv4", dst: "198.19.255.255" },
      l4: { kind: "udp", dport: 67 },
    }),
  );
  add(
    "multicast-udp6",
    build({
      eth: { dst: "33:33:00:00:00:01" },
      l3: { kind: "ipv6", dst: "ff02::1" },
      l4: { kind: "udp" },
    }),
  );
  add("jumbo-udp4", build({ l4: { kind: "udp" }, payload: new Uint8Array(8000).fill(0x5a) }));

  // Random bytes, and random bytes behind valid Ethernet+IP headers.
  const rnd = prng(opts.seed ?? 0x5eed);
  const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
  const count = opts.randomCount ?? 64;
  for (let i = 0; i < count; i++) {
    const n = min + Math.floor(rnd() * 200);
    add(`random-${i}`, randomBytes(n));
    const et = [ETH_P_IP, ETH_P_IPV6, ETH_P_8021Q, ETH_P_8021AD, ETH_P_ARP][i % 5]!;
    add(
      `random-after-ethertype-${et.toString(16)}-${i}`,
      concat(ethHeader({}, et), randomBytes(Math.floor(rnd() * 120))),
    );
  }
  return out;
}

// ---------------------------------------------------------------- fast-check

const arbV4 = fc
  .tuple(fc.constantFrom(198), fc.integer({ min: 18, max: 19 }), fc.nat(255), fc.nat(255))
  .map((p) => p.join("."));
const arbV6 = fc
  .array(fc.nat(0xffff), { minLength: 6, maxLength: 6 })
  .map((g) => ["2001", "db8", ...g.map((x) => x.toString(16))].join(":"));
const arbPort = fc.oneof(fc.constantFrom(53, 80, 443, 22, 123), fc.nat(0xffff));

/** Structured packets (valid by default, sometimes with overridden fields) for property tests. */
export function arbPacketSpec(): fc.Arbitrary<PacketSpec> {
  const vlan = fc.record({
    tpid: fc.constantFrom(ETH_P_8021Q, ETH_P_8021AD),
    vid: fc.nat(4095),
    pcp: fc.nat(7),
  });
  const eth = fc.record({ vlans: fc.array(vlan, { maxLength: 2 }) });
  const v4 = fc.record(
    {
      kind: fc.constant("ipv4" as const),
      src: arbV4,
      dst: arbV4,
      ttl: fc.nat(255),
      df: fc.boolean(),
      mf: fc.boolean(),
      fragOffset: fc.oneof(fc.constant(0), fc.nat(0x1fff)),
      options: fc.uint8Array({ maxLength: 40 }),
      ihl: fc.nat(15),
      version: fc.constantFrom(4, 4, 4, 6, 0),
    },
    { requiredKeys: ["kind", "src", "dst"] },
  );
  const v6 = fc.record(
    {
      kind: fc.constant("ipv6" as const),
      src: arbV6,
      dst: arbV6,
      hopLimit: fc.nat(255),
      flowLabel: fc.nat(0xfffff),
    },
    { requiredKeys: ["kind", "src", "dst"] },
  );
  const arp = fc.record({
    kind: fc.constant("arp" as const),
    op: fc.constantFrom(1 as const, 2 as const),
    spa: arbV4,
    tpa: arbV4,
  });
  const tcp = fc.record(
    {
      kind: fc.constant("tcp" as const),
      sport: arbPort,
      dport: arbPort,
      flags: fc.nat(255),
      seq: fc.nat(),
      options: fc.uint8Array({ maxLength: 40 }),
      dataOffset: fc.nat(15),
    },
    { requiredKeys: ["kind", "sport", "dport", "flags"] },
  );
  const udp = fc.record(
    { kind: fc.constant("udp" as const), sport: arbPort, dport: arbPort },
    { requiredKeys: ["kind"] },
  );
  const icmp = fc.record({
    kind: fc.constantFrom("icmp" as const),
    type: fc.constantFrom(0, 8, 3, 11),
  });
  const icmp6 = fc.record({
    kind: fc.constantFrom("icmp6" as const),
    type: fc.constantFrom(128, 129, 1, 135),
  });
  const payload = fc.uint8Array({ maxLength: 256 });
  return fc.oneof(
    fc.record({
      eth,
      l3: v4,
      l4: fc.option(fc.oneof(tcp, udp, icmp), { nil: undefined }),
      payload,
    }),
    fc.record({
      eth,
      l3: v6,
      l4: fc.option(fc.oneof(tcp, udp, icmp6), { nil: undefined }),
      payload,
    }),
    fc.record({ eth, l3: arp }),
  );
}

/** Wire bytes of arbitrary structured packets, optionally truncated at a random point. */
export function arbPacket(
  opts: { truncate?: boolean; minLength?: number } = {},
): fc.Arbitrary<Bytes> {
  const min = opts.minLength ?? 14;
  const whole = arbPacketSpec().map(build);
  if (!opts.truncate) return whole;
  return fc
    .tuple(whole, fc.double({ min: 0, max: 1, noNaN: true }))
    .map(([p, f]) => p.slice(0, Math.max(Math.min(min, p.length), Math.round(p.length * f))));
}
