// Lowering: conditions (methods of Lowerer; lowerer.ts holds its state).
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
  widthOf,
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
    cond(e: ast.Expr, t: Block, f: Block): void;
    test(v: Value, t: Block, f: Block, n: ast.Node): void;
    compare(e: ast.Binary): { cc: Cond; w: Width; a: Operand; b: Operand } | null;
    condValue(e: ast.Expr): Value;
  }
}

/** Branches on a condition without materialising it (short-circuit && || !). */
Lowerer.prototype.cond = function (this: Lowerer, e: ast.Expr, t: Block, f: Block): void {
  this.at(e);
  const c = this.m.constValues.get(e);
  if (c !== undefined && !this.m.conversions.get(e)) {
    this.b.jmp(c !== 0n ? t : f);
    return;
  }
  if (e.kind === "Paren") return this.cond(e.expr, t, f);
  if (e.kind === "Unary" && e.op === "!") return this.cond(e.operand, f, t);
  if (e.kind === "Binary" && (e.op === "&&" || e.op === "||")) {
    const mid = this.b.block(e.op === "&&" ? "and" : "or");
    if (e.op === "&&") this.cond(e.left, mid, f);
    else this.cond(e.left, t, mid);
    this.b.place(mid);
    this.scoped(() => this.cond(e.right, t, f));
    return;
  }
  if (e.kind === "Binary" && isComparison(e.op)) {
    const c2 = this.compare(e);
    if (c2) {
      this.b.br(c2.cc, c2.w, c2.a, c2.b, t, f);
      return;
    }
  }
  const v = this.expr(e);
  this.test(v, t, f, e);
};

/**
 * Branches on value truthiness as in TypeScript: an integer is true when non-zero, a
 * view when non-null, a nullable integer when non-null *and* non-zero (its value is 0
 * when null, so testing the value is both).
 */
Lowerer.prototype.test = function (this: Lowerer, v: Value, t: Block, f: Block, n: ast.Node): void {
  if (v.k === "int" || v.k === "nint") this.b.br("ne", v.w, v.v, 0n, t, f);
  else if (v.k === "ref") {
    if (isSlot(v.base)) this.b.jmp(t);
    else this.b.br("ne", 64, v.base, 0n, t, f);
  } else this.unsupported("void value used as a condition", n);
};

Lowerer.prototype.compare = function (
  this: Lowerer,
  e: ast.Binary,
): { cc: Cond; w: Width; a: Operand; b: Operand } | null {
  const ct = this.m.compareTypes.get(e);
  const eq = e.op === "==" || e.op === "===";
  const ne = e.op === "!=" || e.op === "!==";
  if (ct?.kind === "nullable" || e.left.kind === "NullLit" || e.right.kind === "NullLit") {
    const side = e.left.kind === "NullLit" ? e.right : e.left;
    const v = this.expr(side);
    const ptr = v.k === "nint" ? v.ok : v.k === "ref" ? (isSlot(v.base) ? 1n : v.base) : null;
    if (ptr === null) this.unsupported("comparison with null of a non-nullable value", e);
    return { cc: eq ? "eq" : "ne", w: 64, a: ptr, b: 0n };
  }
  const a = this.use(e.left);
  const b = this.use(e.right);
  const w: Width = widthOf(a) === 64 || widthOf(b) === 64 ? 64 : 32;
  const signed = ct ? (intOf(ct)?.signed ?? false) : false;
  const cc: Cond = eq
    ? "eq"
    : ne
      ? "ne"
      : e.op === "<"
        ? signed
          ? "slt"
          : "ult"
        : e.op === "<="
          ? signed
            ? "sle"
            : "ule"
          : e.op === ">"
            ? signed
              ? "sgt"
              : "ugt"
            : signed
              ? "sge"
              : "uge";
  return { cc, w, a: this.scalar(a, e.left), b: this.scalar(b, e.right) };
};

/** A boolean value (0/1) from a condition, through a small diamond. */
Lowerer.prototype.condValue = function (this: Lowerer, e: ast.Expr): Value {
  const r = this.b.vreg("i32");
  const t = this.b.block("true");
  const f = this.b.block("false");
  const j = this.b.block("join");
  this.cond(e, t, f);
  this.b.place(t);
  this.b.mov(r, 1n);
  this.b.jmp(j);
  this.b.place(f);
  this.b.mov(r, 0n);
  this.b.jmp(j);
  this.b.place(j);
  return { k: "int", v: r, w: 32 };
};
