/* C twin of filters/tc/egress_policy.ts (a tc program; test/tc/tc.test.ts runs both). */
#define X_CTX struct __sk_buff
#include "../twins/xdpc_twin.h"
#include <linux/pkt_cls.h>

struct Policy {
	__u32 mark;
	__u32 priority;
	__u8 drop;
};

const volatile __u32 efPriority = 6;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, struct Policy);
} policies SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} perMark SEC(".maps");

SEC("tc")
int egress_policy(struct __sk_buff *ctx)
{
	struct iphdr *ip = x_ipv4(ctx);
	if (!ip)
		return TC_ACT_OK;
	if ((ip->tos >> 2) == 46)
		ctx->priority = efPriority;

	__u16 port = 0;
	struct tcphdr *tcp = x_tcp(ctx);
	if (tcp) {
		port = bpf_ntohs(tcp->dest);
	} else {
		struct udphdr *udp = x_udp(ctx);
		if (udp)
			port = bpf_ntohs(udp->dest);
	}
	if (port == 0)
		return TC_ACT_OK;

	struct Policy *p = bpf_map_lookup_elem(&policies, &port);
	if (!p)
		return TC_ACT_OK;
	if (p->drop)
		return TC_ACT_SHOT;
	ctx->mark = p->mark;
	if (p->priority)
		ctx->priority = p->priority;
	__u32 mark = p->mark;
	__u64 *n = bpf_map_lookup_elem(&perMark, &mark);
	__u64 one = 1;
	if (!n) {
		bpf_map_update_elem(&perMark, &mark, &one, BPF_ANY);
	} else {
		__u64 next = *n + 1;
		bpf_map_update_elem(&perMark, &mark, &next, BPF_ANY);
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
