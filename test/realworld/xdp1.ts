/**
 * xdp1 — port of the Linux sample samples/bpf/xdp1_kern.c (see README.md): skip up to two
 * VLAN tags, take the IPv4 protocol or IPv6 next header (0 when the header is short or
 * the EtherType is neither), count the frame per protocol in a per-CPU array and drop it.
 * Like the original it trusts the EtherType and only checks that the fixed header fits,
 * so it reads with raw loads and length tests instead of the header views.
 */
import type { XdpContext, XdpAction, bool, u32, u64 } from "xdpc";
import { XDP_DROP, PerCpuArray } from "xdpc";

const rxcnt = new PerCpuArray<u64>({ maxEntries: 256 });

function isVlan(proto: u32): bool {
  return proto === 0x8100 || proto === 0x88a8;
}

export function xdp_prog1(ctx: XdpContext): XdpAction {
  let off: u32 = 14;
  const outer = ctx.load16(12);
  if (outer === null) return XDP_DROP;
  let proto: u32 = outer;
  for (let i = 0; i < 2; i++) {
    if (isVlan(proto)) {
      const inner = ctx.load16(off + 2);
      off += 4;
      if (inner === null) return XDP_DROP;
      proto = inner;
    }
  }
  let ipproto: u32 = 0;
  if (proto === 0x0800) {
    const p = ctx.load8(off + 9);
    if (ctx.len >= off + 20 && p !== null) ipproto = p;
  } else if (proto === 0x86dd) {
    const n = ctx.load8(off + 6);
    if (ctx.len >= off + 40 && n !== null) ipproto = n;
  }
  const v = rxcnt.lookupRef(ipproto);
  if (v !== null) v.value += 1;
  return XDP_DROP;
}
