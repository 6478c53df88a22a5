/**
 * xdp_tx_iptunnel — port of the Linux sample samples/bpf/xdp_tx_iptunnel_kern.c with its
 * xdp_tx_iptunnel_common.h (see README.md): look the frame's destination (address, port,
 * protocol, family) up in `vip2tnl`; on a hit, grow the head and wrap the frame in a new
 * IPv4 (IPIP) or IPv6 (IPv6-in-IPv6) header built with raw stores, then XDP_TX it.
 * Like the original it trusts the EtherType (no version or IHL check: the L4 header is
 * read right after a 20-byte IPv4 header), and keeps the keys' addresses and port in
 * network order (C's unions of `v4` / `v6[4]` are the first word / all four words).
 */
import type { XdpContext, XdpAction, FixedArray, i32, u8, u16, u32, u64 } from "xdpc";
import { XDP_DROP, XDP_PASS, XDP_TX, HashMap, PerCpuArray, zeroed } from "xdpc";
import { bswap16, bswap32, AF_INET, AF_INET6 } from "xdpc";

interface Vip {
  daddr: FixedArray<u32, 4>;
  dport: u16;
  family: u16;
  protocol: u8;
}
interface IptnlInfo {
  saddr: FixedArray<u32, 4>;
  daddr: FixedArray<u32, 4>;
  family: u16;
  dmac: FixedArray<u8, 6>;
}

const rxcnt = new PerCpuArray<u64>({ maxEntries: 256 });
const vip2tnl = new HashMap<Vip, IptnlInfo>({ maxEntries: 256 });

function countTx(protocol: u32): void {
  const c = rxcnt.lookupRef(protocol);
  if (c !== null) c.value += 1;
}

/** get_dport: the destination port as on the wire (0 for other protocols), or -1 when the header is short. */
function dport(ctx: XdpContext, off: u32, protocol: u32): i32 {
  if (protocol === 6 || protocol === 17) {
    const p = ctx.load16(off + 2);
    if (ctx.len < off + (protocol === 6 ? 20 : 8) || p === null) return -1;
    return bswap16(p) as i32;
  }
  return 0;
}

/** set_ethhdr: the new header's source is the old destination, its destination the tunnel's next hop. */
function setEth(ctx: XdpContext, old: u32, tnl: IptnlInfo, proto: u16): void {
  for (let i = 0; i < 6; i++) {
    const b = ctx.load8(old + i);
    if (b !== null) ctx.store8(6 + i, b);
  }
  for (let i = 0; i < 6; i++) ctx.store8(i, tnl.dmac[i]);
  ctx.store16(12, proto);
}

function handleIpv4(ctx: XdpContext): XdpAction {
  const protocol = ctx.load8(23);
  const daddr = ctx.load32(30);
  const tot = ctx.load16(16);
  if (ctx.len < 34 || protocol === null || daddr === null || tot === null) return XDP_DROP;
  const port = dport(ctx, 34, protocol);
  if (port === -1) return XDP_DROP;
  const vip = zeroed<Vip>();
  vip.protocol = protocol;
  vip.family = AF_INET;
  vip.daddr[0] = bswap32(daddr);
  vip.dport = port as u16;
  const tnl = vip2tnl.lookup(vip);
  if (tnl === null || tnl.family !== AF_INET) return XDP_PASS;
  if (!ctx.adjustHead(-20)) return XDP_DROP;
  if (ctx.len < 34) return XDP_DROP;
  setEth(ctx, 20, tnl, 0x0800);
  ctx.store8(14, 0x45);
  ctx.store16(20, 0);
  ctx.store8(23, 4);
  ctx.store16(24, 0);
  ctx.store8(15, 0);
  ctx.store16(16, tot + 20);
  ctx.store32(30, bswap32(tnl.daddr[0]));
  ctx.store32(26, bswap32(tnl.saddr[0]));
  ctx.store8(22, 8);
  let sum: u32 = 0;
  for (let i = 0; i < 10; i++) {
    const w = ctx.load16(14 + i * 2);
    if (w !== null) sum += bswap16(w);
  }
  ctx.store16(24, bswap16(~((sum & 0xffff) + (sum >> 16)) as u16));
  countTx(vip.protocol);
  return XDP_TX;
}

function handleIpv6(ctx: XdpContext): XdpAction {
  const next = ctx.load8(20);
  const plen = ctx.load16(18);
  if (ctx.len < 54 || next === null || plen === null) return XDP_DROP;
  const port = dport(ctx, 54, next);
  if (port === -1) return XDP_DROP;
  const vip = zeroed<Vip>();
  vip.protocol = next;
  vip.family = AF_INET6;
  for (let i = 0; i < 4; i++) {
    const w = ctx.load32(38 + i * 4);
    if (w !== null) vip.daddr[i] = bswap32(w);
  }
  vip.dport = port as u16;
  const tnl = vip2tnl.lookup(vip);
  if (tnl === null || tnl.family !== AF_INET6) return XDP_PASS;
  if (!ctx.adjustHead(-40)) return XDP_DROP;
  if (ctx.len < 54) return XDP_DROP;
  setEth(ctx, 40, tnl, 0x86dd);
  ctx.store32(14, 0x60000000);
  ctx.store16(18, plen + 40);
  ctx.store8(20, 41);
  ctx.store8(21, 8);
  for (let i = 0; i < 4; i++) ctx.store32(22 + i * 4, bswap32(tnl.saddr[i]));
  for (let i = 0; i < 4; i++) ctx.store32(38 + i * 4, bswap32(tnl.daddr[i]));
  countTx(vip.protocol);
  return XDP_TX;
}

export function _xdp_tx_iptunnel(ctx: XdpContext): XdpAction {
  const eth = ctx.eth();
  if (eth === null) return XDP_DROP;
  if (eth.proto === 0x0800) return handleIpv4(ctx);
  if (eth.proto === 0x86dd) return handleIpv6(ctx);
  return XDP_PASS;
}
