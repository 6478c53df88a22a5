/* C twin of filters/syn_guard.ts. */
#include "xdpc_twin.h"

struct Bucket {
	__u64 tokens;
	__u64 last;
};

#define NS_PER_SEC 1000000000ULL

const volatile __u32 rate = 100;
const volatile __u32 burst = 200;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct Bucket);
} buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

X_INLINE void count(__u32 i)
{
	__u64 *c = bpf_map_lookup_elem(&stats, &i);
	if (c)
		__sync_fetch_and_add(c, 1);
}

SEC("xdp")
int syn_guard(struct xdp_md *ctx)
{
	struct iphdr *ip = x_ipv4(ctx);
	if (!ip)
		return XDP_PASS;
	struct tcphdr *tcp = x_tcp(ctx);
	if (!tcp)
		return XDP_PASS;
	__u8 flags = ((__u8 *)tcp)[13];
	if ((flags & (0x02 | 0x10)) != 0x02)
		return XDP_PASS;

	__u64 now = bpf_ktime_get_ns();
	__u32 src = bpf_ntohl(ip->saddr);
	struct Bucket *b = bpf_map_lookup_elem(&buckets, &src);
	if (!b) {
		struct Bucket nb = { .tokens = (__u32)(burst - 1), .last = now };
		bpf_map_update_elem(&buckets, &src, &nb, BPF_ANY);
		count(0);
		return XDP_PASS;
	}

	__u64 elapsed = now - b->last;
	if (elapsed >= NS_PER_SEC) {
		b->tokens = burst;
		b->last = now;
	} else {
		__u64 earned = (elapsed * rate) / NS_PER_SEC;
		if (earned > 0) {
			b->tokens = b->tokens + earned > burst ? burst : b->tokens + earned;
			b->last = now;
		}
	}

	if (b->tokens == 0) {
		count(1);
		return XDP_DROP;
	}
	b->tokens -= 1;
	count(0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
