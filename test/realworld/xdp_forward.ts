/**
 * xdp_forward — port of xdp-tools' xdp-forward/xdp_forward.bpf.c with the
 * headers/xdp/parsing_helpers.h it includes (see README.md): the xdp_fwd pattern with
 * xdp-tools' parsers — up to four VLAN tags (a truncated tag ends the walk), IPv4 with
 * the IHL trusted (not even checked to be ≥ 5) and no version check, IPv6 with the
 * extension-header chain skipped (at most six steps; the L4 protocol given to the FIB is
 * the one after the chain) — and a DevMapHash of egress devices. The original's IPv6
 * flow-info mask is `bpf_htons(0x0FFFFFFF)`, which keeps only the first two bytes; the
 * port keeps that.
 */
import type {
  XdpContext,
  XdpAction,
  Ipv6Chain,
  FibLookupParams,
  bool,
  i32,
  u8,
  u16,
  u32,
} from "xdpc";
import { XDP_ABORTED, XDP_PASS, DevMapHash, zeroed, fibLookup, bswap16 } from "xdpc";
import { AF_INET, AF_INET6, BPF_FIB_LKUP_RET_SUCCESS, BPF_FIB_LOOKUP_DIRECT } from "xdpc";

const VLAN_MAX_DEPTH = 4;
const IPV6_EXT_MAX_CHAIN = 6;

const xdp_tx_ports = new DevMapHash({ maxEntries: 64 });

function isVlan(proto: u32): bool {
  return proto === 0x8100 || proto === 0x88a8;
}

/**
 * skip_ip6hdrext: at most IPV6_EXT_MAX_CHAIN steps, each reading two bytes at the cursor,
 * the last one at the upper-layer header: ctx.skipIpv6Ext over one header fewer, then
 * that final two-byte check. The upper-layer protocol, its offset left in `c`, or -1.
 */
function skipExt(ctx: XdpContext, c: Ipv6Chain): i32 {
  if (!ctx.skipIpv6Ext(c, IPV6_EXT_MAX_CHAIN - 1) || ctx.len < c.offset + 2) return -1;
  return c.nextHeader as i32;
}

function forward(ctx: XdpContext, flags: u32): XdpAction {
  const p = zeroed<FibLookupParams>();
  const outer = ctx.load16(12);
  if (outer === null) return XDP_PASS;
  let proto: u32 = outer;
  let off: u32 = 14;
  for (let i = 0; i < VLAN_MAX_DEPTH; i++) {
    if (!isVlan(proto)) break;
    const inner = ctx.load16(off + 2);
    if (inner === null) break;
    proto = inner;
    off += 4;
  }
  if (proto === 0x0800) {
    const vihl = ctx.load8(off);
    const tos = ctx.load8(off + 1);
    const tot = ctx.load16(off + 2);
    const ttl = ctx.load8(off + 8);
    const l4 = ctx.load8(off + 9);
    const src = ctx.load32(off + 12);
    const dst = ctx.load32(off + 16);
    if (ctx.len < off + 20 || vihl === null || tos === null || tot === null) return XDP_PASS;
    if (ttl === null || l4 === null || src === null || dst === null) return XDP_PASS;
    if (ctx.len < off + (vihl & 0x0f) * 4) return XDP_PASS;
    if (ttl <= 1) return XDP_PASS;
    p.family = AF_INET;
    p.tos = tos;
    p.l4Protocol = l4;
    p.totLen = tot;
    p.ipv4Src = src;
    p.ipv4Dst = dst;
  } else if (proto === 0x86dd) {
    const first = ctx.load32(off);
    const plen = ctx.load16(off + 4);
    const next = ctx.load8(off + 6);
    const hop = ctx.load8(off + 7);
    if (ctx.len < off + 40 || first === null || plen === null || next === null || hop === null)
      return XDP_PASS;
    const c: Ipv6Chain = { offset: off + 40, nextHeader: next };
    const l4 = skipExt(ctx, c);
    if (l4 < 0) return XDP_PASS;
    if (hop <= 1) return XDP_PASS;
    p.family = AF_INET6;
    p.flowinfo = first & 0xffff0000;
    p.l4Protocol = l4 as u8;
    p.totLen = plen;
    for (let i = 0; i < 16; i++) {
      const s = ctx.load8(off + 8 + i);
      const d = ctx.load8(off + 24 + i);
      if (s === null || d === null) return XDP_PASS;
      p.ipv6Src[i] = s;
      p.ipv6Dst[i] = d;
    }
  } else return XDP_PASS;
  p.ifindex = ctx.ifindex;
  const rc = fibLookup(ctx, p, flags);
  if (rc === BPF_FIB_LKUP_RET_SUCCESS) {
    if (xdp_tx_ports.lookup(p.ifindex) === null) return XDP_PASS;
    if (proto === 0x0800) {
      const ck = ctx.load16(off + 10);
      const ttl = ctx.load8(off + 8);
      if (ck === null || ttl === null) return XDP_PASS;
      const c: u32 = bswap16(ck) + 1;
      ctx.store16(off + 10, bswap16((c + (c >= 0xffff ? 1 : 0)) as u16));
      ctx.store8(off + 8, ttl - 1);
    } else {
      const hop = ctx.load8(off + 7);
      if (hop === null) return XDP_PASS;
      ctx.store8(off + 7, hop - 1);
    }
    const e = ctx.eth();
    if (e === null) return XDP_PASS;
    e.dst = p.dmac;
    e.src = p.smac;
    return xdp_tx_ports.redirect(p.ifindex, XDP_ABORTED);
  }
  return XDP_PASS;
}

export function xdp_fwd_fib_full(ctx: XdpContext): XdpAction {
  return forward(ctx, 0);
}

export function xdp_fwd_fib_direct(ctx: XdpContext): XdpAction {
  return forward(ctx, BPF_FIB_LOOKUP_DIRECT);
}
