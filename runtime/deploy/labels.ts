// bpfman's bytecode-image labels from an object: `io.ebpf.programs` ({program: type})
// and `io.ebpf.maps` ({map: type}), each a JSON object in a string, with the spellings
// bpfman's image builder uses (docs/developer-guide/shipping-bytecode.md and
// platform/ebpf/imagebuild.go of github.com/bpfman/bpfman): program types from the
// ELF section name, map types in snake case, internal maps (.rodata, .data, .bss)
// left out.
import type { ObjectInfo } from "../../compiler/elf/object.ts";

export const LABEL_PROGRAMS = "io.ebpf.programs";
export const LABEL_MAPS = "io.ebpf.maps";

/** enum bpf_map_type → bpfman's label spelling. */
const MAP_TYPES: Readonly<Record<number, string>> = {
  0: "unspec",
  1: "hash",
  2: "array",
  3: "prog_array",
  4: "perf_event_array",
  5: "per_cpu_hash",
  6: "per_cpu_array",
  7: "stack_trace",
  8: "cgroup_array",
  9: "lru_hash",
  10: "lru_per_cpu_hash",
  11: "lpm_trie",
  12: "array_of_maps",
  13: "hash_of_maps",
  14: "devmap",
  15: "sockmap",
  16: "cpumap",
  17: "xskmap",
  18: "sockhash",
  19: "cgroup_storage",
  20: "reuseport_sockarray",
  21: "per_cpu_cgroup_storage",
  22: "queue",
  23: "stack",
  24: "sk_storage",
  25: "devmap_hash",
  26: "struct_ops",
  27: "ringbuf",
  28: "inode_storage",
  29: "task_storage",
  30: "bloom_filter",
  31: "user_ringbuf",
  32: "cgrp_storage",
  33: "arena",
};

/** The program type bpfman infers from a section name, or undefined for one it does not attach. */
export function programType(section: string): string | undefined {
  const rules: [RegExp, string][] = [
    [/^xdp(\.frags)?(\/|$)/, "xdp"],
    [/^(tc|classifier)(\/|$)/, "tc"],
    [/^tcx\//, "tcx"],
    [/^kprobe(\.multi)?\//, "kprobe"],
    [/^kretprobe(\.multi)?\//, "kretprobe"],
    [/^uprobe(\.multi)?(\/|$)/, "uprobe"],
    [/^uretprobe(\.multi)?(\/|$)/, "uretprobe"],
    [/^(tracepoint|tp)\//, "tracepoint"],
    [/^fentry\//, "fentry"],
    [/^fexit\//, "fexit"],
    [/^lsm\//, "lsm"],
  ];
  return rules.find(([re]) => re.test(section))?.[1];
}

export function mapTypeName(type: number): string {
  const name = MAP_TYPES[type];
  if (!name) throw new Error(`map type ${type} has no name in bpfman's image labels`);
  return name;
}

export interface BytecodeLabels {
  programs: Record<string, string>;
  maps: Record<string, string>;
}

/** The programs and maps of `info` as bpfman's labels list them, keys sorted. */
export function bytecodeLabels(info: ObjectInfo): BytecodeLabels {
  const programs: Record<string, string> = {};
  for (const p of [...info.programs].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const t = p.global ? programType(p.section) : undefined;
    if (t) programs[p.name] = t;
  }
  if (!Object.keys(programs).length)
    throw new Error("the object has no program bpfman can attach (no xdp, tc, … section)");
  const maps: Record<string, string> = {};
  for (const m of [...info.maps].sort((a, b) => (a.name < b.name ? -1 : 1)))
    if (!m.name.startsWith(".")) maps[m.name] = mapTypeName(m.type);
  return { programs, maps };
}

/** The two labels as the image config carries them (JSON objects in strings). */
export function labelValues(l: BytecodeLabels): Record<string, string> {
  return { [LABEL_MAPS]: JSON.stringify(l.maps), [LABEL_PROGRAMS]: JSON.stringify(l.programs) };
}
