/**
 * router — forward IPv4 and IPv6 in XDP by the kernel's own routing table (the pattern of
 * samples/bpf xdp_fwd and xdp-tools' xdp-forward), everything else to the stack.
 *
 * What it does: for an untagged IPv4 or IPv6 frame whose TTL / hop limit is above 1, it
 * asks the kernel's FIB where the destination goes (fibLookup from this interface, as
 * the stack would route it). When the route resolves to a next hop whose neighbour entry
 * is known and the egress interface is one the control plane allowed in `egress` (key and value its ifindex), the frame is
 * forwarded there without the stack: the TTL / hop limit goes down by one (the IPv4
 * header checksum is updated incrementally, RFC 1624), the MACs become the egress
 * interface's and the next hop's, and the frame is redirected. Everything else — TTL 1,
 * no route, local destinations, an unknown neighbour, an egress interface not in
 * `egress`, non-IP — goes to the stack (XDP_PASS), which routes, answers or drops it as
 * it would without this filter (it also sends the ICMP errors and resolves neighbours,
 * after which later frames take the fast path).
 *
 * Maps:
 *   egress  DevMapHash  ifindex → ifindex of the interfaces frames may leave by
 *   counts  PerCpuArray<u64>  0: forwarded, 1: to the stack
 *
 * Params: none.
 *
 * Load:  xdpc load --iface eth0 filters/router/router.ts
 *        xdpc map set --iface eth0 egress 3 3     (for each egress interface, by ifindex)
 *        sysctl net.ipv4.ip_forward=1             (fibLookup reports forwarding disabled otherwise)
 */
import {
  XdpContext, XdpAction, XDP_ABORTED, XDP_PASS, DevMapHash, PerCpuArray, FibLookupParams,
  zeroed, fibLookup, csumReplace16, AF_INET, AF_INET6, BPF_FIB_LKUP_RET_SUCCESS, bool, u16, u64,
} from "xdpc";

const FORWARDED = 0;
const TO_STACK = 1;

const egress = new DevMapHash({ maxEntries: 64 });
const counts = new PerCpuArray<u64>({ maxEntries: 2 });

function toStack(): XdpAction {
  counts.increment(TO_STACK);
  return XDP_PASS;
}

/** Fills the lookup from an IPv4 or IPv6 header; false for anything the stack should see. */
function prepare(ctx: XdpContext, p: FibLookupParams): bool {
  const ip = ctx.ipv4(0);
  if (ip !== null) {
    if (ip.ttl <= 1) return false;
    p.family = AF_INET;
    p.tos = ip.tos;
    p.l4Protocol = ip.protocol;
    p.totLen = ip.totalLength;
    p.ipv4Src = ip.src;
    p.ipv4Dst = ip.dst;
    return true;
  }
  const ip6 = ctx.ipv6(0);
  if (ip6 === null || ip6.hopLimit <= 1) return false;
  p.family = AF_INET6;
  p.flowinfo = (ip6.trafficClass << 20) | ip6.flowLabel;
  p.l4Protocol = ip6.nextHeader;
  p.totLen = ip6.payloadLength;
  p.ipv6Src = ip6.src;
  p.ipv6Dst = ip6.dst;
  return true;
}

export function router(ctx: XdpContext): XdpAction {
  const p = zeroed<FibLookupParams>();
  p.ifindex = ctx.ifindex;
  if (!prepare(ctx, p)) return toStack();
  if (fibLookup(ctx, p) !== BPF_FIB_LKUP_RET_SUCCESS) return toStack();
  if (egress.lookup(p.ifindex) === null) return toStack();

  const ip = ctx.ipv4(0);
  if (ip !== null) {
    const before: u16 = (ip.ttl << 8) | ip.protocol;
    ip.ttl = ip.ttl - 1;
    ip.checksum = csumReplace16(ip.checksum, before, (ip.ttl << 8) | ip.protocol);
  } else {
    const ip6 = ctx.ipv6(0);
    if (ip6 === null) return XDP_ABORTED;
    ip6.hopLimit = ip6.hopLimit - 1;
  }
  const eth = ctx.eth();
  if (eth === null) return XDP_ABORTED;
  eth.dst = p.dmac;
  eth.src = p.smac;
  counts.increment(FORWARDED);
  return egress.redirect(p.ifindex, XDP_ABORTED);
}
