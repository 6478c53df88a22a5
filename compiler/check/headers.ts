// Header views: the wire layout of every header field the accessors expose.
// Offsets are from the header start; multi-byte fields are big-endian on the wire
// and exposed in host order. Sub-byte fields carry a shift and mask within the
// loaded unit (e.g. ipv4 `ihl` = byte 0 & 0x0f, `flags` = (be16 at 6) >> 13 & 7).
import {
  fixedArray,
  u16,
  u32,
  u64,
  u8,
  type HeaderField,
  type HeaderKind,
  type HeaderType,
  type IntType,
  type Type,
} from "./types.ts";
import { SK_BUFF, XDP_MD } from "../uapi/bpf.ts";

export const ipv6AddrType = fixedArray(u8, 16);

function f(
  name: string,
  type: Type,
  offset: number,
  width: HeaderField["width"],
  bits?: { shift: number; mask: number },
  writable = true,
): HeaderField {
  return {
    name,
    type,
    offset,
    width,
    shift: bits?.shift ?? 0,
    mask: bits ? BigInt(bits.mask) : null,
    writable,
  };
}

function header(header: HeaderKind, name: string, size: number, fields: HeaderField[]): HeaderType {
  return Object.freeze({ kind: "header", header, name, size, fields: Object.freeze(fields) });
}

const RO = false;

const icmpFields = (): HeaderField[] => [
  f("type", u8, 0, 1),
  f("code", u8, 1, 1),
  f("checksum", u16, 2, 2),
  f("id", u16, 4, 2),
  f("seq", u16, 6, 2),
];

const icmpHeader = header("icmp", "IcmpHeader", 8, icmpFields());

export const headerTypes: Record<HeaderKind, HeaderType> = {
  eth: header("eth", "EthHeader", 14, [
    f("dst", u64, 0, 6),
    f("src", u64, 6, 6),
    f("proto", u16, 12, 2),
  ]),
  vlan: header("vlan", "VlanHeader", 4, [
    f("tci", u16, 0, 2),
    f("vid", u16, 0, 2, { shift: 0, mask: 0x0fff }),
    f("proto", u16, 2, 2),
  ]),
  ipv4: header("ipv4", "Ipv4Header", 20, [
    f("version", u8, 0, 1, { shift: 4, mask: 0xf }, RO),
    f("ihl", u8, 0, 1, { shift: 0, mask: 0xf }, RO),
    f("tos", u8, 1, 1),
    f("totalLength", u16, 2, 2),
    f("id", u16, 4, 2),
    f("flags", u8, 6, 2, { shift: 13, mask: 0x7 }),
    f("fragmentOffset", u16, 6, 2, { shift: 0, mask: 0x1fff }),
    f("ttl", u8, 8, 1),
    f("protocol", u8, 9, 1),
    f("checksum", u16, 10, 2),
    f("src", u32, 12, 4),
    f("dst", u32, 16, 4),
  ]),
  ipv6: header("ipv6", "Ipv6Header", 40, [
    f("version", u8, 0, 1, { shift: 4, mask: 0xf }, RO),
    f("trafficClass", u8, 0, 2, { shift: 4, mask: 0xff }),
    f("flowLabel", u32, 0, 4, { shift: 0, mask: 0xfffff }),
    f("payloadLength", u16, 4, 2),
    f("nextHeader", u8, 6, 1),
    f("hopLimit", u8, 7, 1),
    f("src", ipv6AddrType, 8, 16),
    f("dst", ipv6AddrType, 24, 16),
  ]),
  tcp: header("tcp", "TcpHeader", 20, [
    f("srcPort", u16, 0, 2),
    f("dstPort", u16, 2, 2),
    f("seq", u32, 4, 4),
    f("ack", u32, 8, 4),
    f("dataOffset", u8, 12, 1, { shift: 4, mask: 0xf }),
    f("flags", u8, 13, 1),
    f("window", u16, 14, 2),
    f("checksum", u16, 16, 2),
    f("urgent", u16, 18, 2),
  ]),
  udp: header("udp", "UdpHeader", 8, [
    f("srcPort", u16, 0, 2),
    f("dstPort", u16, 2, 2),
    f("length", u16, 4, 2),
    f("checksum", u16, 6, 2),
  ]),
  icmp: icmpHeader,
  // ICMPv6 shares the view type (stdlib: `icmp6(): IcmpHeader | null`).
  icmp6: icmpHeader,
};

/** Accessor names on XdpContext / XskPacket. */
export const headerKinds = Object.keys(headerTypes) as HeaderKind[];

export function headerField(h: HeaderType, name: string): HeaderField | undefined {
  return h.fields.find((x) => x.name === name);
}

/**
 * A scalar field of a program's context: its type and, in the kernel's context struct,
 * the offset of the u32 that holds it (`null`: computed, as XDP's `len`), whether the
 * program may store to it, and whether the kernel keeps it in network byte order.
 */
export interface ContextField {
  readonly type: IntType;
  readonly offset: number | null;
  readonly writable: boolean;
  readonly be16: boolean;
}

function cf(type: IntType, offset: number | null, writable = false, be16 = false): ContextField {
  return { type, offset, writable, be16 };
}

/** Scalar fields of XdpContext (struct xdp_md), TcContext (struct __sk_buff) and XskPacket. */
export const contextFields: Record<"xdp" | "tc" | "xsk", Readonly<Record<string, ContextField>>> = {
  xdp: {
    len: cf(u32, null),
    ifindex: cf(u32, XDP_MD.ingress_ifindex),
    rxQueue: cf(u32, XDP_MD.rx_queue_index),
  },
  tc: {
    len: cf(u32, SK_BUFF.len),
    ifindex: cf(u32, SK_BUFF.ifindex),
    ingressIfindex: cf(u32, SK_BUFF.ingress_ifindex),
    mark: cf(u32, SK_BUFF.mark, true),
    priority: cf(u32, SK_BUFF.priority, true),
    protocol: cf(u16, SK_BUFF.protocol, false, true),
    vlanPresent: cf(u32, SK_BUFF.vlan_present),
    vlanTci: cf(u16, SK_BUFF.vlan_tci),
    vlanProto: cf(u16, SK_BUFF.vlan_proto, false, true),
    hash: cf(u32, SK_BUFF.hash),
    pktType: cf(u32, SK_BUFF.pkt_type),
  },
  // A handler's packet is laid out as struct xdp_md by the Wasm ABI.
  xsk: { len: cf(u32, null), rxQueue: cf(u32, XDP_MD.rx_queue_index) },
};
