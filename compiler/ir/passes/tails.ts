// Tail merging: exit regions that are the same code but for a few constants become
// one copy. An inlined helper called in tail position (`return record(ctx, XDP_DROP)`,
// the xdp-tutorial's stats pattern) leaves one copy per call site, each ending in its
// own `ret`; clang sinks them into one block fed by a phi of the constants, and so do
// we: each copy's entry sets a parameter vreg per differing constant and jumps to the
// one copy kept, which reads the parameters where it had the constants.
//
// A region is a block and everything reachable from it, entered only through that
// block (no other edge into it, no cycle back to its entry): it runs to a `ret` and
// nothing after it reads what it computes, so its own vregs can be renamed freely.
// Two regions match when their blocks, instructions and edges are the same up to that
// renaming, with the same outside vregs, slots and maps, and constants that differ only
// where a register may stand instead: a move's source, a stored value, a returned
// value. A constant that flows into a branch, a guard, an address or a helper argument
// stays as it is (the verifier needs those known, and jump threading would copy the
// region back apart), so regions differing there never match.
import type { Arg, Base, Block, Func, Inst, Operand, Term, Ty, VReg } from "../ir.ts";
import { def, isImm, isPtr, isSlot, successors, uses } from "../ir.ts";
import { definitions, predecessors, removeUnreachable } from "../cfg.ts";

/** Regions larger than this are not compared (compile time; real tails are small). */
const MAX_BLOCKS = 24;
const MAX_INSTS = 160;
/** A merge must save at least this many instructions. */
const MIN_SAVING = 4;

interface Region {
  root: Block;
  /** The region's blocks, root first, in the depth-first order the signature walks. */
  blocks: Block[];
  size: number;
  sig: string;
  /** The constants (or outside vregs) in parameter positions, in walk order. */
  consts: Operand[];
  /** The vreg type a register in each parameter position has. */
  types: Ty[];
}

export function mergeTails(f: Func): boolean {
  const preds = predecessors(f);
  const defs = definitions(f);
  const depth = exitDepths(f);
  const regions: Region[] = [];
  for (const r of f.blocks.slice(1)) {
    if ((depth.get(r) ?? Infinity) > MAX_BLOCKS) continue;
    const blocks = collect(r, preds);
    if (blocks) regions.push(signature(r, blocks, defs));
  }
  const groups = new Map<string, Region[]>();
  for (const g of regions) {
    const l = groups.get(g.sig);
    if (l) l.push(g);
    else groups.set(g.sig, [g]);
  }
  const touched = new Set<Block>();
  let changed = false;
  // Largest regions first: a smaller match inside a merged one is gone with it.
  const ordered = [...groups.values()]
    .filter((g) => g.length > 1)
    .sort((a, b) => b[0]!.size - a[0]!.size);
  for (const group of ordered) {
    const members = group.filter((g) => g.blocks.every((b) => !touched.has(b)));
    if (members.length < 2) continue;
    const first = members[0]!;
    const varying = first.consts
      .map((_, j) => j)
      .filter((j) => members.some((m) => key(m.consts[j]!) !== key(first.consts[j]!)));
    const params = new Set(varying.map((j) => members.map((m) => key(m.consts[j]!)).join(",")))
      .size;
    const saving = (members.length - 1) * first.size - members.length * (params + 1);
    if (saving < MIN_SAVING) continue;
    if (!merge(f, members, varying)) continue;
    for (const m of members) for (const b of m.blocks) touched.add(b);
    changed = true;
  }
  if (changed) removeUnreachable(f);
  return changed;
}

/**
 * The longest chain of blocks from each block to a `ret`, Infinity when a cycle is
 * reachable: a lower bound on its region's size, so most blocks of a long function
 * (upstream of a loop, or far from every exit) are never walked as a region.
 */
function exitDepths(f: Func): Map<Block, number> {
  const depth = new Map<Block, number>();
  const onStack = new Set<Block>();
  const stack: { b: Block; i: number }[] = [{ b: f.blocks[0]!, i: 0 }];
  onStack.add(f.blocks[0]!);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const succ = successors(top.b.term);
    if (top.i < succ.length) {
      const s = succ[top.i++]!;
      if (onStack.has(s)) depth.set(top.b, Infinity);
      else if (!depth.has(s)) {
        onStack.add(s);
        stack.push({ b: s, i: 0 });
      }
      continue;
    }
    stack.pop();
    onStack.delete(top.b);
    let d = 1;
    for (const s of succ) d = Math.max(d, 1 + (depth.get(s) ?? Infinity));
    depth.set(top.b, depth.get(top.b) === Infinity ? Infinity : d);
  }
  return depth;
}

/** r and what it reaches, when that is a single-entry region of bounded size; else null. */
function collect(r: Block, preds: Map<Block, Block[]>): Block[] | null {
  const order: Block[] = [];
  const seen = new Set<Block>([r]);
  const stack = [r];
  let insts = 0;
  while (stack.length) {
    const b = stack.pop()!;
    order.push(b);
    insts += b.insts.length + 1;
    if (order.length > MAX_BLOCKS || insts > MAX_INSTS) return null;
    // Reverse, so the first successor is walked first.
    for (const s of successors(b.term).reverse()) {
      if (s === r) return null;
      if (!seen.has(s)) {
        seen.add(s);
        stack.push(s);
      }
    }
  }
  for (const b of order) if (b !== r && preds.get(b)!.some((p) => !seen.has(p))) return null;
  return order;
}

/** A walk's view of a region: vregs defined only inside it are numbered by first sight. */
function signature(root: Block, blocks: Block[], defs: Map<number, { block: Block }[]>): Region {
  const inside = new Set(blocks);
  const index = new Map(blocks.map((b, i) => [b, i]));
  const locals = new Map<number, number>();
  const consts: Operand[] = [];
  const types: Ty[] = [];
  const parts: string[] = [];
  const outside = (v: VReg): boolean => {
    const d = defs.get(v.id);
    return !d?.length || d.some((x) => !inside.has(x.block));
  };
  const vreg = (v: VReg): string => {
    if (outside(v)) return `v${v.id}`;
    let n = locals.get(v.id);
    if (n === undefined) locals.set(v.id, (n = locals.size));
    return `l${n}:${v.ty}`;
  };
  const lit = (o: Operand): string => (isImm(o) ? `#${o}` : vreg(o));
  let afterCall = false;
  const param = (o: Operand, ty: Ty): string => {
    if (!isParamPosition(o, ty, afterCall, outside)) return lit(o);
    consts.push(o);
    types.push(isImm(o) ? ty : o.ty);
    return isImm(o) || !isPtr(o.ty) ? `?${isImm(o) ? ty : o.ty}` : `?v:${o.ty}`;
  };
  const arg = (a: Arg): string =>
    typeof a === "bigint" || "ty" in a
      ? lit(a)
      : "map" in a
        ? `m${a.map}`
        : "slot" in a
          ? `&s${a.slot.id}+${a.off}`
          : `&g${a.global}+${a.off}`;
  const base = (b: Base): string => (isSlot(b) ? `s${b.id}` : vreg(b));
  let size = 0;
  for (const b of blocks) {
    parts.push(`B${index.get(b)}`);
    size += b.insts.length + 1;
    for (const i of b.insts) {
      parts.push(inst(i, { vreg, lit, param, arg, base }));
      if (i.op === "call") afterCall = true;
    }
    parts.push(term(b.term!, index, { vreg, lit, param }));
  }
  return { root, blocks, size, sig: parts.join(";"), consts, types };
}

interface Namer {
  vreg: (v: VReg) => string;
  lit: (o: Operand) => string;
  param: (o: Operand, ty: Ty) => string;
}

function inst(i: Inst, n: Namer & { arg: (a: Arg) => string; base: (b: Base) => string }): string {
  switch (i.op) {
    case "mov":
      return `mov ${n.vreg(i.dst)} ${n.param(i.src, i.dst.ty)}`;
    case "bin":
      return `${i.kind}${i.w} ${n.vreg(i.dst)} ${n.lit(i.a)} ${n.lit(i.b)}`;
    case "un":
      return `${i.kind}${i.w} ${n.vreg(i.dst)} ${n.lit(i.a)}`;
    case "load":
      return `ld${i.size} ${n.vreg(i.dst)} ${n.base(i.base)}+${i.off}`;
    case "store":
      return `st${i.size} ${n.base(i.base)}+${i.off} ${n.param(i.src, i.size === 8 ? "i64" : "i32")}`;
    case "atomicAdd":
      return `xadd${i.size} ${n.base(i.base)}+${i.off} ${n.lit(i.src)}`;
    case "call":
      return `call${i.helper} ${i.dst ? n.vreg(i.dst) : "_"} ${i.args.map(n.arg).join(",")}`;
    case "addr": {
      const o = i.of;
      const what =
        "slot" in o ? `s${o.slot.id}+${o.off}` : "map" in o ? `m${o.map}` : `g${o.global}+${o.off}`;
      return `addr ${n.vreg(i.dst)} ${what}`;
    }
    case "ptrAdd":
      return `padd ${n.vreg(i.dst)} ${n.vreg(i.base)} ${n.lit(i.off)}`;
    case "copy":
      return `copy ${n.base(i.dst)}+${i.dstOff} ${n.base(i.src)}+${i.srcOff} ${i.size}`;
    case "zero":
      return `zero ${n.base(i.base)}+${i.off} ${i.size}`;
  }
}

function term(t: Term, index: Map<Block, number>, n: Namer): string {
  switch (t.op) {
    case "jmp":
      return `jmp B${index.get(t.target)}`;
    case "br":
      return `br ${t.cc}${t.w} ${n.lit(t.a)} ${n.lit(t.b)} B${index.get(t.then)} B${index.get(t.else)}`;
    case "guard":
      return `guard ${n.vreg(t.ptr)}+${t.n} ${n.vreg(t.end)} B${index.get(t.ok)} B${index.get(t.fail)}`;
    case "ret":
      return `ret ${n.param(t.value, "i32")}`;
  }
}

/**
 * Keeps the first member's code in a new block chain, with a parameter vreg in each
 * varying position, and turns every member's root into `params = its constants; jmp`.
 * Refused (nothing changed) when a parameter would reach a branch, guard, address,
 * memory base or helper argument.
 */
function merge(f: Func, members: Region[], varying: number[]): boolean {
  const first = members[0]!;
  // Positions whose constants agree in every member share one parameter (a helper's
  // argument used twice): fewer registers live across the region's calls.
  const params = new Map<number, VReg>();
  const byValues = new Map<string, VReg>();
  for (const j of varying) {
    const k = `${first.types[j]}:${members.map((m) => key(m.consts[j]!)).join(",")}`;
    let p = byValues.get(k);
    if (!p) byValues.set(k, (p = { id: f.nextVReg++, ty: first.types[j]! }));
    params.set(j, p);
  }
  // Rewrite a copy of the first member's instructions; commit only if the taint check passes.
  let pos = 0;
  // The parameter positions in the signature's walk order.
  const region = new Set(first.blocks);
  const defs = definitions(f);
  const outside = (v: VReg) => !defs.get(v.id)?.some((x) => region.has(x.block));
  let afterCall = false;
  const sub = (o: Operand, ty: Ty): Operand => {
    if (!isParamPosition(o, ty, afterCall, outside)) return o;
    const p = params.get(pos++);
    return p ?? o;
  };
  const rewritten = new Map<Block, { insts: Inst[]; term: Term }>();
  for (const b of first.blocks) {
    const insts = b.insts.map((i): Inst => {
      const r =
        i.op === "mov"
          ? { ...i, src: sub(i.src, i.dst.ty) }
          : i.op === "store"
            ? { ...i, src: sub(i.src, i.size === 8 ? "i64" : "i32") }
            : i;
      if (i.op === "call") afterCall = true;
      return r;
    });
    const t = b.term!;
    rewritten.set(b, { insts, term: t.op === "ret" ? { ...t, value: sub(t.value, "i32") } : t });
  }
  // The parameter ids already taken stay unused when refused: harmless.
  if (tainted(rewritten, new Set(params.values()))) return false;
  const body: Block = {
    id: f.nextBlock++,
    label: `${first.root.label}.tail`,
    insts: [],
    term: null,
  };
  for (const b of first.blocks) {
    const r = rewritten.get(b)!;
    const into = b === first.root ? body : b;
    into.insts = r.insts;
    into.term = r.term;
  }
  // Right after the first member's entry, which then falls into it.
  f.blocks.splice(f.blocks.indexOf(first.root) + 1, 0, body);
  const distinct = [...new Map(varying.map((j) => [params.get(j)!, j])).entries()];
  for (const m of members) {
    m.root.insts = distinct.map(([p, j]) => ({
      op: "mov",
      dst: p,
      src: m.consts[j]!,
      span: first.root.term?.span,
    }));
    m.root.term = { op: "jmp", target: body };
  }
  return true;
}

/**
 * Whether an operand in a move, store or ret is a parameter position: a vreg defined
 * outside the region (each copy's own `data` and `data_end` for a `ctx.len`; the
 * parameter is as live as that vreg was, call or no call), or a constant — but not a
 * pointer's constant (null: the verifier tells pointers from scalars), nor one after a
 * helper call (its register would live across the call, callee-saved or spilled, and
 * the verifier, which cannot prune the paths apart, would walk more than before).
 */
function isParamPosition(
  o: Operand,
  ty: Ty,
  afterCall: boolean,
  outside: (v: VReg) => boolean,
): boolean {
  if (!isImm(o)) return outside(o);
  return !isPtr(ty) && !afterCall;
}

/** A constant or vreg as a grouping key. */
function key(o: Operand): string {
  return isImm(o) ? `#${o}` : `v${o.id}`;
}

/** True when a parameter (or a vreg computed from one) reaches a use the verifier needs known. */
function tainted(code: Map<Block, { insts: Inst[]; term: Term }>, params: Set<VReg>): boolean {
  const bad = new Set<number>([...params].map((p) => p.id));
  const hit = (vs: VReg[]) => vs.some((v) => bad.has(v.id));
  // Not SSA: spread until nothing new is reached (a handful of rounds on a small region).
  for (let grew = true; grew;) {
    grew = false;
    for (const { insts } of code.values())
      for (const i of insts) {
        const d = def(i);
        if (d && !bad.has(d.id) && hit(uses(i)) && i.op !== "load" && i.op !== "call") {
          bad.add(d.id);
          grew = true;
        }
      }
  }
  for (const { insts, term } of code.values()) {
    for (const i of insts) {
      if (i.op === "mov" || i.op === "bin" || i.op === "un") continue;
      if (i.op === "store" && !isSlot(i.base) && bad.has(i.base.id)) return true;
      if (i.op === "store") continue;
      if (hit(uses(i))) return true;
    }
    if (term.op !== "ret" && hit(uses(term))) return true;
  }
  return false;
}
