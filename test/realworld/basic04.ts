/**
 * basic04 — port of xdp-tutorial's basic04-pinning-maps/xdp_prog_kern.c with its
 * common_kern_user.h (see README.md): three programs that each count their verdict
 * (packets and bytes) in a per-CPU array indexed by the action, then return it. The map
 * is not pinned here (the original's loader pins it; the test loads two copies).
 */
import type { XdpContext, XdpAction, u64 } from "xdpc";
import { XDP_ABORTED, XDP_DROP, XDP_PASS, PerCpuArray } from "xdpc";

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
  const bytes: u64 = ctx.len;
  rec.rxPackets += 1;
  rec.rxBytes += bytes;
  return action;
}

export function xdp_pass_func(ctx: XdpContext): XdpAction {
  return record(ctx, XDP_PASS);
}

export function xdp_drop_func(ctx: XdpContext): XdpAction {
  return record(ctx, XDP_DROP);
}

export function xdp_abort_func(ctx: XdpContext): XdpAction {
  return record(ctx, XDP_ABORTED);
}
