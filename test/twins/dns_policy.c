/* C twin of filters/dns_policy.ts. */
#include "xdpc_twin.h"

enum Reason { Passed = 0, PortDenied = 1, DnsShort = 2, DnsReflected = 3, DnsOversize = 4 };
enum Policy { Allow = 0, Deny = 1 };

#define DNS_PORT 53
#define DNS_QR 0x8000

const volatile __u16 maxResponse = 1232;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} portPolicy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

X_INLINE __u32 l3Offset(struct xdp_md *ctx)
{
	struct x_vlan *tag = x_vlan(ctx);
	if (!tag)
		return 14;
	if (tag->proto == bpf_htons(0x8100) || tag->proto == bpf_htons(0x88a8))
		return 22;
	return 18;
}

X_INLINE int verdict(__u32 reason)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &reason);
	if (c)
		__sync_fetch_and_add(c, 1);
	return reason == Passed ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int dns_policy(struct xdp_md *ctx)
{
	struct udphdr *udp = x_udp(ctx);
	if (!udp)
		return XDP_PASS;

	__u32 dport = bpf_ntohs(udp->dest);
	__u8 *policy = bpf_map_lookup_elem(&portPolicy, &dport);
	if (policy && *policy == Deny)
		return verdict(PortDenied);

	if (dport == DNS_PORT) {
		__u32 off = l3Offset(ctx) + 8;
		struct iphdr *ip = x_ipv4(ctx);
		if (ip)
			off += ip->ihl * 4;
		else
			off += 40;
		if (x_load8(ctx, off + 11) < 0)
			return verdict(DnsShort);
		long flags = x_load16(ctx, off + 2);
		if (flags >= 0 && (flags & DNS_QR) != 0)
			return verdict(DnsReflected);
	} else if (bpf_ntohs(udp->source) == DNS_PORT && bpf_ntohs(udp->len) > maxResponse) {
		return verdict(DnsOversize);
	}
	return verdict(Passed);
}

char LICENSE[] SEC("license") = "GPL";
