/**
 * sink — the router lab's server side: counts the frames that arrive as a router must
 * deliver them (destination MAC the server's, source MAC the router's egress interface,
 * IPv4 TTL `ttl`) in slot 0 and everything else in slot 1, and drops all of them so that
 * the server's stack sends nothing back.
 */
import type { XdpContext, XdpAction, u8, u64 } from "xdpc";
import { XDP_DROP, ArrayMap, param } from "xdpc";

const serverMac = param<u64>("serverMac", 0);
const routerMac = param<u64>("routerMac", 0);
const ttl = param<u8>("ttl", 63);

export const seen = new ArrayMap<u64>({ maxEntries: 2 });

export function sink(ctx: XdpContext): XdpAction {
  const eth = ctx.eth();
  const ip = ctx.ipv4(0);
  if (
    eth !== null &&
    ip !== null &&
    eth.dst === serverMac &&
    eth.src === routerMac &&
    ip.ttl === ttl
  )
    seen.increment(0);
  else seen.increment(1);
  return XDP_DROP;
}
