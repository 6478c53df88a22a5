/**
 * guard — the kernel half of the processor example (processor.ts is the control plane).
 *
 * What it does: drops every IPv4 packet whose source is in the `blocked` prefix list,
 * counting hits per prefix and reporting each drop on the `drops` ring buffer; counts
 * every packet and byte it sees in `traffic`. Everything else passes.
 *
 * Maps (exported, so that processor.ts gets them typed with `import type`):
 *   blocked  LpmTrie<Ipv4Prefix, u64>  hits per blocked prefix
 *   traffic  PerCpuArray<Traffic>      packets and bytes seen (index 0)
 *   drops    RingBuf<Drop>             one record per dropped packet
 *
 * Run:  npx tsx filters/processor/processor.ts --iface eth0 --blocklist blocked.txt
 */
import {
  XDP_PASS,
  XDP_DROP,
  LpmTrie,
  PerCpuArray,
  RingBuf,
  type XdpContext,
  type XdpAction,
  type u8,
  type u16,
  type u32,
  type u64,
} from "xdpc";

export interface Ipv4Prefix {
  prefixlen: u32;
  addr: u32;
}
export interface Traffic {
  packets: u64;
  bytes: u64;
}
/** 16 bytes: addresses and ports in host order. */
export interface Drop {
  src: u32;
  dst: u32;
  len: u16;
  proto: u8;
  ttl: u8;
  prefixHits: u32;
}

export const blocked = new LpmTrie<Ipv4Prefix, u64>({ maxEntries: 65536 });
export const traffic = new PerCpuArray<Traffic>({ maxEntries: 1 });
export const drops = new RingBuf<Drop>({ maxEntries: 256 * 1024 });

export function guard(ctx: XdpContext): XdpAction {
  const t = traffic.lookup(0);
  if (t !== null) {
    t.packets += 1;
    t.bytes += ctx.len;
  }
  const ip = ctx.ipv4();
  if (ip === null) return XDP_PASS;
  const rule = blocked.lookupRef({ prefixlen: 32, addr: ip.src });
  if (rule === null) return XDP_PASS;
  rule.value += 1;
  drops.output({
    src: ip.src,
    dst: ip.dst,
    len: ctx.len as u16,
    proto: ip.protocol,
    ttl: ip.ttl,
    prefixHits: rule.value as u32,
  });
  return XDP_DROP;
}
