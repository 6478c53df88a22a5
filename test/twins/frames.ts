// Frames for the twins' behaviour checks as plain byte arrays (what the checks splice and
// compare), built with the runtime's packet builder (runtime/packets/build.ts). IPv4,
// ICMP and ICMPv6 checksums real; UDP and TCP checksums zero, as the twins ignore them.
import {
  ethHeader,
  inetChecksum as checksum,
  ipv4Header,
  ipv4ToU32,
  ipv6 as ipv6Bytes,
  ipv6Header,
  l4Segment,
  type L4Spec,
} from "../../runtime/packets/build.ts";

export type Bytes = number[];

const bytes = (b: Uint8Array): Bytes => Array.from(b);
/** The L4 segment alone; the addresses only matter for checksums these segments do not carry. */
const segment = (l4: L4Spec, data: Bytes): Bytes =>
  bytes(l4Segment({ kind: "ipv4" }, l4, Uint8Array.from(data)));

/** Ones' complement sum of 16-bit words, folded and inverted (the runtime's). */
export function inetChecksum(b: Bytes): number {
  return checksum(Uint8Array.from(b));
}

export function ipv4Addr(s: string): number {
  return ipv4ToU32(s);
}

export function ipv6Addr(s: string): Bytes {
  return bytes(ipv6Bytes(s));
}

/** Ethernet header (02:00:00:00:00:02 ← 02:00:00:00:00:01), `tags` (TPID, TCI) VLAN tags, EtherType. */
export function eth(type: number, tags: [number, number][] = []): Bytes {
  const vlans = tags.map(([tpid, tci]) => ({
    tpid,
    vid: tci & 0xfff,
    pcp: tci >> 13,
    dei: (tci & 0x1000) !== 0,
  }));
  return bytes(ethHeader({ dst: "02:00:00:00:00:02", src: "02:00:00:00:00:01", vlans }, type));
}

export interface V4 {
  src: string;
  dst: string;
  proto: number;
  ttl?: number;
  /** Header length in words; above 5 the header carries NOP options. */
  ihl?: number;
  /** The flags and fragment offset word. */
  flagsFrag?: number;
}

export function ipv4(o: V4, payload: Bytes): Bytes {
  const ihl = o.ihl ?? 5;
  const ff = o.flagsFrag ?? 0;
  const hdr = ipv4Header(
    {
      kind: "ipv4",
      src: o.src,
      dst: o.dst,
      ttl: o.ttl ?? 64,
      ihl,
      totalLength: ihl * 4 + payload.length, // as the header says, even when IHL is below 5
      options: new Uint8Array(Math.max(0, ihl - 5) * 4).fill(1),
      rf: (ff & 0x8000) !== 0,
      df: (ff & 0x4000) !== 0,
      mf: (ff & 0x2000) !== 0,
      fragOffset: ff & 0x1fff,
    },
    payload.length,
    o.proto,
  );
  return [...bytes(hdr), ...payload];
}

export function ipv6(src: string, dst: string, next: number, payload: Bytes, hop = 64): Bytes {
  return [
    ...bytes(ipv6Header({ kind: "ipv6", src, dst, hopLimit: hop }, payload.length, next)),
    ...payload,
  ];
}

export const udp = (sport: number, dport: number, data: Bytes = []): Bytes =>
  segment({ kind: "udp", sport, dport, checksum: 0 }, data);

export const tcp = (sport: number, dport: number, flags: number): Bytes =>
  segment({ kind: "tcp", sport, dport, flags, seq: 1000, ack: 0, window: 65535, checksum: 0 }, []);

/** ICMP(v4) echo message with a correct checksum. */
export function icmpEcho(type: number, id: number, seq: number, data: Bytes = []): Bytes {
  return segment({ kind: "icmp", type, code: 0, id, seq }, data);
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
  const l3 = { kind: "ipv6" as const, src, dst };
  const m = bytes(l4Segment(l3, { kind: "icmp6", type, code: 0, id, seq }, Uint8Array.from(data)));
  return ipv6(src, dst, 58, m);
}
