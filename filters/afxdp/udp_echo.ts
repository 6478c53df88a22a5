/**
 * udp_echo — a split filter: the kernel drops attack traffic at line rate, an AF_XDP
 * handler answers UDP echo (RFC 862, port 7) with per-client rate limiting.
 *
 * What it does: the XDP program `edge` drops UDP datagrams to port 7 that come from a
 * well-known port (< 1024: the echo/chargen ping-pong of reflection attacks, spoofed to
 * bounce between two servers) and counts them; every other datagram to port 7 is
 * redirected to the AF_XDP socket of its queue. While no `xdpc run` holds the sockets
 * the fallback, XDP_PASS, hands them to the stack. Everything else passes.
 *
 * The handler `echo` (WebAssembly, in `xdpc run`'s workers) keeps one bucket per client
 * (the source address hashed into 4096 buckets: clients may share one) with the start of
 * its current window and the replies sent in it; up to `limit` requests per client per
 * `window_ms` are answered in place — MAC addresses, IP addresses and ports swapped, TTL
 * reset to 64 (IPv4 checksum updated incrementally, RFC 1624; the UDP checksum is
 * unchanged by the swaps) and sent back with XSK_TX; the rest are dropped (XSK_DROP).
 *
 * Maps:
 *   sockets  XskMap               the AF_XDP sockets by queue, bound to `echo`
 *   attacks  PerCpuArray<u64>     0: datagrams to port 7 from a port below 1024, dropped
 *   clients  ArrayMap<Bucket>     the handler's buckets (in the workers' shared memory)
 *
 * Params: limit (u32, 10) requests answered per client and window; window_ms (u32, 1000).
 *
 * Run:  xdpc run --iface eth0 filters/afxdp/udp_echo.ts [--set limit=100]
 */
import {
  XdpContext, XdpAction, XDP_DROP, XDP_PASS, XskMap, XskPacket, XskVerdict, XSK_DROP, XSK_TX,
  ArrayMap, PerCpuArray, param, ktimeNs, u16, u32, u64,
} from "xdpc";

const ECHO_PORT = 7;
const REPLY_TTL = 64;
const BUCKETS = 4096;

const LIMIT = param<u32>("limit", 10);
const WINDOW_MS = param<u32>("window_ms", 1000);

interface Bucket { windowStart: u64; replies: u32; pad: u32 }

const sockets = new XskMap({ maxEntries: 64, handler: echo });
const attacks = new PerCpuArray<u64>({ maxEntries: 1 });
const clients = new ArrayMap<Bucket>({ maxEntries: BUCKETS });

export function edge(ctx: XdpContext): XdpAction {
  const udp = ctx.udp();
  if (udp === null || udp.dstPort !== ECHO_PORT) return XDP_PASS;
  if (udp.srcPort < 1024) {
    attacks.increment(0);
    return XDP_DROP;
  }
  return sockets.redirect(ctx.rxQueue, XDP_PASS);
}

/** RFC 1624 eqn. 3: the checksum after one 16-bit word of the summed data changes from `old` to `now`. */
function csumReplace(check: u16, old: u16, now: u16): u16 {
  let sum: u32 = (~check & 0xffff) + (~old & 0xffff) + now;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return ~sum as u16;
}

export function echo(pkt: XskPacket): XskVerdict {
  const eth = pkt.eth();
  const ip = pkt.ipv4();
  const udp = pkt.udp();
  if (eth === null || ip === null || udp === null) return XSK_DROP;
  if (udp.dstPort !== ECHO_PORT) return XSK_DROP;

  const b = clients.lookup((ip.src ^ (ip.src >> 12)) & (BUCKETS - 1));
  if (b === null) return XSK_DROP;
  const now = ktimeNs();
  const windowNs: u64 = WINDOW_MS;
  if (b.windowStart === 0 || now - b.windowStart >= windowNs * 1000000) {
    b.windowStart = now;
    b.replies = 0;
  }
  if (b.replies >= LIMIT) return XSK_DROP;
  b.replies = b.replies + 1;

  const mac = eth.src;
  eth.src = eth.dst;
  eth.dst = mac;
  const addr = ip.src;
  ip.src = ip.dst;
  ip.dst = addr;
  const oldWord: u16 = (ip.ttl << 8) | ip.protocol;
  ip.ttl = REPLY_TTL;
  ip.checksum = csumReplace(ip.checksum, oldWord, (REPLY_TTL << 8) | ip.protocol);
  const port = udp.srcPort;
  udp.srcPort = udp.dstPort;
  udp.dstPort = port;
  return XSK_TX;
}
