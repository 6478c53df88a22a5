/**
 * syn_guard — SYN-flood guard: a token bucket per IPv4 source for new TCP connections.
 *
 * What it does: every TCP SYN without ACK (a connection attempt) over IPv4 takes a token
 * from its source address's bucket. A bucket holds at most `burst` tokens and refills at
 * `rate` tokens per second; a SYN that finds the bucket empty is dropped. Buckets live in an
 * LRU hash, so a flood of spoofed sources evicts old buckets instead of filling the map.
 * Other packets, including SYN-ACKs and IPv6, pass untouched.
 *
 * Maps:
 *   buckets  LruHash<u32, Bucket>  source address → { tokens, last refill time in ns }
 *   stats    PerCpuArray<u64>      0: SYNs passed, 1: SYNs dropped
 *
 * Params:
 *   rate  (u32, default 100): tokens added per second per source (must be > 0)
 *   burst (u32, default 200): bucket capacity; a new source starts with a full bucket
 *
 * Load:  xdpc load --iface eth0 --set rate=20 --set burst=40 filters/syn_guard.ts
 */
import {
  XdpContext, XdpAction, XDP_PASS, XDP_DROP, LruHash, PerCpuArray, ktimeNs, param,
  TCP_SYN, TCP_ACK, u32, u64,
} from "xdpc";

interface Bucket { tokens: u64; last: u64 }

const NS_PER_SEC = 1_000_000_000;

const rate = param<u32>("rate", 100);
const burst = param<u32>("burst", 200);

const buckets = new LruHash<u32, Bucket>({ maxEntries: 65536 });
const stats = new PerCpuArray<u64>({ maxEntries: 2 });

export function syn_guard(ctx: XdpContext): XdpAction {
  const ip = ctx.ipv4();
  if (ip === null) return XDP_PASS;
  const tcp = ctx.tcp();
  if (tcp === null) return XDP_PASS;
  if ((tcp.flags & (TCP_SYN | TCP_ACK)) !== TCP_SYN) return XDP_PASS;

  const now = ktimeNs();
  const b = buckets.lookup(ip.src);
  if (b === null) {
    // A new source starts full and spends one token on this SYN.
    buckets.update(ip.src, { tokens: burst - 1, last: now });
    stats.increment(0);
    return XDP_PASS;
  }

  // Refill: whole seconds fill the bucket; a shorter gap adds rate × elapsed tokens. The
  // refill time only moves when a token was earned, so slow trickles are not lost.
  const elapsed: u64 = now - b.last;
  if (elapsed >= NS_PER_SEC) {
    b.tokens = burst;
    b.last = now;
  } else {
    const earned: u64 = (elapsed * rate) / NS_PER_SEC;
    if (earned > 0) {
      b.tokens = b.tokens + earned > burst ? burst : b.tokens + earned;
      b.last = now;
    }
  }

  if (b.tokens === 0) {
    stats.increment(1);
    return XDP_DROP;
  }
  b.tokens -= 1;
  stats.increment(0);
  return XDP_PASS;
}
