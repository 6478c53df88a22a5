/* C twin of filters/icmp_echo.ts. */
#include "xdpc_twin.h"

#define REPLY_TTL 64
#define MORE_FRAGMENTS 0x1

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} replies SEC(".maps");

X_INLINE __u16 csumReplace(__u16 check, __u16 old, __u16 now)
{
	__u32 sum = (~(__u32)check & 0xffff) + (~(__u32)old & 0xffff) + now;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

X_INLINE void bounce(struct xdp_md *ctx)
{
	struct ethhdr *eth = x_eth(ctx);
	if (!eth)
		return;
	__u64 mac = x_mac_get(eth->h_source);
	x_mac_set(eth->h_source, x_mac_get(eth->h_dest));
	x_mac_set(eth->h_dest, mac);
}

X_INLINE void count(__u32 i)
{
	__u64 *c = bpf_map_lookup_elem(&replies, &i);
	if (c)
		__sync_fetch_and_add(c, 1);
}

SEC("xdp")
int icmp_echo(struct xdp_md *ctx)
{
	struct iphdr *ip = x_ipv4(ctx);
	if (ip) {
		struct x_icmp *icmp = x_icmp(ctx);
		if (!icmp || icmp->type != 8 || icmp->code != 0)
			return XDP_PASS;
		/* flags are the top 3 bits of frag_off */
		if (((bpf_ntohs(ip->frag_off) >> 13) & MORE_FRAGMENTS) != 0)
			return XDP_PASS;

		__be32 src = ip->saddr;
		ip->saddr = ip->daddr;
		ip->daddr = src;
		__u16 oldTtlWord = (ip->ttl << 8) | ip->protocol;
		ip->ttl = REPLY_TTL;
		ip->check = bpf_htons(csumReplace(bpf_ntohs(ip->check), oldTtlWord,
						  (REPLY_TTL << 8) | ip->protocol));

		icmp->type = 0;
		icmp->checksum = bpf_htons(csumReplace(bpf_ntohs(icmp->checksum), 8 << 8, 0 << 8));
		bounce(ctx);
		count(0);
		return XDP_TX;
	}

	struct ipv6hdr *ip6 = x_ipv6(ctx);
	if (!ip6)
		return XDP_PASS;
	struct x_icmp *icmp6 = x_icmp6(ctx);
	if (!icmp6 || icmp6->type != 128 || icmp6->code != 0)
		return XDP_PASS;

	for (int i = 0; i < 16; i++) {
		__u8 b = ip6->saddr.in6_u.u6_addr8[i];
		ip6->saddr.in6_u.u6_addr8[i] = ip6->daddr.in6_u.u6_addr8[i];
		ip6->daddr.in6_u.u6_addr8[i] = b;
	}
	ip6->hop_limit = REPLY_TTL;
	icmp6->type = 129;
	icmp6->checksum = bpf_htons(csumReplace(bpf_ntohs(icmp6->checksum), 128 << 8, 129 << 8));
	bounce(ctx);
	count(1);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
