/* router's twin: filters/router/router.ts in C, for clang -O2 — the xdp_fwd pattern with
 * the filter's exact header rules (untagged IPv4 / IPv6, as ipv4(0) / ipv6(0) check). */
#include "../twins/xdpc_twin.h"

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} egress SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

#define AF_INET 2
#define AF_INET6 10
#define FORWARDED 0
#define TO_STACK 1

static __always_inline int to_stack(void)
{
	__u32 k = TO_STACK;
	__u64 *n = bpf_map_lookup_elem(&counts, &k);
	if (n)
		*n += 1;
	return XDP_PASS;
}

static __always_inline struct iphdr *ipv4_untagged(struct xdp_md *ctx)
{
	struct ethhdr *eth = x_eth(ctx);
	if (!eth || eth->h_proto != bpf_htons(ETH_P_IP))
		return NULL;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > X_END(ctx) || ip->version != 4 || ip->ihl < 5)
		return NULL;
	if ((void *)ip + ip->ihl * 4 > X_END(ctx))
		return NULL;
	return ip;
}

static __always_inline struct ipv6hdr *ipv6_untagged(struct xdp_md *ctx)
{
	struct ethhdr *eth = x_eth(ctx);
	if (!eth || eth->h_proto != bpf_htons(ETH_P_IPV6))
		return NULL;
	struct ipv6hdr *ip6 = (void *)(eth + 1);
	if ((void *)(ip6 + 1) > X_END(ctx) || ip6->version != 6)
		return NULL;
	return ip6;
}

/* RFC 1624 eqn. 3 on host-order words, as csumReplace16. */
static __always_inline __u16 csum_replace16(__u16 check, __u16 old, __u16 now)
{
	__u32 sum = (__u16)~check + (__u32)(__u16)~old + now;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

SEC("xdp")
int router(struct xdp_md *ctx)
{
	struct bpf_fib_lookup p = {};
	p.ifindex = ctx->ingress_ifindex;
	struct iphdr *ip = ipv4_untagged(ctx);
	if (ip) {
		if (ip->ttl <= 1)
			return to_stack();
		p.family = AF_INET;
		p.tos = ip->tos;
		p.l4_protocol = ip->protocol;
		p.tot_len = bpf_ntohs(ip->tot_len);
		p.ipv4_src = ip->saddr;
		p.ipv4_dst = ip->daddr;
	} else {
		struct ipv6hdr *ip6 = ipv6_untagged(ctx);
		if (!ip6 || ip6->hop_limit <= 1)
			return to_stack();
		p.family = AF_INET6;
		p.flowinfo = *(__be32 *)ip6 & bpf_htonl(0x0fffffff);
		p.l4_protocol = ip6->nexthdr;
		p.tot_len = bpf_ntohs(ip6->payload_len);
		__builtin_memcpy(p.ipv6_src, &ip6->saddr, 16);
		__builtin_memcpy(p.ipv6_dst, &ip6->daddr, 16);
	}
	if (bpf_fib_lookup(ctx, &p, sizeof(p), 0) != BPF_FIB_LKUP_RET_SUCCESS)
		return to_stack();
	if (!bpf_map_lookup_elem(&egress, &p.ifindex))
		return to_stack();

	ip = ipv4_untagged(ctx);
	if (ip) {
		__u16 before = ip->ttl << 8 | ip->protocol;
		ip->ttl -= 1;
		ip->check = bpf_htons(csum_replace16(bpf_ntohs(ip->check), before,
						     ip->ttl << 8 | ip->protocol));
	} else {
		struct ipv6hdr *ip6 = ipv6_untagged(ctx);
		if (!ip6)
			return XDP_ABORTED;
		ip6->hop_limit -= 1;
	}
	struct ethhdr *eth = x_eth(ctx);
	if (!eth)
		return XDP_ABORTED;
	__builtin_memcpy(eth->h_dest, p.dmac, 6);
	__builtin_memcpy(eth->h_source, p.smac, 6);
	__u32 k = FORWARDED;
	__u64 *n = bpf_map_lookup_elem(&counts, &k);
	if (n)
		*n += 1;
	return bpf_redirect_map(&egress, p.ifindex, XDP_ABORTED);
}

char LICENSE[] SEC("license") = "GPL";
