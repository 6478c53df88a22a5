/* C twin of filters/processor/guard.ts: same maps, layouts, records and verdicts. */
#include "../twins/xdpc_twin.h"

struct Ipv4Prefix {
	__u32 prefixlen;
	__u32 addr; /* network order: LpmTrie key fields after prefixlen are big-endian */
};

struct Traffic {
	__u64 packets;
	__u64 bytes;
};

struct Drop {
	__u32 src; /* host order, as the filter reads ip.src */
	__u32 dst;
	__u16 len;
	__u8 proto;
	__u8 ttl;
	__u32 prefixHits;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct Ipv4Prefix);
	__type(value, __u64);
} blocked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct Traffic);
} traffic SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} drops SEC(".maps");

SEC("xdp")
int guard(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	__u32 zero = 0;
	struct Traffic *t = bpf_map_lookup_elem(&traffic, &zero);
	if (t) {
		t->packets += 1;
		t->bytes += len;
	}
	struct iphdr *ip = x_ipv4(ctx);
	if (!ip)
		return XDP_PASS;
	struct Ipv4Prefix k = { .prefixlen = 32, .addr = ip->saddr };
	__u64 *rule = bpf_map_lookup_elem(&blocked, &k);
	if (!rule)
		return XDP_PASS;
	*rule += 1;
	struct Drop d = {
		.src = bpf_ntohl(ip->saddr),
		.dst = bpf_ntohl(ip->daddr),
		.len = (__u16)len,
		.proto = ip->protocol,
		.ttl = ip->ttl,
		.prefixHits = (__u32)*rule,
	};
	bpf_ringbuf_output(&drops, &d, sizeof(d), 0);
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
