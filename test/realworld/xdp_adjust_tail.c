/* C twin of xdp_adjust_tail.ts, written for this corpus: the logic of
 * samples/bpf/xdp_adjust_tail_kern.c (README.md has the source) with a BTF-defined map. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ICMP_DEST_UNREACH 3
#define ICMP_FRAG_NEEDED 4

/* The ICMP header as "fragmentation needed" uses it (linux/icmp.h pulls in libc here). */
struct icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be16 unused;
	__be16 mtu;
};

#define DEFAULT_TTL 64
#define MAX_PCKT_SIZE 600
#define ICMP_TOOBIG_SIZE 98
#define ICMP_TOOBIG_PAYLOAD_SIZE 92

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} icmpcnt SEC(".maps");

static __always_inline void bump(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&icmpcnt, &zero);

	if (n)
		*n += 1;
}

static __always_inline __u16 fold(__u32 sum)
{
	return ~((sum & 0xffff) + (sum >> 16));
}

static __always_inline int too_big(struct xdp_md *ctx)
{
	int room = (int)sizeof(struct iphdr) + (int)sizeof(struct icmphdr);
	void *data, *data_end;
	struct ethhdr *eth, *old_eth;
	struct iphdr *iph, *old_iph;
	struct icmphdr *icmp;
	__u32 sum;

	if (bpf_xdp_adjust_head(ctx, -room))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + ICMP_TOOBIG_SIZE + room > data_end)
		return XDP_DROP;
	eth = data;
	old_eth = data + room;
	__builtin_memcpy(eth->h_source, old_eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, old_eth->h_source, ETH_ALEN);
	eth->h_proto = old_eth->h_proto;
	iph = data + sizeof(struct ethhdr);
	icmp = (void *)(iph + 1);
	old_iph = (void *)(icmp + 1);
	icmp->type = ICMP_DEST_UNREACH;
	icmp->code = ICMP_FRAG_NEEDED;
	icmp->mtu = bpf_htons(MAX_PCKT_SIZE - sizeof(struct ethhdr));
	icmp->checksum = 0;
	sum = bpf_csum_diff(0, 0, (void *)icmp, ICMP_TOOBIG_PAYLOAD_SIZE, 0);
	icmp->checksum = fold(sum);
	iph->ttl = DEFAULT_TTL;
	iph->daddr = old_iph->saddr;
	iph->saddr = old_iph->daddr;
	iph->version = 4;
	iph->ihl = 5;
	iph->protocol = IPPROTO_ICMP;
	iph->tos = 0;
	iph->tot_len = bpf_htons(ICMP_TOOBIG_SIZE + room - sizeof(struct ethhdr));
	iph->check = 0;
	sum = bpf_csum_diff(0, 0, (void *)iph, sizeof(struct iphdr), 0);
	iph->check = fold(sum);
	bump();
	return XDP_TX;
}

SEC("xdp")
int xdp_icmp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	int size, cut;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	size = data_end - data;
	if (size > MAX_PCKT_SIZE) {
		cut = size - ICMP_TOOBIG_SIZE;
		if (bpf_xdp_adjust_tail(ctx, 0 - cut))
			return XDP_PASS;
		return too_big(ctx);
	}
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
