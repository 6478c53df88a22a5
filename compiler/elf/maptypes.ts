// BPF map types (uapi enum bpf_map_type) that xdpc declares or reports, with the
// lower-case names bpftool prints for them.

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

/** BPF_MAP_TYPE_* number → name ("hash", "percpu_array", "ringbuf", ...). */
export const MAP_TYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(BPF_MAP_TYPE).map(([name, type]) => [type, name.toLowerCase()]),
);
