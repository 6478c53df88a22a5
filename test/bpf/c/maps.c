// Map lookups (lddw with R_BPF_64_64 relocations), helper calls, atomics (v3), 32-bit jumps.
#include <linux/bpf.h>
#define SEC(x) __attribute__((section(x), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, unsigned int); __type(value, long); } counters SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, unsigned int); __type(value, unsigned int); } seen SEC(".maps");
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, unsigned long flags) = (void *)2;
static unsigned long (*bpf_ktime_get_ns)(void) = (void *)5;

SEC("xdp") int maps(struct xdp_md *ctx) {
  unsigned int key = ctx->rx_queue_index & 3;
  long *c = bpf_map_lookup_elem(&counters, &key);
  if (!c) return XDP_PASS;
  __sync_fetch_and_add(c, 1);
  long old = __sync_fetch_and_add(c, 2);
  __sync_fetch_and_or(c, 4);
  __sync_fetch_and_and(c, ~8L);
  __sync_fetch_and_xor(c, 16);
  long prev = __sync_fetch_and_xor(c, old);
  long swapped = __sync_lock_test_and_set(c, prev);
  long was = __sync_val_compare_and_swap(c, swapped, 99);
  unsigned int *s = bpf_map_lookup_elem(&seen, &key);
  if (s) {
    __sync_fetch_and_add(s, 1);
    unsigned int o = __sync_fetch_and_or(s, 2);
    unsigned int x = __sync_lock_test_and_set(s, o);
    __sync_val_compare_and_swap(s, x, 7);
    if ((unsigned int)was > 5 && (int)x < -2) return XDP_DROP;
  } else {
    unsigned int one = 1;
    bpf_map_update_elem(&seen, &key, &one, 0);
  }
  unsigned int t = (unsigned int)bpf_ktime_get_ns();
  if (t == key || (int)t > 1000 || t <= 9) return XDP_TX;
  return XDP_PASS;
}
