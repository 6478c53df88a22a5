// Dead code elimination: unreachable blocks, and pure instructions whose result
// is not live afterwards (a backward walk per block from its live-out set).
import type { Func } from "../ir.ts";
import { def, isPure, uses } from "../ir.ts";
import { liveness, removeUnreachable } from "../cfg.ts";

export function eliminateDeadCode(f: Func): boolean {
  let changed = removeUnreachable(f);
  const { liveOut } = liveness(f);
  for (const b of f.blocks) {
    const live = new Set(liveOut.get(b));
    if (b.term) for (const u of uses(b.term)) live.add(u.id);
    const kept = [];
    for (let k = b.insts.length - 1; k >= 0; k--) {
      const i = b.insts[k]!;
      const d = def(i);
      if (d && isPure(i) && !live.has(d.id)) {
        changed = true;
        continue;
      }
      // A self-move does nothing.
      if (i.op === "mov" && typeof i.src !== "bigint" && i.src.id === i.dst.id) {
        changed = true;
        continue;
      }
      if (d) live.delete(d.id);
      for (const u of uses(i)) live.add(u.id);
      kept.push(i);
    }
    kept.reverse();
    b.insts = kept;
  }
  return changed;
}
