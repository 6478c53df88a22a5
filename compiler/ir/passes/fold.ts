// Constant folding and propagation. A vreg is constant inside a block after a
// `mov v, imm` until redefined, and everywhere when that mov is its only
// definition. Folds arithmetic, algebraic identities and decided branches.
import type { Base, Func, Inst, Operand, VReg } from "../ir.ts";
import { def, isImm, isPtr, isSlot, widthOf, wrap } from "../ir.ts";
import { definitions } from "../cfg.ts";
import { evalBin, evalCond, evalUn } from "../eval.ts";

export function foldConstants(f: Func): boolean {
  let changed = false;
  const global = new Map<number, bigint>();
  // Copies `a = b` where both have one definition (or b is a parameter): a is b.
  const copies = new Map<number, VReg>();
  const defs = definitions(f);
  const single = (v: VReg) => (defs.get(v.id)?.length ?? 0) === 1 || f.params.includes(v);
  for (const [id, ds] of defs) {
    if (ds.length !== 1 || f.params.some((p) => p.id === id)) continue;
    const i = ds[0]!.block.insts[ds[0]!.index]!;
    if (i.op === "mov" && isImm(i.src)) global.set(id, wrap(i.src, widthOf(i.dst.ty)));
    else if (i.op === "mov" && !isImm(i.src) && single(i.src) && i.src.ty === i.dst.ty)
      copies.set(id, i.src);
  }
  const resolve = (v: VReg): VReg => {
    for (let n = 0; n < 32; n++) {
      const c = copies.get(v.id);
      if (!c) break;
      v = c;
    }
    return v;
  };
  for (const b of f.blocks) {
    const local = new Map<number, bigint>();
    const k = (o: Operand): Operand => {
      if (isImm(o)) return o;
      const c = local.get(o.id) ?? global.get(o.id);
      if (c === undefined) {
        const r = resolve(o);
        if (r !== o) changed = true;
        return r;
      }
      changed = true;
      return c;
    };
    const kb = <T extends Base>(x: T): T => (isSlot(x) ? x : (resolve(x as VReg) as unknown as T));
    b.insts = b.insts.map((i0) => {
      const i = substitute(i0, k, kb);
      const out = simplify(i);
      if (out !== i0) changed = true;
      const d = def(out);
      if (d) {
        if (out.op === "mov" && isImm(out.src)) local.set(d.id, wrap(out.src, widthOf(d.ty)));
        else local.delete(d.id);
      }
      return out;
    });
    const t = b.term;
    if (t?.op === "br") {
      const a = k(t.a);
      const c = k(t.b);
      const same = !isImm(a) && !isImm(c) && a.id === c.id && t.cc !== "set";
      if (isImm(a) && isImm(c)) {
        b.term = { op: "jmp", target: evalCond(t.cc, t.w, a, c) ? t.then : t.else, span: t.span };
        changed = true;
      } else if (same) {
        // x <cc> x: equal operands decide every comparison but `set` (x & x).
        const holds = ["eq", "ule", "uge", "sle", "sge"].includes(t.cc);
        b.term = { op: "jmp", target: holds ? t.then : t.else, span: t.span };
        changed = true;
      } else if (a !== t.a || c !== t.b) {
        b.term = { ...t, a, b: c };
      }
    } else if (t?.op === "guard") {
      const ptr = resolve(t.ptr);
      const end = resolve(t.end);
      if (ptr !== t.ptr || end !== t.end) {
        b.term = { ...t, ptr, end };
        changed = true;
      }
    } else if (t?.op === "ret" && !isImm(t.value)) {
      const v = k(t.value);
      if (v !== t.value) b.term = { ...t, value: v };
    }
  }
  return changed;
}

function substitute(i0: Inst, k: (o: Operand) => Operand, kb: <T extends Base>(x: T) => T): Inst {
  const i = rebase(i0, kb);
  switch (i.op) {
    case "mov": {
      const src = k(i.src);
      return src === i.src ? i : { ...i, src };
    }
    case "bin": {
      const a = k(i.a);
      const b = k(i.b);
      return a === i.a && b === i.b ? i : { ...i, a, b };
    }
    case "un": {
      const a = k(i.a);
      return a === i.a ? i : { ...i, a };
    }
    case "store":
    case "atomicAdd": {
      const src = k(i.src);
      return src === i.src ? i : { ...i, src };
    }
    case "ptrAdd": {
      const off = k(i.off);
      return off === i.off ? i : { ...i, off };
    }
    case "call": {
      let same = true;
      const args = i.args.map((a) => {
        if (typeof a !== "bigint" && !("ty" in a)) return a;
        const n = k(a);
        if (n !== a) same = false;
        return n;
      });
      return same ? i : { ...i, args };
    }
    default:
      return i;
  }
}

/** Memory bases and pointer operands follow copies (constants cannot replace them). */
function rebase(i: Inst, kb: <T extends Base>(x: T) => T): Inst {
  switch (i.op) {
    case "load":
    case "store":
    case "atomicAdd":
    case "zero": {
      const base = kb(i.base);
      return base === i.base ? i : { ...i, base };
    }
    case "ptrAdd": {
      const base = kb(i.base);
      return base === i.base ? i : { ...i, base };
    }
    case "copy": {
      const dst = kb(i.dst);
      const src = kb(i.src);
      return dst === i.dst && src === i.src ? i : { ...i, dst, src };
    }
    default:
      return i;
  }
}

function sameWidth(o: Operand, w: 32 | 64): o is VReg {
  return !isImm(o) && widthOf(o.ty) === w;
}

function simplify(i: Inst): Inst {
  if (i.op === "bin") {
    const { a, b, w, dst, span } = i;
    if (isImm(a) && isImm(b)) return { op: "mov", dst, src: evalBin(i.kind, w, a, b), span };
    // x & x, x | x are x; x ^ x, x - x are 0. The verifier links no two unknowns, so
    // `g === (g & g)` would stay a branch it forks on every trip (fuzz seed 61009).
    if (!isImm(a) && !isImm(b) && a.id === b.id && !isPtr(dst.ty) && sameWidth(a, w)) {
      if (i.kind === "and" || i.kind === "or") return { op: "mov", dst, src: a, span };
      if (i.kind === "xor" || i.kind === "sub") return { op: "mov", dst, src: 0n, span };
    }
    const bz = isImm(b) && wrap(b, w) === 0n;
    const b1 = isImm(b) && wrap(b, w) === 1n;
    switch (i.kind) {
      case "add":
      case "sub":
      case "or":
      case "xor":
      case "shl":
      case "lshr":
      case "ashr":
        if (bz && sameWidth(a, w)) return { op: "mov", dst, src: a, span };
        break;
      case "mul":
      case "udiv":
      case "sdiv":
        if (b1 && sameWidth(a, w)) return { op: "mov", dst, src: a, span };
        if (bz && i.kind === "mul") return { op: "mov", dst, src: 0n, span };
        if (bz) return { op: "mov", dst, src: 0n, span };
        break;
      case "and":
        if (bz) return { op: "mov", dst, src: 0n, span };
        if (isImm(b) && wrap(b, w) === wrap(-1n, w) && sameWidth(a, w))
          return { op: "mov", dst, src: a, span };
        break;
      default:
        break;
    }
    if (i.kind === "add" && isImm(a) && !isImm(b)) return { ...i, a: b, b: a };
    return i;
  }
  if (i.op === "un" && isImm(i.a))
    return { op: "mov", dst: i.dst, src: evalUn(i.kind, i.w, i.a), span: i.span };
  if (i.op === "ptrAdd" && isImm(i.off) && i.off === 0n && i.dst.ty === i.base.ty)
    return { op: "mov", dst: i.dst, src: i.base, span: i.span };
  return i;
}
