// Packet guard merging, in the spirit of cbpfc's packet guards. A guard
// `ptr + n <= end` is normalised to (root, end offset), where root is the
// single-definition pointer ptr is derived from by constant offsets and copies
// (the verifier gives all of those one id and one range).
//  - A guard dominated, through the success edge of another guard, by a guard on
//    the same root reaching at least as far is dropped.
//  - A guard G2 whose failure target equals that of an earlier guard G1 on the
//    same root, with only side-effect-free code in between that can only reach G2
//    or the common failure block, is folded into G1 (G1 checks the larger length):
//    parsing the same header twice, or eth then ip then udp, costs one check.
import type { Block, Func, Term, VReg } from "../ir.ts";
import { def, isImm, isPure, successors } from "../ir.ts";
import { definitions, dominates, dominators, liveness, predecessors } from "../cfg.ts";

type Guard = Extract<Term, { op: "guard" }>;

function rootOf(f: Func): (v: VReg) => { root: number; off: number } {
  const defs = definitions(f);
  const memo = new Map<number, { root: number; off: number }>();
  const go = (v: VReg, depth: number): { root: number; off: number } => {
    const m = memo.get(v.id);
    if (m) return m;
    let r = { root: v.id, off: 0 };
    const ds = defs.get(v.id);
    if (ds?.length === 1 && depth < 64) {
      const i = ds[0]!.block.insts[ds[0]!.index]!;
      if (i.op === "ptrAdd" && isImm(i.off)) {
        const b = go(i.base, depth + 1);
        r = { root: b.root, off: b.off + Number(BigInt.asIntN(32, i.off)) };
      } else if (i.op === "mov" && !isImm(i.src)) r = go(i.src, depth + 1);
    }
    memo.set(v.id, r);
    return r;
  };
  return (v) => go(v, 0);
}

export function mergeGuards(f: Func): boolean {
  let changed = widen(f);
  changed = eliminate(f) || changed;
  return changed;
}

function eliminate(f: Func): boolean {
  let changed = false;
  const idom = dominators(f);
  const preds = predecessors(f);
  const root = rootOf(f);
  const children = new Map<Block, Block[]>();
  for (const [b, d] of idom) if (b !== d) children.set(d, [...(children.get(d) ?? []), b]);
  const walk = (start: Block) => {
    const stack: { b: Block; facts: Map<number, number> }[] = [{ b: start, facts: new Map() }];
    while (stack.length) {
      const { b, facts: inherited } = stack.pop()!;
      let facts = inherited;
      const ps = preds.get(b) ?? [];
      const p = ps.length === 1 ? ps[0]! : null;
      if (p?.term?.op === "guard" && p.term.ok === b && p.term.fail !== b) {
        const g = root(p.term.ptr);
        const end = g.off + p.term.n;
        if ((facts.get(g.root) ?? -1) < end) {
          facts = new Map(facts);
          facts.set(g.root, end);
        }
      }
      const t = b.term;
      if (t?.op === "guard") {
        const g = root(t.ptr);
        if ((facts.get(g.root) ?? -1) >= g.off + t.n && g.off >= 0) {
          b.term = { op: "jmp", target: t.ok, span: t.span };
          changed = true;
        }
      }
      for (const c of children.get(b) ?? []) stack.push({ b: c, facts });
    }
  };
  walk(f.blocks[0]!);
  return changed;
}

/**
 * All merges in one run (one per optimizer round took 18 rounds on a loop of parses:
 * fuzz seed 46095). The dominators, predecessors and roots computed first stay true
 * enough: a merge only removes an edge (b2 → its failure), which keeps every dominance,
 * takes predecessors away, shrinks liveness (liveIn, computed once, over-approximates it)
 * and changes no instruction.
 */
function widen(f: Func): boolean {
  const idom = dominators(f);
  const root = rootOf(f);
  const preds = predecessors(f);
  const guards = f.blocks.filter((b) => b.term?.op === "guard");
  let liveIn: Map<Block, Set<number>> | undefined;
  let changed = false;
  for (const b2 of guards) {
    if (b2.term?.op !== "guard") continue;
    const g2 = b2.term;
    const r2 = root(g2.ptr);
    // Nearest dominating guard block on the same root with the same failure target.
    let x = idom.get(b2);
    while (x) {
      const g1 = x.term?.op === "guard" ? (x.term as Guard) : null;
      if (
        g1 &&
        g1.fail === g2.fail &&
        g1.ok !== g1.fail &&
        preds.get(g1.ok)!.length === 1 &&
        dominates(idom, g1.ok, b2)
      ) {
        const r1 = root(g1.ptr);
        liveIn ??= liveness(f).liveIn;
        if (
          r1.root === r2.root &&
          r1.off <= r2.off &&
          betweenIsPure(g1, b2, liveIn.get(g1.fail) ?? new Set())
        ) {
          const need = r2.off + g2.n - r1.off;
          if (need > g1.n) g1.n = need;
          b2.term = { op: "jmp", target: g2.ok, span: g2.span };
          changed = true;
          break;
        }
      }
      const up = idom.get(x);
      if (up === x) break;
      x = up;
    }
  }
  return changed;
}

/**
 * Blocks reachable from g1.ok up to b2's guard or the shared failure block: pure,
 * acyclic, no exits, and defining nothing the failure block reads. A frame that G1 now
 * fails skips them all (b2's own instructions too) on its way to the failure block, so
 * they must not be able to change what happens there.
 */
function betweenIsPure(g1: Guard, b2: Block, failLive: Set<number>): boolean {
  const harmless = (b: Block) =>
    b.insts.every((i) => {
      const d = def(i);
      return isPure(i) && !(d && failLive.has(d.id));
    });
  if (!harmless(b2)) return false;
  const seen = new Set<Block>();
  const stack = [g1.ok];
  while (stack.length) {
    const b = stack.pop()!;
    if (b === b2 || b === g1.fail || seen.has(b)) continue;
    seen.add(b);
    if (seen.size > 64) return false;
    if (!harmless(b)) return false;
    if (!b.term || b.term.op === "ret") return false;
    for (const s of successors(b.term)) {
      if (s === g1.ok) return false; // a loop back to the start
      stack.push(s);
    }
  }
  return true;
}
