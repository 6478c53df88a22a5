/* C twin of xdp_redirect_map.ts, written for this corpus: the logic of
 * samples/bpf/xdp_redirect_map.bpf.c and the rx_cnt record of xdp_sample_shared.h
 * (README.md has the sources; the two programs ported), for clang -O2. rx_cnt has a
 * fixed size here (the sample sizes it to the CPU count at load time) and no
 * BPF_F_MMAPABLE. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

struct datarec {
	__u64 processed;
	__u64 dropped;
	__u64 issue;
	__u64 xdp_pass;
	__u64 xdp_drop;
	__u64 xdp_redirect;
} __attribute__((aligned(64)));

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, unsigned int);
	__type(value, struct datarec);
} rx_cnt SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(key_size, sizeof(int));
	__uint(value_size, sizeof(int));
	__uint(max_entries, 1);
} tx_port_general SEC(".maps");

static __always_inline void mac_swap(void *data)
{
	unsigned short *w = data;
	unsigned short t[3];

	t[0] = w[0];
	t[1] = w[1];
	t[2] = w[2];
	w[0] = w[3];
	w[1] = w[4];
	w[2] = w[5];
	w[3] = t[0];
	w[4] = t[1];
	w[5] = t[2];
}

SEC("xdp")
int xdp_redirect_map_general(struct xdp_md *ctx)
{
	void *end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	__u32 cpu = bpf_get_smp_processor_id();
	struct datarec *r;

	if (data + sizeof(struct ethhdr) > end)
		return XDP_DROP;
	r = bpf_map_lookup_elem(&rx_cnt, &cpu);
	if (!r)
		return XDP_PASS;
	/* The sample's NO_TEAR_INC: a volatile load, add, volatile store. */
	*(volatile __u64 *)&r->processed = *(volatile __u64 *)&r->processed + 1;
	mac_swap(data);
	return bpf_redirect_map(&tx_port_general, 0, 0);
}

SEC("xdp")
int xdp_redirect_dummy_prog(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
