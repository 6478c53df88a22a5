// Maps that both halves of a filter would use. An XDP (or tc) program's maps are kernel
// maps; a handler's live in its workers' Wasm memory. A map reached from both would be two
// maps that nothing keeps in step (no coherent sharing between the kernel and the Wasm
// memory), so the checker refuses it where the handler side first touches it.
import type { Span } from "../diagnostics/span.ts";
import type { FunctionInfo, MapInfo } from "./result.ts";

export interface SharedMapUse {
  map: MapInfo;
  /** The first kernel program (declaration order) that reaches the map. */
  program: FunctionInfo;
  handler: FunctionInfo;
  /** The handler side's first use: in the handler or a helper it calls. */
  at: Span;
}

/** uses: per function, the maps its own body calls methods on (first use's span). */
export function sharedMapUses(
  functions: readonly FunctionInfo[],
  uses: ReadonlyMap<FunctionInfo, ReadonlyMap<MapInfo, Span>>,
): SharedMapUse[] {
  // First use of each map among the functions reachable from root (depth first, call order).
  const reached = (root: FunctionInfo): Map<MapInfo, Span> => {
    const out = new Map<MapInfo, Span>();
    const seen = new Set<FunctionInfo>();
    const go = (f: FunctionInfo): void => {
      if (seen.has(f)) return;
      seen.add(f);
      for (const [m, at] of uses.get(f) ?? []) if (!out.has(m)) out.set(m, at);
      for (const c of f.callees) go(c);
    };
    go(root);
    return out;
  };
  const kernel = new Map<MapInfo, FunctionInfo>();
  for (const f of functions)
    if (f.kind === "xdp" || f.kind === "tc")
      for (const m of reached(f).keys()) if (!kernel.has(m)) kernel.set(m, f);
  const out: SharedMapUse[] = [];
  for (const h of functions) {
    if (h.kind !== "handler") continue;
    for (const [map, at] of reached(h)) {
      const program = kernel.get(map);
      if (program) out.push({ map, program, handler: h, at });
    }
  }
  return out;
}
