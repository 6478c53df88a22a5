// Lowering: operators (methods of Lowerer; lowerer.ts holds its state).
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
    unary(e: ast.Unary): Value;
    narrow(v: Operand, t: Type): Operand;
    binary(e: ast.Binary): Value;
    conditional(e: ast.Conditional): Value;
  }
}

Lowerer.prototype.unary = function (this: Lowerer, e: ast.Unary): Value {
  const t = this.m.types.get(e)!;
  const w = widthOfType(t);
  if (e.op === "!") {
    const v = this.use(e.operand);
    if (v.k === "int") return { k: "int", v: this.b.un("isZero", v.w, v.v), w: 32 };
    return this.condValue(e);
  }
  const v = this.scalar(this.use(e.operand), e);
  if (e.op === "+") return { k: "int", v, w };
  if (e.op === "-") return { k: "int", v: this.narrow(this.b.un("neg", w, v), t), w };
  return { k: "int", v: this.narrow(this.b.un("not", w, v), t), w };
};

/** Keeps the vreg representation of a sub-32-bit result (wrap at the type's width). */
Lowerer.prototype.narrow = function (this: Lowerer, v: Operand, t: Type): Operand {
  const it = intOf(t);
  if (!it || it.bits >= 32) return v;
  if (it.bits === 8) return this.b.un(it.signed ? "sext8" : "zext8", 32, v);
  return this.b.un(it.signed ? "sext16" : "zext16", 32, v);
};

Lowerer.prototype.binary = function (this: Lowerer, e: ast.Binary): Value {
  if (e.op === "&&" || e.op === "||" || isComparison(e.op)) return this.condValue(e);
  const t = this.m.types.get(e)!;
  const it = intOf(t);
  const w = widthOfType(t);
  const a = this.scalar(this.use(e.left), e.left);
  const b = this.scalar(this.use(e.right), e.right);
  const signed = it?.signed ?? false;
  const op = binOp(e.op, signed);
  return { k: "int", v: this.narrow(this.b.bin(op, w, a, b), t), w };
};

Lowerer.prototype.conditional = function (this: Lowerer, e: ast.Conditional): Value {
  const t = this.m.types.get(e)!;
  const tb = this.b.block("cthen");
  const fb = this.b.block("celse");
  const j = this.b.block("cjoin");
  this.cond(e.test, tb, fb);
  // Each arm, in its own block and scope, puts its value where the join reads it.
  const arms = (arm: (x: ast.Expr) => void) => {
    for (const [b, x] of [
      [tb, e.then],
      [fb, e.else],
    ] as const) {
      this.b.place(b);
      this.scoped(() => arm(x));
      this.b.jmp(j);
    }
    this.b.place(j);
  };
  if (t.kind === "nullable" && t.inner.kind === "int") {
    // A nullable integer is a (value, presence) pair; presence is an i64 flag here, so
    // a map lookup's presence (its value pointer) becomes 0/1 on its arm.
    const w = widthOfType(t.inner);
    const r = this.b.vreg(w === 64 ? "i64" : "i32");
    const ok = this.b.vreg("i64");
    arms((x) => {
      const v = this.use(x);
      if (v.k === "int") {
        this.b.mov(r, this.scalar(v, x));
        this.b.mov(ok, 1n);
      } else if (v.k !== "nint") throw new LowerInvariantError(`nullable arm is ${v.k}`);
      else {
        this.b.mov(r, v.v);
        if (isImm(v.ok) || v.ok.ty === "i64") this.b.mov(ok, v.ok);
        else {
          const hit = this.b.block("chit");
          const miss = this.b.block("cmiss");
          const done = this.b.block("cok");
          this.b.br("ne", 64, v.ok, 0n, hit, miss);
          this.b.place(hit);
          this.b.mov(ok, 1n);
          this.b.jmp(done);
          this.b.place(miss);
          this.b.mov(ok, 0n);
          this.b.jmp(done);
          this.b.place(done);
        }
      }
    });
    return { k: "nint", v: r, ok, w };
  }
  if (isScalar(t)) {
    const w = widthOfType(t);
    const r = this.b.vreg(w === 64 ? "i64" : "i32");
    arms((x) => this.b.mov(r, this.scalar(this.use(x), x)));
    return { k: "int", v: r, w };
  }
  const r = this.b.vreg("pkt");
  arms((x) => {
    const v = this.use(x);
    if (v.k === "ref") this.b.mov(r, this.addrOf(v));
    else this.b.mov(r, 0n);
  });
  return { k: "ref", base: r, off: 0 };
};
