/**
 * lpm_firewall — drop traffic from blocklisted IPv4/IPv6 prefixes, counting hits per rule.
 *
 * What it does: looks up the source address of every IPv4 and IPv6 packet (after up to two
 * VLAN tags) in a longest-prefix-match trie. A match gives a rule id: the packet is dropped
 * and that rule's packet and byte counters go up. Everything else passes untouched.
 *
 * Maps:
 *   blocklist4  LpmTrie<Ipv4Prefix, u32>   prefix → rule id (pinned, so rules survive reloads)
 *   blocklist6  LpmTrie<Ipv6Prefix, u32>   prefix → rule id (pinned)
 *   ruleStats   PerCpuArray<RuleStats>     rule id (0..1023) → { packets, bytes } per CPU
 * LpmTrie keys hold the address in network byte order after `prefixlen`, as the kernel
 * matches prefixes from the most significant bit (the compiler stores it that way).
 *
 * Params: none.
 *
 * Load:   xdpc load --iface eth0 filters/lpm_firewall.ts
 * Rules:  xdpc map update blocklist4 '{"prefixlen":24,"addr":"198.18.7.0"}' 7
 *         (or bpftool map update pinned /sys/fs/bpf/blocklist4 key hex 18 00 00 00 c6 12 07 00 value hex 07 00 00 00)
 */
import {
  XdpContext, XdpAction, XDP_PASS, XDP_DROP, LpmTrie, PerCpuArray, Ipv6Addr, u32, u64,
} from "xdpc";

interface Ipv4Prefix { prefixlen: u32; addr: u32 }
interface Ipv6Prefix { prefixlen: u32; addr: Ipv6Addr }
interface RuleStats { packets: u64; bytes: u64 }

const MAX_RULES = 1024;

const blocklist4 = new LpmTrie<Ipv4Prefix, u32>({ maxEntries: 65536, pinned: true });
const blocklist6 = new LpmTrie<Ipv6Prefix, u32>({ maxEntries: 16384, pinned: true });
const ruleStats = new PerCpuArray<RuleStats>({ maxEntries: MAX_RULES });

/** Counts one dropped packet against `rule`. */
function hit(rule: u32, len: u32): void {
  const s = ruleStats.lookup(rule);
  if (s !== null) {
    s.packets += 1;
    s.bytes += len;
  }
}

export function lpm_firewall(ctx: XdpContext): XdpAction {
  const ip = ctx.ipv4();
  if (ip !== null) {
    const rule = blocklist4.lookup({ prefixlen: 32, addr: ip.src });
    if (rule === null) return XDP_PASS;
    hit(rule, ctx.len);
    return XDP_DROP;
  }
  const ip6 = ctx.ipv6();
  if (ip6 !== null) {
    const rule = blocklist6.lookup({ prefixlen: 128, addr: ip6.src });
    if (rule === null) return XDP_PASS;
    hit(rule, ctx.len);
    return XDP_DROP;
  }
  return XDP_PASS;
}
