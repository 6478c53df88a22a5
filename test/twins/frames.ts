// Frames for the twins' behaviour checks as plain byte arrays, spelled out field by field
// (the packet builder is runtime/packets/build.ts; its checksum is used here). Everything
// big-endian, IPv4 and ICMP checksums real, UDP and TCP checksums zero.
import { inetChecksum as checksum } from "../../runtime/packets/build.ts";

export type Bytes = number[];

const be16 = (v: number): Bytes => [(v >> 8) & 0xff, v & 0xff];
const be32 = (v: number): Bytes => [
  (v >>> 24) & 0xff,
  (v >>> 16) & 0xff,
  (v >>> 8) & 0xff,
  v & 0xff,
];

/** Ones' complement sum of 16-bit words, folded and inverted (the runtime's). */
export function inetChecksum(b: Bytes): number {
  return checksum(Uint8Array.from(b));
}

export function ipv4Addr(s: string): number {
  return s.split(".").reduce((a, o) => a * 256 + Number(o), 0);
}

export function ipv6Addr(s: string): Bytes {
  const [head, tail] = s.split("::") as [string, string | undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const words = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t].map((w) =>
    parseInt(w, 16),
  );
  return words.flatMap(be16);
}

/** Ethernet header, then `tags` (TPID, TCI) VLAN tags, then EtherType. */
export function eth(type: number, tags: [number, number][] = []): Bytes {
  const out = [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01];
  for (const [tpid, tci] of tags) out.push(...be16(tpid), ...be16(tci));
  out.push(...be16(type));
  return out;
}

export interface V4 {
  src: string;
  dst: string;
  proto: number;
  ttl?: number;
  ihl?: number;
  flagsFrag?: number;
}

export function ipv4(o: V4, payload: Bytes): Bytes {
  const ihl = o.ihl ?? 5;
  const h = [
    0x40 | ihl,
    0,
    ...be16(ihl * 4 + payload.length),
    0x12,
    0x34,
    ...be16(o.flagsFrag ?? 0),
    o.ttl ?? 64,
    o.proto,
    0,
    0,
    ...be32(ipv4Addr(o.src)),
    ...be32(ipv4Addr(o.dst)),
  ];
  while (h.length < ihl * 4) h.push(1); // NOP options
  const c = inetChecksum(h);
  h[10] = c >> 8;
  h[11] = c & 0xff;
  return [...h, ...payload];
}

export function ipv6(src: string, dst: string, next: number, payload: Bytes, hop = 64): Bytes {
  return [
    0x60,
    0,
    0,
    0,
    ...be16(payload.length),
    next,
    hop,
    ...ipv6Addr(src),
    ...ipv6Addr(dst),
    ...payload,
  ];
}

export const udp = (sport: number, dport: number, data: Bytes = []): Bytes => [
  ...be16(sport),
  ...be16(dport),
  ...be16(8 + data.length),
  0,
  0,
  ...data,
];

export const tcp = (sport: number, dport: number, flags: number): Bytes => [
  ...be16(sport),
  ...be16(dport),
  ...be32(1000),
  ...be32(0),
  0x50,
  flags,
  ...be16(65535),
  0,
  0,
  0,
  0,
];

/** ICMP(v4) echo message with a correct checksum (ICMPv6 checksums are set by `icmp6Echo`). */
export function icmpEcho(type: number, id: number, seq: number, data: Bytes = []): Bytes {
  const m = [type, 0, 0, 0, ...be16(id), ...be16(seq), ...data];
  const c = inetChecksum(m);
  m[2] = c >> 8;
  m[3] = c & 0xff;
  return m;
}

/** A full IPv6 ICMPv6 echo packet body (IPv6 header + ICMPv6) with the pseudo-header checksum. */
export function ipv6Icmp6Echo(
  src: string,
  dst: string,
  type: number,
  id: number,
  seq: number,
  data: Bytes = [],
): Bytes {
  const m = [type, 0, 0, 0, ...be16(id), ...be16(seq), ...data];
  const pseudo = [...ipv6Addr(src), ...ipv6Addr(dst), ...be32(m.length), 0, 0, 0, 58];
  const c = inetChecksum([...pseudo, ...m]);
  m[2] = c >> 8;
  m[3] = c & 0xff;
  return ipv6(src, dst, 58, m);
}
