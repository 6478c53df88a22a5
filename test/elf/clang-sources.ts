// C programs compiled by clang 14 as the reference for layout and loading.
export const CLANG_MULTI = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } counters SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 1024); __type(key, __u32); __type(value, __u64); __uint(pinning, LIBBPF_PIN_BY_NAME); } pinned_map SEC(".maps");
volatile const __u16 port = 53;
__u64 dropped = 0;
__u32 seen = 7;
static __attribute__((noinline)) __u32 helper(__u32 x) { return x * 3 + port; }
SEC("xdp") int count(struct xdp_md *ctx) {
  __u32 k = 0;
  __u64 *v = bpf_map_lookup_elem(&counters, &k);
  if (v) __sync_fetch_and_add(v, 1);
  dropped += helper(ctx->ingress_ifindex);
  seen++;
  return XDP_PASS;
}
SEC("xdp") int second(struct xdp_md *ctx) { return helper(ctx->rx_queue_index) ? XDP_DROP : XDP_PASS; }
char LICENSE[] SEC("license") = "GPL";
`;
