// Crafted frames for the real-world ports, aimed at what header views do not accept and
// the C originals do: wrong version nibbles, 3–5 VLAN tags, IPv6 extension-header
// chains, short ICMP, TTL / hop limit at the edge.
import { concat, inetChecksum } from "../../runtime/packets/build.ts";

const MACS = Uint8Array.of(2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1);
const be16 = (n: number) => Uint8Array.of(n >> 8, n & 0xff);

function ipv4Header(over: {
  version?: number;
  ihl?: number;
  ttl?: number;
  proto?: number;
  len?: number;
}) {
  const h = new Uint8Array(20);
  h[0] = ((over.version ?? 4) << 4) | (over.ihl ?? 5);
  h.set(be16(over.len ?? 48), 2);
  h[8] = over.ttl ?? 64;
  h[9] = over.proto ?? 17;
  h.set([198, 18, 0, 1, 198, 19, 0, 1], 12);
  h.set(be16(inetChecksum(h)), 10);
  return h;
}

function ipv6Header(over: { version?: number; next?: number; hop?: number; plen?: number }) {
  const h = new Uint8Array(40);
  h[0] = (over.version ?? 6) << 4;
  h[1] = 0x0a;
  h[3] = 0x05;
  h.set(be16(over.plen ?? 16), 4);
  h[6] = over.next ?? 17;
  h[7] = over.hop ?? 64;
  h.set([0x20, 0x01, 0x0d, 0xb8], 8);
  h[23] = 1;
  h.set([0x20, 0x01, 0x0d, 0xb8], 24);
  h[39] = 2;
  return h;
}

const udp = Uint8Array.of(0x30, 0x39, 0x00, 0x35, 0, 16, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8);
const tcp = Uint8Array.of(
  0x30,
  0x39,
  0,
  80,
  0,
  0,
  0,
  1,
  0,
  0,
  0,
  0,
  0x50,
  0x02,
  0xff,
  0xff,
  0,
  0,
  0,
  0,
);
const icmpEcho = Uint8Array.of(8, 0, 0xf7, 0xfe, 0, 1, 0, 1, 0xaa, 0xbb, 0xcc, 0xdd);
const icmp6Echo = Uint8Array.of(128, 0, 0x12, 0x34, 0, 1, 0, 1);

/** An extension header of `len8` 8-byte units after the first 8, naming `next`. */
const ext = (next: number, len8 = 0) => {
  const h = new Uint8Array(8 + len8 * 8);
  h[0] = next;
  h[1] = len8;
  return h;
};
const frag = (next: number) => Uint8Array.of(next, 0, 0, 0, 0, 0, 0, 7);

/** Ethernet + n tags (802.1ad outermost, then 802.1Q) + the inner EtherType. */
function tags(n: number, inner: number): Uint8Array {
  const out: Uint8Array[] = [MACS];
  for (let i = 0; i < n; i++) out.push(be16(i === 0 ? 0x88a8 : 0x8100), be16(100 + i));
  out.push(be16(inner));
  return concat(...out);
}

export interface Frame {
  name: string;
  data: Uint8Array;
}

export function craftedFrames(): Frame[] {
  const f: Frame[] = [];
  const eth = (type: number) => concat(MACS, be16(type));
  f.push({ name: "ipv4 udp", data: concat(eth(0x0800), ipv4Header({}), udp) });
  f.push({ name: "ipv4 tcp", data: concat(eth(0x0800), ipv4Header({ proto: 6, len: 40 }), tcp) });
  f.push({ name: "ipv4 ttl 1", data: concat(eth(0x0800), ipv4Header({ ttl: 1 }), udp) });
  f.push({ name: "ipv4 ttl 0", data: concat(eth(0x0800), ipv4Header({ ttl: 0 }), udp) });
  for (const v of [0, 5, 6, 15])
    f.push({
      name: `ipv4 ethertype, version ${v}`,
      data: concat(eth(0x0800), ipv4Header({ version: v }), udp),
    });
  f.push({ name: "ipv4 ihl 3", data: concat(eth(0x0800), ipv4Header({ ihl: 3 }), udp) });
  f.push({ name: "ipv4 ihl 15 short", data: concat(eth(0x0800), ipv4Header({ ihl: 15 }), udp) });
  f.push({ name: "ipv4 truncated", data: concat(eth(0x0800), ipv4Header({}).subarray(0, 19)) });
  f.push({
    name: "icmp echo",
    data: concat(eth(0x0800), ipv4Header({ proto: 1, len: 32 }), icmpEcho),
  });
  f.push({
    name: "short icmp (4 bytes)",
    data: concat(eth(0x0800), ipv4Header({ proto: 1, len: 24 }), icmpEcho.subarray(0, 4)),
  });
  f.push({ name: "ipv6 udp", data: concat(eth(0x86dd), ipv6Header({}), udp) });
  f.push({ name: "ipv6 hop limit 1", data: concat(eth(0x86dd), ipv6Header({ hop: 1 }), udp) });
  for (const v of [0, 4, 7])
    f.push({
      name: `ipv6 ethertype, version ${v}`,
      data: concat(eth(0x86dd), ipv6Header({ version: v }), udp),
    });
  f.push({ name: "ipv6 truncated", data: concat(eth(0x86dd), ipv6Header({}).subarray(0, 39)) });
  f.push({
    name: "icmp6 echo",
    data: concat(eth(0x86dd), ipv6Header({ next: 58, plen: 8 }), icmp6Echo),
  });
  f.push({
    name: "short icmp6 (4 bytes)",
    data: concat(eth(0x86dd), ipv6Header({ next: 58, plen: 4 }), icmp6Echo.subarray(0, 4)),
  });
  // Extension-header chains: hop-by-hop, routing, fragment, destination options.
  const chains: [string, Uint8Array[]][] = [
    ["hbh udp", [ext(17)]],
    ["hbh routing dstopts tcp", [ext(43), ext(60, 1), ext(6), tcp]],
    ["fragment udp", [frag(17)]],
    ["hbh fragment dstopts icmp6", [ext(44), frag(60), ext(58), icmp6Echo]],
    ["dstopts truncated", [ext(17, 3).subarray(0, 12)]],
  ];
  for (const [name, parts] of chains) {
    const first = [0, 43, 44, 60][
      ["hbh", "routing", "fragment", "dstopts"].indexOf(name.split(" ")[0]!)
    ]!;
    const body = concat(
      ...parts,
      parts.at(-1) === tcp || parts.at(-1) === icmp6Echo ? new Uint8Array(0) : udp,
    );
    f.push({
      name: `ipv6 ${name}`,
      data: concat(eth(0x86dd), ipv6Header({ next: first, plen: body.length }), body),
    });
  }
  for (const n of [1, 2, 3, 4, 5]) {
    f.push({
      name: `${n} vlan tags, ipv4 udp`,
      data: concat(tags(n, 0x0800), ipv4Header({}), udp),
    });
    f.push({
      name: `${n} vlan tags, ipv6 udp`,
      data: concat(tags(n, 0x86dd), ipv6Header({}), udp),
    });
  }
  f.push({
    name: "3 vlan tags, ipv4 tcp",
    data: concat(tags(3, 0x0800), ipv4Header({ proto: 6, len: 40 }), tcp),
  });
  f.push({ name: "4 vlan tags truncated", data: tags(4, 0x0800).subarray(0, 26) });
  const big = new Uint8Array(700 - 14 - 20);
  big.forEach((_, i) => (big[i] = i & 0xff));
  f.push({ name: "ipv4 700 bytes", data: concat(eth(0x0800), ipv4Header({ len: 686 }), big) });
  f.push({
    name: "ipv4 ethertype, version 6, 700 bytes",
    data: concat(eth(0x0800), ipv4Header({ version: 6, len: 686 }), big),
  });
  f.push({
    name: "ipv4 601 bytes",
    data: concat(eth(0x0800), ipv4Header({ len: 587 }), big.subarray(0, 567)),
  });
  f.push({ name: "arp", data: concat(eth(0x0806), new Uint8Array(28)) });
  f.push({ name: "eth only", data: eth(0x0800) });
  return f;
}
