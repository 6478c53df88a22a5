// CFG simplification: forwards jumps through empty blocks, threads branches whose
// outcome a predecessor already decides (the `if (ip === null)` after a header
// accessor whose paths set ip to 0 or to a packet pointer), merges straight-line
// block chains and identical `ret` blocks.
import type { Block, Func, Inst, Operand, Term } from "../ir.ts";
import { def, isImm, successors, wrap } from "../ir.ts";
import { predecessors, removeUnreachable } from "../cfg.ts";
import { evalCond } from "../eval.ts";

export function simplifyCfg(f: Func): boolean {
  let changed = false;
  changed = forwardEmpty(f) || changed;
  changed = thread(f) || changed;
  changed = mergeReturns(f) || changed;
  changed = mergeChains(f) || changed;
  changed = removeUnreachable(f) || changed;
  return changed;
}

function retarget(t: Term, from: Block, to: Block): void {
  switch (t.op) {
    case "jmp":
      if (t.target === from) t.target = to;
      break;
    case "br":
      if (t.then === from) t.then = to;
      if (t.else === from) t.else = to;
      break;
    case "guard":
      if (t.ok === from) t.ok = to;
      if (t.fail === from) t.fail = to;
      break;
    case "ret":
      break;
  }
}

/** Predecessor sets, kept up to date as edges move (linear passes on long CFGs). */
function predSets(f: Func): Map<Block, Set<Block>> {
  const preds = new Map<Block, Set<Block>>();
  for (const b of f.blocks) preds.set(b, new Set());
  for (const b of f.blocks) for (const s of successors(b.term)) preds.get(s)?.add(b);
  return preds;
}

/** Moves every edge p → from to p → to, keeping `preds` true. */
function redirectPreds(preds: Map<Block, Set<Block>>, from: Block, to: Block): boolean {
  const ps = preds.get(from);
  if (!ps?.size) return false;
  for (const p of ps) {
    retarget(p.term!, from, to);
    preds.get(to)?.add(p);
  }
  ps.clear();
  return true;
}

function forwardEmpty(f: Func): boolean {
  let changed = false;
  const entry = f.blocks[0]!;
  const preds = predSets(f);
  for (const b of f.blocks) {
    if (b === entry || b.insts.length || b.term?.op !== "jmp") continue;
    let to = b.term.target;
    const seen = new Set([b]);
    while (!to.insts.length && to.term?.op === "jmp" && !seen.has(to)) {
      seen.add(to);
      to = to.term.target;
    }
    if (seen.has(to)) continue;
    changed = redirectPreds(preds, b, to) || changed;
  }
  // A branch whose two targets coincide is a jump.
  for (const b of f.blocks) {
    const t = b.term;
    if (t?.op === "br" && t.then === t.else) {
      b.term = { op: "jmp", target: t.then, span: t.span };
      changed = true;
    }
  }
  return changed;
}

/** What a predecessor knows about an operand's value at its end: a constant, or non-zero. */
/**
 * Vregs that are never null: every definition is packet/stack/global address
 * arithmetic or a copy of such a vreg (optimistic fixpoint).
 */
function nonNullVregs(f: Func): Set<number> {
  const defs = new Map<number, Inst[]>();
  for (const b of f.blocks)
    for (const i of b.insts) {
      const d = def(i);
      if (d) defs.set(d.id, [...(defs.get(d.id) ?? []), i]);
    }
  const set = new Set<number>();
  for (const [id, is] of defs)
    // ctx->data (a pkt-typed load) is never 0 either.
    if (
      is.every(
        (i) =>
          ((i.op === "ptrAdd" || i.op === "load") && i.dst.ty === "pkt") ||
          (i.op === "addr" && !("map" in i.of)) ||
          (i.op === "mov" && !isImm(i.src)),
      )
    )
      set.add(id);
  let changed = true;
  while (changed) {
    changed = false;
    for (const id of [...set])
      if (defs.get(id)!.some((i) => i.op === "mov" && !isImm(i.src) && !set.has(i.src.id))) {
        set.delete(id);
        changed = true;
      }
  }
  for (const p of f.params) set.delete(p.id);
  return set;
}

function known(
  p: Block,
  o: Operand,
  nonNull: Set<number>,
  end = p.insts.length,
): { value?: bigint; nonZero?: boolean } | null {
  if (isImm(o)) return { value: o };
  if (nonNull.has(o.id)) return { nonZero: true };
  for (let k = end - 1; k >= 0; k--) {
    const i = p.insts[k]!;
    const d = def(i);
    if (!d || d.id !== o.id) continue;
    if (i.op === "mov") return isImm(i.src) ? { value: i.src } : known(p, i.src, nonNull, k);
    // Packet pointers derived from data, stack and global addresses are never null.
    if (i.op === "ptrAdd" && i.dst.ty === "pkt") return { nonZero: true };
    if (i.op === "addr" && !("map" in i.of)) return { nonZero: true };
    return null;
  }
  return null;
}

function thread(f: Func): boolean {
  let changed = false;
  const preds = predecessors(f);
  const nonNull = nonNullVregs(f);
  for (const b of f.blocks) {
    // A null test of a pointer that is never null is decided.
    const bt = b.term;
    if (
      bt?.op === "br" &&
      (bt.cc === "eq" || bt.cc === "ne") &&
      !isImm(bt.a) &&
      nonNull.has(bt.a.id) &&
      isImm(bt.b) &&
      wrap(bt.b, bt.w) === 0n
    ) {
      b.term = { op: "jmp", target: bt.cc === "ne" ? bt.then : bt.else, span: bt.span };
      changed = true;
    }
  }
  for (const b of f.blocks) {
    const t = b.term;
    if (b.insts.length || t?.op !== "br" || b === f.blocks[0]) continue;
    for (const p of preds.get(b)!) {
      if (p.term?.op !== "jmp" || p.term.target !== b) continue;
      const a = known(p, t.a, nonNull);
      const c = known(p, t.b, nonNull);
      let taken: boolean | undefined;
      if (a?.value !== undefined && c?.value !== undefined)
        taken = evalCond(t.cc, t.w, a.value, c.value);
      else if (
        a?.nonZero &&
        c?.value !== undefined &&
        wrap(c.value, t.w) === 0n &&
        (t.cc === "eq" || t.cc === "ne")
      )
        taken = t.cc === "ne";
      if (taken === undefined) continue;
      p.term = { op: "jmp", target: taken ? t.then : t.else, span: p.term.span };
      changed = true;
    }
  }
  return changed;
}

function mergeReturns(f: Func): boolean {
  let changed = false;
  const byValue = new Map<string, Block>();
  const preds = predSets(f);
  for (const b of f.blocks) {
    const t = b.term;
    if (b.insts.length || t?.op !== "ret" || !isImm(t.value)) continue;
    const key = String(wrap(t.value, 64));
    const first = byValue.get(key);
    if (!first) {
      byValue.set(key, b);
      continue;
    }
    changed = redirectPreds(preds, b, first) || changed;
  }
  return changed;
}

/** Appends each block's single-predecessor jump target to it (whole chains, one pass). */
function mergeChains(f: Func): boolean {
  const preds = predSets(f);
  const gone = new Set<Block>();
  for (const b of f.blocks) {
    if (gone.has(b)) continue;
    for (;;) {
      const t = b.term;
      if (t?.op !== "jmp") break;
      const s = t.target;
      if (s === b || s === f.blocks[0] || preds.get(s)!.size !== 1) break;
      b.insts.push(...s.insts);
      b.term = s.term;
      for (const x of successors(s.term)) {
        const px = preds.get(x)!;
        px.delete(s);
        px.add(b);
      }
      s.insts = [];
      s.term = { op: "jmp", target: s }; // now unreachable; dropped below
      preds.get(s)!.clear();
      gone.add(s);
    }
  }
  if (!gone.size) return false;
  f.blocks = f.blocks.filter((x) => !gone.has(x));
  return true;
}
