// Range analysis: an unsigned interval for every integer vreg at every program point
// (forward dataflow over the CFG, joined by hull, widened to the full range at loop
// heads, narrowed on branch edges), then folding of what it decides — branches such as
// the `off > 0xffff - N` offset guard of a checked load whose offset is known to be
// small, and instructions whose result is a single value (a presence flag that only
// one path still sets).
//
// The verifier must keep accepting the program after a branch is folded away, so the
// analysis only believes what the kernel's own scalar tracking also proves: constants,
// copies, add/sub without wrap-around, and/or/shifts by constants, small products,
// zero and sign extension (of a value below the sign bit), 1-, 2- and 4-byte loads
// (zero-extended), and branch refinement against constants. A zero extension of a
// value that already fits becomes a copy. Byte swaps, division and helper results are
// unknown to the verifier and so are unknown here. The verifier tracks each path
// separately, so it is always at least as precise as a hull over joined paths.
import type { Block, Cond, Func, Inst, Operand, VReg, Width } from "../ir.ts";
import { isImm, isPtr, successors, widthOf, wrap } from "../ir.ts";
import { liveness, reversePostOrder } from "../cfg.ts";
import { evalCond, negate, swapCond } from "../eval.ts";

/** An unsigned interval [lo, hi] inside a width. */
export interface Range {
  lo: bigint;
  hi: bigint;
}
/** Known ranges by vreg id; a vreg without an entry may hold any value of its width. */
export type RangeState = Map<number, Range>;

const max = (w: Width) => (1n << BigInt(w)) - 1n;
const full = (w: Width): Range => ({ lo: 0n, hi: max(w) });
const point = (c: bigint): Range => ({ lo: c, hi: c });
const isFull = (r: Range, w: Width) => r.lo === 0n && r.hi >= max(w);

/** The range of an operand seen at width w (a wider vreg's low bits only when they fit). */
export function rangeOf(s: RangeState, o: Operand, w: Width): Range {
  if (isImm(o)) return point(wrap(o, w));
  if (isPtr(o.ty)) return full(w);
  const r = s.get(o.id) ?? full(widthOf(o.ty));
  return r.hi <= max(w) ? r : full(w);
}

function set(s: RangeState, v: VReg, r: Range | null): void {
  if (isPtr(v.ty)) return;
  const w = widthOf(v.ty);
  if (!r || r.hi > max(w) || isFull(r, w)) s.delete(v.id);
  else s.set(v.id, r);
}

function binRange(i: Extract<Inst, { op: "bin" }>, a: Range, b: Range): Range | null {
  const m = max(i.w);
  const bc = b.lo === b.hi ? b.lo : null;
  switch (i.kind) {
    case "add":
      return a.hi + b.hi <= m ? { lo: a.lo + b.lo, hi: a.hi + b.hi } : null;
    case "sub":
      return a.lo >= b.hi ? { lo: a.lo - b.hi, hi: a.hi - b.lo } : null;
    case "and":
      if (a.lo === a.hi && bc !== null) return point(a.lo & bc);
      return { lo: 0n, hi: a.hi < b.hi ? a.hi : b.hi };
    case "or": {
      if (a.lo === a.hi && bc !== null) return point(a.lo | bc);
      let top = 1n;
      while (top <= (a.hi > b.hi ? a.hi : b.hi)) top <<= 1n;
      return { lo: a.lo > b.lo ? a.lo : b.lo, hi: top - 1n };
    }
    case "shl":
      if (bc === null || bc >= BigInt(i.w)) return null;
      return a.hi << bc <= m ? { lo: a.lo << bc, hi: a.hi << bc } : null;
    case "lshr":
      if (bc === null || bc >= BigInt(i.w)) return null;
      return { lo: a.lo >> bc, hi: a.hi >> bc };
    case "mul": {
      // The verifier gives up on products of operands above 16 (ALU32) or 32 bits.
      const lim = i.w === 32 ? 0xffffn : 0xffffffffn;
      if (a.hi > lim || b.hi > lim || a.hi * b.hi > m) return null;
      return { lo: a.lo * b.lo, hi: a.hi * b.hi };
    }
    default:
      return null;
  }
}

function unRange(i: Extract<Inst, { op: "un" }>, a: Range): Range | null {
  const cap = (n: bigint): Range => (a.hi <= n ? a : { lo: 0n, hi: n });
  switch (i.kind) {
    case "zext8":
      return cap(0xffn);
    case "zext16":
      return cap(0xffffn);
    case "zext32":
      return cap(0xffffffffn);
    // A value below the source width's sign bit extends to itself: `w <<= 16; w s>>= 16`
    // keeps the verifier's signed bounds too (a 0/1 flag passed as an i16: fuzz seed 58163).
    case "sext8":
      return a.hi < 0x80n ? a : null;
    case "sext16":
      return a.hi < 0x8000n ? a : null;
    case "sext32":
      return a.hi < 0x80000000n ? a : null;
    case "isZero":
      return a.hi === 0n ? point(1n) : a.lo > 0n ? point(0n) : { lo: 0n, hi: 1n };
    default:
      return null;
  }
}

/** Applies one instruction to the state. */
export function transfer(s: RangeState, i: Inst): void {
  switch (i.op) {
    case "mov":
      set(s, i.dst, rangeOf(s, i.src, widthOf(i.dst.ty)));
      return;
    case "bin":
      set(s, i.dst, binRange(i, rangeOf(s, i.a, i.w), rangeOf(s, i.b, i.w)));
      return;
    case "un":
      set(s, i.dst, unRange(i, rangeOf(s, i.a, i.w)));
      return;
    case "load":
      set(s, i.dst, i.size === 8 ? null : { lo: 0n, hi: (1n << BigInt(8 * i.size)) - 1n });
      return;
    case "call":
      if (i.dst) set(s, i.dst, null);
      return;
    case "addr":
    case "ptrAdd":
      return;
    default:
      return;
  }
}

/** True or false when the ranges decide `a cc b` at width w, else null. */
export function decide(cc: Cond, w: Width, a: Range, b: Range): boolean | null {
  if (a.lo === a.hi && b.lo === b.hi) return evalCond(cc, w, a.lo, b.lo);
  const half = 1n << BigInt(w - 1);
  // Signed order equals unsigned order while both stay below the sign bit.
  if (cc[0] === "s" && cc !== "set") {
    if (a.hi >= half || b.hi >= half) return null;
    cc = ("u" + cc.slice(1)) as Cond;
  }
  switch (cc) {
    case "eq":
      return a.hi < b.lo || b.hi < a.lo ? false : null;
    case "ne":
      return a.hi < b.lo || b.hi < a.lo ? true : null;
    case "ult":
      return a.hi < b.lo ? true : a.lo >= b.hi ? false : null;
    case "ule":
      return a.hi <= b.lo ? true : a.lo > b.hi ? false : null;
    case "ugt":
      return a.lo > b.hi ? true : a.hi <= b.lo ? false : null;
    case "uge":
      return a.lo >= b.hi ? true : a.hi < b.lo ? false : null;
    case "set":
      return a.hi === 0n || b.hi === 0n ? false : null;
    default:
      return null;
  }
}

/** `v cc c` assumed true: v's narrowed range, or null when it cannot hold. */
function narrow(cc: Cond, r: Range, c: bigint): Range | null {
  let { lo, hi } = r;
  switch (cc) {
    case "eq":
      if (c < lo || c > hi) return null;
      return point(c);
    case "ne":
      if (lo === c) lo++;
      if (hi === c) hi--;
      break;
    case "ult":
      if (c === 0n) return null;
      if (hi > c - 1n) hi = c - 1n;
      break;
    case "ule":
      if (hi > c) hi = c;
      break;
    case "ugt":
      if (lo < c + 1n) lo = c + 1n;
      break;
    case "uge":
      if (lo < c) lo = c;
      break;
    default:
      break;
  }
  return lo > hi ? null : { lo, hi };
}

/**
 * The state on the edge of `br` into then (taken) or else: the compared vreg narrowed
 * when the other side is a constant; null when the edge cannot be taken.
 */
function onEdge(s: RangeState, t: Extract<Block["term"], { op: "br" }>, taken: boolean) {
  let cc: Cond | undefined = t.cc;
  let v: Operand = t.a;
  let c: Operand = t.b;
  if (isImm(v) && !isImm(c)) [v, c, cc] = [c, v, swapCond(cc)];
  if (!taken) cc = cc[0] === "s" ? undefined : (negate(cc) ?? undefined);
  const out = new Map(s);
  if (!cc || isImm(v) || !isImm(c) || isPtr(v.ty)) return out;
  // A 64-bit vreg compared on its low half says nothing about the whole value.
  if (widthOf(v.ty) > t.w) return out;
  const r = narrow(cc, rangeOf(s, v, t.w), wrap(c, t.w));
  if (!r) return null;
  set(out, v, r);
  return out;
}

function join(a: RangeState, b: RangeState): RangeState {
  const out: RangeState = new Map();
  for (const [id, r] of a) {
    const q = b.get(id);
    if (q) out.set(id, { lo: r.lo < q.lo ? r.lo : q.lo, hi: r.hi > q.hi ? r.hi : q.hi });
  }
  return out;
}

function same(a: RangeState, b: RangeState): boolean {
  if (a.size !== b.size) return false;
  for (const [id, r] of a) {
    const q = b.get(id);
    if (!q || q.lo !== r.lo || q.hi !== r.hi) return false;
  }
  return true;
}

/** Ranges at the entry of every reachable block. */
export function analyzeRanges(f: Func): Map<Block, RangeState> {
  const rpo = reversePostOrder(f);
  const order = new Map(rpo.map((b, k) => [b, k]));
  const entry = new Map<Block, RangeState>([[rpo[0]!, new Map()]]);
  const visits = new Map<Block, number>();
  // A block's entry state keeps only the vregs live into it: states the size of every
  // vreg defined so far made the analysis quadratic in program size (#17 bug 8's shape).
  const { liveIn } = liveness(f);
  const live = (succ: Block, st: RangeState): RangeState => {
    const want = liveIn.get(succ);
    const out: RangeState = new Map();
    if (want) for (const [id, r] of st) if (want.has(id)) out.set(id, r);
    return out;
  };
  // A worklist ordered by RPO index: loop bodies settle before what follows them.
  const work = new Set<Block>([rpo[0]!]);
  while (work.size) {
    let b: Block | undefined;
    for (const x of work) if (!b || order.get(x)! < order.get(b)!) b = x;
    work.delete(b!);
    const s = new Map(entry.get(b!)!);
    for (const i of b!.insts) transfer(s, i);
    const t = b!.term;
    const outs: [Block, RangeState | null][] =
      t?.op === "br"
        ? [
            [t.then, onEdge(s, t, true)],
            [t.else, onEdge(s, t, false)],
          ]
        : successors(t).map((x) => [x, s]);
    for (const [succ, st] of outs) {
      if (!st) continue;
      const old = entry.get(succ);
      const inc = live(succ, st);
      let next = old ? join(old, inc) : inc;
      // Widen only at loop heads (targets of back edges), not at joins of many paths.
      if (old && order.get(succ)! <= order.get(b!)!) {
        const n = (visits.get(succ) ?? 0) + 1;
        visits.set(succ, n);
        // Widening: past a few rounds, whatever still moves may take any value.
        if (n > 4) for (const [id, r] of next) if (!sameRange(old.get(id), r)) next.delete(id);
      }
      if (old && same(old, next)) continue;
      entry.set(succ, next);
      work.add(succ);
    }
  }
  return entry;
}

function sameRange(a: Range | undefined, b: Range): boolean {
  return !!a && a.lo === b.lo && a.hi === b.hi;
}

const ZEXT_MAX = { zext8: 0xffn, zext16: 0xffffn, zext32: 0xffffffffn } as const;

/** Folds what the ranges decide: branches, and pure results of a single value. */
export function foldRanges(f: Func): boolean {
  const entry = analyzeRanges(f);
  let changed = false;
  for (const b of f.blocks) {
    const s0 = entry.get(b);
    if (!s0) continue;
    const s = new Map(s0);
    b.insts = b.insts.map((i) => {
      // A truncation of a value that already fits is a copy (range before the write).
      const fits =
        i.op === "un" &&
        i.kind in ZEXT_MAX &&
        !isImm(i.a) &&
        (s.get(i.a.id)?.hi ?? (i.a.ty === "i32" ? ZEXT_MAX.zext32 : ZEXT_MAX.zext32 + 1n)) <=
          ZEXT_MAX[i.kind as keyof typeof ZEXT_MAX];
      transfer(s, i);
      if ((i.op === "bin" || i.op === "un") && !isPtr(i.dst.ty)) {
        const r = s.get(i.dst.id);
        if (r && r.lo === r.hi) {
          changed = true;
          return { op: "mov", dst: i.dst, src: r.lo, span: i.span };
        }
      }
      if (fits && i.op === "un") {
        changed = true;
        return { op: "mov", dst: i.dst, src: i.a, span: i.span };
      }
      return i;
    });
    const t = b.term;
    if (t?.op === "br") {
      const d = decide(t.cc, t.w, rangeOf(s, t.a, t.w), rangeOf(s, t.b, t.w));
      if (d !== null) {
        b.term = { op: "jmp", target: d ? t.then : t.else, span: t.span };
        changed = true;
      }
    }
  }
  return changed;
}
