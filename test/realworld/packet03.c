/* C twin of packet03.ts, written for this corpus: the logic of xdp-tutorial's
 * packet-solutions/xdp_prog_kern_03.c and the parsing, rewrite and stats helpers it
 * includes (README.md has the sources), in one file, for clang -O2. The stats map is
 * not pinned here (the test loads two copies side by side). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <linux/tcp.h>
#define ICMP_ECHO 8
#define ICMP_ECHOREPLY 0
#define ICMPV6_ECHO_REQUEST 128
#define ICMPV6_ECHO_REPLY 129
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define N_ACTIONS (XDP_REDIRECT + 1)
#define TAGS_MAX 2

struct rec {
	__u64 pkts;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct rec);
	__uint(max_entries, N_ACTIONS);
} xdp_stats_map SEC(".maps");

struct tag {
	__be16 tci;
	__be16 inner;
};

struct cursor {
	void *at;
};

static __always_inline __u32 count(struct xdp_md *ctx, __u32 verdict)
{
	struct rec *r;

	if (verdict >= N_ACTIONS)
		return XDP_ABORTED;
	r = bpf_map_lookup_elem(&xdp_stats_map, &verdict);
	if (!r)
		return XDP_ABORTED;
	r->pkts++;
	r->bytes += ctx->data_end - ctx->data;
	return verdict;
}

static __always_inline int is_tag(__u16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD);
}

static __always_inline int eth_next(struct cursor *c, void *end, struct ethhdr **out)
{
	struct ethhdr *eth = c->at;
	struct tag *t;
	__u16 proto;

	if ((void *)(eth + 1) > end)
		return -1;
	*out = eth;
	t = (void *)(eth + 1);
	proto = eth->h_proto;
#pragma unroll
	for (int i = 0; i < TAGS_MAX; i++) {
		if (!is_tag(proto))
			break;
		if ((void *)(t + 1) > end)
			break;
		proto = t->inner;
		t++;
	}
	c->at = t;
	return proto;
}

static __always_inline int ip4_next(struct cursor *c, void *end)
{
	struct iphdr *ip = c->at;
	int len;

	if ((void *)(ip + 1) > end)
		return -1;
	len = ip->ihl * 4;
	if (len < (int)sizeof(*ip))
		return -1;
	if (c->at + len > end)
		return -1;
	c->at += len;
	return ip->protocol;
}

static __always_inline int ip6_next(struct cursor *c, void *end)
{
	struct ipv6hdr *ip6 = c->at;

	if ((void *)(ip6 + 1) > end)
		return -1;
	c->at = ip6 + 1;
	return ip6->nexthdr;
}

#define AF_INET 2
#define AF_INET6 10

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__type(key, int);
	__type(value, int);
	__uint(max_entries, 256);
} tx_port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, unsigned char[ETH_ALEN]);
	__type(value, unsigned char[ETH_ALEN]);
	__uint(max_entries, 1);
} redirect_params SEC(".maps");

struct icmp_common {
	__u8 type;
	__u8 code;
	__sum16 cksum;
};

static __always_inline __u16 fold(__u32 s)
{
	__u32 r = (s >> 16) + (s & 0xffff);

	r += r >> 16;
	return ~r;
}

static __always_inline void mac_swap(struct ethhdr *eth)
{
	__u8 t[ETH_ALEN];

	__builtin_memcpy(t, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, t, ETH_ALEN);
}

SEC("xdp")
int xdp_icmp_echo_func(struct xdp_md *ctx)
{
	void *end = (void *)(long)ctx->data_end;
	struct cursor c = { .at = (void *)(long)ctx->data };
	struct icmp_common *ic, before;
	struct ipv6hdr *ip6;
	struct iphdr *ip;
	struct ethhdr *eth;
	__u32 verdict = XDP_PASS;
	__u16 reply, old;
	int proto, l4, type;

	proto = eth_next(&c, end, &eth);
	if (proto == bpf_htons(ETH_P_IP)) {
		ip = c.at;
		l4 = ip4_next(&c, end);
		if (l4 != IPPROTO_ICMP)
			goto done;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		ip6 = c.at;
		l4 = ip6_next(&c, end);
		if (l4 != IPPROTO_ICMPV6)
			goto done;
	} else {
		goto done;
	}
	ic = c.at;
	if ((void *)(ic + 1) > end)
		type = -1;
	else
		type = ic->type;
	if (proto == bpf_htons(ETH_P_IP) && type == ICMP_ECHO) {
		__be32 a = ip->saddr;

		ip->saddr = ip->daddr;
		ip->daddr = a;
		reply = ICMP_ECHOREPLY;
	} else if (proto == bpf_htons(ETH_P_IPV6) && type == ICMPV6_ECHO_REQUEST) {
		struct in6_addr a = ip6->saddr;

		ip6->saddr = ip6->daddr;
		ip6->daddr = a;
		reply = ICMPV6_ECHO_REPLY;
	} else {
		goto done;
	}
	mac_swap(eth);
	old = ic->cksum;
	ic->cksum = 0;
	before = *ic;
	ic->type = reply;
	ic->cksum = fold(bpf_csum_diff((__be32 *)&before, sizeof(before), (__be32 *)ic,
				       sizeof(*ic), (__u16)~old));
	verdict = XDP_TX;
done:
	return count(ctx, verdict);
}

SEC("xdp")
int xdp_redirect_func(struct xdp_md *ctx)
{
	void *end = (void *)(long)ctx->data_end;
	struct cursor c = { .at = (void *)(long)ctx->data };
	unsigned char mac[ETH_ALEN] = {};
	struct ethhdr *eth;
	int verdict = XDP_PASS;

	if (eth_next(&c, end, &eth) == -1)
		goto done;
	__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
	verdict = bpf_redirect(0, 0);
done:
	return count(ctx, verdict);
}

SEC("xdp")
int xdp_redirect_map_func(struct xdp_md *ctx)
{
	void *end = (void *)(long)ctx->data_end;
	struct cursor c = { .at = (void *)(long)ctx->data };
	struct ethhdr *eth;
	int verdict = XDP_PASS;
	unsigned char *mac;

	if (eth_next(&c, end, &eth) == -1)
		goto done;
	mac = bpf_map_lookup_elem(&redirect_params, eth->h_source);
	if (!mac)
		goto done;
	__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
	verdict = bpf_redirect_map(&tx_port, 0, 0);
done:
	return count(ctx, verdict);
}

static __always_inline int ttl_down(struct iphdr *ip)
{
	__u32 s = ip->check;

	s += bpf_htons(0x0100);
	ip->check = (__u16)(s + (s >= 0xFFFF));
	return --ip->ttl;
}

SEC("xdp")
int xdp_router_func(struct xdp_md *ctx)
{
	void *end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct bpf_fib_lookup p = {};
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6;
	struct iphdr *ip;
	int verdict = XDP_PASS;
	__u16 proto;
	int rc;

	if (data + sizeof(*eth) > end) {
		verdict = XDP_DROP;
		goto done;
	}
	proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_IP)) {
		ip = data + sizeof(*eth);
		if ((void *)(ip + 1) > end) {
			verdict = XDP_DROP;
			goto done;
		}
		if (ip->ttl <= 1)
			goto done;
		p.family = AF_INET;
		p.tos = ip->tos;
		p.l4_protocol = ip->protocol;
		p.tot_len = bpf_ntohs(ip->tot_len);
		p.ipv4_src = ip->saddr;
		p.ipv4_dst = ip->daddr;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		ip6 = data + sizeof(*eth);
		if ((void *)(ip6 + 1) > end) {
			verdict = XDP_DROP;
			goto done;
		}
		if (ip6->hop_limit <= 1)
			goto done;
		p.family = AF_INET6;
		p.flowinfo = *(__be32 *)ip6 & bpf_htonl(0x0FFFFFFF);
		p.l4_protocol = ip6->nexthdr;
		p.tot_len = bpf_ntohs(ip6->payload_len);
		*(struct in6_addr *)p.ipv6_src = ip6->saddr;
		*(struct in6_addr *)p.ipv6_dst = ip6->daddr;
	} else {
		goto done;
	}
	p.ifindex = ctx->ingress_ifindex;
	rc = bpf_fib_lookup(ctx, &p, sizeof(p), 0);
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		if (proto == bpf_htons(ETH_P_IP))
			ttl_down(ip);
		else if (proto == bpf_htons(ETH_P_IPV6))
			ip6->hop_limit--;
		__builtin_memcpy(eth->h_dest, p.dmac, ETH_ALEN);
		__builtin_memcpy(eth->h_source, p.smac, ETH_ALEN);
		verdict = bpf_redirect(p.ifindex, 0);
		break;
	case BPF_FIB_LKUP_RET_BLACKHOLE:
	case BPF_FIB_LKUP_RET_UNREACHABLE:
	case BPF_FIB_LKUP_RET_PROHIBIT:
		verdict = XDP_DROP;
		break;
	default:
		break;
	}
done:
	return count(ctx, verdict);
}

SEC("xdp")
int xdp_pass_func(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
