/**
 * xdp_fwd — port of the Linux sample samples/bpf/xdp_fwd_kern.c (see README.md): route by
 * bpf_fib_lookup, forward only to egress devices present in the DevMap, decrement the
 * TTL / hop limit and rewrite the MACs. Like the original it checks only that 20 (IPv4)
 * or 40 (IPv6) bytes follow the Ethernet header, not the version nibble, so it reads and
 * writes with raw loads and stores.
 */
import type { XdpContext, XdpAction, FibLookupParams, u16, u32 } from "xdpc";
import { XDP_ABORTED, XDP_DROP, XDP_PASS, DevMap, zeroed, fibLookup, bswap16 } from "xdpc";
import { AF_INET, AF_INET6, BPF_FIB_LKUP_RET_SUCCESS, BPF_FIB_LOOKUP_DIRECT } from "xdpc";

const xdp_tx_ports = new DevMap({ maxEntries: 64 });

function forward(ctx: XdpContext, flags: u32): XdpAction {
  const eth = ctx.eth();
  if (eth === null) return XDP_DROP;
  const p = zeroed<FibLookupParams>();
  const proto = eth.proto;
  if (proto === 0x0800) {
    const ttl = ctx.load8(22);
    const tos = ctx.load8(15);
    const l4 = ctx.load8(23);
    const tot = ctx.load16(16);
    const src = ctx.load32(26);
    const dst = ctx.load32(30);
    if (ctx.len < 34 || ttl === null || tos === null || l4 === null) return XDP_DROP;
    if (tot === null || src === null || dst === null) return XDP_DROP;
    if (ttl <= 1) return XDP_PASS;
    p.family = AF_INET;
    p.tos = tos;
    p.l4Protocol = l4;
    p.totLen = tot;
    p.ipv4Src = src;
    p.ipv4Dst = dst;
  } else if (proto === 0x86dd) {
    const first = ctx.load32(14);
    const hop = ctx.load8(21);
    const next = ctx.load8(20);
    const plen = ctx.load16(18);
    if (ctx.len < 54 || first === null || hop === null || next === null || plen === null)
      return XDP_DROP;
    if (hop <= 1) return XDP_PASS;
    p.family = AF_INET6;
    p.flowinfo = first & 0x0fffffff;
    p.l4Protocol = next;
    p.totLen = plen;
    for (let i = 0; i < 16; i++) {
      const s = ctx.load8(22 + i);
      const d = ctx.load8(38 + i);
      if (s === null || d === null) return XDP_DROP;
      p.ipv6Src[i] = s;
      p.ipv6Dst[i] = d;
    }
  } else return XDP_PASS;
  p.ifindex = ctx.ifindex;
  const rc = fibLookup(ctx, p, flags);
  if (rc === BPF_FIB_LKUP_RET_SUCCESS) {
    if (xdp_tx_ports.lookup(p.ifindex) === null) return XDP_PASS;
    if (proto === 0x0800) {
      // ip_decrease_ttl: the checksum arithmetic on the field as the CPU loads it.
      const ck = ctx.load16(24);
      const ttl = ctx.load8(22);
      if (ck === null || ttl === null) return XDP_DROP;
      const c: u32 = bswap16(ck) + 1;
      ctx.store16(24, bswap16((c + (c >= 0xffff ? 1 : 0)) as u16));
      ctx.store8(22, ttl - 1);
    } else {
      const hop = ctx.load8(21);
      if (hop === null) return XDP_DROP;
      ctx.store8(21, hop - 1);
    }
    const e = ctx.eth();
    if (e === null) return XDP_DROP;
    e.dst = p.dmac;
    e.src = p.smac;
    return xdp_tx_ports.redirect(p.ifindex, XDP_ABORTED);
  }
  return XDP_PASS;
}

export function xdp_fwd(ctx: XdpContext): XdpAction {
  return forward(ctx, 0);
}

export function xdp_fwd_direct(ctx: XdpContext): XdpAction {
  return forward(ctx, BPF_FIB_LOOKUP_DIRECT);
}
