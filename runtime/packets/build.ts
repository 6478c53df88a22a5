// A small packet builder for the traffic generator and the demo: Ethernet + IPv4 +
// TCP/UDP/ICMP echo with correct checksums. (test/support/packets.ts is the full
// crafting kit for tests; the runtime may not import test code.)

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

export function parseMac(s: string): Uint8Array {
  const parts = s.split(":");
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p)))
    throw new Error(`bad MAC address '${s}'`);
  return new Uint8Array(parts.map((p) => parseInt(p, 16)));
}

export function parseIpv4(s: string): Uint8Array {
  const parts = s.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255))
    throw new Error(`bad IPv4 address '${s}'`);
  return new Uint8Array(parts.map(Number));
}

/** RFC 1071 ones'-complement sum of the parts, folded and inverted. */
export function inetChecksum(...parts: Uint8Array[]): number {
  let sum = 0;
  for (const p of parts) {
    for (let i = 0; i + 1 < p.length; i += 2) sum += (p[i]! << 8) | p[i + 1]!;
    if (p.length & 1) sum += p[p.length - 1]! << 8;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

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

/** The L4 header with a zero checksum (buildFrame fills it in). */
function l4Header(spec: FrameSpec, payloadLen: number): { proto: number; bytes: Uint8Array } {
  const l4 = spec.l4;
  let proto: number;
  let h: Uint8Array;
  if (l4.proto === "tcp") {
    proto = IPPROTO_TCP;
    h = new Uint8Array(20);
    const v = new DataView(h.buffer);
    v.setUint16(0, l4.sport);
    v.setUint16(2, l4.dport);
    v.setUint32(4, l4.seq ?? 1);
    v.setUint32(8, l4.ack ?? 0);
    h[12] = 5 << 4;
    h[13] = l4.flags & 0xff;
    v.setUint16(14, l4.window ?? 64240);
  } else if (l4.proto === "udp") {
    proto = IPPROTO_UDP;
    h = new Uint8Array(8);
    const v = new DataView(h.buffer);
    v.setUint16(0, l4.sport);
    v.setUint16(2, l4.dport);
    v.setUint16(4, 8 + payloadLen);
  } else {
    proto = IPPROTO_ICMP;
    h = new Uint8Array(8);
    const v = new DataView(h.buffer);
    h[0] = l4.type ?? 8;
    h[1] = l4.code ?? 0;
    v.setUint16(4, l4.id ?? 1);
    v.setUint16(6, l4.seq ?? 1);
  }
  return { proto, bytes: h };
}

/** One Ethernet/IPv4 frame with valid IPv4, TCP, UDP and ICMP checksums. */
export function buildFrame(spec: FrameSpec): Uint8Array {
  const payload = spec.payload ?? new Uint8Array(0);
  const src = parseIpv4(spec.src);
  const dst = parseIpv4(spec.dst);
  const { proto, bytes: l4 } = l4Header(spec, payload.length);
  const segLen = l4.length + payload.length;
  const seg = new Uint8Array(segLen);
  seg.set(l4);
  seg.set(payload, l4.length);
  const sv = new DataView(seg.buffer);
  if (proto === IPPROTO_ICMP) sv.setUint16(2, inetChecksum(seg));
  else {
    const pseudo = new Uint8Array(12);
    pseudo.set(src, 0);
    pseudo.set(dst, 4);
    pseudo[9] = proto;
    new DataView(pseudo.buffer).setUint16(10, segLen);
    const sum = inetChecksum(pseudo, seg);
    sv.setUint16(proto === IPPROTO_TCP ? 16 : 6, proto === IPPROTO_UDP && sum === 0 ? 0xffff : sum);
  }
  const ip = new Uint8Array(20);
  const iv = new DataView(ip.buffer);
  ip[0] = 0x45;
  iv.setUint16(2, 20 + segLen);
  iv.setUint16(4, spec.id ?? 0);
  iv.setUint16(6, 0x4000); // DF
  ip[8] = spec.ttl ?? 64;
  ip[9] = proto;
  ip.set(src, 12);
  ip.set(dst, 16);
  iv.setUint16(10, inetChecksum(ip));
  const len = Math.max(14 + 20 + segLen, spec.minLength ?? 60);
  const frame = new Uint8Array(len);
  frame.set(parseMac(spec.dstMac), 0);
  frame.set(parseMac(spec.srcMac), 6);
  frame[12] = 0x08;
  frame[13] = 0x00;
  frame.set(ip, 14);
  frame.set(seg, 34);
  return frame;
}
