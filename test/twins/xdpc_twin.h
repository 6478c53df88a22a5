/* The header accessors of the xdpc language (docs/language.md, "Packet access"), written in C
 * so that each filter's C twin has exactly the observable behaviour of the xdpc build:
 * same null conditions, same offsets, same byte order conventions. */
#ifndef XDPC_TWIN_H
#define XDPC_TWIN_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define X_INLINE static __always_inline

/* The program's context: struct xdp_md, or struct __sk_buff for tc twins (define X_CTX
 * before including); both name the packet bounds data and data_end. */
#ifndef X_CTX
#define X_CTX struct xdp_md
#endif

struct x_vlan {
	__be16 tci;
	__be16 proto;
};

struct x_icmp {
	__u8 type;
	__u8 code;
	__be16 checksum;
	__be16 id;
	__be16 seq;
};

#define X_DATA(ctx) ((void *)(long)(ctx)->data)
#define X_END(ctx) ((void *)(long)(ctx)->data_end)

X_INLINE int x_is_vlan(__be16 p)
{
	return p == bpf_htons(ETH_P_8021Q) || p == bpf_htons(ETH_P_8021AD);
}

/* eth(): at least 14 bytes. */
X_INLINE struct ethhdr *x_eth(X_CTX *ctx)
{
	struct ethhdr *eth = X_DATA(ctx);
	if ((void *)(eth + 1) > X_END(ctx))
		return NULL;
	return eth;
}

/* vlan(): outer EtherType 0x8100/0x88A8 and the 4-byte tag present. */
X_INLINE struct x_vlan *x_vlan(X_CTX *ctx)
{
	struct ethhdr *eth = x_eth(ctx);
	if (!eth || !x_is_vlan(eth->h_proto))
		return NULL;
	struct x_vlan *v = (void *)(eth + 1);
	if ((void *)(v + 1) > X_END(ctx))
		return NULL;
	return v;
}

/* The L3 header after up to two VLAN tags and its EtherType (network order); NULL when a
 * header on the way is truncated. */
X_INLINE void *x_l3(X_CTX *ctx, __be16 *proto)
{
	struct ethhdr *eth = x_eth(ctx);
	if (!eth)
		return NULL;
	__be16 p = eth->h_proto;
	void *pos = eth + 1;
#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (x_is_vlan(p)) {
			struct x_vlan *v = pos;
			if ((void *)(v + 1) > X_END(ctx))
				return NULL;
			p = v->proto;
			pos = v + 1;
		}
	}
	*proto = p;
	return pos;
}

/* ipv4(): EtherType 0x0800, 20 bytes, version 4, ihl >= 5, ihl*4 bytes present. */
X_INLINE struct iphdr *x_ipv4(X_CTX *ctx)
{
	__be16 p;
	struct iphdr *ip = x_l3(ctx, &p);
	if (!ip || p != bpf_htons(ETH_P_IP))
		return NULL;
	if ((void *)(ip + 1) > X_END(ctx))
		return NULL;
	if (ip->version != 4 || ip->ihl < 5)
		return NULL;
	if ((void *)ip + ip->ihl * 4 > X_END(ctx))
		return NULL;
	return ip;
}

/* ipv6(): EtherType 0x86DD, 40 bytes, version 6. */
X_INLINE struct ipv6hdr *x_ipv6(X_CTX *ctx)
{
	__be16 p;
	struct ipv6hdr *ip6 = x_l3(ctx, &p);
	if (!ip6 || p != bpf_htons(ETH_P_IPV6))
		return NULL;
	if ((void *)(ip6 + 1) > X_END(ctx))
		return NULL;
	if (ip6->version != 6)
		return NULL;
	return ip6;
}

/* The L4 header for protocol `proto` with `len` bytes present: IPv4 with that protocol and
 * fragment offset 0 (header at ihl*4), or (when v6 is set) IPv6 with that next header. */
X_INLINE void *x_l4(X_CTX *ctx, __u8 proto, __u32 len, int v6)
{
	struct iphdr *ip = x_ipv4(ctx);
	if (ip) {
		if (ip->protocol != proto || (ip->frag_off & bpf_htons(0x1fff)) != 0)
			return NULL;
		void *l4 = (void *)ip + ip->ihl * 4;
		if (l4 + len > X_END(ctx))
			return NULL;
		return l4;
	}
	if (!v6)
		return NULL;
	struct ipv6hdr *ip6 = x_ipv6(ctx);
	if (!ip6 || ip6->nexthdr != proto)
		return NULL;
	void *l4 = ip6 + 1;
	if (l4 + len > X_END(ctx))
		return NULL;
	return l4;
}

X_INLINE struct tcphdr *x_tcp(X_CTX *ctx) { return x_l4(ctx, IPPROTO_TCP, 20, 1); }
X_INLINE struct udphdr *x_udp(X_CTX *ctx) { return x_l4(ctx, IPPROTO_UDP, 8, 1); }
X_INLINE struct x_icmp *x_icmp(X_CTX *ctx) { return x_l4(ctx, IPPROTO_ICMP, 8, 0); }

/* icmp6(): IPv6, next header 58, 8 bytes present. */
X_INLINE struct x_icmp *x_icmp6(X_CTX *ctx)
{
	struct ipv6hdr *ip6 = x_ipv6(ctx);
	if (!ip6 || ip6->nexthdr != IPPROTO_ICMPV6)
		return NULL;
	struct x_icmp *ic = (void *)(ip6 + 1);
	if ((void *)(ic + 1) > X_END(ctx))
		return NULL;
	return ic;
}

/* EthHeader.dst/src: the 48-bit MAC as a number, most significant byte first. */
X_INLINE __u64 x_mac_get(const unsigned char *m)
{
	return ((__u64)m[0] << 40) | ((__u64)m[1] << 32) | ((__u64)m[2] << 24) |
	       ((__u64)m[3] << 16) | ((__u64)m[4] << 8) | (__u64)m[5];
}

X_INLINE void x_mac_set(unsigned char *m, __u64 v)
{
	m[0] = v >> 40;
	m[1] = v >> 32;
	m[2] = v >> 24;
	m[3] = v >> 16;
	m[4] = v >> 8;
	m[5] = v;
}

/* ctx.loadN(off): big-endian, null (here: -1) when out of bounds. */
X_INLINE long x_load8(X_CTX *ctx, __u32 off)
{
	unsigned char *p = X_DATA(ctx) + (off & 0xffff);
	if (off > 0xffff || (void *)(p + 1) > X_END(ctx))
		return -1;
	return p[0];
}

X_INLINE long x_load16(X_CTX *ctx, __u32 off)
{
	unsigned char *p = X_DATA(ctx) + (off & 0xffff);
	if (off > 0xffff || (void *)(p + 2) > X_END(ctx))
		return -1;
	return ((__u32)p[0] << 8) | p[1];
}

#endif
