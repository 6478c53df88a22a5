// Everything the "xdpc" module exports (stdlib/index.d.ts), as the checker sees it.
// A filter must import a name before using it, exactly as tsc requires.
import { headerTypes, ipv6AddrType } from "./headers.ts";
import type { HelperName } from "./result.ts";
import * as uapi from "../uapi/bpf.ts";
import {
  boolType,
  contextType,
  i16,
  i32,
  i64,
  i8,
  u16,
  u32,
  u64,
  u8,
  xdpActionType,
  tcActionType,
  tcContextType,
  xskPacketType,
  xskVerdictType,
  sizeAlign,
  type HeaderField,
  type MapKind,
  type StructField,
  type StructType,
  type Type,
} from "./types.ts";

export type Builtin =
  | { kind: "type"; type: Type }
  | { kind: "generic"; name: "FixedArray" }
  | { kind: "const"; type: Type; value: bigint }
  | { kind: "fn"; name: HelperName }
  | { kind: "mapClass"; mapKind: MapKind; typeArgs: number }
  /** Declared by stdlib for tsc's sake (interfaces of options, etc.); not usable in code. */
  | { kind: "typeOnly" };

/** struct bpf_fib_lookup (64 bytes). Network-order fields carry a `wire` description; unions alias. */
function fibField(
  name: string,
  type: Type,
  offset: number,
  net?: HeaderField["width"],
): StructField {
  const size = sizeAlign(type).size;
  const wire: HeaderField | undefined = net
    ? { name, type, offset, width: net, shift: 0, mask: null, writable: true }
    : undefined;
  return { name, type, offset, size: net ?? size, ...(wire ? { wire } : {}) };
}
/** The cursor of ctx.skipIpv6Ext(): the frame offset of a header and its protocol number. */
export const ipv6ChainType: StructType = Object.freeze({
  kind: "struct",
  name: "Ipv6Chain",
  size: 8,
  align: 4,
  fields: [fibField("offset", u32, 0), fibField("nextHeader", u8, 4)],
});
export const fibLookupParamsType: StructType = Object.freeze({
  kind: "struct",
  name: "FibLookupParams",
  size: 64,
  align: 4,
  fields: [
    fibField("family", u8, 0),
    fibField("l4Protocol", u8, 1),
    fibField("sport", u16, 2, 2),
    fibField("dport", u16, 4, 2),
    fibField("totLen", u16, 6),
    fibField("mtuResult", u16, 6),
    fibField("ifindex", u32, 8),
    fibField("tos", u8, 12),
    fibField("flowinfo", u32, 12, 4),
    fibField("rtMetric", u32, 12),
    fibField("ipv4Src", u32, 16, 4),
    fibField("ipv4Dst", u32, 32, 4),
    fibField("ipv6Src", ipv6AddrType, 16),
    fibField("ipv6Dst", ipv6AddrType, 32),
    fibField("vlanProto", u16, 48, 2),
    fibField("vlanTci", u16, 50, 2),
    fibField("tbid", u32, 48),
    fibField("smac", u64, 52, 6),
    fibField("dmac", u64, 58, 6),
  ],
});

const table = new Map<string, Builtin>();

function type(name: string, t: Type): void {
  table.set(name, { kind: "type", type: t });
}
function konst(name: string, t: Type, value: number | bigint): void {
  table.set(name, { kind: "const", type: t, value: BigInt(value) });
}

for (const [n, t] of Object.entries({ u8, u16, u32, u64, i8, i16, i32, i64 })) type(n, t);
type("bool", boolType);
type("XdpContext", contextType);
type("XdpAction", xdpActionType);
type("TcContext", tcContextType);
type("TcAction", tcActionType);
type("XskPacket", xskPacketType);
type("XskVerdict", xskVerdictType);
type("Ipv6Addr", ipv6AddrType);
for (const h of Object.values(headerTypes)) type(h.name, h);
table.set("FixedArray", { kind: "generic", name: "FixedArray" });

const mapClasses: [MapKind, number][] = [
  ["ArrayMap", 1],
  ["PerCpuArray", 1],
  ["HashMap", 2],
  ["PerCpuHash", 2],
  ["LruHash", 2],
  ["LruPerCpuHash", 2],
  ["LpmTrie", 2],
  ["DevMap", 0],
  ["DevMapHash", 0],
  ["CpuMap", 0],
  ["XskMap", 0],
  ["RingBuf", 1],
];
for (const [k, n] of mapClasses) table.set(k, { kind: "mapClass", mapKind: k, typeArgs: n });

konst("XDP_ABORTED", xdpActionType, uapi.XDP_ABORTED);
konst("XDP_DROP", xdpActionType, uapi.XDP_DROP);
konst("XDP_PASS", xdpActionType, uapi.XDP_PASS);
konst("XDP_TX", xdpActionType, uapi.XDP_TX);
konst("XDP_REDIRECT", xdpActionType, uapi.XDP_REDIRECT);
for (const [n, v] of Object.entries(uapi.TC_ACT)) konst(n, tcActionType, v);
konst("XSK_DROP", xskVerdictType, uapi.XSK_DROP);
konst("XSK_TX", xskVerdictType, uapi.XSK_TX);

konst("ETH_P_IP", u32, 0x0800);
konst("ETH_P_ARP", u32, 0x0806);
konst("ETH_P_8021Q", u32, 0x8100);
konst("ETH_P_8021AD", u32, 0x88a8);
konst("ETH_P_IPV6", u32, 0x86dd);

konst("IPPROTO_ICMP", u32, 1);
konst("IPPROTO_TCP", u32, 6);
konst("IPPROTO_UDP", u32, 17);
konst("IPPROTO_ICMPV6", u32, 58);

konst("TCP_FIN", u32, 0x01);
konst("TCP_SYN", u32, 0x02);
konst("TCP_RST", u32, 0x04);
konst("TCP_PSH", u32, 0x08);
konst("TCP_ACK", u32, 0x10);
konst("TCP_URG", u32, 0x20);
konst("TCP_ECE", u32, 0x40);
konst("TCP_CWR", u32, 0x80);

konst("BPF_ANY", u32, uapi.BPF_ANY);
konst("BPF_NOEXIST", u32, uapi.BPF_NOEXIST);
konst("BPF_EXIST", u32, uapi.BPF_EXIST);
konst("BPF_FIB_LOOKUP_DIRECT", u32, 1);
konst("BPF_FIB_LOOKUP_OUTPUT", u32, 2);
konst("BPF_FIB_LOOKUP_SKIP_NEIGH", u32, 4);
konst("BPF_FIB_LOOKUP_TBID", u32, 8);
konst("BPF_FIB_LOOKUP_SRC", u32, 16);
[
  "BPF_FIB_LKUP_RET_SUCCESS",
  "BPF_FIB_LKUP_RET_BLACKHOLE",
  "BPF_FIB_LKUP_RET_UNREACHABLE",
  "BPF_FIB_LKUP_RET_PROHIBIT",
  "BPF_FIB_LKUP_RET_NOT_FWDED",
  "BPF_FIB_LKUP_RET_FWD_DISABLED",
  "BPF_FIB_LKUP_RET_UNSUPP_LWT",
  "BPF_FIB_LKUP_RET_NO_NEIGH",
  "BPF_FIB_LKUP_RET_FRAG_NEEDED",
  "BPF_FIB_LKUP_RET_NO_SRC_ADDR",
].forEach((n, i) => konst(n, u32, i));
konst("AF_INET", u32, 2);
konst("AF_INET6", u32, 10);
konst("ICMP_ECHO_REPLY", u32, 0);
konst("ICMP_DEST_UNREACH", u32, 3);
konst("ICMP_ECHO_REQUEST", u32, 8);
konst("ICMP_TIME_EXCEEDED", u32, 11);
konst("ICMPV6_ECHO_REQUEST", u32, 128);
konst("ICMPV6_ECHO_REPLY", u32, 129);

for (const n of [
  "ktimeNs",
  "randomU32",
  "cpuId",
  "atomicAdd",
  "trace",
  "fibLookup",
  "redirect",
  "redirectNeigh",
  "redirectPeer",
  "param",
  "zeroed",
  "csumDiff",
  "csumFold",
  "csumReplace16",
  "csumReplace32",
  "bswap16",
  "bswap32",
  "bswap64",
  "htons",
  "htonl",
  "ntohs",
  "ntohl",
] as const)
  table.set(n, { kind: "fn", name: n });

type("FibLookupParams", fibLookupParamsType);
type("Ipv6Chain", ipv6ChainType);

for (const n of [
  "MapOptions",
  "XskMapOptions",
  "UpdateFlag",
  "RedirectFallback",
  "PacketView",
  "Ref",
])
  table.set(n, { kind: "typeOnly" });

export const builtins: ReadonlyMap<string, Builtin> = table;

/** The module filters import from. */
export const stdlibModule = "xdpc";
