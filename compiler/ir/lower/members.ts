// Lowering: members and indexing (methods of Lowerer; lowerer.ts holds its state).
import type * as ast from "../../ast/nodes.ts";
import type { Span } from "../../diagnostics/span.ts";
import type { CallTarget, CheckedModule, FunctionInfo, MapInfo } from "../../check/result.ts";
import type { HeaderField, HeaderKind, IntType, StructType, Type } from "../../check/types.ts";
import { sizeAlign } from "../../check/types.ts";
import type { ContextField } from "../../check/headers.ts";
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
    member(e: ast.Member): Value;
    ref(e: ast.Expr): { k: "ref"; base: Base; off: number };
    contextField(f: ContextField): Value;
    readHeaderField(obj: { base: Base; off: number }, f: HeaderField, inMemory?: unknown): Value;
    writeHeaderField(
      obj: { base: Base; off: number },
      f: HeaderField,
      v: Value,
      n: ast.Node,
      inMemory?: unknown,
    ): void;
    element(e: ast.Index, oob: Block | null, beforeCheck?: () => void): { base: Base; off: number };
    index(e: ast.Index): Value;
  }
}

Lowerer.prototype.member = function (this: Lowerer, e: ast.Member): Value {
  const tgt = this.m.members.get(e);
  if (!tgt) this.invariant(`unresolved member ${e.property.name}`, e);
  switch (tgt.kind) {
    case "enumMember":
      return {
        k: "int",
        v: BigInt.asUintN(widthOfType(tgt.info.type), tgt.info.value),
        w: widthOfType(tgt.info.type),
      };
    case "arrayLength":
      return { k: "int", v: BigInt(tgt.length), w: 32 };
    case "contextField":
      return this.contextField(tgt.field);
    case "headerField": {
      const obj = this.ref(e.object);
      return this.readHeaderField(obj, tgt.field);
    }
    case "structField": {
      const obj = this.ref(e.object);
      if (tgt.field.wire) return this.readHeaderField(obj, tgt.field.wire, true);
      const off = obj.off + tgt.field.offset;
      if (isScalar(tgt.field.type)) return this.loadScalar(obj.base, off, tgt.field.type);
      return { k: "ref", base: obj.base, off };
    }
  }
};

Lowerer.prototype.ref = function (
  this: Lowerer,
  e: ast.Expr,
): { k: "ref"; base: Base; off: number } {
  const v = this.use(e);
  if (v.k !== "ref") this.unsupported("expected a struct, array or header", e);
  return v;
};

Lowerer.prototype.contextField = function (this: Lowerer, f: ContextField): Value {
  if (f.offset === null) {
    // XDP's len: data_end - data (struct xdp_md has no length field).
    const { data, end } = this.packet();
    const a = this.b.vreg("i64");
    this.b.mov(a, end);
    const d = this.b.vreg("i64");
    this.b.mov(d, data);
    return { k: "int", v: this.b.un("zext32", 32, this.b.bin("sub", 64, a, d)), w: 32 };
  }
  const v = this.b.load(4, this.ctx, f.offset);
  return { k: "int", v: f.be16 ? this.b.un("be16", 32, v) : v, w: 32 };
};

/**
 * `inMemory`: a wire field of a struct on the stack or in a map value, where the
 * verifier wants each access aligned to its size (FibLookupParams.smac at 52).
 */
Lowerer.prototype.readHeaderField = function (
  this: Lowerer,
  obj: { base: Base; off: number },
  f: HeaderField,
  inMemory = false,
): Value {
  const off = obj.off + f.offset;
  if (f.width === 16) return { k: "ref", base: obj.base, off };
  if (f.width === 6 && inMemory && off % 4 === 0) {
    const hi = this.b.un("be32", 32, this.b.load(4, obj.base, off));
    const lo = this.b.un("be16", 32, this.b.load(2, obj.base, off + 4));
    const h64 = this.b.vreg("i64");
    this.b.mov(h64, hi);
    const l64 = this.b.vreg("i64");
    this.b.mov(l64, lo);
    return { k: "int", v: this.b.bin("or", 64, this.b.bin("shl", 64, h64, 16n), l64), w: 64 };
  }
  if (f.width === 6) {
    const hi = this.b.un("be16", 32, this.b.load(2, obj.base, off));
    const lo = this.b.un("be32", 32, this.b.load(4, obj.base, off + 2));
    const h64 = this.b.vreg("i64");
    this.b.mov(h64, hi);
    const l64 = this.b.vreg("i64");
    this.b.mov(l64, lo);
    return { k: "int", v: this.b.bin("or", 64, this.b.bin("shl", 64, h64, 32n), l64), w: 64 };
  }
  let v: Operand = this.b.load(f.width, obj.base, off);
  if (f.width === 2) v = this.b.un("be16", 32, v);
  if (f.width === 4) v = this.b.un("be32", 32, v);
  if (f.shift) v = this.b.bin("lshr", 32, v, BigInt(f.shift));
  if (f.mask !== null) v = this.b.bin("and", 32, v, f.mask);
  return { k: "int", v, w: 32 };
};

Lowerer.prototype.writeHeaderField = function (
  this: Lowerer,
  obj: { base: Base; off: number },
  f: HeaderField,
  v: Value,
  n: ast.Node,
  inMemory = false,
): void {
  const off = obj.off + f.offset;
  if (f.width === 16) {
    if (v.k !== "ref") this.unsupported("expected an address", n);
    this.b.copy(obj.base, off, v.base, v.off, 16);
    return;
  }
  const x = this.scalar(v, n);
  if (f.width === 6 && inMemory && off % 4 === 0) {
    const hi = this.b.un("be32", 32, this.b.un("zext32", 32, this.b.bin("lshr", 64, x, 16n)));
    const lo = this.b.un("be16", 32, this.b.un("zext32", 32, x));
    this.b.store(4, obj.base, off, hi);
    this.b.store(2, obj.base, off + 4, lo);
    return;
  }
  if (f.width === 6) {
    const hi = this.b.un("be16", 32, this.b.un("zext32", 32, this.b.bin("lshr", 64, x, 32n)));
    const lo = this.b.un("be32", 32, this.b.un("zext32", 32, x));
    this.b.store(2, obj.base, off, hi);
    this.b.store(4, obj.base, off + 2, lo);
    return;
  }
  const swap = (o: Operand): Operand =>
    f.width === 2 ? this.b.un("be16", 32, o) : f.width === 4 ? this.b.un("be32", 32, o) : o;
  let val: Operand = x;
  if (f.mask !== null) {
    const m = f.mask << BigInt(f.shift);
    const cur = swap(this.b.load(f.width, obj.base, off));
    const cleared = this.b.bin("and", 32, cur, BigInt.asUintN(32, ~m));
    const part = this.b.bin("shl", 32, this.b.bin("and", 32, x, f.mask), BigInt(f.shift));
    val = this.b.bin("or", 32, cleared, part);
  }
  this.b.store(f.width, obj.base, off, swap(val));
};

/** Element address of a FixedArray; a variable index is checked at run time (out of range → `oob`). */
Lowerer.prototype.element = function (
  this: Lowerer,
  e: ast.Index,
  oob: Block | null,
  beforeCheck?: () => void,
): { base: Base; off: number } {
  const arr = this.ref(e.object);
  const at = this.m.types.get(e.object);
  const t = at ? inner(at) : null;
  if (!t || t.kind !== "fixedArray") this.unsupported("indexing a non-array", e);
  const es = sizeAlign(t.elem).size;
  const c = this.m.constValues.get(e.index);
  if (c !== undefined) return { base: arr.base, off: arr.off + Number(c) * es };
  if (!oob) this.unsupported("variable index without a bounds path", e);
  const iv = this.use(e.index);
  beforeCheck?.(); // what must run whether or not the index is in range (after it, in order)
  // An index that lowering made constant (an unrolled loop's counter) needs no check.
  if (iv.k === "int" && isImm(iv.v)) {
    const k = BigInt.asUintN(iv.w, iv.v);
    if (k < BigInt(t.length)) return { base: arr.base, off: arr.off + Number(k) * es };
    this.b.jmp(oob);
    this.b.place(this.b.block("dead"));
    return { base: arr.base, off: arr.off };
  }
  const idx = this.b.vreg("i64");
  this.b.mov(idx, this.scalar(iv, e.index));
  const inb = this.b.block("inbounds");
  this.b.br("uge", 64, idx, BigInt(t.length), oob, inb);
  this.b.place(inb);
  const scaled = es === 1 ? idx : this.b.bin("mul", 64, idx, BigInt(es));
  const base = isSlot(arr.base)
    ? this.b.addrOfSlot(arr.base, arr.off)
    : this.b.ptrAdd(arr.base, BigInt(arr.off));
  const p = this.b.ptrAdd(base, scaled);
  if (p.ty === "pkt") {
    // A packet pointer with a variable offset has a fresh verifier id: re-prove its bytes.
    const ok = this.b.block("elemok");
    this.b.guard(p, es, this.packet().end, ok, oob);
    this.b.place(ok);
  }
  return { base: p, off: 0 };
};

Lowerer.prototype.index = function (this: Lowerer, e: ast.Index): Value {
  const t = this.m.types.get(e);
  if (!t) this.invariant("unchecked index", e);
  if (this.m.constValues.get(e.index) !== undefined) {
    const a = this.element(e, null);
    return isScalar(t) ? this.loadScalar(a.base, a.off, t) : { k: "ref", ...a };
  }
  if (!isScalar(t)) {
    // A struct element: a reference to it, or to a zeroed spare element when the index
    // is out of range, so that reads through it give 0 and writes are dropped.
    const oob = this.b.block("oob");
    const j = this.b.block("idxjoin");
    const a = this.element(e, oob);
    if (isSlot(a.base)) this.unsupported("a variable index gave a slot", e);
    const r = this.b.vreg(a.base.ty);
    this.b.mov(r, a.off === 0 ? a.base : this.b.ptrAdd(a.base, BigInt(a.off)));
    this.b.jmp(j);
    this.b.place(oob);
    const size = sizeAlign(t).size;
    const spare = this.b.slot(size, 8, "oobelem");
    this.b.zero(spare, 0, size);
    this.b.mov(r, this.b.addrOfSlot(spare, 0));
    this.b.jmp(j);
    this.b.place(j);
    return { k: "ref", base: r, off: 0 };
  }
  const w = widthOfType(t);
  const r = this.b.vreg(w === 64 ? "i64" : "i32");
  const oob = this.b.block("oob");
  const j = this.b.block("idxjoin");
  const a = this.element(e, oob);
  const v = this.loadScalar(a.base, a.off, t);
  this.b.mov(r, this.scalar(v, e));
  this.b.jmp(j);
  this.b.place(oob);
  this.b.mov(r, 0n); // out of range reads 0
  this.b.jmp(j);
  this.b.place(j);
  return { k: "int", v: r, w };
};
