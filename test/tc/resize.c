/* C twin of RESIZE_TS in test/tc/resize.test.ts: bpf_skb_change_tail and
 * bpf_skb_change_head chosen by the UDP destination port, the packet parsed again after. */
#define X_CTX struct __sk_buff
#include "../twins/xdpc_twin.h"
#include <linux/pkt_cls.h>

SEC("tc")
int resize(struct __sk_buff *ctx)
{
	struct udphdr *udp = x_udp(ctx);
	if (!udp)
		return TC_ACT_OK;
	__u16 port = bpf_ntohs(udp->dest);
	__u32 len0 = ctx->len;
	__u32 m = 0;
	if (port == 1) {
		/* Trim to the headers (42 bytes untagged). */
		if (!bpf_skb_change_tail(ctx, 42, 0))
			m |= 1;
	} else if (port == 2) {
		/* Grow by 8: the new bytes read as zero; a trailer over the last 4. */
		if (!bpf_skb_change_tail(ctx, len0 + 8, 0)) {
			m |= 1;
			void *data = X_DATA(ctx), *end = X_END(ctx);
			if (len0 < 4096 && data + len0 + 8 <= end) {
				__u32 *p = data + len0;
				if (p[0] == 0)
					m |= 16;
				p[1] = bpf_htonl(0xdeadbeef);
			}
		}
	} else if (port == 3) {
		/* Push 14 bytes and copy the Ethernet header into them (an outer header). */
		if (!bpf_skb_change_head(ctx, 14, 0)) {
			m |= 1;
			__u8 *data = X_DATA(ctx);
			if ((void *)(data + 28) <= X_END(ctx)) {
				__builtin_memcpy(data, data + 14, 14);
				data[5] ^= 0xff;
				m |= 2;
			}
		}
	} else if (port == 6) {
		if (!bpf_skb_change_head(ctx, 14, 0)) {
			m |= 1;
			if (!bpf_l3_csum_replace(ctx, 38, 0, bpf_htons(1), 2))
				m |= 4;
		}
	} else if (port == 4) {
		/* Refusals: below the network header, above the maximum, bad flags. */
		if (!bpf_skb_change_tail(ctx, 13, 0))
			m |= 1;
		if (!bpf_skb_change_tail(ctx, 14, 0))
			m |= 2;
		if (!bpf_skb_change_tail(ctx, 0x7fffffff, 0))
			m |= 4;
		if (!bpf_skb_change_head(ctx, 0xfffffff0u, 0))
			m |= 8;
	}
	struct iphdr *ip = x_ipv4(ctx);
	ctx->priority = ctx->len;
	ctx->mark = m | (ip ? (__u32)ip->ttl << 8 : 0);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
