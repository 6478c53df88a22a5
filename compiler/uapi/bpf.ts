// The kernel's numbers that xdpc emits and reads back (include/uapi/linux/bpf.h), and
// the names the compiler and the runtime agree on, as one pure-data table: it imports
// nothing, and every part of compiler/, runtime/ and native/ may import it
// (docs/architecture.md), so no number is written twice.

/** Helper function ids (enum bpf_func_id) that the compiler calls. */
export const BPF_FUNC = {
  map_lookup_elem: 1,
  map_update_elem: 2,
  map_delete_elem: 3,
  ktime_get_ns: 5,
  trace_printk: 6,
  get_prandom_u32: 7,
  get_smp_processor_id: 8,
  redirect: 23,
  csum_diff: 28,
  xdp_adjust_head: 44,
  redirect_map: 51,
  xdp_adjust_tail: 65,
  fib_lookup: 69,
  ringbuf_output: 130,
} as const;

/** BPF map types (enum bpf_map_type) that xdpc declares or reports. */
export const BPF_MAP_TYPE = {
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11,
  DEVMAP: 14,
  CPUMAP: 16,
  XSKMAP: 17,
  DEVMAP_HASH: 25,
  RINGBUF: 27,
} as const;

/** BPF_MAP_TYPE_* number → the lower-case name bpftool prints ("hash", "percpu_array", ...). */
export const MAP_TYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(BPF_MAP_TYPE).map(([name, type]) => [type, name.toLowerCase()]),
);

/** Map update flags (BPF_ANY, BPF_NOEXIST, BPF_EXIST). */
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;

/** enum xdp_action. */
export const XDP_ABORTED = 0;
export const XDP_DROP = 1;
export const XDP_PASS = 2;
export const XDP_TX = 3;
export const XDP_REDIRECT = 4;
/** XDP action → its name; index = action. */
export const XDP_ACTION_NAMES = [
  "XDP_ABORTED",
  "XDP_DROP",
  "XDP_PASS",
  "XDP_TX",
  "XDP_REDIRECT",
] as const;

/** AF_XDP handler verdicts (the language's XskVerdict). */
export const XSK_DROP = 0;
export const XSK_TX = 1;

/**
 * xdpc's own: the hidden per-CPU array the compiler adds with `verdictStats` and the
 * runtime reads (`xdpc stats`); one u64 per XDP action, index = action.
 */
export const VERDICT_MAP = "xdpc_verdicts";
export const VERDICT_COUNT = XDP_ACTION_NAMES.length;
