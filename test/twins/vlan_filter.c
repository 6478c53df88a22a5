/* C twin of filters/vlan_filter.ts. */
#include "xdpc_twin.h"

struct VlanStats {
	__u64 passed;
	__u64 dropped;
};

const volatile __u16 vid = 100;
const volatile _Bool allowUntagged = 1;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, __u8);
} blockedPorts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct VlanStats);
} perVlan SEC(".maps");

X_INLINE int account(__u16 vlan, int pass)
{
	__u32 k = vlan;
	struct VlanStats *s = bpf_map_lookup_elem(&perVlan, &k);
	if (s) {
		if (pass)
			s->passed += 1;
		else
			s->dropped += 1;
	}
	return pass ? XDP_PASS : XDP_DROP;
}

X_INLINE __u16 dstPort(struct xdp_md *ctx)
{
	struct tcphdr *tcp = x_tcp(ctx);
	if (tcp)
		return bpf_ntohs(tcp->dest);
	struct udphdr *udp = x_udp(ctx);
	if (udp)
		return bpf_ntohs(udp->dest);
	return 0;
}

SEC("xdp")
int vlan_filter(struct xdp_md *ctx)
{
	struct x_vlan *tag = x_vlan(ctx);
	__u16 id = 0;
	if (tag) {
		id = bpf_ntohs(tag->tci) & 0x0fff;
		if (id != vid)
			return account(id, 0);
	} else if (!allowUntagged) {
		return account(0, 0);
	}

	__u16 port = dstPort(ctx);
	if (port != 0 && bpf_map_lookup_elem(&blockedPorts, &port))
		return account(id, 0);
	return account(id, 1);
}

char LICENSE[] SEC("license") = "GPL";
