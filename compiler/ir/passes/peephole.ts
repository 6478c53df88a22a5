// Small local rewrites that save instructions or verifier states:
//  - `br eq/ne (be16 x), C` compares x with the byte-swapped constant instead
//    (the swap then usually dies), as clang does for `eth->h_proto == htons(…)`.
//  - if-conversion of `if (x == 0) v += c` (and `x != 0`) into `v += isZero(x) * c`:
//    branch-free, so a bounded loop over bytes keeps one verifier state per
//    iteration instead of doubling them.
import type { Block, Func, Inst, VReg } from "../ir.ts";
import { isImm, uses, wrap } from "../ir.ts";
import { definitions, predecessors } from "../cfg.ts";
import { evalUn } from "../eval.ts";

export function peephole(f: Func): boolean {
  let changed = compareSwapped(f);
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
  for (const b of f.blocks) {
    const t = b.term;
    if (t?.op !== "br" || (t.cc !== "eq" && t.cc !== "ne") || t.w !== 32 || isImm(t.a) || !isImm(t.b)) continue;
    const d = single(t.a);
    if (d?.op !== "un" || (d.kind !== "be16" && d.kind !== "be32") || isImm(d.a) || !singleVreg(d.a)) continue;
    const limit = d.kind === "be16" ? 0xffffn : 0xffffffffn;
    const c = wrap(t.b, 32);
    if (c > limit) continue;
    // The loaded unit is zero-extended, so comparing it with the swapped constant is exact.
    b.term = { ...t, a: d.a, b: evalUn(d.kind, 32, c) };
    changed = true;
  }
  return changed;
}

function ifConvert(f: Func): boolean {
  let changed = false;
  const preds = predecessors(f);
  const useCounts = countUses(f);
  for (const a of f.blocks) {
    const t = a.term;
    if (t?.op !== "br" || (t.cc !== "eq" && t.cc !== "ne") || isImm(t.a) || !isImm(t.b) || wrap(t.b, t.w) !== 0n) continue;
    // The arm that runs when x == 0, and the join.
    const zeroArm: Block = t.cc === "eq" ? t.then : t.else;
    const join: Block = t.cc === "eq" ? t.else : t.then;
    const arm = zeroArm;
    if (arm === join || preds.get(arm)!.length !== 1 || arm.term?.op !== "jmp" || arm.term.target !== join) continue;
    const i = incrementIn(arm, useCounts);
    if (!i) continue;
    if (t.a.ty !== "i32") continue; // the cheap isZero needs a zero-extended 32-bit value
    const x = t.a;
    const flag: VReg = { id: f.nextVReg++, ty: i.w === 64 ? "i64" : "i32" };
    const insts: Inst[] = [{ op: "un", kind: "isZero", w: 32, dst: flag, a: x, span: t.span }];
    let addend: VReg = flag;
    if (wrap(i.b, i.w) !== 1n) {
      addend = { id: f.nextVReg++, ty: flag.ty };
      insts.push({ op: "bin", kind: "mul", w: i.w, dst: addend, a: flag, b: i.b, span: i.span });
    }
    insts.push({ op: "bin", kind: "add", w: i.w, dst: i.dst, a: i.dst, b: addend, span: i.span });
    a.insts.push(...insts);
    a.term = { op: "jmp", target: join, span: t.span };
    changed = true;
  }
  return changed;
}

/**
 * The arm's single effect `v += c`, as `v = add v, c` or, the way lowering writes
 * `v++` / `v += c`, as `t = add v, c; v = t` with t used nowhere else.
 * Returned as the equivalent `v = add v, c`.
 */
function incrementIn(arm: Block, useCounts: Map<number, number>): (Inst & { op: "bin"; b: bigint }) | null {
  const [i, m] = arm.insts;
  if (!i || i.op !== "bin" || i.kind !== "add" || isImm(i.a) || !isImm(i.b)) return null;
  const inc = { ...i, b: i.b };
  if (arm.insts.length === 1) return i.a.id === i.dst.id ? inc : null;
  if (arm.insts.length !== 2 || m?.op !== "mov" || isImm(m.src) || m.src.id !== i.dst.id) return null;
  if (m.dst.id !== i.a.id || useCounts.get(i.dst.id) !== 1 || m.dst.ty !== i.dst.ty) return null;
  return { ...inc, dst: m.dst };
}

function countUses(f: Func): Map<number, number> {
  const n = new Map<number, number>();
  for (const b of f.blocks) {
    for (const x of [...b.insts, ...(b.term ? [b.term] : [])]) for (const u of uses(x)) n.set(u.id, (n.get(u.id) ?? 0) + 1);
  }
  return n;
}
