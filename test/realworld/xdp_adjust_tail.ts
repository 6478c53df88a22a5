/**
 * xdp_adjust_tail — port of samples/bpf/xdp_adjust_tail_kern.c (see README.md): an IPv4
 * frame longer than 600 bytes is cut to 98 bytes and turned, in 28 bytes of new headroom,
 * into an ICMP "fragmentation needed" reply sent back out (XDP_TX). Like the original it
 * trusts the EtherType, not the version nibble, and builds the new IP header with raw
 * stores (version/IHL included); ctx.csum is its bpf_csum_diff over packet bytes.
 */
import type { XdpContext, XdpAction, i32, u16, u32, u64 } from "xdpc";
import { XDP_DROP, XDP_PASS, XDP_TX, ArrayMap, bswap16 } from "xdpc";

const DEFAULT_TTL = 64;
const MAX_PCKT_SIZE = 600;
const ICMP_TOOBIG_SIZE = 98;
const ICMP_TOOBIG_PAYLOAD_SIZE = 92;
const HEADROOM = 28; // an IPv4 and an ICMP header

const icmpcnt = new ArrayMap<u64>({ maxEntries: 1 });

/** The original's csum_fold_helper: one fold, complemented, as a u16. */
function fold(csum: u32): u32 {
  return ~((csum & 0xffff) + (csum >> 16)) & 0xffff;
}

function sendIcmp4TooBig(ctx: XdpContext): XdpAction {
  if (!ctx.adjustHead(-HEADROOM)) return XDP_DROP;
  if (ctx.len < ICMP_TOOBIG_SIZE + HEADROOM) return XDP_DROP;
  // swap_mac: the new Ethernet header from the old one, 28 bytes further in.
  for (let i = 0; i < 6; i++) {
    const d = ctx.load8(HEADROOM + i);
    if (d !== null) ctx.store8(6 + i, d);
  }
  for (let i = 0; i < 6; i++) {
    const s = ctx.load8(HEADROOM + 6 + i);
    if (s !== null) ctx.store8(i, s);
  }
  const proto = ctx.load16(HEADROOM + 12);
  if (proto === null) return XDP_DROP;
  ctx.store16(12, proto);
  // ICMP header at 34: type 3, code 4 (frag needed), MTU at 40.
  ctx.store8(34, 3);
  ctx.store8(35, 4);
  ctx.store16(40, MAX_PCKT_SIZE - 14);
  ctx.store16(36, 0);
  const ic = ctx.csum(34, ICMP_TOOBIG_PAYLOAD_SIZE, 0);
  if (ic === null) return XDP_DROP;
  ctx.store16(36, bswap16(fold(ic) as u16));
  // The new IPv4 header at 14, addresses swapped from the original at 42.
  const osrc = ctx.load32(42 + 12);
  const odst = ctx.load32(42 + 16);
  if (osrc === null || odst === null) return XDP_DROP;
  ctx.store8(22, DEFAULT_TTL);
  ctx.store32(30, osrc);
  ctx.store32(26, odst);
  ctx.store8(14, 0x45);
  ctx.store8(23, 1);
  ctx.store8(15, 0);
  ctx.store16(16, ICMP_TOOBIG_SIZE + HEADROOM - 14);
  ctx.store16(24, 0);
  const hc = ctx.csum(14, 20, 0);
  if (hc === null) return XDP_DROP;
  ctx.store16(24, bswap16(fold(hc) as u16));
  const count = icmpcnt.lookupRef(0);
  if (count !== null) count.value += 1;
  return XDP_TX;
}

export function xdp_icmp(ctx: XdpContext): XdpAction {
  const eth = ctx.eth();
  if (eth === null) return XDP_DROP;
  if (eth.proto !== 0x0800) return XDP_PASS;
  const size = ctx.len;
  if (size > MAX_PCKT_SIZE) {
    const offset = size - ICMP_TOOBIG_SIZE;
    if (!ctx.adjustTail(-(offset as i32))) return XDP_PASS;
    return sendIcmp4TooBig(ctx);
  }
  return XDP_PASS;
}
