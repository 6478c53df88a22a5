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
  skb_store_bytes: 9,
  redirect: 23,
  l3_csum_replace: 10,
  l4_csum_replace: 11,
  csum_diff: 28,
  skb_change_tail: 38,
  skb_change_head: 43,
  xdp_adjust_head: 44,
  redirect_map: 51,
  xdp_adjust_tail: 65,
  fib_lookup: 69,
  ringbuf_output: 130,
  redirect_neigh: 152,
  redirect_peer: 155,
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

/** Offsets of the struct xdp_md fields programs read (include/uapi/linux/bpf.h). */
export const XDP_MD = { data: 0, data_end: 4, ingress_ifindex: 12, rx_queue_index: 16 } as const;

/** Offsets of the struct __sk_buff fields tc programs read or write. */
export const SK_BUFF = {
  len: 0,
  pkt_type: 4,
  mark: 8,
  queue_mapping: 12,
  protocol: 16,
  vlan_present: 20,
  vlan_tci: 24,
  vlan_proto: 28,
  priority: 32,
  ingress_ifindex: 36,
  ifindex: 40,
  tc_index: 44,
  hash: 68,
  tc_classid: 72,
  data: 76,
  data_end: 80,
} as const;

/** tc verdicts (include/uapi/linux/pkt_cls.h) and their tcx names. */
export const TC_ACT = {
  TC_ACT_UNSPEC: -1,
  TC_ACT_OK: 0,
  TC_ACT_RECLASSIFY: 1,
  TC_ACT_SHOT: 2,
  TC_ACT_PIPE: 3,
  TC_ACT_STOLEN: 4,
  TC_ACT_QUEUED: 5,
  TC_ACT_REPEAT: 6,
  TC_ACT_REDIRECT: 7,
  TCX_NEXT: -1,
  TCX_PASS: 0,
  TCX_DROP: 2,
  TCX_REDIRECT: 7,
} as const;

/** bpf_redirect() flag: deliver on the target's ingress (tc only). */
export const BPF_F_INGRESS = 1;

/** AF_XDP handler verdicts (the language's XskVerdict). */
export const XSK_DROP = 0;
export const XSK_TX = 1;

/**
 * xdpc's own: the hidden per-CPU array the compiler adds with `verdictStats` and the
 * runtime reads (`xdpc stats`); one u64 per XDP action, index = action.
 */
export const VERDICT_MAP = "xdpc_verdicts";
export const VERDICT_COUNT = XDP_ACTION_NAMES.length;
