/* C twin of xdp_fwd.ts, written for this corpus: the logic of samples/bpf/xdp_fwd_kern.c
 * (README.md has the source), with a BTF-defined DevMap, for clang -O2. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define AF_INET 2
#define AF_INET6 10

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xdp_tx_ports SEC(".maps");

static __always_inline void ttl_down(struct iphdr *iph)
{
	__u32 sum = iph->check;

	sum += bpf_htons(0x0100);
	iph->check = (__u16)(sum + (sum >= 0xffff));
	iph->ttl--;
}

static __always_inline int forward(struct xdp_md *ctx, __u32 flags)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct bpf_fib_lookup p;
	struct ipv6hdr *ip6h;
	struct iphdr *iph;
	__u16 proto;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	__builtin_memset(&p, 0, sizeof(p));
	proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_IP)) {
		iph = (void *)(eth + 1);
		if ((void *)(iph + 1) > data_end)
			return XDP_DROP;
		if (iph->ttl <= 1)
			return XDP_PASS;
		p.family = AF_INET;
		p.tos = iph->tos;
		p.l4_protocol = iph->protocol;
		p.tot_len = bpf_ntohs(iph->tot_len);
		p.ipv4_src = iph->saddr;
		p.ipv4_dst = iph->daddr;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		ip6h = (void *)(eth + 1);
		if ((void *)(ip6h + 1) > data_end)
			return XDP_DROP;
		if (ip6h->hop_limit <= 1)
			return XDP_PASS;
		p.family = AF_INET6;
		p.flowinfo = *(__be32 *)ip6h & bpf_htonl(0x0fffffff);
		p.l4_protocol = ip6h->nexthdr;
		p.tot_len = bpf_ntohs(ip6h->payload_len);
		__builtin_memcpy(p.ipv6_src, &ip6h->saddr, 16);
		__builtin_memcpy(p.ipv6_dst, &ip6h->daddr, 16);
	} else {
		return XDP_PASS;
	}
	p.ifindex = ctx->ingress_ifindex;
	if (bpf_fib_lookup(ctx, &p, sizeof(p), flags) != BPF_FIB_LKUP_RET_SUCCESS)
		return XDP_PASS;
	if (!bpf_map_lookup_elem(&xdp_tx_ports, &p.ifindex))
		return XDP_PASS;
	if (proto == bpf_htons(ETH_P_IP))
		ttl_down(iph);
	else if (proto == bpf_htons(ETH_P_IPV6))
		ip6h->hop_limit--;
	__builtin_memcpy(eth->h_dest, p.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, p.smac, ETH_ALEN);
	return bpf_redirect_map(&xdp_tx_ports, p.ifindex, 0);
}

SEC("xdp")
int xdp_fwd(struct xdp_md *ctx)
{
	return forward(ctx, 0);
}

SEC("xdp")
int xdp_fwd_direct(struct xdp_md *ctx)
{
	return forward(ctx, BPF_FIB_LOOKUP_DIRECT);
}

char _license[] SEC("license") = "GPL";
