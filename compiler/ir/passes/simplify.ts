// CFG simplification: forwards jumps through empty blocks, threads branches whose
// outcome a predecessor already decides (the `if (ip === null)` after a header
// accessor whose paths set ip to 0 or to a packet pointer), merges straight-line
// block chains and identical `ret` blocks.
import type { Block, Func, Inst, Operand, Term } from "../ir.ts";
import { def, isImm, successors, widthOf, wrap } from "../ir.ts";
import { predecessors, removeUnreachable } from "../cfg.ts";
import { evalBin, evalCond, evalUn } from "../eval.ts";

export function simplifyCfg(f: Func): boolean {
  let changed = false;
  changed = forwardEmpty(f) || changed;
  changed = thread(f) || changed;
  changed = mergeReturns(f) || changed;
  changed = mergeChains(f) || changed;
  changed = removeUnreachable(f) || changed;
  return changed;
}

/** Moves t's edges to `from` onto `to`. */
export function retarget(t: Term, from: Block, to: Block): void {
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
    // So is a packet guard whose two targets coincide (what is left of a header parse
    // or a checked load whose result is unused). Dropping it is safe for the verifier:
    // the code after it is also reached without the range, so it never relied on it.
    // Keeping it would split the verifier's state into a checked and an unchecked copy
    // with different packet ranges, which do not prune each other.
    if (t?.op === "guard" && t.ok === t.fail) {
      b.term = { op: "jmp", target: t.ok, span: t.span };
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
    if (i.op === "mov") {
      const s = isImm(i.src) ? { value: i.src } : known(p, i.src, nonNull, k);
      if (s?.value !== undefined) return { value: wrap(s.value, widthOf(d.ty)) };
      // Non-null survives a move into a 64-bit register, not a truncation.
      return s?.nonZero && widthOf(d.ty) === 64 ? s : null;
    }
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
    if (t?.op !== "br" || b === f.blocks[0] || !duplicable(b)) continue;
    for (const p of preds.get(b)!) {
      if (p === b || p.term?.op !== "jmp" || p.term.target !== b) continue;
      const taken = decide(p, b, t, nonNull);
      if (taken === undefined || (taken ? t.then : t.else) === b) continue;
      // Tail duplication: p runs b's instructions itself and jumps to the decided
      // target. Every path executes what it did before, minus one decided branch.
      p.insts.push(...b.insts.map((i) => ({ ...i })));
      p.term = { op: "jmp", target: taken ? t.then : t.else, span: p.term.span };
      changed = true;
    }
  }
  return changed;
}

/** Most instructions a join block may have for its branch to be threaded (duplicated into a predecessor). */
export const THREAD_MAX_INSTS = 4;

/** A join short and simple enough to copy into a predecessor: register arithmetic only. */
function duplicable(b: Block): boolean {
  if (b.insts.length > THREAD_MAX_INSTS) return false;
  return b.insts.every(
    (i) => i.op === "mov" || i.op === "bin" || i.op === "un" || i.op === "ptrAdd",
  );
}

type Fact = { value?: bigint; nonZero?: boolean } | null;

/**
 * The outcome of b's branch when b is entered from p: p's facts at its end, carried
 * forward through b's instructions (constants through moves and arithmetic, non-null
 * through pointer moves). Undefined when it is not decided.
 */
function decide(
  p: Block,
  b: Block,
  t: Term & { op: "br" },
  nonNull: Set<number>,
): boolean | undefined {
  const env = new Map<number, Fact>();
  const get = (o: Operand): Fact => {
    if (isImm(o)) return { value: o };
    if (env.has(o.id)) return env.get(o.id)!;
    return known(p, o, nonNull);
  };
  for (const i of b.insts) {
    const d = def(i);
    if (!d) continue;
    let fact: Fact = null;
    if (i.op === "mov") {
      const s = get(i.src);
      if (s?.value !== undefined) fact = { value: wrap(s.value, widthOf(d.ty)) };
      // Non-null survives a move into a 64-bit register, not a truncation.
      else if (s?.nonZero && widthOf(d.ty) === 64) fact = { nonZero: true };
    } else if (i.op === "bin") {
      const x = get(i.a);
      const y = get(i.b);
      if (x?.value !== undefined && y?.value !== undefined)
        fact = { value: wrap(evalBin(i.kind, i.w, x.value, y.value), widthOf(d.ty)) };
    } else if (i.op === "un") {
      const x = get(i.a);
      if (x?.value !== undefined)
        fact = { value: wrap(evalUn(i.kind, i.w, x.value), widthOf(d.ty)) };
    }
    env.set(d.id, fact);
  }
  const a = get(t.a);
  const c = get(t.b);
  if (a?.value !== undefined && c?.value !== undefined)
    return evalCond(t.cc, t.w, a.value, c.value);
  if (
    a?.nonZero &&
    c?.value !== undefined &&
    wrap(c.value, t.w) === 0n &&
    (t.cc === "eq" || t.cc === "ne")
  )
    return t.cc === "ne";
  return undefined;
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
