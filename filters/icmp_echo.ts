/**
 * icmp_echo — answer ICMP and ICMPv6 echo requests (ping) from XDP, without the stack.
 *
 * What it does: an IPv4 ICMP echo request (not a fragment) or an ICMPv6 echo request is
 * turned into its reply in place and sent back out of the same interface (XDP_TX): the MAC
 * addresses and the IP addresses are swapped, the TTL / hop limit is reset to 64 and the
 * type becomes echo reply. Checksums are updated incrementally (RFC 1624, eqn. 3:
 * HC' = ~(~HC + ~m + m')), never recomputed: swapping addresses leaves every sum unchanged,
 * so only the TTL word (IPv4 header checksum) and the type word (ICMP checksum) count.
 * Everything else passes. Replies sent are counted.
 *
 * Maps:
 *   replies  PerCpuArray<u64>  0: ICMP echo replies sent, 1: ICMPv6 echo replies sent
 *
 * Params: none.
 *
 * Load:  xdpc load --iface eth0 filters/icmp_echo.ts
 */
import {
  XdpContext, XdpAction, XDP_PASS, XDP_TX, PerCpuArray,
  ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY, ICMPV6_ECHO_REQUEST, ICMPV6_ECHO_REPLY, u16, u32, u64,
} from "xdpc";

const REPLY_TTL = 64;
const MORE_FRAGMENTS = 0x1;

const replies = new PerCpuArray<u64>({ maxEntries: 2 });

/** RFC 1624 eqn. 3: the checksum after one 16-bit word of the summed data changes from `old` to `now`. */
function csumReplace(check: u16, old: u16, now: u16): u16 {
  let sum: u32 = (~check & 0xffff) + (~old & 0xffff) + now;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return ~sum as u16;
}

/** Swaps the Ethernet addresses so the frame goes back where it came from. */
function bounce(ctx: XdpContext): void {
  const eth = ctx.eth();
  if (eth === null) return;
  const mac = eth.src;
  eth.src = eth.dst;
  eth.dst = mac;
}

export function icmp_echo(ctx: XdpContext): XdpAction {
  const ip = ctx.ipv4();
  if (ip !== null) {
    const icmp = ctx.icmp();
    if (icmp === null || icmp.type !== ICMP_ECHO_REQUEST || icmp.code !== 0) return XDP_PASS;
    if ((ip.flags & MORE_FRAGMENTS) !== 0) return XDP_PASS;

    const src = ip.src;
    ip.src = ip.dst;
    ip.dst = src;
    // The TTL shares a checksummed word with the protocol byte.
    const oldTtlWord: u16 = (ip.ttl << 8) | ip.protocol;
    ip.ttl = REPLY_TTL;
    ip.checksum = csumReplace(ip.checksum, oldTtlWord, (REPLY_TTL << 8) | ip.protocol);

    icmp.type = ICMP_ECHO_REPLY;
    icmp.checksum = csumReplace(icmp.checksum, ICMP_ECHO_REQUEST << 8, ICMP_ECHO_REPLY << 8);
    bounce(ctx);
    replies.increment(0);
    return XDP_TX;
  }

  const ip6 = ctx.ipv6();
  if (ip6 === null) return XDP_PASS;
  const icmp6 = ctx.icmp6();
  if (icmp6 === null || icmp6.type !== ICMPV6_ECHO_REQUEST || icmp6.code !== 0) return XDP_PASS;

  for (let i = 0; i < 16; i++) {
    const b = ip6.src[i];
    ip6.src[i] = ip6.dst[i];
    ip6.dst[i] = b;
  }
  ip6.hopLimit = REPLY_TTL; // not checksummed in IPv6
  icmp6.type = ICMPV6_ECHO_REPLY;
  icmp6.checksum = csumReplace(icmp6.checksum, ICMPV6_ECHO_REQUEST << 8, ICMPV6_ECHO_REPLY << 8);
  bounce(ctx);
  replies.increment(1);
  return XDP_TX;
}
