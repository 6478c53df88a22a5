// eBPF helper calls of the IR become calls of functions the host imports (module
// `xdpc`), named after the kernel helper. Map references are map ids (the index in
// the module's metadata), pointers are offsets in the shared memory, and results
// keep the helper's width so the IR's checks (`r != 0`, `r < 0`) read the same.
import { BPF_FUNC } from "../uapi/bpf.ts";

export type ValType = "i32" | "i64";

export interface HelperImport {
  /** Import name in module `xdpc`; the kernel helper's name without `bpf_`. */
  name: string;
  params: ValType[];
  result: ValType | null;
}

/**
 * Kernel helper id → import. `trace` (trace_printk) takes a variable number of arguments (see
 * traceImport); xdp_adjust_head and xdp_adjust_tail are inlined by codegen.ts.
 */
export const HELPER_IMPORTS: Record<number, HelperImport> = {
  [BPF_FUNC.map_lookup_elem]: { name: "map_lookup_elem", params: ["i32", "i32"], result: "i32" },
  [BPF_FUNC.map_update_elem]: {
    name: "map_update_elem",
    params: ["i32", "i32", "i32", "i64"],
    result: "i64",
  },
  [BPF_FUNC.map_delete_elem]: { name: "map_delete_elem", params: ["i32", "i32"], result: "i64" },
  [BPF_FUNC.ktime_get_ns]: { name: "ktime_get_ns", params: [], result: "i64" },
  [BPF_FUNC.get_prandom_u32]: { name: "get_prandom_u32", params: [], result: "i64" },
  [BPF_FUNC.get_smp_processor_id]: { name: "get_smp_processor_id", params: [], result: "i64" },
  [BPF_FUNC.redirect]: { name: "redirect", params: ["i32", "i64"], result: "i64" },
  [BPF_FUNC.csum_diff]: {
    name: "csum_diff",
    params: ["i32", "i64", "i32", "i64", "i64"],
    result: "i64",
  },
  [BPF_FUNC.redirect_map]: { name: "redirect_map", params: ["i32", "i32", "i64"], result: "i64" },
  [BPF_FUNC.fib_lookup]: {
    name: "fib_lookup",
    params: ["i32", "i32", "i64", "i64"],
    result: "i64",
  },
  [BPF_FUNC.l3_csum_replace]: {
    name: "l3_csum_replace",
    params: ["i32", "i64", "i64", "i64", "i64"],
    result: "i64",
  },
  [BPF_FUNC.l4_csum_replace]: {
    name: "l4_csum_replace",
    params: ["i32", "i64", "i64", "i64", "i64"],
    result: "i64",
  },
  [BPF_FUNC.skb_store_bytes]: {
    name: "skb_store_bytes",
    params: ["i32", "i64", "i32", "i64", "i64"],
    result: "i64",
  },
  // They resize the frame in the host, which writes the new bounds into the
  // __sk_buff image; codegen.ts reads them back after the call.
  [BPF_FUNC.skb_change_tail]: {
    name: "skb_change_tail",
    params: ["i32", "i32", "i64"],
    result: "i64",
  },
  [BPF_FUNC.skb_change_head]: {
    name: "skb_change_head",
    params: ["i32", "i32", "i64"],
    result: "i64",
  },
  [BPF_FUNC.redirect_neigh]: {
    name: "redirect_neigh",
    params: ["i32", "i32", "i64", "i64"],
    result: "i64",
  },
  [BPF_FUNC.redirect_peer]: { name: "redirect_peer", params: ["i32", "i64"], result: "i64" },
  [BPF_FUNC.ringbuf_output]: {
    name: "ringbuf_output",
    params: ["i32", "i32", "i64", "i64"],
    result: "i64",
  },
};

export const TRACE_HELPER = BPF_FUNC.trace_printk;

/** bpf_trace_printk(fmt, len, args...) with `n` value arguments. */
export function traceImport(n: number): HelperImport {
  return {
    name: `trace_printk${n}`,
    params: ["i32", "i64", ...Array(n).fill("i64")],
    result: "i64",
  };
}

export function helperImport(id: number, argCount: number): HelperImport | null {
  if (id === TRACE_HELPER) return traceImport(argCount - 2);
  return HELPER_IMPORTS[id] ?? null;
}
