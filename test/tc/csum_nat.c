/* C twin of CSUM_NAT_TS in test/tc/helpers.test.ts: a destination NAT at tc that fixes
 * the checksums with bpf_l3_csum_replace / bpf_l4_csum_replace (untagged IPv4, ihl 5). */
#define X_CTX struct __sk_buff
#include "../twins/xdpc_twin.h"
#include <linux/pkt_cls.h>

#define NEW_DST 0xc6122e63 /* 198.18.46.99 */

SEC("tc")
int csum_nat(struct __sk_buff *ctx)
{
	void *data = X_DATA(ctx), *end = X_END(ctx);
	struct ethhdr *eth = data;
	struct iphdr *ip = data + 14;
	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if (ip->version != 4 || ip->ihl != 5)
		return TC_ACT_OK;
	__u8 proto = ip->protocol;
	int first = (ip->frag_off & bpf_htons(0x1fff)) == 0;
	__be32 old_dst = ip->daddr;
	__u16 old_word = (ip->ttl << 8) | proto;
	ip->daddr = bpf_htonl(NEW_DST);
	ip->ttl = ip->ttl - 1;
	__u16 new_word = (ip->ttl << 8) | proto;
	if (bpf_l3_csum_replace(ctx, 24, old_dst, bpf_htonl(NEW_DST), 4))
		return TC_ACT_SHOT;
	if (bpf_l3_csum_replace(ctx, 24, bpf_htons(old_word), bpf_htons(new_word), 2))
		return TC_ACT_SHOT;
	data = X_DATA(ctx);
	end = X_END(ctx);
	if (proto == IPPROTO_UDP && first) {
		struct udphdr *udp = data + 34;
		if ((void *)(udp + 1) > end)
			return TC_ACT_OK;
		__be16 old_port = udp->dest;
		udp->dest = bpf_htons(8080);
		if (bpf_l4_csum_replace(ctx, 40, old_dst, bpf_htonl(NEW_DST),
					4 | BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0))
			return TC_ACT_SHOT;
		if (bpf_l4_csum_replace(ctx, 40, old_port, bpf_htons(8080), 2 | BPF_F_MARK_MANGLED_0))
			return TC_ACT_SHOT;
	} else if (proto == IPPROTO_TCP && first) {
		struct tcphdr *tcp = data + 34;
		if ((void *)(tcp + 1) > end)
			return TC_ACT_OK;
		__be16 old_port = tcp->dest;
		tcp->dest = bpf_htons(8080);
		if (bpf_l4_csum_replace(ctx, 50, old_dst, bpf_htonl(NEW_DST), 4 | BPF_F_PSEUDO_HDR))
			return TC_ACT_SHOT;
		if (bpf_l4_csum_replace(ctx, 50, old_port, bpf_htons(8080), 2))
			return TC_ACT_SHOT;
	}
	/* Out of bounds and odd offsets fail: the mark records which calls succeeded. */
	__u32 m = 0;
	if (!bpf_l3_csum_replace(ctx, ctx->len, 0, bpf_htons(1), 2))
		m |= 1;
	if (!bpf_l3_csum_replace(ctx, 25, 0, bpf_htons(1), 2))
		m |= 2;
	if (!bpf_l4_csum_replace(ctx, 26, 0, bpf_htons(1), 2))
		m |= 4;
	ctx->mark = m;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
