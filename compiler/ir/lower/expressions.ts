// Lowering: expressions (methods of Lowerer; lowerer.ts holds its state).
import type * as ast from "../../ast/nodes.ts";
import type { Span } from "../../diagnostics/span.ts";
import type { CallTarget, CheckedModule, FunctionInfo, MapInfo } from "../../check/result.ts";
import type { HeaderField, HeaderKind, IntType, StructType, Type } from "../../check/types.ts";
import { sizeAlign } from "../../check/types.ts";
import { Builder } from "../builder.ts";
import type { Base, Block, Cond, Operand, Size, Slot, VReg, Width } from "../ir.ts";
import { isImm, isSlot } from "../ir.ts";
import { BPF_FUNC, BPF_NOEXIST as NOEXIST } from "../../uapi/bpf.ts";
import {
  H,
  BPF_NOEXIST,
  LowerInvariantError,
  LowerError,
  VLAN_TPIDS,
  widthOfType,
  intOf,
  inner,
  isScalar,
  SIZES,
  finish2,
  isComparison,
  binOp,
  paramSymbol,
} from "./shared.ts";
import type { Frame, LoopCtx, Value } from "./shared.ts";
import { Lowerer } from "./lowerer.ts";

declare module "./lowerer.ts" {
  interface Lowerer {
    use(e: ast.Expr): Value;
    convert(v: Value, from: Type, to: Type, n: ast.Node): Value;
    widenReg(o: Operand): Operand;
    scalar(v: Value, n: ast.Node): Operand;
    expr(e: ast.Expr): Value;
    name(e: ast.Name): Value;
    lookupLocal(id: number): Value | undefined;
    loadScalar(base: Base, off: number, t: Type): Value;
    storeScalar(base: Base, off: number, t: Type, v: Operand): void;
    storeInto(dest: { base: Base; off: number }, t: Type, e: ast.Expr): void;
    storeValue(dest: { base: Base; off: number }, t: Type, v: Value, n: ast.Node): void;
    addrOf(v: Value & { k: "ref" }): VReg;
  }
}

/** An expression's value converted as its use requires (check/result.ts conventions). */
Lowerer.prototype.use = function (this: Lowerer, e: ast.Expr): Value {
  const conv = this.m.conversions.get(e);
  const c = this.m.constValues.get(e);
  if (c !== undefined && (!conv || conv.kind !== "test")) {
    const t = conv ? conv.to : this.m.types.get(e);
    if (t && isScalar(t))
      return { k: "int", v: BigInt.asUintN(widthOfType(t), c), w: widthOfType(t) };
  }
  const v = this.expr(e);
  if (!conv) return v;
  this.at(e);
  switch (conv.kind) {
    case "test": {
      // A nullable integer is 0 when null: its truthiness is its value's (see test()).
      if (v.k === "int" || v.k === "nint") {
        const z = this.b.un("isZero", v.w, v.v);
        return { k: "int", v: this.b.bin("xor", 32, z, 1n), w: 32 };
      }
      const p = v.k === "ref" ? (isSlot(v.base) ? 1n : v.base) : 0n;
      if (isImm(p)) return { k: "int", v: p === 0n ? 0n : 1n, w: 32 };
      const z = this.b.un("isZero", 64, p);
      return { k: "int", v: this.b.bin("xor", 32, z, 1n), w: 32 };
    }
    case "widen":
    case "truncate":
    case "sign":
    case "literal":
      return this.convert(v, conv.from, conv.to, e);
  }
};

Lowerer.prototype.convert = function (
  this: Lowerer,
  v: Value,
  from: Type,
  to: Type,
  n: ast.Node,
): Value {
  // A narrowed nullable (`x` after `x !== null`) converts like its integer.
  if (v.k === "nint") v = { k: "int", v: v.v, w: v.w };
  if (v.k !== "int") return v;
  const f = intOf(from);
  const t = intOf(to);
  if (!t) return v;
  const fromSigned = f?.signed ?? false;
  const fromBits = f?.bits ?? 32;
  if (t.bits === 64) {
    if (v.w === 64) return v;
    if (fromSigned && isImm(v.v))
      return { k: "int", v: BigInt.asUintN(64, BigInt.asIntN(32, v.v)), w: 64 };
    if (fromSigned) return { k: "int", v: this.b.un("sext32", 64, this.widenReg(v.v)), w: 64 };
    const r = this.b.vreg("i64");
    this.b.mov(r, v.v);
    return { k: "int", v: r, w: 64 };
  }
  // To ≤ 32 bits.
  let x: Operand = v.v;
  if (v.w === 64) x = isImm(x) ? BigInt.asUintN(32, x) : this.b.un("zext32", 32, x);
  if (t.bits < fromBits || v.w === 64 || t.signed !== fromSigned) {
    if (t.bits === 8) x = this.b.un(t.signed ? "sext8" : "zext8", 32, x);
    else if (t.bits === 16) x = this.b.un(t.signed ? "sext16" : "zext16", 32, x);
  }
  void n;
  return { k: "int", v: x, w: 32 };
};

Lowerer.prototype.widenReg = function (this: Lowerer, o: Operand): Operand {
  if (isImm(o)) return o;
  const r = this.b.vreg("i64");
  this.b.mov(r, o);
  return r;
};

Lowerer.prototype.scalar = function (this: Lowerer, v: Value, n: ast.Node): Operand {
  if (v.k === "int") return v.v;
  if (v.k === "nint") return v.v;
  this.unsupported("expected a scalar value", n);
};

Lowerer.prototype.expr = function (this: Lowerer, e: ast.Expr): Value {
  this.at(e);
  const t = this.m.types.get(e);
  const c = this.m.constValues.get(e);
  if (c !== undefined && t && isScalar(t))
    return { k: "int", v: BigInt.asUintN(widthOfType(t), c), w: widthOfType(t) };
  switch (e.kind) {
    case "NumberLit":
      return { k: "int", v: e.value, w: t ? widthOfType(t) : 32 };
    case "BoolLit":
      return { k: "int", v: e.value ? 1n : 0n, w: 32 };
    case "NullLit":
      return { k: "nint", v: 0n, ok: 0n, w: 32 };
    case "Paren":
      return this.use(e.expr);
    case "As": {
      const v = this.use(e.expr);
      const from = this.m.types.get(e.expr);
      return from && t ? this.convert(v, from, t, e) : v;
    }
    case "NonNull":
      return this.use(e.expr);
    case "Name":
      return this.name(e);
    case "Member":
      return this.member(e);
    case "Index":
      return this.index(e);
    case "Call":
      return this.call(e);
    case "Unary":
      return this.unary(e);
    case "Binary":
      return this.binary(e);
    case "Assign":
      return this.assign(e);
    case "Update":
      return this.update(e);
    case "Conditional":
      return this.conditional(e);
    case "ObjectLit": {
      if (!t || t.kind !== "struct") this.unsupported("struct literal without a struct type", e);
      const slot = this.scopeSlot(t.size);
      this.storeInto({ base: slot, off: 0 }, t, e);
      return { k: "ref", base: slot, off: 0 };
    }
    case "ArrayLit": {
      if (!t || t.kind !== "fixedArray")
        this.unsupported("array literal without a FixedArray type", e);
      const slot = this.scopeSlot(t.size);
      this.storeInto({ base: slot, off: 0 }, t, e);
      return { k: "ref", base: slot, off: 0 };
    }
    case "StringLit":
    case "New":
    case "Unsupported":
      this.unsupported(`${e.kind} cannot be lowered here`, e);
  }
};

Lowerer.prototype.name = function (this: Lowerer, e: ast.Name): Value {
  const sym = this.m.names.get(e);
  if (!sym) this.invariant(`unresolved name ${e.name}`, e);
  switch (sym.kind) {
    case "local":
    case "param": {
      const v = this.lookupLocal(sym.id);
      if (!v) this.unsupported(`${e.name} used before it is defined`, e);
      // A view held across a bounded loop is re-derived from the current data (rule 4).
      if (v.k === "ref" && !isSlot(v.base) && this.deferredViews.has(v.base))
        return { k: "ref", base: this.rebuiltView(v.base), off: v.off };
      return v;
    }
    case "const":
      return {
        k: "int",
        v: BigInt.asUintN(widthOfType(sym.info.type), sym.info.value),
        w: widthOfType(sym.info.type),
      };
    case "builtinConst":
      return {
        k: "int",
        v: BigInt.asUintN(widthOfType(sym.type), sym.value),
        w: widthOfType(sym.type),
      };
    case "loadParam": {
      const t = sym.info.type;
      const p = this.b.addrOfGlobal(paramSymbol(sym.info), 0);
      return this.loadScalar(p, 0, t);
    }
    case "global": {
      const p = this.b.addrOfGlobal(sym.info.name, 0);
      return this.loadScalar(p, 0, sym.info.type);
    }
    default:
      this.unsupported(`${e.name} is not a value`, e);
  }
};

Lowerer.prototype.lookupLocal = function (this: Lowerer, id: number): Value | undefined {
  for (let k = this.frames.length - 1; k >= 0; k--) {
    const v = this.frames[k]!.locals.get(id);
    if (v) return v;
    // Inlined functions see only their own locals and parameters.
    if (this.frames[k]!.ret) break;
  }
  return undefined;
};

/** Loads an integer/bool of type t from memory, extended to its vreg representation. */
Lowerer.prototype.loadScalar = function (this: Lowerer, base: Base, off: number, t: Type): Value {
  const { size } = sizeAlign(t);
  const w = widthOfType(t);
  const r = this.b.load(SIZES[size]!, base, off, w === 64 ? "i64" : "i32");
  const it = intOf(t);
  if (it?.signed && it.bits < 32)
    return { k: "int", v: this.b.un(it.bits === 8 ? "sext8" : "sext16", 32, r), w: 32 };
  return { k: "int", v: r, w };
};

Lowerer.prototype.storeScalar = function (
  this: Lowerer,
  base: Base,
  off: number,
  t: Type,
  v: Operand,
): void {
  const { size } = sizeAlign(t);
  this.b.store(SIZES[size]!, base, off, v);
};

/** Builds a value of type t at dest from expression e (struct literals in place). */
Lowerer.prototype.storeInto = function (
  this: Lowerer,
  dest: { base: Base; off: number },
  t: Type,
  e: ast.Expr,
): void {
  this.at(e);
  if (e.kind === "ObjectLit" && t.kind === "struct") {
    let covered = 0;
    const gaps: [number, number][] = [];
    for (const f of [...t.fields].sort((a, b) => a.offset - b.offset)) {
      if (f.offset > covered) gaps.push([covered, f.offset]);
      covered = Math.max(covered, f.offset + f.size);
    }
    if (covered < t.size) gaps.push([covered, t.size]);
    // Padding is zeroed: hash maps hash every byte of a key.
    for (const [s, x] of gaps) this.b.zero(dest.base, dest.off + s, x - s);
    const given = new Set(e.props.map((p) => p.name.name));
    for (const f of t.fields)
      if (!given.has(f.name)) this.b.zero(dest.base, dest.off + f.offset, f.size);
    for (const p of e.props) {
      const f = t.fields.find((x) => x.name === p.name.name);
      if (!f) this.unsupported(`unknown field ${p.name.name}`, p);
      this.storeInto({ base: dest.base, off: dest.off + f.offset }, f.type, p.value);
    }
    return;
  }
  if (e.kind === "ArrayLit" && t.kind === "fixedArray") {
    const step = sizeAlign(t.elem).size;
    e.elements.forEach((x, i) =>
      this.storeInto({ base: dest.base, off: dest.off + i * step }, t.elem, x),
    );
    return;
  }
  const v = this.use(e);
  this.storeValue(dest, t, v, e);
};

Lowerer.prototype.storeValue = function (
  this: Lowerer,
  dest: { base: Base; off: number },
  t: Type,
  v: Value,
  n: ast.Node,
): void {
  if (isScalar(t)) return this.storeScalar(dest.base, dest.off, t, this.scalar(v, n));
  if (v.k !== "ref") this.unsupported("expected a struct value", n);
  this.b.copy(dest.base, dest.off, v.base, v.off, sizeAlign(t).size);
};

Lowerer.prototype.addrOf = function (this: Lowerer, v: Value & { k: "ref" }): VReg {
  if (isSlot(v.base)) return this.b.addrOfSlot(v.base, v.off);
  return v.off === 0 ? v.base : this.b.ptrAdd(v.base, BigInt(v.off));
};
