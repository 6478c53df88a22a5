/* C twin of xdp1.ts, written for this corpus: the logic of samples/bpf/xdp1_kern.c
 * (README.md has the source) with a BTF-defined map, for clang -O2. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct vlan_tag {
	__be16 tci;
	__be16 inner_proto;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, long);
} rxcnt SEC(".maps");

static int ip4_proto(void *data, __u64 off, void *end)
{
	struct iphdr *ip = data + off;

	return (void *)(ip + 1) > end ? 0 : ip->protocol;
}

static int ip6_next(void *data, __u64 off, void *end)
{
	struct ipv6hdr *ip6 = data + off;

	return (void *)(ip6 + 1) > end ? 0 : ip6->nexthdr;
}

SEC("xdp")
int xdp_prog1(struct xdp_md *ctx)
{
	void *end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	__u64 off = sizeof(*eth);
	__u16 proto;
	__u32 key;
	long *cnt;

	if (data + off > end)
		return XDP_DROP;
	proto = eth->h_proto;
#pragma clang loop unroll(full)
	for (int i = 0; i < 2; i++) {
		if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
			struct vlan_tag *t = data + off;

			off += sizeof(*t);
			if (data + off > end)
				return XDP_DROP;
			proto = t->inner_proto;
		}
	}
	if (proto == bpf_htons(ETH_P_IP))
		key = ip4_proto(data, off, end);
	else if (proto == bpf_htons(ETH_P_IPV6))
		key = ip6_next(data, off, end);
	else
		key = 0;
	cnt = bpf_map_lookup_elem(&rxcnt, &key);
	if (cnt)
		*cnt += 1;
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
