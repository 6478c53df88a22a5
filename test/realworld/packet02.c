/* C twin of packet02.ts, written for this corpus: the logic of xdp-tutorial's
 * packet-solutions/xdp_prog_kern_02.c and the parsing, rewrite and stats helpers it
 * includes (README.md has the sources), in one file, for clang -O2. The stats map is
 * not pinned here (the test loads two copies side by side). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <linux/tcp.h>
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

SEC("xdp")
int xdp_patch_ports_func(struct xdp_md *ctx)
{
	void *end = (void *)(long)ctx->data_end;
	struct cursor c = { .at = (void *)(long)ctx->data };
	__u32 verdict = XDP_PASS;
	struct ethhdr *eth;
	int proto, l4;

	proto = eth_next(&c, end, &eth);
	if (proto < 0) {
		verdict = XDP_ABORTED;
		goto done;
	}
	if (proto == bpf_htons(ETH_P_IP))
		l4 = ip4_next(&c, end);
	else if (proto == bpf_htons(ETH_P_IPV6))
		l4 = ip6_next(&c, end);
	else
		goto done;
	if (l4 == IPPROTO_UDP) {
		struct udphdr *u = c.at;

		if ((void *)(u + 1) > end || (int)bpf_ntohs(u->len) - (int)sizeof(*u) < 0) {
			verdict = XDP_ABORTED;
			goto done;
		}
		u->dest = bpf_htons(bpf_ntohs(u->dest) - 1);
		u->check += bpf_htons(1);
		if (!u->check)
			u->check += bpf_htons(1);
	} else if (l4 == IPPROTO_TCP) {
		struct tcphdr *t = c.at;
		int len;

		if ((void *)(t + 1) > end) {
			verdict = XDP_ABORTED;
			goto done;
		}
		len = t->doff * 4;
		if (len < (int)sizeof(*t) || c.at + len > end) {
			verdict = XDP_ABORTED;
			goto done;
		}
		t->dest = bpf_htons(bpf_ntohs(t->dest) - 1);
		t->check += bpf_htons(1);
		if (!t->check)
			t->check += bpf_htons(1);
	}
done:
	return count(ctx, verdict);
}

static __always_inline int tag_pop(struct xdp_md *ctx, struct ethhdr *eth)
{
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr saved;
	struct tag *t;
	__be16 inner;
	int vid;

	if (!is_tag(eth->h_proto))
		return -1;
	t = (void *)(eth + 1);
	if ((void *)(t + 1) > end)
		return -1;
	vid = bpf_ntohs(t->tci);
	inner = t->inner;
	__builtin_memcpy(&saved, eth, sizeof(saved));
	if (bpf_xdp_adjust_head(ctx, (int)sizeof(*t)))
		return -1;
	eth = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if ((void *)(eth + 1) > end)
		return -1;
	__builtin_memcpy(eth, &saved, sizeof(*eth));
	eth->h_proto = inner;
	return vid;
}

static __always_inline int tag_push(struct xdp_md *ctx, struct ethhdr *eth, int vid)
{
	void *end;
	struct ethhdr saved;
	struct tag *t;

	__builtin_memcpy(&saved, eth, sizeof(saved));
	if (bpf_xdp_adjust_head(ctx, 0 - (int)sizeof(*t)))
		return -1;
	end = (void *)(long)ctx->data_end;
	eth = (void *)(long)ctx->data;
	if ((void *)(eth + 1) > end)
		return -1;
	__builtin_memcpy(eth, &saved, sizeof(*eth));
	t = (void *)(eth + 1);
	if ((void *)(t + 1) > end)
		return -1;
	t->tci = bpf_htons(vid);
	t->inner = eth->h_proto;
	eth->h_proto = bpf_htons(ETH_P_8021Q);
	return 0;
}

SEC("xdp")
int xdp_vlan_swap_func(struct xdp_md *ctx)
{
	void *end = (void *)(long)ctx->data_end;
	struct cursor c = { .at = (void *)(long)ctx->data };
	struct ethhdr *eth;

	if (eth_next(&c, end, &eth) < 0)
		return XDP_PASS;
	if (is_tag(eth->h_proto))
		tag_pop(ctx, eth);
	else
		tag_push(ctx, eth, 1);
	return XDP_PASS;
}

SEC("xdp")
int xdp_pass_func(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
