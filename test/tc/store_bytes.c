/* C twin of STORE_BYTES_TS in test/tc/store-bytes.test.ts: bpf_skb_store_bytes from a
 * struct built on the stack, from a copy of the IPv4 header, and past the packet. */
#define X_CTX struct __sk_buff
#include "../twins/xdpc_twin.h"
#include <linux/pkt_cls.h>

struct macs {
	__u8 dst[6];
	__u8 src[6];
};

struct tag {
	__u16 kind;
	__u32 value;
};

SEC("tc")
int store_bytes(struct __sk_buff *ctx)
{
	struct ethhdr *eth = x_eth(ctx);
	if (!eth)
		return TC_ACT_OK;
	struct macs macs = { { 2, 0, 0x5e, 0, 0x2e, 1 },
			     { 2, 0, 0x5e, 0, 0x2e, bpf_ntohs(eth->h_proto) & 0xff } };
	if (bpf_skb_store_bytes(ctx, 0, &macs, sizeof(macs), BPF_F_INVALIDATE_HASH))
		return TC_ACT_SHOT;
	__u32 m = 0;
	struct iphdr *ip = x_ipv4(ctx);
	if (ip) {
		struct iphdr copy = *ip;
		if (!bpf_skb_store_bytes(ctx, ctx->len - 20, &copy, sizeof(copy),
					 BPF_F_RECOMPUTE_CSUM))
			m |= 1;
		ip = x_ipv4(ctx);
		if (ip)
			ctx->priority = ip->ttl;
	}
	struct tag t;
	__builtin_memset(&t, 0, sizeof(t)); /* xdpc zeroes a struct literal's padding */
	t.kind = 0x1234;
	t.value = ctx->len;
	if (!bpf_skb_store_bytes(ctx, ctx->len - 8, &t, sizeof(t), 0))
		m |= 2;
	if (!bpf_skb_store_bytes(ctx, ctx->len - 7, &t, sizeof(t), 0))
		m |= 4;
	if (!bpf_skb_store_bytes(ctx, 0x80000000u, &t, sizeof(t), 0))
		m |= 8;
	ctx->mark = m | (ctx->hash << 8);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
