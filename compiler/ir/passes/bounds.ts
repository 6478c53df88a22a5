// Bounds checks that cover runs of checked loads (`ctx.loadN(off + c)`), in four steps
// that leave the rest to guard elimination (guards.ts):
//  - length tests become packet guards: `ctx.len < K` and `ctx.len < off + c` (off
//    bounded, so off + c cannot wrap) are exactly `data + K > data_end` and
//    `data + off + c > data_end`, and as guards they give the verifier a packet range;
//  - a variable-offset pointer `data + (off + c)` becomes `(data + off) + c` when off + c
//    is known not to wrap: the verifier gives a pointer with a variable offset a fresh
//    id, so only pointers derived from one `data + off` by constants share its range;
//  - equal pointer derivations `data + off` are computed once (value numbering on the
//    dominator tree, with "not redefined in between", since the IR is not SSA);
//  - a guard after a side-effect-free region whose results are dead on the guard's
//    failure side moves to the region's start: `const a = ctx.load8(off); …;
//    if (ctx.len < off + 20 || a === null …) return` then checks once, and the region's
//    own guards inside the checked length disappear.
import type { Block, Cond, Func, Inst, Operand, Term, VReg } from "../ir.ts";
import { def, isImm, isPure, successors, uses } from "../ir.ts";
import { definitions, dominates, dominators, liveness, predecessors } from "../cfg.ts";
import { swapCond } from "../eval.ts";
import { retarget } from "./simplify.ts";
import { analyzeRanges, rangeOf, transfer, type RangeState } from "./ranges.ts";

type Guard = Extract<Term, { op: "guard" }>;
type Defs = Map<number, { block: Block; index: number }[]>;

/** The verifier trusts a packet range only while offset + length stays within this. */
const MAX_PACKET_OFF = 0xffffn;

export function coverLoads(f: Func): boolean {
  let changed = lengthGuards(f);
  changed = splitOffsets(f) || changed;
  changed = numberPointers(f) || changed;
  for (let n = 0; n < 16 && hoistGuards(f); n++) changed = true;
  changed = numberPointers(f) || changed;
  return changed;
}

function singleDef(defs: Defs, v: Operand): Inst | null {
  if (isImm(v)) return null;
  const ds = defs.get(v.id);
  return ds?.length === 1 ? ds[0]!.block.insts[ds[0]!.index]! : null;
}

function fresh(f: Func, ty: VReg["ty"]): VReg {
  return { id: f.nextVReg++, ty };
}

/** Ranges just before insts[index] of b. */
function rangesAt(entry: Map<Block, RangeState>, b: Block, index: number): RangeState | null {
  const s0 = entry.get(b);
  if (!s0) return null;
  const s = new Map(s0);
  for (let k = 0; k < index; k++) transfer(s, b.insts[k]!);
  return s;
}

function definedIn(insts: readonly Inst[], v: VReg, from: number, to: number): boolean {
  for (let k = from; k < to; k++) if (def(insts[k]!)?.id === v.id) return true;
  return false;
}

/** `ctx.len` as lowered: zext32(end - data); its data and end pointers. */
function packetLength(defs: Defs, v: Operand): { data: VReg; end: VReg } | null {
  const z = singleDef(defs, v);
  if (z?.op !== "un" || z.kind !== "zext32") return null;
  const s = singleDef(defs, z.a);
  if (s?.op !== "bin" || s.kind !== "sub" || s.w !== 64) return null;
  const a = singleDef(defs, s.a);
  const d = singleDef(defs, s.b);
  if (a?.op !== "mov" || d?.op !== "mov" || isImm(a.src) || isImm(d.src)) return null;
  if (a.src.ty !== "pktEnd" || d.src.ty !== "pkt") return null;
  // Only the frame's own start: every other packet pointer could lie past data_end.
  const dd = singleDef(defs, d.src);
  if (dd?.op !== "load" || singleDef(defs, a.src)?.op !== "load") return null;
  return { data: d.src, end: a.src };
}

/** Length tests `len <cc> K` as guards `data + K <= end ? long : short`. */
function lengthGuards(f: Func): boolean {
  const defs = definitions(f);
  let entry: Map<Block, RangeState> | null = null;
  let changed = false;
  for (const b of f.blocks) {
    const t = b.term;
    if (t?.op !== "br") continue;
    let cc: Cond = t.cc;
    let len = t.a;
    let k = t.b;
    if (!packetLength(defs, len)) [len, k, cc] = [t.b, t.a, swapCond(cc)];
    const p = packetLength(defs, len);
    if (!p) continue;
    // Normalise to "long (len >= K) → then/else".
    let bump = 0n;
    let longIsThen: boolean;
    if (cc === "ult") longIsThen = false;
    else if (cc === "uge") longIsThen = true;
    else if (cc === "ule") [longIsThen, bump] = [false, 1n];
    else if (cc === "ugt") [longIsThen, bump] = [true, 1n];
    else continue;
    const long = longIsThen ? t.then : t.else;
    const short = longIsThen ? t.else : t.then;
    if (isImm(k)) {
      const n = BigInt.asUintN(t.w, k) + bump;
      if (n < 1n || n > MAX_PACKET_OFF) continue;
      b.term = {
        op: "guard",
        ptr: p.data,
        n: Number(n),
        end: p.end,
        ok: long,
        fail: short,
        span: t.span,
      };
      changed = true;
      continue;
    }
    // len < off + c, with off + c computed in this block from an i32 off.
    const add = singleDef(defs, k);
    if (add?.op !== "bin" || add.kind !== "add" || add.w !== 32) continue;
    if (isImm(add.a) || !isImm(add.b) || add.a.ty !== "i32") continue;
    const at = b.insts.indexOf(add);
    if (at < 0 || definedIn(b.insts, add.a, at + 1, b.insts.length)) continue;
    const c = BigInt.asUintN(32, add.b) + bump;
    entry ??= analyzeRanges(f);
    const s = rangesAt(entry, b, at);
    if (!s || c < 1n || rangeOf(s, add.a, 32).hi + c > MAX_PACKET_OFF) continue;
    const z = fresh(f, "i64");
    const q = fresh(f, "pkt");
    b.insts.push(
      { op: "mov", dst: z, src: add.a, span: t.span },
      { op: "ptrAdd", dst: q, base: p.data, off: z, span: t.span },
    );
    b.term = { op: "guard", ptr: q, n: Number(c), end: p.end, ok: long, fail: short, span: t.span };
    changed = true;
  }
  return changed;
}

/** `data + zext(off + c)` → `(data + zext(off)) + c` when off + c stays within the packet limit. */
function splitOffsets(f: Func): boolean {
  const defs = definitions(f);
  let entry: Map<Block, RangeState> | null = null;
  let changed = false;
  for (const b of f.blocks) {
    // Last first: a rewrite moves only the instructions after it.
    for (let k = b.insts.length - 1; k >= 0; k--) {
      const i = b.insts[k]!;
      if (i.op !== "ptrAdd" || isImm(i.off) || i.base.ty !== "pkt") continue;
      const y = singleDef(defs, i.off);
      if (y?.op !== "mov" || isImm(y.src) || y.src.ty !== "i32") continue;
      const add = singleDef(defs, y.src);
      if (add?.op !== "bin" || add.kind !== "add" || add.w !== 32) continue;
      if (isImm(add.a) || !isImm(add.b) || add.a.ty !== "i32") continue;
      const at = b.insts.indexOf(add);
      if (at < 0 || at > k || definedIn(b.insts, add.a, at + 1, k)) continue;
      if (definedIn(b.insts, i.base, at + 1, k)) continue;
      const c = BigInt.asUintN(32, add.b);
      entry ??= analyzeRanges(f);
      const s = rangesAt(entry, b, at);
      // The verifier must see off itself bounded before it is added to the pointer.
      if (!s || c === 0n || rangeOf(s, add.a, 32).hi + c > MAX_PACKET_OFF) continue;
      const z = fresh(f, "i64");
      const q = fresh(f, "pkt");
      b.insts.splice(
        k,
        1,
        { op: "mov", dst: z, src: add.a, span: i.span },
        { op: "ptrAdd", dst: q, base: i.base, off: z, span: i.span },
        { op: "ptrAdd", dst: i.dst, base: q, off: c, span: i.span },
      );
      changed = true;
    }
  }
  return changed;
}

/** Blocks x on a path a →+ x →+ b (a or b among them when a cycle passes them). */
function between(a: Block, b: Block, preds: Map<Block, Block[]>): Set<Block> {
  const fwd = new Set<Block>();
  const stack = [...successors(a.term)];
  while (stack.length) {
    const x = stack.pop()!;
    if (fwd.has(x)) continue;
    fwd.add(x);
    stack.push(...successors(x.term));
  }
  const out = new Set<Block>();
  const back = [...(preds.get(b) ?? [])];
  const seen = new Set<Block>();
  while (back.length) {
    const x = back.pop()!;
    if (seen.has(x)) continue;
    seen.add(x);
    if (fwd.has(x)) out.add(x);
    back.push(...(preds.get(x) ?? []));
  }
  return out;
}

/** No path from insts[ia] of a to insts[ib] of b redefines any of vs. */
function unchanged(
  vs: VReg[],
  a: Block,
  ia: number,
  b: Block,
  ib: number,
  preds: Map<Block, Block[]>,
): boolean {
  const mid = between(a, b, preds);
  const straight = a === b && ia < ib;
  for (const v of vs) {
    if (straight && definedIn(a.insts, v, ia + 1, ib)) return false;
    if (straight && !mid.has(a)) continue;
    if (definedIn(a.insts, v, ia + 1, a.insts.length)) return false;
    if (definedIn(b.insts, v, 0, mid.has(b) ? b.insts.length : ib)) return false;
    for (const x of mid)
      if (x !== a && x !== b && definedIn(x.insts, v, 0, x.insts.length)) return false;
  }
  return true;
}

/** `q2 = data + off` after an equal `q1 = data + off` that reaches it unchanged: q2 = q1. */
function numberPointers(f: Func): boolean {
  const defs = definitions(f);
  const idom = dominators(f);
  const preds = predecessors(f);
  const seen = new Map<string, { v: VReg; block: Block; index: number; deps: VReg[] }[]>();
  let changed = false;
  const order = [...idom.keys()];
  // Dominators first (RPO order of the idom map's insertion is not guaranteed; sort).
  const rpo = new Map(order.map((b, k) => [b, k]));
  const blocks = f.blocks.filter((b) => rpo.has(b));
  const depths = new Map(blocks.map((b) => [b, depth(idom, b)]));
  blocks.sort((x, y) => depths.get(x)! - depths.get(y)!);
  for (const b of blocks) {
    b.insts.forEach((i, index) => {
      if (i.op !== "ptrAdd" || isImm(i.off) || (defs.get(i.dst.id)?.length ?? 0) !== 1) return;
      // z = zext(off) just before in the block: numbered by off itself.
      const zi = singleDef(defs, i.off);
      const zk = zi ? b.insts.indexOf(zi) : -1;
      const off =
        zi?.op === "mov" &&
        !isImm(zi.src) &&
        zi.src.ty === "i32" &&
        zk >= 0 &&
        zk < index &&
        !definedIn(b.insts, zi.src, zk + 1, index)
          ? zi.src
          : i.off;
      const key = `${i.base.id}:${off === i.off ? "v" : "z"}${off.id}`;
      const deps = [i.base, off];
      const list = seen.get(key) ?? [];
      for (const c of list) {
        if (c.block !== b && !dominates(idom, c.block, b)) continue;
        if (c.block === b && c.index >= index) continue;
        if (!unchanged([...deps, c.v], c.block, c.index, b, index, preds)) continue;
        b.insts[index] = { op: "mov", dst: i.dst, src: c.v, span: i.span };
        changed = true;
        return;
      }
      list.push({ v: i.dst, block: b, index, deps });
      seen.set(key, list);
    });
  }
  return changed;
}

function depth(idom: Map<Block, Block>, b: Block): number {
  let d = 0;
  for (let x = b; idom.get(x) !== x && idom.has(x); x = idom.get(x)!) d++;
  return d;
}

/**
 * A guard C at the end of a pure, acyclic, single-entry region R (entered at D, every
 * exit going to C), whose operands R does not change and whose failure side reads
 * nothing R defines, is checked before R instead: on failure R had no effect, and on
 * success R's own guards run inside the checked range.
 */
function hoistGuards(f: Func): boolean {
  const defs = definitions(f);
  const idom = dominators(f);
  const preds = predecessors(f);
  const { liveIn } = liveness(f);
  for (const c of f.blocks) {
    const g = c.term;
    if (g?.op !== "guard" || g.ok === g.fail || !idom.has(c)) continue;
    // The guard's own operand slice in C: q = data + z, z = zext(off), moved along.
    const slice: Inst[] = [];
    const pi = singleDef(defs, g.ptr);
    if (pi?.op === "ptrAdd" && c.insts.includes(pi)) {
      const zi = singleDef(defs, pi.off);
      if (zi && c.insts.includes(zi)) slice.push(zi);
      slice.push(pi);
    }
    const inputs = new Set<number>([g.ptr.id, g.end.id]);
    for (const i of slice) for (const u of uses(i)) inputs.add(u.id);
    for (const i of slice) inputs.delete(def(i)!.id);
    const prefix = c.insts.filter((i) => !slice.includes(i));
    if (!prefix.every(isPure)) continue;
    const failLive = liveIn.get(g.fail) ?? new Set<number>();
    let best: { d: Block; region: Set<Block> } | null = null;
    for (let d = idom.get(c); d && d !== c;) {
      const region = regionOf(d, c);
      if (!region || !validRegion(region, d, c, preds, inputs, failLive, prefix)) break;
      best = { d, region };
      const up = idom.get(d);
      if (!up || up === d) break;
      d = up;
    }
    if (!best) continue;
    const hasGuard = [...best.region].some((x) => x.term?.op === "guard");
    if (!hasGuard) continue;
    const n: Block = { id: f.nextBlock++, label: "cover", insts: slice, term: null };
    c.insts = prefix;
    const d = best.d;
    for (const p of preds.get(d) ?? []) retarget(p.term!, d, n);
    n.term = { ...g, ok: d };
    c.term = { op: "jmp", target: g.ok, span: g.span };
    const at = f.blocks.indexOf(d);
    f.blocks.splice(at, 0, n);
    return true;
  }
  return false;
}

/** Blocks reachable from d without passing c; null when some path leaves the function. */
function regionOf(d: Block, c: Block): Set<Block> | null {
  const r = new Set<Block>();
  const stack = [d];
  while (stack.length) {
    const x = stack.pop()!;
    if (x === c || r.has(x)) continue;
    r.add(x);
    if (r.size > 256) return null;
    if (!x.term || x.term.op === "ret") return null;
    stack.push(...successors(x.term));
  }
  return r;
}

function validRegion(
  region: Set<Block>,
  d: Block,
  c: Block,
  preds: Map<Block, Block[]>,
  inputs: Set<number>,
  failLive: Set<number>,
  prefix: Inst[],
): boolean {
  for (const p of preds.get(c) ?? []) if (!region.has(p)) return false;
  for (const p of preds.get(d) ?? []) if (region.has(p) || p === c) return false;
  for (const x of region) {
    if (x !== d) for (const p of preds.get(x) ?? []) if (!region.has(p)) return false;
    if (!checkInsts(x.insts, inputs, failLive)) return false;
  }
  if (!checkInsts(prefix, inputs, failLive)) return false;
  // Acyclic: a topological order exists.
  const indeg = new Map<Block, number>();
  for (const x of region) indeg.set(x, (preds.get(x) ?? []).filter((p) => region.has(p)).length);
  const ready = [...region].filter((x) => indeg.get(x) === 0);
  let done = 0;
  while (ready.length) {
    const x = ready.pop()!;
    done++;
    for (const s of successors(x.term)) {
      if (!region.has(s)) continue;
      indeg.set(s, indeg.get(s)! - 1);
      if (indeg.get(s) === 0) ready.push(s);
    }
  }
  return done === region.size;
}

function checkInsts(insts: readonly Inst[], inputs: Set<number>, failLive: Set<number>): boolean {
  for (const i of insts) {
    if (!isPure(i)) return false;
    const d = def(i);
    if (d && (inputs.has(d.id) || failLive.has(d.id))) return false;
  }
  return true;
}

export type { Guard };
