/**
 * tcx_guard — a tcx program (section tcx/ingress) that drops UDP datagrams to one port.
 *
 * What it does: IPv4 UDP datagrams to `blockedPort` are dropped (TCX_DROP); every other
 * IPv4 packet passes (TCX_PASS) with its mark set to (protocol << 8) | TTL; anything
 * that is not IPv4 goes on to the next program at the hook (TCX_NEXT). Each verdict is
 * counted. The helper `udpPort` is typed for any tc program (`c: TcContext`) and takes
 * the tcx context as it is.
 *
 * Maps:
 *   verdicts  ArrayMap<u64>  0: passed, 1: dropped, 2: not IPv4 (sent on)
 *
 * Params:
 *   blockedPort (u16, default 9): the UDP destination port dropped
 *
 * Load:  xdpc load --iface eth0 test/tc/tcx_guard.ts   (at ingress: its section says so)
 * Twin:  test/tc/tcx_guard.c (clang -O2, SEC("tcx/ingress")); test/tc/tcx.test.ts
 */
import {
  type TcContext,
  type TcAction,
  TCX_NEXT,
  TCX_PASS,
  TCX_DROP,
  ArrayMap,
  param,
  type u16,
  type u32,
  type u64,
} from "xdpc";

const blockedPort = param<u16>("blockedPort", 9);
const verdicts = new ArrayMap<u64>({ maxEntries: 3 });

function udpPort(c: TcContext): u16 {
  const udp = c.udp();
  return udp === null ? 0 : udp.dstPort;
}

export function tcx_guard(ctx: TcContext<"tcx/ingress">): TcAction {
  const ip = ctx.ipv4();
  if (ip === null) {
    verdicts.increment(2);
    return TCX_NEXT;
  }
  if (ip.protocol === 17 && udpPort(ctx) === blockedPort) {
    verdicts.increment(1);
    return TCX_DROP;
  }
  ctx.mark = ((ip.protocol as u32) << 8) | ip.ttl;
  verdicts.increment(0);
  return TCX_PASS;
}
