// Returns where the value is set: a late pass (optimize() in index.ts).
import type { Func } from "../ir.ts";
import { isImm } from "../ir.ts";

/**
 * A jump to a block that only returns a vreg returns it itself: the join an inlined
 * `return helper(…)` leaves (`%r = 0; jmp ret.helper` … `ret.helper: ret %r`). Each
 * path then sets its own return value where it knows it, and the backend's `r0`
 * copy and jump go. Never a constant `ret`: mergeReturns shares those.
 *
 * A late pass, after the others reach their fixpoint: the join is also the triangle the
 * peephole's if-conversion needs (`if (x == 0) v += 3; return v`, rule 3), and it would
 * be gone before that saw it.
 */
export function returnDirectly(f: Func): boolean {
  let changed = false;
  for (const b of f.blocks) {
    const t = b.term;
    if (t?.op !== "jmp") continue;
    const r = t.target.term;
    if (t.target.insts.length || r?.op !== "ret" || isImm(r.value)) continue;
    b.term = { op: "ret", value: r.value, ...(r.span && { span: r.span }) };
    changed = true;
  }
  return changed;
}
