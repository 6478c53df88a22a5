/* C twin of xdp_forward.ts, written for this corpus: the logic of xdp-tools'
 * xdp-forward/xdp_forward.bpf.c and the parsers of headers/xdp/parsing_helpers.h it uses
 * (README.md has the sources), in one file, for clang -O2. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define AF_INET 2
#define AF_INET6 10
#define TAGS_MAX 4
#define EXT_MAX 6
/* As in the original: htons of a 32-bit mask keeps its low 16 bits. */
#define FLOW_MASK bpf_htons(0x0FFFFFFF)

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(key_size, sizeof(int));
	__uint(value_size, sizeof(int));
	__uint(max_entries, 64);
} xdp_tx_ports SEC(".maps");

struct tag {
	__be16 tci;
	__be16 inner;
};

struct opt {
	__u8 next;
	__u8 len;
};

struct cursor {
	void *at;
};

static __always_inline int is_tag(__u16 p)
{
	return p == bpf_htons(ETH_P_8021Q) || p == bpf_htons(ETH_P_8021AD);
}

static __always_inline int eth_next(struct cursor *c, void *end, struct ethhdr **out)
{
	struct ethhdr *eth = c->at;
	struct tag *t;
	__u16 p;

	if ((void *)(eth + 1) > end)
		return -1;
	t = (void *)(eth + 1);
	p = eth->h_proto;
#pragma unroll
	for (int i = 0; i < TAGS_MAX; i++) {
		if (!is_tag(p))
			break;
		if ((void *)(t + 1) > end)
			break;
		p = t->inner;
		t++;
	}
	c->at = t;
	*out = eth;
	return p;
}

static __always_inline int skip_ext(struct cursor *c, void *end, __u8 next)
{
#pragma unroll
	for (int i = 0; i < EXT_MAX; i++) {
		struct opt *o = c->at;

		if ((void *)(o + 1) > end)
			return -1;
		switch (next) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_DSTOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_MH:
			c->at = (char *)o + (o->len + 1) * 8;
			next = o->next;
			break;
		case IPPROTO_AH:
			c->at = (char *)o + (o->len + 2) * 4;
			next = o->next;
			break;
		case IPPROTO_FRAGMENT:
			c->at = (char *)o + 8;
			next = o->next;
			break;
		default:
			return next;
		}
	}
	return -1;
}

static __always_inline int ip6_next(struct cursor *c, void *end, struct ipv6hdr **out)
{
	struct ipv6hdr *ip6 = c->at;

	if ((void *)(ip6 + 1) > end)
		return -1;
	c->at = ip6 + 1;
	*out = ip6;
	return skip_ext(c, end, ip6->nexthdr);
}

static __always_inline int ip4_next(struct cursor *c, void *end, struct iphdr **out)
{
	struct iphdr *ip = c->at;
	int len;

	if ((void *)(ip + 1) > end)
		return -1;
	len = ip->ihl * 4;
	if (c->at + len > end)
		return -1;
	c->at += len;
	*out = ip;
	return ip->protocol;
}

static __always_inline int ttl_down(struct iphdr *ip)
{
	__u32 s = (__u32)ip->check;

	s += (__u32)bpf_htons(0x0100);
	ip->check = (__sum16)(s + (s >= 0xFFFF));
	return --ip->ttl;
}

static __always_inline int forward(struct xdp_md *ctx, __u32 flags)
{
	void *end = (void *)(long)ctx->data_end;
	struct cursor c = { .at = (void *)(long)ctx->data };
	struct bpf_fib_lookup p;
	struct ipv6hdr *ip6;
	struct ethhdr *eth;
	struct iphdr *ip;
	int et, l4;

	__builtin_memset(&p, 0, sizeof(p));
	et = eth_next(&c, end, &eth);
	if (et == bpf_htons(ETH_P_IP)) {
		l4 = ip4_next(&c, end, &ip);
		if (l4 < 0 || ip->ttl <= 1)
			return XDP_PASS;
		p.family = AF_INET;
		p.tos = ip->tos;
		p.l4_protocol = l4;
		p.tot_len = bpf_ntohs(ip->tot_len);
		p.ipv4_src = ip->saddr;
		p.ipv4_dst = ip->daddr;
	} else if (et == bpf_htons(ETH_P_IPV6)) {
		l4 = ip6_next(&c, end, &ip6);
		if (l4 < 0 || ip6->hop_limit <= 1)
			return XDP_PASS;
		p.family = AF_INET6;
		p.flowinfo = *(__be32 *)ip6 & FLOW_MASK;
		p.l4_protocol = l4;
		p.tot_len = bpf_ntohs(ip6->payload_len);
		*(struct in6_addr *)p.ipv6_src = ip6->saddr;
		*(struct in6_addr *)p.ipv6_dst = ip6->daddr;
	} else {
		return XDP_PASS;
	}
	p.ifindex = ctx->ingress_ifindex;
	if (bpf_fib_lookup(ctx, &p, sizeof(p), flags) != BPF_FIB_LKUP_RET_SUCCESS)
		return XDP_PASS;
	if (!bpf_map_lookup_elem(&xdp_tx_ports, &p.ifindex))
		return XDP_PASS;
	if (et == bpf_htons(ETH_P_IP))
		ttl_down(ip);
	else
		ip6->hop_limit--;
	__builtin_memcpy(eth->h_dest, p.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, p.smac, ETH_ALEN);
	return bpf_redirect_map(&xdp_tx_ports, p.ifindex, 0);
}

SEC("xdp")
int xdp_fwd_fib_full(struct xdp_md *ctx)
{
	return forward(ctx, 0);
}

SEC("xdp")
int xdp_fwd_fib_direct(struct xdp_md *ctx)
{
	return forward(ctx, BPF_FIB_LOOKUP_DIRECT);
}

char _license[] SEC("license") = "GPL";
