/* C twin of xdp_filter.ts, written for this corpus: the logic of xdp-tools'
 * xdp-filter/xdpfilt_prog.h with every feature on (both modes, as xdpfilt_alw_all.c and
 * xdpfilt_dny_all.c build it), its common_kern_user.h constants, and the parsers and
 * stats of headers/xdp (README.md has the sources), in one file, for clang -O2. The maps
 * are not pinned (the test loads two copies side by side); no run-config or features
 * section. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/udp.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define TAGS_MAX 4
#define EXT_MAX 6
#define N_ACTIONS (XDP_REDIRECT + 1)
#define F_SRC (1 << 0)
#define F_DST (1 << 1)
#define F_TCP (1 << 2)
#define F_UDP (1 << 3)
#define HITS_SHIFT 6
#define NS 135
#define NA 136

struct stats_rec {
	__u64 packets;
	__u64 bytes;
};

struct mac {
	__u8 addr[ETH_ALEN];
};

struct arp {
	__be16 hrd;
	__be16 pro;
	__u8 hln;
	__u8 pln;
	__be16 op;
	__u8 sha[ETH_ALEN];
	__be32 sip;
	__u8 tha[ETH_ALEN];
	__be32 tip;
} __attribute__((packed));

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, N_ACTIONS);
	__type(key, __u32);
	__type(value, struct stats_rec);
} xdp_stats_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u64);
} filter_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 10000);
	__type(key, __u32);
	__type(value, __u64);
} filter_ipv4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 10000);
	__type(key, struct in6_addr);
	__type(value, __u64);
} filter_ipv6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 10000);
	__type(key, struct mac);
	__type(value, __u64);
} filter_ethernet SEC(".maps");

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

static __always_inline __u32 count(struct xdp_md *ctx, __u32 verdict)
{
	struct stats_rec *r;

	if (verdict >= N_ACTIONS)
		return XDP_ABORTED;
	r = bpf_map_lookup_elem(&xdp_stats_map, &verdict);
	if (!r)
		return XDP_ABORTED;
	r->packets++;
	r->bytes += ctx->data_end - ctx->data;
	return verdict;
}

#define HIT(map, key, mask)                                        \
	do {                                                       \
		__u64 *v = bpf_map_lookup_elem(map, key);          \
		if (v && (*v & (mask)) == (mask)) {                \
			*v += (1 << HITS_SHIFT);                   \
			return 1;                                  \
		}                                                  \
	} while (0)

static __always_inline int by_mac(struct ethhdr *eth)
{
	struct mac m = {};

	__builtin_memcpy(&m, eth->h_dest, sizeof(m));
	HIT(&filter_ethernet, &m, F_DST);
	__builtin_memcpy(&m, eth->h_source, sizeof(m));
	HIT(&filter_ethernet, &m, F_SRC);
	return 0;
}

static __always_inline int by_ip4(__u32 *src, __u32 *dst)
{
	__u32 a;

	if (dst) {
		a = *dst;
		HIT(&filter_ipv4, &a, F_DST);
	}
	if (src) {
		a = *src;
		HIT(&filter_ipv4, &a, F_SRC);
	}
	return 0;
}

static __always_inline int by_ip6(struct in6_addr *src, struct in6_addr *dst)
{
	struct in6_addr a;

	if (dst) {
		a = *dst;
		HIT(&filter_ipv6, &a, F_DST);
	}
	if (src) {
		a = *src;
		HIT(&filter_ipv6, &a, F_SRC);
	}
	return 0;
}

static __always_inline int by_port(__be16 dport, __be16 sport, __u32 proto_flag)
{
	__u32 k;

	k = dport;
	HIT(&filter_ports, &k, F_DST | proto_flag);
	k = sport;
	HIT(&filter_ports, &k, F_SRC | proto_flag);
	return 0;
}

static __always_inline __u32 run(struct xdp_md *ctx, __u32 hit, __u32 miss)
{
	void *end = (void *)(long)ctx->data_end;
	struct cursor c = { .at = (void *)(long)ctx->data };
	__u32 verdict = miss;
	struct ipv6hdr *ip6;
	struct ethhdr *eth;
	struct iphdr *ip;
	int et, l4 = 0, op;

	et = eth_next(&c, end, &eth);
	if (et < 0)
		goto abort;
	if (by_mac(eth))
		goto hit;
	if (et == bpf_htons(ETH_P_IP)) {
		l4 = ip4_next(&c, end, &ip);
		if (l4 < 0)
			goto abort;
		if (by_ip4(&ip->saddr, &ip->daddr))
			goto hit;
	} else if (et == bpf_htons(ETH_P_ARP)) {
		struct arp *a = c.at;
		__be32 sip, tip;

		if ((void *)(a + 1) > end)
			goto abort;
		if (a->hrd != bpf_htons(1) || a->pro != bpf_htons(ETH_P_IP) ||
		    a->hln != ETH_ALEN || a->pln != 4)
			goto abort;
		op = a->op;
		sip = a->sip;
		tip = a->tip;
		if (by_ip4(&sip, NULL))
			goto hit;
		if (op == bpf_htons(1)) {
			if (by_ip4(NULL, &tip))
				goto hit;
		} else if (op == bpf_htons(2)) {
			if (by_ip4(&tip, NULL))
				goto hit;
		}
	} else if (et == bpf_htons(ETH_P_IPV6)) {
		l4 = ip6_next(&c, end, &ip6);
		if (l4 < 0)
			goto abort;
		if (by_ip6(&ip6->saddr, &ip6->daddr))
			goto hit;
		if (l4 == IPPROTO_ICMPV6) {
			__u8 *t = c.at;
			struct in6_addr *target;

			if ((void *)(t + 8) > end)
				goto abort;
			op = *t;
			if (op == NS || op == NA) {
				target = (void *)(t + 8);
				if ((void *)(target + 1) > end)
					goto abort;
				if (op == NS ? by_ip6(NULL, target) : by_ip6(target, NULL))
					goto hit;
			}
		}
	} else {
		goto done;
	}
	if (l4 == IPPROTO_UDP) {
		struct udphdr *u = c.at;

		if ((void *)(u + 1) > end || (int)bpf_ntohs(u->len) - (int)sizeof(*u) < 0)
			goto abort;
		if (by_port(u->dest, u->source, F_UDP))
			goto hit;
	}
	if (l4 == IPPROTO_TCP) {
		struct tcphdr *t = c.at;
		int len;

		if ((void *)(t + 1) > end)
			goto abort;
		len = t->doff * 4;
		if (len < (int)sizeof(*t) || c.at + len > end)
			goto abort;
		if (by_port(t->dest, t->source, F_TCP))
			goto hit;
	}
	goto done;
hit:
	verdict = hit;
	goto done;
abort:
	verdict = XDP_ABORTED;
done:
	return count(ctx, verdict);
}

SEC("xdp")
int xdpfilt_alw_all(struct xdp_md *ctx)
{
	return run(ctx, XDP_DROP, XDP_PASS);
}

SEC("xdp")
int xdpfilt_dny_all(struct xdp_md *ctx)
{
	return run(ctx, XDP_PASS, XDP_DROP);
}

char _license[] SEC("license") = "GPL";
