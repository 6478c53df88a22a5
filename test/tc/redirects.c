/* C twin of REDIRECTS_TS in test/tc/helpers.test.ts: the tc redirect helpers, chosen by
 * the UDP destination port, with the source port as the target ifindex. */
#define X_CTX struct __sk_buff
#include "../twins/xdpc_twin.h"
#include <linux/pkt_cls.h>

SEC("tc")
int redirects(struct __sk_buff *ctx)
{
	struct udphdr *udp = x_udp(ctx);
	if (!udp)
		return TC_ACT_OK;
	__u32 dev = bpf_ntohs(udp->source);
	switch (bpf_ntohs(udp->dest)) {
	case 1:
		return bpf_redirect(dev, 0);
	case 2:
		return bpf_redirect(dev, BPF_F_INGRESS);
	case 3:
		return bpf_redirect_neigh(dev, NULL, 0, 0);
	case 4:
		return bpf_redirect_peer(dev, 0);
	}
	ctx->mark = dev;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
