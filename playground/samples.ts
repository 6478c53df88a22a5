// The built-in sample packets: a few crafted Ethernet frames that exercise the example
// filters (ICMP and ICMPv6 echo for icmp_echo, DNS over UDP for dns_policy, TCP SYN and
// RST for syn_guard and tcp_events, 802.1Q tags for vlan_filter) and frames every filter
// should pass (ARP, IPv6 UDP). Addresses are from the benchmarking ranges (198.18.0.0/15,
// 2001:2::/48). IPv4 frames come from the runtime's builder, the others are built here.
import {
  buildFrame,
  inetChecksum,
  mac,
  TCP_ACK,
  TCP_RST,
  TCP_SYN,
  type FrameSpec,
} from "../runtime/packets/build.ts";

export interface Packet {
  name: string;
  data: Uint8Array;
}

const MAC_A = "02:00:00:00:00:01";
const MAC_B = "02:00:00:00:00:02";
const V4_A = "198.18.0.1";
const V4_B = "198.18.0.2";

function v4(l4: FrameSpec["l4"], payload?: Uint8Array): Uint8Array {
  return buildFrame({ srcMac: MAC_A, dstMac: MAC_B, src: V4_A, dst: V4_B, l4, payload });
}

/** A DNS query for `name` (type A): 12-byte header, QR = 0, one question. */
function dnsQuery(name: string): Uint8Array {
  const labels = name.split(".").flatMap((l) => [l.length, ...new TextEncoder().encode(l)]);
  return new Uint8Array([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, 0, 1, 0, 1]);
}

/** A DNS response header (QR = 1, no records): reflection traffic when sent to port 53. */
function dnsResponse(): Uint8Array {
  return new Uint8Array([0x12, 0x34, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0]);
}

/** An 802.1Q tag with VLAN id `vid` inserted after the MAC addresses. */
function tagged(frame: Uint8Array, vid: number): Uint8Array {
  const out = new Uint8Array(frame.length + 4);
  out.set(frame.subarray(0, 12));
  out.set([0x81, 0x00, (vid >> 8) & 0x0f, vid & 0xff], 12);
  out.set(frame.subarray(12), 16);
  return out;
}

/** 2001:2::<last> */
function v6Addr(last: number): Uint8Array {
  const a = new Uint8Array(16);
  a[0] = 0x20;
  a[1] = 0x01;
  a[3] = 0x02;
  a[15] = last;
  return a;
}

/** Ethernet + IPv6 (hop limit 64) + an L4 segment whose checksum (at `csumAt`) is filled in. */
function v6(next: number, segment: Uint8Array, csumAt: number): Uint8Array {
  const src = v6Addr(1);
  const dst = v6Addr(2);
  const seg = segment.slice();
  const pseudo = new Uint8Array(40);
  pseudo.set(src, 0);
  pseudo.set(dst, 16);
  new DataView(pseudo.buffer).setUint32(32, seg.length);
  pseudo[39] = next;
  new DataView(seg.buffer).setUint16(csumAt, inetChecksum(pseudo, seg));
  const frame = new Uint8Array(14 + 40 + seg.length);
  frame.set(mac(MAC_B), 0);
  frame.set(mac(MAC_A), 6);
  frame.set([0x86, 0xdd], 12);
  const ip = new DataView(frame.buffer, 14, 40);
  ip.setUint32(0, 0x60000000);
  ip.setUint16(4, seg.length);
  ip.setUint8(6, next);
  ip.setUint8(7, 64);
  frame.set(src, 14 + 8);
  frame.set(dst, 14 + 24);
  frame.set(seg, 54);
  return frame;
}

function udp6(sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const seg = new Uint8Array(8 + payload.length);
  const v = new DataView(seg.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  v.setUint16(4, seg.length);
  seg.set(payload, 8);
  return v6(17, seg, 6);
}

function echo6(): Uint8Array {
  const seg = new Uint8Array(8 + 16);
  seg[0] = 128; // echo request
  new DataView(seg.buffer).setUint32(4, 0x00010001); // id 1, seq 1
  for (let i = 0; i < 16; i++) seg[8 + i] = i;
  return v6(58, seg, 2);
}

function arpRequest(): Uint8Array {
  const f = new Uint8Array(60);
  f.fill(0xff, 0, 6);
  f.set(mac(MAC_A), 6);
  f.set([0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1], 12);
  f.set(mac(MAC_A), 22);
  f.set([198, 18, 0, 1], 28);
  f.set([198, 18, 0, 2], 38);
  return f;
}

const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => i & 0xff);

export const SAMPLES: readonly Packet[] = [
  {
    name: "IPv4 ICMP echo request",
    data: v4({ proto: "icmp", type: 8, id: 1, seq: 1 }, pattern(32)),
  },
  {
    name: "IPv4 UDP DNS query to :53",
    data: v4({ proto: "udp", sport: 40000, dport: 53 }, dnsQuery("example.org")),
  },
  {
    name: "IPv4 UDP DNS response to :53",
    data: v4({ proto: "udp", sport: 40001, dport: 53 }, dnsResponse()),
  },
  {
    name: "IPv4 UDP from :53, 1400 bytes",
    data: v4({ proto: "udp", sport: 53, dport: 40000 }, pattern(1400 - 8)),
  },
  {
    name: "IPv4 TCP SYN to :80",
    data: v4({ proto: "tcp", sport: 40000, dport: 80, flags: TCP_SYN }),
  },
  {
    name: "IPv4 TCP SYN-ACK from :80",
    data: v4({ proto: "tcp", sport: 80, dport: 40000, flags: TCP_SYN | TCP_ACK }),
  },
  {
    name: "IPv4 TCP RST to :80",
    data: v4({ proto: "tcp", sport: 40000, dport: 80, flags: TCP_RST }),
  },
  { name: "IPv6 ICMPv6 echo request", data: echo6() },
  { name: "IPv6 UDP DNS query to :53", data: udp6(40000, 53, dnsQuery("example.org")) },
  { name: "ARP request", data: arpRequest() },
  {
    name: "VLAN 100, IPv4 UDP to :53",
    data: tagged(v4({ proto: "udp", sport: 40000, dport: 53 }, dnsQuery("example.org")), 100),
  },
  {
    name: "VLAN 200, IPv4 TCP SYN to :22",
    data: tagged(v4({ proto: "tcp", sport: 40000, dport: 22, flags: TCP_SYN }), 200),
  },
];

const ip4 = (b: Uint8Array, at: number) => Array.from(b.subarray(at, at + 4)).join(".");
function ip6(b: Uint8Array, at: number): string {
  const words = Array.from({ length: 8 }, (_, i) =>
    ((b[at + 2 * i]! << 8) | b[at + 2 * i + 1]!).toString(16),
  );
  return words
    .join(":")
    .replace(/(^|:)0(:0)+(:|$)/, "::")
    .replace(/:::+/, "::");
}

/** A one-line description of an Ethernet frame: VLAN tags, addresses, protocol, ports. */
export function describeFrame(b: Uint8Array): string {
  const parts: string[] = [];
  if (b.length < 14) return `runt frame (${b.length} bytes)`;
  let at = 12;
  let type = (b[at]! << 8) | b[at + 1]!;
  while ((type === 0x8100 || type === 0x88a8) && b.length >= at + 6) {
    parts.push(`VLAN ${((b[at + 2]! & 0x0f) << 8) | b[at + 3]!}`);
    at += 4;
    type = (b[at]! << 8) | b[at + 1]!;
  }
  at += 2;
  const l4 = (proto: number, off: number, src: string, dst: string, v6 = false) => {
    const port = (o: number) => (b[o]! << 8) | b[o + 1]!;
    const name = { 1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6" }[proto] ?? `proto ${proto}`;
    if ((proto === 6 || proto === 17) && b.length >= off + 4)
      return v6
        ? `${name} [${src}]:${port(off)} → [${dst}]:${port(off + 2)}`
        : `${name} ${src}:${port(off)} → ${dst}:${port(off + 2)}`;
    if ((proto === 1 || proto === 58) && b.length > off)
      return `${name} type ${b[off]} ${src} → ${dst}`;
    return `${name} ${src} → ${dst}`;
  };
  if (type === 0x0800 && b.length >= at + 20) {
    parts.push(l4(b[at + 9]!, at + (b[at]! & 0x0f) * 4, ip4(b, at + 12), ip4(b, at + 16)));
  } else if (type === 0x86dd && b.length >= at + 40) {
    parts.push(l4(b[at + 6]!, at + 40, ip6(b, at + 8), ip6(b, at + 24), true));
  } else if (type === 0x0806 && b.length >= at + 28) {
    const op = b[at + 7] === 1 ? "request" : b[at + 7] === 2 ? "reply" : `op ${b[at + 7]}`;
    parts.push(`ARP ${op} ${ip4(b, at + 14)} → ${ip4(b, at + 24)}`);
  } else parts.push(`ethertype 0x${type.toString(16).padStart(4, "0")}`);
  return parts.join(", ");
}
