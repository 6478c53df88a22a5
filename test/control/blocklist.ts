// The control-plane tests' filter: drops UDP to `port` from blocked prefixes, counts
// per source, reports every drop on a ring buffer. Its maps and types are exported so
// that control.test.ts and types.ts can `import type` them.
import {
  XDP_PASS,
  XDP_DROP,
  LpmTrie,
  HashMap,
  PerCpuArray,
  ArrayMap,
  RingBuf,
  param,
  atomicAdd,
  type XdpContext,
  type XdpAction,
  type u16,
  type u32,
  type u64,
  type bool,
} from "xdpc";

export interface Ipv4Prefix {
  prefixlen: u32;
  addr: u32;
}
export interface Hit {
  packets: u64;
  bytes: u64;
}
export interface Drop {
  src: u32;
  dstPort: u16;
  len: u16;
}

export const blocked = new LpmTrie<Ipv4Prefix, u64>({ maxEntries: 1024 });
export const hits = new HashMap<u32, Hit>({ maxEntries: 256 });
export const seen = new PerCpuArray<u64>({ maxEntries: 1 });
export const limits = new ArrayMap<u32>({ maxEntries: 4 });
export const drops = new RingBuf<Drop>({ maxEntries: 4096 });

export const port = param<u16>("port", 9);
/** Drops so far (.bss), read live by the control plane. */
export let dropped: u64 = 0;
/** Cleared by the control plane to let everything pass (.data). */
export let enabled: bool = true;

export function blocklist(ctx: XdpContext): XdpAction {
  seen.increment(0);
  if (!enabled) return XDP_PASS;
  const ip = ctx.ipv4();
  if (ip === null) return XDP_PASS;
  const udp = ctx.udp();
  if (udp === null || udp.dstPort !== port) return XDP_PASS;
  const rule = blocked.lookupRef({ prefixlen: 32, addr: ip.src });
  if (rule === null) return XDP_PASS;
  rule.value += 1;
  const h = hits.lookup(ip.src);
  if (h === null) hits.update(ip.src, { packets: 1, bytes: ctx.len });
  else {
    h.packets += 1;
    h.bytes += ctx.len;
  }
  drops.output({ src: ip.src, dstPort: udp.dstPort, len: ctx.len as u16 });
  atomicAdd(dropped, 1);
  return XDP_DROP;
}
