/**
 * packet03 — port of xdp-tutorial's packet-solutions/xdp_prog_kern_03.c with the
 * parsing, rewrite and stats helpers it includes (see README.md).
 * xdp_icmp_echo_func: answer ICMP / ICMPv6 echo requests in place (addresses and MACs
 * swapped, type patched, checksum by bpf_csum_diff over the 4-byte common header);
 * xdp_redirect_func: a fixed MAC and bpf_redirect; xdp_redirect_map_func: the new
 * destination MAC from a hash keyed by the source MAC, then the DevMap; xdp_router_func:
 * bpf_fib_lookup forwarding. The parsers check what the tutorial's helpers check (up to
 * two VLAN tags, IHL but not the version nibble), so this port reads with raw loads.
 */
import type {
  XdpContext,
  XdpAction,
  FibLookupParams,
  FixedArray,
  bool,
  u8,
  u16,
  u32,
  u64,
} from "xdpc";
import { XDP_ABORTED, XDP_DROP, XDP_PASS, PerCpuArray, DevMap, HashMap } from "xdpc";
import { zeroed, fibLookup, redirect, bswap16, csumDiff, AF_INET, AF_INET6 } from "xdpc";

interface DataRec {
  rxPackets: u64;
  rxBytes: u64;
}
interface Mac {
  addr: FixedArray<u8, 6>;
}
interface IcmpCommon {
  type: u8;
  code: u8;
  cksum: u16;
}

const XDP_ACTION_MAX = 5;
const xdp_stats_map = new PerCpuArray<DataRec>({ maxEntries: XDP_ACTION_MAX });
const tx_port = new DevMap({ maxEntries: 256 });
const redirect_params = new HashMap<Mac, Mac>({ maxEntries: 1 });

function record(ctx: XdpContext, action: XdpAction): XdpAction {
  if (action >= XDP_ACTION_MAX) return XDP_ABORTED;
  const rec = xdp_stats_map.lookup(action);
  if (rec === null) return XDP_ABORTED;
  rec.rxPackets += 1;
  rec.rxBytes += ctx.len;
  return action;
}

function isVlan(proto: u32): bool {
  return proto === 0x8100 || proto === 0x88a8;
}

/** parse_ethhdr: the EtherType after up to two tags (a truncated tag ends the walk) and its offset; 0 when short. */
function ethType(ctx: XdpContext, out: Cursor): u32 {
  const outer = ctx.load16(12);
  if (outer === null) return 0;
  let proto: u32 = outer;
  let off: u32 = 14;
  for (let i = 0; i < 2; i++) {
    if (!isVlan(proto)) break;
    const inner = ctx.load16(off + 2);
    if (inner === null) break;
    proto = inner;
    off += 4;
  }
  out.off = off;
  return proto;
}

interface Cursor {
  off: u32;
}

/** Swaps `n` bytes at `a` with those at `b` (n a multiple of 4). */
function swapBytes(ctx: XdpContext, a: u32, b: u32, words: u32): void {
  for (let i: u32 = 0; i < 4; i++) {
    if (i < words) {
      const x = ctx.load32(a + i * 4);
      const y = ctx.load32(b + i * 4);
      if (x !== null && y !== null) {
        ctx.store32(a + i * 4, y);
        ctx.store32(b + i * 4, x);
      }
    }
  }
}

function swapMacs(ctx: XdpContext): void {
  const e = ctx.eth();
  if (e === null) return;
  const d = e.dst;
  e.dst = e.src;
  e.src = d;
}

export function xdp_icmp_echo_func(ctx: XdpContext): XdpAction {
  const c: Cursor = { off: 0 };
  const et = ethType(ctx, c);
  let off = c.off;
  let reply: u8 = 0;
  if (et === 0x0800) {
    const vihl = ctx.load8(off);
    const p = ctx.load8(off + 9);
    if (ctx.len < off + 20 || vihl === null || p === null) return record(ctx, XDP_PASS);
    const hlen: u32 = (vihl & 0x0f) * 4;
    if (hlen < 20 || ctx.len < off + hlen || p !== 1) return record(ctx, XDP_PASS);
    const t = ctx.load8(off + hlen);
    if (ctx.len < off + hlen + 4 || t === null || t !== 8) return record(ctx, XDP_PASS);
    swapBytes(ctx, off + 12, off + 16, 1);
    off += hlen;
    reply = 0;
  } else if (et === 0x86dd) {
    const n = ctx.load8(off + 6);
    if (ctx.len < off + 40 || n === null || n !== 58) return record(ctx, XDP_PASS);
    const t = ctx.load8(off + 40);
    if (ctx.len < off + 44 || t === null || t !== 128) return record(ctx, XDP_PASS);
    swapBytes(ctx, off + 8, off + 24, 4);
    off += 40;
    reply = 129;
  } else return record(ctx, XDP_PASS);
  swapMacs(ctx);
  const code = ctx.load8(off + 1);
  const raw = ctx.load16(off + 2);
  if (code === null || raw === null) return record(ctx, XDP_PASS);
  const oldSum = bswap16(raw);
  const before: IcmpCommon = { type: 0, code, cksum: 0 };
  const t0 = ctx.load8(off);
  if (t0 !== null) before.type = t0;
  const after: IcmpCommon = { type: reply, code, cksum: 0 };
  ctx.store8(off, reply);
  const seed: u32 = ~oldSum & 0xffff;
  const s = csumDiff(before, after, seed);
  let sum: u32 = (s >> 16) + (s & 0xffff);
  sum += sum >> 16;
  ctx.store16(off + 2, bswap16(~sum as u16));
  return record(ctx, 3);
}

export function xdp_redirect_func(ctx: XdpContext): XdpAction {
  const e = ctx.eth();
  if (e === null) return record(ctx, XDP_PASS);
  e.dst = 0;
  return record(ctx, redirect(0));
}

export function xdp_redirect_map_func(ctx: XdpContext): XdpAction {
  if (ctx.len < 14) return record(ctx, XDP_PASS);
  const key = zeroed<Mac>();
  for (let i = 0; i < 6; i++) {
    const b = ctx.load8(6 + i);
    if (b !== null) key.addr[i] = b;
  }
  const dst = redirect_params.lookup(key);
  if (dst === null) return record(ctx, XDP_PASS);
  for (let i = 0; i < 6; i++) ctx.store8(i, dst.addr[i]);
  return record(ctx, tx_port.redirect(0, XDP_ABORTED));
}

export function xdp_router_func(ctx: XdpContext): XdpAction {
  const eth = ctx.eth();
  if (eth === null) return record(ctx, XDP_DROP);
  const p = zeroed<FibLookupParams>();
  const proto = eth.proto;
  if (proto === 0x0800) {
    const ttl = ctx.load8(22);
    const tos = ctx.load8(15);
    const l4 = ctx.load8(23);
    const tot = ctx.load16(16);
    const src = ctx.load32(26);
    const dst = ctx.load32(30);
    if (ctx.len < 34 || ttl === null || tos === null || l4 === null) return record(ctx, XDP_DROP);
    if (tot === null || src === null || dst === null) return record(ctx, XDP_DROP);
    if (ttl <= 1) return record(ctx, XDP_PASS);
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
      return record(ctx, XDP_DROP);
    if (hop <= 1) return record(ctx, XDP_PASS);
    p.family = AF_INET6;
    p.flowinfo = first & 0x0fffffff;
    p.l4Protocol = next;
    p.totLen = plen;
    for (let i = 0; i < 16; i++) {
      const s = ctx.load8(22 + i);
      const d = ctx.load8(38 + i);
      if (s === null || d === null) return record(ctx, XDP_DROP);
      p.ipv6Src[i] = s;
      p.ipv6Dst[i] = d;
    }
  } else return record(ctx, XDP_PASS);
  p.ifindex = ctx.ifindex;
  const rc = fibLookup(ctx, p, 0);
  let action: XdpAction = XDP_PASS;
  switch (rc) {
    case 0: {
      if (proto === 0x0800) {
        const ck = ctx.load16(24);
        const ttl = ctx.load8(22);
        if (ck !== null && ttl !== null) {
          const c: u32 = bswap16(ck) + 1;
          ctx.store16(24, bswap16((c + (c >= 0xffff ? 1 : 0)) as u16));
          ctx.store8(22, ttl - 1);
        }
      } else {
        const hop = ctx.load8(21);
        if (hop !== null) ctx.store8(21, hop - 1);
      }
      const e = ctx.eth();
      if (e !== null) {
        e.dst = p.dmac;
        e.src = p.smac;
      }
      action = redirect(p.ifindex);
      break;
    }
    case 1:
    case 2:
    case 3:
      action = XDP_DROP;
      break;
    default:
      break;
  }
  return record(ctx, action);
}

export function xdp_pass_func(ctx: XdpContext): XdpAction {
  return XDP_PASS;
}
