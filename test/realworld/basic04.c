/* C twin of basic04.ts, written for this corpus: the logic of xdp-tutorial's
 * basic04-pinning-maps/xdp_prog_kern.c and the record of its common_kern_user.h
 * (README.md has the source), for clang -O2. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define N_ACTIONS (XDP_REDIRECT + 1)

struct rec {
	__u64 pkts;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct rec);
	__uint(max_entries, N_ACTIONS);
} xdp_stats_map SEC(".maps");

static __always_inline __u32 count(struct xdp_md *ctx, __u32 verdict)
{
	void *end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct rec *r;
	__u64 n;

	if (verdict >= N_ACTIONS)
		return XDP_ABORTED;
	r = bpf_map_lookup_elem(&xdp_stats_map, &verdict);
	if (!r)
		return XDP_ABORTED;
	n = end - data;
	r->pkts++;
	r->bytes += n;
	return verdict;
}

SEC("xdp")
int xdp_pass_func(struct xdp_md *ctx)
{
	return count(ctx, XDP_PASS);
}

SEC("xdp")
int xdp_drop_func(struct xdp_md *ctx)
{
	return count(ctx, XDP_DROP);
}

SEC("xdp")
int xdp_abort_func(struct xdp_md *ctx)
{
	return count(ctx, XDP_ABORTED);
}

char _license[] SEC("license") = "GPL";
