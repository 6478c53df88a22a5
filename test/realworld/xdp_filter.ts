/**
 * xdp_filter — port of xdp-tools' xdp-filter program (xdp-filter/xdpfilt_prog.h with every
 * feature on, as xdpfilt_alw_all.c and xdpfilt_dny_all.c build it; common_kern_user.h,
 * headers/xdp/parsing_helpers.h and xdp_stats_kern.h; see README.md). Ethernet
 * addresses, IPv4 / IPv6 addresses (ARP sender and target, neighbour solicitation and
 * advertisement targets included) and TCP / UDP ports are looked up in per-CPU maps whose
 * values are flag bits (src, dst, tcp, udp) plus a hit counter above bit 6. In allow mode a
 * hit drops and a miss passes; in deny mode the reverse. The parsers are xdp-tools': up
 * to four VLAN tags, IPv4 with the IHL trusted and no version check, the IPv6
 * extension-header chain skipped (six steps). The maps are not pinned here (two copies of
 * the program load side by side in the test); addresses and ports are keys in network
 * order, as the C stores them.
 */
import type { XdpContext, XdpAction, Ipv6Chain, FixedArray, bool, i32, u8, u32, u64 } from "xdpc";
import { XDP_ABORTED, XDP_DROP, XDP_PASS, PerCpuArray, PerCpuHash, zeroed } from "xdpc";
import { bswap16, bswap32 } from "xdpc";

const MAP_FLAG_SRC = 1 << 0;
const MAP_FLAG_DST = 1 << 1;
const MAP_FLAG_TCP = 1 << 2;
const MAP_FLAG_UDP = 1 << 3;
const COUNTER_SHIFT = 6;
const VLAN_MAX_DEPTH = 4;
const IPV6_EXT_MAX_CHAIN = 6;
const XDP_ACTION_MAX = 5;

interface StatsRecord {
  packets: u64;
  bytes: u64;
}
interface EthAddr {
  addr: FixedArray<u8, 6>;
}
interface In6Addr {
  a: FixedArray<u8, 16>;
}

const xdp_stats_map = new PerCpuArray<StatsRecord>({ maxEntries: XDP_ACTION_MAX });
const filter_ports = new PerCpuArray<u64>({ maxEntries: 65536 });
const filter_ipv4 = new PerCpuHash<u32, u64>({ maxEntries: 10000 });
const filter_ipv6 = new PerCpuHash<In6Addr, u64>({ maxEntries: 10000 });
const filter_ethernet = new PerCpuHash<EthAddr, u64>({ maxEntries: 10000 });

function record(ctx: XdpContext, action: XdpAction): XdpAction {
  if (action >= XDP_ACTION_MAX) return XDP_ABORTED;
  const rec = xdp_stats_map.lookup(action);
  if (rec === null) return XDP_ABORTED;
  rec.packets += 1;
  rec.bytes += ctx.len;
  return action;
}

/** CHECK_MAP: a value with every bit of `mask` set is a hit, counted above COUNTER_SHIFT. */
function hitPort(key: u32, mask: u64): bool {
  const v = filter_ports.lookupRef(key);
  if (v !== null && (v.value & mask) === mask) {
    v.value += 1 << COUNTER_SHIFT;
    return true;
  }
  return false;
}
function hitIpv4(key: u32, mask: u64): bool {
  const v = filter_ipv4.lookupRef(key);
  if (v !== null && (v.value & mask) === mask) {
    v.value += 1 << COUNTER_SHIFT;
    return true;
  }
  return false;
}
function hitIpv6(key: In6Addr, mask: u64): bool {
  const v = filter_ipv6.lookupRef(key);
  if (v !== null && (v.value & mask) === mask) {
    v.value += 1 << COUNTER_SHIFT;
    return true;
  }
  return false;
}
function hitEth(key: EthAddr, mask: u64): bool {
  const v = filter_ethernet.lookupRef(key);
  if (v !== null && (v.value & mask) === mask) {
    v.value += 1 << COUNTER_SHIFT;
    return true;
  }
  return false;
}

/** The 16 bytes at `off` as a key (the caller has checked they are present). */
function addr6(ctx: XdpContext, off: u32, k: In6Addr): void {
  for (let i = 0; i < 16; i++) {
    const b = ctx.load8(off + i);
    if (b !== null) k.a[i] = b;
  }
}

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

/** The filter's verdict before the stats: `hit` / `miss` are the mode's two verdicts. */
function filter(ctx: XdpContext, hit: XdpAction, miss: XdpAction): XdpAction {
  const outer = ctx.load16(12);
  if (outer === null) return XDP_ABORTED;
  let et: u32 = outer;
  let off: u32 = 14;
  for (let i = 0; i < VLAN_MAX_DEPTH; i++) {
    if (!isVlan(et)) break;
    const inner = ctx.load16(off + 2);
    if (inner === null) break;
    et = inner;
    off += 4;
  }
  const mac = zeroed<EthAddr>();
  for (let i = 0; i < 6; i++) {
    const b = ctx.load8(i);
    if (b !== null) mac.addr[i] = b;
  }
  if (hitEth(mac, MAP_FLAG_DST)) return hit;
  for (let i = 0; i < 6; i++) {
    const b = ctx.load8(6 + i);
    if (b !== null) mac.addr[i] = b;
  }
  if (hitEth(mac, MAP_FLAG_SRC)) return hit;
  let l4: u32 = 0;
  if (et === 0x0800) {
    const vihl = ctx.load8(off);
    const proto = ctx.load8(off + 9);
    const src = ctx.load32(off + 12);
    const dst = ctx.load32(off + 16);
    if (ctx.len < off + 20 || vihl === null || proto === null || src === null || dst === null)
      return XDP_ABORTED;
    const hlen: u32 = (vihl & 0x0f) * 4;
    if (ctx.len < off + hlen) return XDP_ABORTED;
    off += hlen;
    l4 = proto;
    if (hitIpv4(bswap32(dst), MAP_FLAG_DST)) return hit;
    if (hitIpv4(bswap32(src), MAP_FLAG_SRC)) return hit;
  } else if (et === 0x0806) {
    const hrd = ctx.load16(off);
    const pro = ctx.load16(off + 2);
    const hln = ctx.load8(off + 4);
    const pln = ctx.load8(off + 5);
    const op = ctx.load16(off + 6);
    const sip = ctx.load32(off + 14);
    const tip = ctx.load32(off + 24);
    if (ctx.len < off + 28 || hrd === null || pro === null || hln === null || pln === null)
      return XDP_ABORTED;
    if (op === null || sip === null || tip === null) return XDP_ABORTED;
    if (hrd !== 1 || pro !== 0x0800 || hln !== 6 || pln !== 4) return XDP_ABORTED;
    if (hitIpv4(bswap32(sip), MAP_FLAG_SRC)) return hit;
    if (op === 1) {
      if (hitIpv4(bswap32(tip), MAP_FLAG_DST)) return hit;
    } else if (op === 2) {
      if (hitIpv4(bswap32(tip), MAP_FLAG_SRC)) return hit;
    }
  } else if (et === 0x86dd) {
    const next = ctx.load8(off + 6);
    if (ctx.len < off + 40 || next === null) return XDP_ABORTED;
    const c: Ipv6Chain = { offset: off + 40, nextHeader: next };
    const t = skipExt(ctx, c);
    if (t < 0) return XDP_ABORTED;
    l4 = t as u32;
    const k = zeroed<In6Addr>();
    addr6(ctx, off + 24, k);
    if (hitIpv6(k, MAP_FLAG_DST)) return hit;
    addr6(ctx, off + 8, k);
    if (hitIpv6(k, MAP_FLAG_SRC)) return hit;
    off = c.offset;
    if (l4 === 58) {
      const type = ctx.load8(off);
      if (ctx.len < off + 8 || type === null) return XDP_ABORTED;
      if (type === 135 || type === 136) {
        if (ctx.len < off + 24) return XDP_ABORTED;
        addr6(ctx, off + 8, k);
        if (hitIpv6(k, type === 135 ? MAP_FLAG_DST : MAP_FLAG_SRC)) return hit;
      }
    }
  } else return miss;
  if (l4 === 17) {
    const sport = ctx.load16(off);
    const dport = ctx.load16(off + 2);
    const len = ctx.load16(off + 4);
    if (ctx.len < off + 8 || sport === null || dport === null || len === null || len < 8)
      return XDP_ABORTED;
    if (hitPort(bswap16(dport), MAP_FLAG_DST | MAP_FLAG_UDP)) return hit;
    if (hitPort(bswap16(sport), MAP_FLAG_SRC | MAP_FLAG_UDP)) return hit;
  }
  if (l4 === 6) {
    const sport = ctx.load16(off);
    const dport = ctx.load16(off + 2);
    const doff = ctx.load8(off + 12);
    if (ctx.len < off + 20 || sport === null || dport === null || doff === null) return XDP_ABORTED;
    const tlen: u32 = (doff >> 4) * 4;
    if (tlen < 20 || ctx.len < off + tlen) return XDP_ABORTED;
    if (hitPort(bswap16(dport), MAP_FLAG_DST | MAP_FLAG_TCP)) return hit;
    if (hitPort(bswap16(sport), MAP_FLAG_SRC | MAP_FLAG_TCP)) return hit;
  }
  return miss;
}

export function xdpfilt_alw_all(ctx: XdpContext): XdpAction {
  return record(ctx, filter(ctx, XDP_DROP, XDP_PASS));
}

export function xdpfilt_dny_all(ctx: XdpContext): XdpAction {
  return record(ctx, filter(ctx, XDP_PASS, XDP_DROP));
}
