/* C twin of test/tc/tcx_guard.ts (a tcx program; test/tc/tcx.test.ts runs both). */
#define X_CTX struct __sk_buff
#include "../twins/xdpc_twin.h"

/* enum tcx_action_base (linux/bpf.h from 6.6 on; these headers may be older). */
#define X_TCX_NEXT -1
#define X_TCX_PASS 0
#define X_TCX_DROP 2

const volatile __u16 blockedPort = 9;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} verdicts SEC(".maps");

static __always_inline void count(__u32 i)
{
	__u64 *n = bpf_map_lookup_elem(&verdicts, &i);
	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("tcx/ingress")
int tcx_guard(struct __sk_buff *ctx)
{
	struct iphdr *ip = x_ipv4(ctx);
	if (!ip) {
		count(2);
		return X_TCX_NEXT;
	}
	if (ip->protocol == IPPROTO_UDP) {
		struct udphdr *udp = x_udp(ctx);
		if (udp && bpf_ntohs(udp->dest) == blockedPort) {
			count(1);
			return X_TCX_DROP;
		}
	}
	ctx->mark = ((__u32)ip->protocol << 8) | ip->ttl;
	count(0);
	return X_TCX_PASS;
}

char LICENSE[] SEC("license") = "GPL";
