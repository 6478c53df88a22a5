// Small local rewrites that save instructions or verifier states:
//  - `br eq/ne (be16 x), C` compares x with the byte-swapped constant instead, so
//    the swap dies, as clang does for `eth->h_proto == htons(…)`; only where every use
//    of the swapped value is such a branch. A swap kept for another use is a register
//    the verifier does not link to x: `switch (v)` pinned x to 0x0900 and left v
//    unknown, and a loop's `i <= v` narrowed v anew each trip (fuzz seed 308).
//  - `beN (beN x)` is x truncated to N bits: a field read in network order and
//    stored back in network order (`p.ipv4Src = ip.src`) swaps twice otherwise.
//  - if-conversion of `if (x <cmp> y) v += c` (==, !=, and unsigned <, <=, >, >= on
//    32-bit values) into `v += flag * c` with a branch-free 0/1 flag: a bounded loop
//    over bytes then keeps one verifier state per iteration instead of doubling them.
import type { Block, Cond, Func, Inst, Operand, VReg, Width } from "../ir.ts";
import type { Span } from "../../diagnostics/span.ts";
import { isImm, uses, wrap } from "../ir.ts";
import { definitions, predecessors } from "../cfg.ts";
import { evalUn } from "../eval.ts";

export function peephole(f: Func): boolean {
  let changed = compareSwapped(f);
  changed = doubleSwap(f) || changed;
  changed = ifConvert(f) || changed;
  return changed;
}

function compareSwapped(f: Func): boolean {
  let changed = false;
  const defs = definitions(f);
  const single = (v: VReg): Inst | null => {
    const d = defs.get(v.id);
    if (d?.length !== 1) return null;
    return d[0]!.block.insts[d[0]!.index]!;
  };
  const singleVreg = (v: VReg) => (defs.get(v.id)?.length ?? 0) === 1 || f.params.includes(v);
  // Vregs read by anything but a 32-bit eq/ne branch on them against a constant.
  const otherUse = new Set<number>();
  for (const b of f.blocks) {
    for (const i of b.insts) for (const u of uses(i)) otherUse.add(u.id);
    const t = b.term;
    const test = t?.op === "br" && (t.cc === "eq" || t.cc === "ne") && t.w === 32 && isImm(t.b);
    if (t && !test) for (const u of uses(t)) otherUse.add(u.id);
  }
  for (const b of f.blocks) {
    const t = b.term;
    if (
      t?.op !== "br" ||
      (t.cc !== "eq" && t.cc !== "ne") ||
      t.w !== 32 ||
      isImm(t.a) ||
      !isImm(t.b)
    )
      continue;
    const d = single(t.a);
    if (
      d?.op !== "un" ||
      (d.kind !== "be16" && d.kind !== "be32") ||
      isImm(d.a) ||
      !singleVreg(d.a) ||
      otherUse.has(t.a.id)
    )
      continue;
    const limit = d.kind === "be16" ? 0xffffn : 0xffffffffn;
    const c = wrap(t.b, 32);
    if (c > limit) continue;
    // The loaded unit is zero-extended, so comparing it with the swapped constant is exact.
    b.term = { ...t, a: d.a, b: evalUn(d.kind, 32, c) };
    changed = true;
  }
  return changed;
}

const TRUNCATE = { be16: "zext16", be32: "zext32" } as const;

function doubleSwap(f: Func): boolean {
  let changed = false;
  const defs = definitions(f);
  for (const b of f.blocks)
    b.insts = b.insts.map((i) => {
      if (i.op !== "un" || (i.kind !== "be16" && i.kind !== "be32" && i.kind !== "be64")) return i;
      if (isImm(i.a)) return i;
      const d = defs.get(i.a.id);
      if (d?.length !== 1) return i;
      const inner = d[0]!.block.insts[d[0]!.index]!;
      if (inner.op !== "un" || inner.kind !== i.kind || isImm(inner.a)) return i;
      // The inner operand must still hold the value it had at the inner swap.
      if ((defs.get(inner.a.id)?.length ?? 0) > 1) return i;
      changed = true;
      return i.kind === "be64"
        ? { op: "mov", dst: i.dst, src: inner.a, span: i.span }
        : { op: "un", kind: TRUNCATE[i.kind], w: i.w, dst: i.dst, a: inner.a, span: i.span };
    });
  return changed;
}

function ifConvert(f: Func): boolean {
  let changed = false;
  const preds = predecessors(f);
  const useCounts = countUses(f);
  for (const a of f.blocks) {
    const t = a.term;
    if (t?.op !== "br" || t.w !== 32) continue;
    // One arm does `v += c` and falls into the other, the join.
    const onTrue = t.then !== t.else && isIncrementArm(t.then, t.else, preds);
    const arm = onTrue ? t.then : t.else;
    const join = onTrue ? t.else : t.then;
    if (!isIncrementArm(arm, join, preds)) continue;
    const i = incrementIn(arm, useCounts);
    if (!i) continue;
    const cc = onTrue ? t.cc : INVERSE[t.cc];
    if (!cc) continue;
    const flag = condFlag(f, cc, t.a, t.b, i.w, t.span);
    if (!flag) continue;
    const insts = flag.insts;
    let addend: VReg = flag.v;
    if (wrap(i.b, i.w) !== 1n) {
      addend = { id: f.nextVReg++, ty: flag.v.ty };
      insts.push({ op: "bin", kind: "mul", w: i.w, dst: addend, a: flag.v, b: i.b, span: i.span });
    }
    insts.push({ op: "bin", kind: "add", w: i.w, dst: i.dst, a: i.dst, b: addend, span: i.span });
    a.insts.push(...insts);
    a.term = { op: "jmp", target: join, span: t.span };
    changed = true;
  }
  return changed;
}

function isIncrementArm(arm: Block, join: Block, preds: Map<Block, Block[]>): boolean {
  return (
    arm !== join &&
    preds.get(arm)!.length === 1 &&
    arm.term?.op === "jmp" &&
    arm.term.target === join
  );
}

const INVERSE: Partial<Record<Cond, Cond>> = {
  eq: "ne",
  ne: "eq",
  ult: "uge",
  uge: "ult",
  ugt: "ule",
  ule: "ugt",
};

/**
 * `cc(a, b)` as 0/1 without a branch, for 32-bit operands (i32 vregs are zero-extended
 * in their 64-bit registers): x == 0 is isZero(x), x == c is isZero(x ^ c), and an
 * unsigned x < y is the sign of the 64-bit difference, ((x - y) >> 63).
 */
function condFlag(
  f: Func,
  cc: Cond,
  a: Operand,
  b: Operand,
  w: Width,
  span?: Span,
): { insts: Inst[]; v: VReg } | null {
  const ok32 = (o: Operand) => (isImm(o) ? o >= 0n && o <= 0xffffffffn : o.ty === "i32");
  if (!ok32(a) || !ok32(b)) return null;
  const insts: Inst[] = [];
  const v = (ty: "i32" | "i64"): VReg => ({ id: f.nextVReg++, ty });
  const out = v(w === 64 ? "i64" : "i32");
  if (cc === "eq" || cc === "ne") {
    let x: Operand = a;
    if (!(isImm(b) && b === 0n)) {
      const d = v("i32");
      insts.push({ op: "bin", kind: "xor", w: 32, dst: d, a, b, span });
      x = d;
    }
    if (cc === "eq") insts.push({ op: "un", kind: "isZero", w: 32, dst: out, a: x, span });
    else {
      const z = v(out.ty as "i32" | "i64");
      insts.push({ op: "un", kind: "isZero", w: 32, dst: z, a: x, span });
      insts.push({ op: "bin", kind: "xor", w, dst: out, a: z, b: 1n, span });
    }
    return { insts, v: out };
  }
  // x < y  ⇔  (x - y) >> 63 over 64 bits; >= and <= negate the swapped/straight form.
  const [x, y, negate] =
    cc === "ult"
      ? [a, b, false]
      : cc === "ugt"
        ? [b, a, false]
        : cc === "uge"
          ? [a, b, true]
          : cc === "ule"
            ? [b, a, true]
            : [];
  if (x === undefined || y === undefined) return null;
  const wide = (o: Operand): Operand => {
    if (isImm(o)) return o;
    const r = v("i64");
    insts.push({ op: "mov", dst: r, src: o, span });
    return r;
  };
  const diff = v("i64");
  insts.push({ op: "bin", kind: "sub", w: 64, dst: diff, a: wide(x), b: wide(y), span });
  const sign = v("i64");
  insts.push({ op: "bin", kind: "lshr", w: 64, dst: sign, a: diff, b: 63n, span });
  let flag = sign;
  if (negate) {
    flag = v("i64");
    insts.push({ op: "bin", kind: "xor", w: 64, dst: flag, a: sign, b: 1n, span });
  }
  if (w === 64) return { insts, v: flag };
  insts.push({ op: "mov", dst: out, src: flag, span });
  return { insts, v: out };
}

/**
 * The arm's single effect `v += c`, as `v = add v, c` or, the way lowering writes
 * `v++` / `v += c`, as `t = add v, c; v = t` with t used nowhere else.
 * Returned as the equivalent `v = add v, c`.
 */
function incrementIn(
  arm: Block,
  useCounts: Map<number, number>,
): (Inst & { op: "bin"; b: bigint }) | null {
  const [i, m] = arm.insts;
  if (!i || i.op !== "bin" || i.kind !== "add" || isImm(i.a) || !isImm(i.b)) return null;
  const inc = { ...i, b: i.b };
  if (arm.insts.length === 1) return i.a.id === i.dst.id ? inc : null;
  if (arm.insts.length !== 2 || m?.op !== "mov" || isImm(m.src) || m.src.id !== i.dst.id)
    return null;
  if (m.dst.id !== i.a.id || useCounts.get(i.dst.id) !== 1 || m.dst.ty !== i.dst.ty) return null;
  return { ...inc, dst: m.dst };
}

function countUses(f: Func): Map<number, number> {
  const n = new Map<number, number>();
  for (const b of f.blocks) {
    for (const x of [...b.insts, ...(b.term ? [b.term] : [])])
      for (const u of uses(x)) n.set(u.id, (n.get(u.id) ?? 0) + 1);
  }
  return n;
}
