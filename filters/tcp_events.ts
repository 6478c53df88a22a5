/**
 * tcp_events — report TCP connection attempts and resets to userspace through a ring buffer.
 *
 * What it does: for every IPv4 TCP segment that opens a connection (SYN without ACK) or
 * resets one (RST), it sends a ConnEvent record — time, addresses, ports, flags, ingress
 * interface — to the `events` ring buffer; `xdpc events filters/tcp_events.ts` prints them.
 * Records that do not fit (the reader is too slow) are counted in the global `lost`.
 * Every packet passes: this is an observer, not a filter.
 *
 * Maps:
 *   events  RingBuf<ConnEvent>  256 KiB of 32-byte records
 * Globals:
 *   lost    u64                 records dropped because the ring was full (.bss)
 *
 * Params: none.
 *
 * Load:  xdpc load --iface eth0 filters/tcp_events.ts && xdpc events --follow
 */
import {
  XdpContext, XdpAction, XDP_PASS, RingBuf, ktimeNs, atomicAdd, TCP_SYN, TCP_ACK, TCP_RST,
  u8, u16, u32, u64,
} from "xdpc";

/** One event; addresses and ports in host byte order. 32 bytes with C layout. */
interface ConnEvent {
  timeNs: u64;
  src: u32;
  dst: u32;
  srcPort: u16;
  dstPort: u16;
  ifindex: u32;
  flags: u8;
}

const events = new RingBuf<ConnEvent>({ maxEntries: 256 * 1024 });

let lost: u64 = 0;

export function tcp_events(ctx: XdpContext): XdpAction {
  const ip = ctx.ipv4();
  if (ip === null) return XDP_PASS;
  const tcp = ctx.tcp();
  if (tcp === null) return XDP_PASS;
  const opening = (tcp.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
  const reset = (tcp.flags & TCP_RST) !== 0;
  if (!opening && !reset) return XDP_PASS;

  const sent = events.output({
    timeNs: ktimeNs(),
    src: ip.src,
    dst: ip.dst,
    srcPort: tcp.srcPort,
    dstPort: tcp.dstPort,
    ifindex: ctx.ifindex,
    flags: tcp.flags,
  });
  if (!sent) atomicAdd(lost, 1);
  return XDP_PASS;
}
