/* C twin of filters/lpm_firewall.ts: same maps, layouts and verdicts. */
#include "xdpc_twin.h"

struct Ipv4Prefix {
	__u32 prefixlen;
	__u32 addr; /* network order: LpmTrie key fields after prefixlen are big-endian */
};

struct Ipv6Prefix {
	__u32 prefixlen;
	__u8 addr[16];
};

struct RuleStats {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, struct Ipv4Prefix);
	__type(value, __u32);
} blocklist4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, struct Ipv6Prefix);
	__type(value, __u32);
} blocklist6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct RuleStats);
} ruleStats SEC(".maps");

X_INLINE void hit(__u32 rule, __u32 len)
{
	struct RuleStats *s = bpf_map_lookup_elem(&ruleStats, &rule);
	if (s) {
		s->packets += 1;
		s->bytes += len;
	}
}

SEC("xdp")
int lpm_firewall(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	struct iphdr *ip = x_ipv4(ctx);
	if (ip) {
		struct Ipv4Prefix k = { .prefixlen = 32, .addr = ip->saddr };
		__u32 *rule = bpf_map_lookup_elem(&blocklist4, &k);
		if (!rule)
			return XDP_PASS;
		hit(*rule, len);
		return XDP_DROP;
	}
	struct ipv6hdr *ip6 = x_ipv6(ctx);
	if (ip6) {
		struct Ipv6Prefix k = { .prefixlen = 128 };
		__builtin_memcpy(k.addr, &ip6->saddr, 16);
		__u32 *rule = bpf_map_lookup_elem(&blocklist6, &k);
		if (!rule)
			return XDP_PASS;
		hit(*rule, len);
		return XDP_DROP;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
