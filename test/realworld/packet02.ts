/**
 * packet02 — port of xdp-tutorial's packet-solutions/xdp_prog_kern_02.c with its
 * common/parsing_helpers.h, rewrite_helpers.h and xdp_stats_kern.h (see README.md).
 * xdp_patch_ports: skip up to two VLAN tags (a truncated tag ends the walk, as the
 * helper's `break` does), parse IPv4 (IHL checked, version not) or IPv6 (version not
 * checked), then decrement the UDP or TCP destination port and patch the checksum the
 * way the original does: `check += htons(1)` adds one to the second byte only, without
 * carry. xdp_vlan_swap: pop the outer VLAN tag when there is one, else push tag 1.
 * Every verdict is counted per action (packets, bytes) in a per-CPU array.
 */
import type { XdpContext, XdpAction, bool, u32, u64 } from "xdpc";
import { XDP_ABORTED, XDP_PASS, PerCpuArray } from "xdpc";

interface DataRec {
  rxPackets: u64;
  rxBytes: u64;
}

const XDP_ACTION_MAX = 5;
const xdp_stats_map = new PerCpuArray<DataRec>({ maxEntries: XDP_ACTION_MAX });

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

/** The port at `off` minus one, and the checksum byte at `ck + 1` plus one (no carry). */
function patch(ctx: XdpContext, off: u32, ck: u32): void {
  const port = ctx.load16(off);
  if (port !== null) ctx.store16(off, port - 1);
  const lo = ctx.load8(ck + 1);
  if (lo !== null) ctx.store8(ck + 1, lo + 1);
  const sum = ctx.load16(ck);
  if (sum !== null && sum === 0) ctx.store8(ck + 1, 1);
}

function patchPorts(ctx: XdpContext): XdpAction {
  const outer = ctx.load16(12);
  if (outer === null) return XDP_ABORTED;
  let proto: u32 = outer;
  let off: u32 = 14;
  for (let i = 0; i < 2; i++) {
    if (!isVlan(proto)) break;
    const inner = ctx.load16(off + 2);
    if (inner === null) break;
    proto = inner;
    off += 4;
  }
  let l4: u32 = 0;
  if (proto === 0x0800) {
    const vihl = ctx.load8(off);
    const p = ctx.load8(off + 9);
    if (ctx.len < off + 20 || vihl === null || p === null) return XDP_PASS;
    const hlen: u32 = (vihl & 0x0f) * 4;
    if (hlen < 20 || ctx.len < off + hlen) return XDP_PASS;
    off += hlen;
    l4 = p;
  } else if (proto === 0x86dd) {
    const n = ctx.load8(off + 6);
    if (ctx.len < off + 40 || n === null) return XDP_PASS;
    off += 40;
    l4 = n;
  } else return XDP_PASS;
  if (l4 === 17) {
    const len = ctx.load16(off + 4);
    if (ctx.len < off + 8 || len === null || len < 8) return XDP_ABORTED;
    patch(ctx, off + 2, off + 6);
  } else if (l4 === 6) {
    const doff = ctx.load8(off + 12);
    if (ctx.len < off + 20 || doff === null) return XDP_ABORTED;
    const tlen: u32 = (doff >> 4) * 4;
    if (tlen < 20 || ctx.len < off + tlen) return XDP_ABORTED;
    patch(ctx, off + 2, off + 16);
  }
  return XDP_PASS;
}

export function xdp_patch_ports_func(ctx: XdpContext): XdpAction {
  return record(ctx, patchPorts(ctx));
}

export function xdp_vlan_swap_func(ctx: XdpContext): XdpAction {
  const eth = ctx.eth();
  if (eth === null) return XDP_PASS;
  const dst = eth.dst;
  const src = eth.src;
  const proto = eth.proto;
  if (isVlan(proto)) {
    const inner = ctx.load16(16);
    if (inner === null) return XDP_PASS;
    if (!ctx.adjustHead(4)) return XDP_PASS;
    const e = ctx.eth();
    if (e === null) return XDP_PASS;
    e.dst = dst;
    e.src = src;
    e.proto = inner;
  } else {
    if (!ctx.adjustHead(-4)) return XDP_PASS;
    const e = ctx.eth();
    if (e === null) return XDP_PASS;
    e.dst = dst;
    e.src = src;
    e.proto = proto;
    if (ctx.len < 18) return XDP_PASS;
    ctx.store16(14, 1);
    ctx.store16(16, proto);
    e.proto = 0x8100;
  }
  return XDP_PASS;
}

export function xdp_pass_func(ctx: XdpContext): XdpAction {
  return XDP_PASS;
}
