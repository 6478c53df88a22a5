// Dead code elimination: unreachable blocks, and pure instructions whose result
// is not live afterwards (a backward walk per block from its live-out set). Then
// dead branches: a block left empty forwards its predecessors to its target; a
// predecessor whose branch or guard then has one target becomes a jump and loses the
// instructions only that branch needed, and may be left empty in turn. The whole
// chain goes in one run (an unrolled loop whose body died left one dead `br` per
// trip; peeled one per optimizer round, it took 18 rounds: fuzz seed 21838).
import type { Block, Func, Inst } from "../ir.ts";
import { def, isPure, successors, uses } from "../ir.ts";
import { liveness, removeUnreachable } from "../cfg.ts";
import { retarget } from "./simplify.ts";

export function eliminateDeadCode(f: Func): boolean {
  let changed = removeUnreachable(f);
  const { liveIn, liveOut } = liveness(f);
  for (const b of f.blocks) {
    const kept = sweep(b, liveOut.get(b)!);
    if (kept.length !== b.insts.length) changed = true;
    b.insts = kept;
  }
  // Liveness computed before any removal over-approximates it after: removing dead
  // instructions and branches with one target only drops uses.
  if (dropDeadBranches(f, liveIn)) {
    removeUnreachable(f);
    changed = true;
  }
  return changed;
}

/** b's instructions without those whose results are dead at their definition. */
function sweep(b: Block, liveOut: Set<number>): Inst[] {
  const live = new Set(liveOut);
  if (b.term) for (const u of uses(b.term)) live.add(u.id);
  const kept = [];
  for (let k = b.insts.length - 1; k >= 0; k--) {
    const i = b.insts[k]!;
    const d = def(i);
    if (d && isPure(i) && !live.has(d.id)) continue;
    // A self-move does nothing.
    if (i.op === "mov" && typeof i.src !== "bigint" && i.src.id === i.dst.id) continue;
    if (d) live.delete(d.id);
    for (const u of uses(i)) live.add(u.id);
    kept.push(i);
  }
  return kept.reverse();
}

function dropDeadBranches(f: Func, liveIn: Map<Block, Set<number>>): boolean {
  const entry = f.blocks[0]!;
  const preds = new Map<Block, Set<Block>>();
  for (const b of f.blocks) preds.set(b, new Set());
  for (const b of f.blocks) for (const s of successors(b.term)) preds.get(s)!.add(b);
  const isEmptyJump = (b: Block) =>
    b !== entry && !b.insts.length && b.term?.op === "jmp" && b.term.target !== b;
  const work = f.blocks.filter(isEmptyJump);
  let changed = false;
  while (work.length) {
    const b = work.pop()!;
    if (!isEmptyJump(b) || b.term?.op !== "jmp") continue;
    const to = b.term.target;
    // An empty cycle stays (the verifier refuses it anyway; nothing to forward to).
    if (to.term?.op === "jmp" && !to.insts.length && to.term.target === b) continue;
    const ps = preds.get(b)!;
    for (const p of [...ps]) {
      if (p === b) continue;
      retarget(p.term!, b, to);
      ps.delete(p);
      preds.get(to)!.add(p);
      changed = true;
      const t = p.term!;
      const one = (t.op === "br" && t.then === t.else) || (t.op === "guard" && t.ok === t.fail);
      if (!one) continue;
      // A branch or guard with one target decides nothing (see simplify's forwardEmpty).
      p.term = { op: "jmp", target: to, span: t.span };
      p.insts = sweep(p, liveIn.get(to)!);
      if (isEmptyJump(p)) work.push(p);
    }
  }
  return changed;
}
