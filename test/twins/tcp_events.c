/* C twin of filters/tcp_events.ts. */
#include "xdpc_twin.h"

struct ConnEvent {
	__u64 timeNs;
	__u32 src;
	__u32 dst;
	__u16 srcPort;
	__u16 dstPort;
	__u32 ifindex;
	__u8 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

__u64 lost = 0;

SEC("xdp")
int tcp_events(struct xdp_md *ctx)
{
	struct iphdr *ip = x_ipv4(ctx);
	if (!ip)
		return XDP_PASS;
	struct tcphdr *tcp = x_tcp(ctx);
	if (!tcp)
		return XDP_PASS;
	__u8 flags = ((__u8 *)tcp)[13];
	int opening = (flags & (0x02 | 0x10)) == 0x02;
	int reset = (flags & 0x04) != 0;
	if (!opening && !reset)
		return XDP_PASS;

	struct ConnEvent ev = {
		.timeNs = bpf_ktime_get_ns(),
		.src = bpf_ntohl(ip->saddr),
		.dst = bpf_ntohl(ip->daddr),
		.srcPort = bpf_ntohs(tcp->source),
		.dstPort = bpf_ntohs(tcp->dest),
		.ifindex = ctx->ingress_ifindex,
		.flags = flags,
	};
	if (bpf_ringbuf_output(&events, &ev, sizeof(ev), 0) != 0)
		__sync_fetch_and_add(&lost, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
