/* C twin of xdp_rxq_info.ts, written for this corpus: the logic and map layout of
 * samples/bpf/xdp_rxq_info_kern.c (README.md has the source) with BTF-defined maps, for
 * clang -O2. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define QUEUES 64
#define OPT_READ_MEM 0x1U

struct config {
	__u32 action;
	int ifindex;
	__u32 options;
};

struct datarec {
	__u64 processed;
	__u64 issue;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, struct config);
} config_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct datarec);
} stats_global_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, QUEUES + 1);
	__type(key, __u32);
	__type(value, struct datarec);
} rx_queue_index_map SEC(".maps");

SEC("xdp")
int xdp_prognum0(struct xdp_md *ctx)
{
	void *end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct datarec *all, *q;
	struct config *cfg;
	__u32 key = 0;
	int ifindex;

	all = bpf_map_lookup_elem(&stats_global_map, &key);
	if (!all)
		return XDP_ABORTED;
	all->processed++;
	ifindex = ctx->ingress_ifindex;
	cfg = bpf_map_lookup_elem(&config_map, &key);
	if (!cfg)
		return XDP_ABORTED;
	if (ifindex != cfg->ifindex) {
		all->issue++;
		return XDP_ABORTED;
	}
	key = ctx->rx_queue_index;
	if (key >= QUEUES)
		key = QUEUES;
	q = bpf_map_lookup_elem(&rx_queue_index_map, &key);
	if (!q)
		return XDP_ABORTED;
	q->processed++;
	if (key == QUEUES)
		q->issue++;
	if (cfg->options & OPT_READ_MEM) {
		struct ethhdr *eth = data;

		if ((void *)(eth + 1) > end)
			return XDP_ABORTED;
		if (bpf_ntohs(eth->h_proto) < ETH_P_802_3_MIN)
			return XDP_ABORTED;
	}
	return cfg->action;
}

char _license[] SEC("license") = "GPL";
