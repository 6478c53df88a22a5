/* C twin of xdp_tx_iptunnel.ts, written for this corpus: the logic and map layout of
 * samples/bpf/xdp_tx_iptunnel_kern.c and xdp_tx_iptunnel_common.h (README.md has the
 * source) with BTF-defined maps, for clang -O2. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define AF_INET 2
#define AF_INET6 10

union addr {
	__u32 v6[4];
	__u32 v4;
};

struct vip {
	union addr daddr;
	__u16 dport;
	__u16 family;
	__u8 protocol;
};

struct iptnl_info {
	union addr saddr;
	union addr daddr;
	__u16 family;
	__u8 dmac[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} rxcnt SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct vip);
	__type(value, struct iptnl_info);
} vip2tnl SEC(".maps");

static __always_inline void tx_count(__u32 proto)
{
	__u64 *n = bpf_map_lookup_elem(&rxcnt, &proto);

	if (n)
		*n += 1;
}

static __always_inline int l4_dport(void *l4, void *end, __u8 proto)
{
	if (proto == IPPROTO_TCP) {
		struct tcphdr *t = l4;

		return (void *)(t + 1) > end ? -1 : t->dest;
	}
	if (proto == IPPROTO_UDP) {
		struct udphdr *u = l4;

		return (void *)(u + 1) > end ? -1 : u->dest;
	}
	return 0;
}

static __always_inline void eth_fill(struct ethhdr *now, const struct ethhdr *old,
				     const struct iptnl_info *tnl, __be16 proto)
{
	__builtin_memcpy(now->h_source, old->h_dest, sizeof(now->h_source));
	__builtin_memcpy(now->h_dest, tnl->dmac, sizeof(now->h_dest));
	now->h_proto = proto;
}

static __always_inline int v4(struct xdp_md *ctx)
{
	void *end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	struct ethhdr *now, *old;
	struct iptnl_info *tnl;
	struct vip key = {};
	__u16 *w, len;
	__u32 sum = 0;
	int port;

	if ((void *)(ip + 1) > end)
		return XDP_DROP;
	port = l4_dport(ip + 1, end, ip->protocol);
	if (port == -1)
		return XDP_DROP;
	key.protocol = ip->protocol;
	key.family = AF_INET;
	key.daddr.v4 = ip->daddr;
	key.dport = port;
	len = bpf_ntohs(ip->tot_len);
	tnl = bpf_map_lookup_elem(&vip2tnl, &key);
	if (!tnl || tnl->family != AF_INET)
		return XDP_PASS;
	if (bpf_xdp_adjust_head(ctx, 0 - (int)sizeof(struct iphdr)))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	now = data;
	ip = data + sizeof(*now);
	old = data + sizeof(*ip);
	if ((void *)(now + 1) > end || (void *)(old + 1) > end || (void *)(ip + 1) > end)
		return XDP_DROP;
	eth_fill(now, old, tnl, bpf_htons(ETH_P_IP));
	ip->version = 4;
	ip->ihl = sizeof(*ip) >> 2;
	ip->frag_off = 0;
	ip->protocol = IPPROTO_IPIP;
	ip->check = 0;
	ip->tos = 0;
	ip->tot_len = bpf_htons(len + sizeof(*ip));
	ip->daddr = tnl->daddr.v4;
	ip->saddr = tnl->saddr.v4;
	ip->ttl = 8;
	w = (__u16 *)ip;
#pragma clang loop unroll(full)
	for (int i = 0; i < (int)sizeof(*ip) >> 1; i++)
		sum += *w++;
	ip->check = ~((sum & 0xffff) + (sum >> 16));
	tx_count(key.protocol);
	return XDP_TX;
}

static __always_inline int v6(struct xdp_md *ctx)
{
	void *end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);
	struct ethhdr *now, *old;
	struct iptnl_info *tnl;
	struct vip key = {};
	__u16 len;
	int port;

	if ((void *)(ip6 + 1) > end)
		return XDP_DROP;
	port = l4_dport(ip6 + 1, end, ip6->nexthdr);
	if (port == -1)
		return XDP_DROP;
	key.protocol = ip6->nexthdr;
	key.family = AF_INET6;
	__builtin_memcpy(key.daddr.v6, ip6->daddr.s6_addr32, sizeof(key.daddr));
	key.dport = port;
	len = ip6->payload_len;
	tnl = bpf_map_lookup_elem(&vip2tnl, &key);
	if (!tnl || tnl->family != AF_INET6)
		return XDP_PASS;
	if (bpf_xdp_adjust_head(ctx, 0 - (int)sizeof(struct ipv6hdr)))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	now = data;
	ip6 = data + sizeof(*now);
	old = data + sizeof(*ip6);
	if ((void *)(now + 1) > end || (void *)(old + 1) > end || (void *)(ip6 + 1) > end)
		return XDP_DROP;
	eth_fill(now, old, tnl, bpf_htons(ETH_P_IPV6));
	ip6->version = 6;
	ip6->priority = 0;
	__builtin_memset(ip6->flow_lbl, 0, sizeof(ip6->flow_lbl));
	ip6->payload_len = bpf_htons(bpf_ntohs(len) + sizeof(*ip6));
	ip6->nexthdr = IPPROTO_IPV6;
	ip6->hop_limit = 8;
	__builtin_memcpy(ip6->saddr.s6_addr32, tnl->saddr.v6, sizeof(tnl->saddr.v6));
	__builtin_memcpy(ip6->daddr.s6_addr32, tnl->daddr.v6, sizeof(tnl->daddr.v6));
	tx_count(key.protocol);
	return XDP_TX;
}

SEC("xdp")
int _xdp_tx_iptunnel(struct xdp_md *ctx)
{
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = (void *)(long)ctx->data;

	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		return v4(ctx);
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return v6(ctx);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
