/**
 * dns_policy — a UDP port policy with DNS sanity checks.
 *
 * What it does, for UDP over IPv4 or IPv6 (after up to two VLAN tags):
 *   1. If `portPolicy[dstPort]` is DENY, the datagram is dropped.
 *   2. To port 53 (a query to our resolver): dropped when the payload is shorter than a DNS
 *      header (12 bytes) or when its QR bit says it is a response (reflection traffic).
 *   3. From port 53 (a response to us): dropped when the UDP length exceeds `maxResponse`
 *      (amplification guard; EDNS0 answers larger than that should come over TCP).
 * Everything else passes. Each outcome is counted in `counters` by reason.
 *
 * Maps:
 *   portPolicy  ArrayMap<u8>      UDP destination port (0..65535) → ALLOW (0) or DENY (1)
 *   counters    PerCpuArray<u64>  Reason → packets (Passed, PortDenied, DnsShort, DnsReflected, DnsOversize)
 *
 * Params:
 *   maxResponse (u16, default 1232): largest UDP length (header included) accepted from port 53.
 *
 * Load:  xdpc load --iface eth0 --set maxResponse=1500 filters/dns_policy.ts
 *        xdpc map update portPolicy 19 1      # deny chargen (UDP 19)
 */
import {
  XdpContext, XdpAction, XDP_PASS, XDP_DROP, ArrayMap, PerCpuArray, param, u8, u16, u32, u64,
} from "xdpc";

const enum Reason { Passed = 0, PortDenied = 1, DnsShort = 2, DnsReflected = 3, DnsOversize = 4 }
const enum Policy { Allow = 0, Deny = 1 }

const DNS_PORT = 53;
const DNS_QR = 0x8000;

const maxResponse = param<u16>("maxResponse", 1232);

const portPolicy = new ArrayMap<u8>({ maxEntries: 65536 });
const counters = new PerCpuArray<u64>({ maxEntries: 8 });

/** Offset of the L3 header: 14, plus 4 for each VLAN tag (at most two) in front of it. */
function l3Offset(ctx: XdpContext): u32 {
  const tag = ctx.vlan();
  if (tag === null) return 14;
  if (tag.proto === 0x8100 || tag.proto === 0x88a8) return 22;
  return 18;
}

function verdict(reason: Reason): XdpAction {
  counters.increment(reason);
  if (reason === Reason.Passed) return XDP_PASS;
  return XDP_DROP;
}

export function dns_policy(ctx: XdpContext): XdpAction {
  const udp = ctx.udp();
  if (udp === null) return XDP_PASS;

  const policy = portPolicy.lookup(udp.dstPort);
  if (policy !== null) {
    switch (policy) {
      case Policy.Deny:
        return verdict(Reason.PortDenied);
      default:
        break;
    }
  }

  if (udp.dstPort === DNS_PORT) {
    // The DNS header follows the 8-byte UDP header; its flags are bytes 2..3.
    let off = l3Offset(ctx) + 8;
    const ip = ctx.ipv4();
    if (ip !== null) off += ip.ihl * 4;
    else off += 40;
    if (ctx.load8(off + 11) === null) return verdict(Reason.DnsShort);
    const flags = ctx.load16(off + 2);
    if (flags !== null && (flags & DNS_QR) !== 0) return verdict(Reason.DnsReflected);
  } else if (udp.srcPort === DNS_PORT && udp.length > maxResponse) {
    return verdict(Reason.DnsOversize);
  }
  return verdict(Reason.Passed);
}
