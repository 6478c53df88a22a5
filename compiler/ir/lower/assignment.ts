// Lowering: assignment (methods of Lowerer; lowerer.ts holds its state).
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
    assign(e: ast.Assign): Value;
    update(e: ast.Update): Value;
    writeTo(
      target: ast.Expr,
      value: (cur: () => Value) => Value,
      n: ast.Node,
      beforeCheck?: () => void,
    ): Value;
  }
}

Lowerer.prototype.assign = function (this: Lowerer, e: ast.Assign): Value {
  // A variable-index element is written only when the index is in range, but the
  // right-hand side runs either way (its calls, and what it memoises, must not sit
  // on the in-range path only): writeTo evaluates it after the index, before the check.
  let early: Value | undefined;
  const operand = () => early ?? this.use(e.value);
  const rhs = (cur: () => Value): Value => {
    if (e.op === "=") return operand();
    const t = this.m.types.get(e)!;
    const w = widthOfType(t);
    const it = intOf(t);
    const a = this.scalar(cur(), e.target);
    const b = this.scalar(operand(), e.value);
    return {
      k: "int",
      v: this.narrow(
        this.b.bin(binOp(e.op.slice(0, -1) as ast.BinaryOp, it?.signed ?? false), w, a, b),
        // `a op= b` wraps at a's width (the checker types the operation at the promoted one).
        this.m.types.get(e.target) ?? t,
      ),
      w,
    };
  };
  return this.writeTo(e.target, rhs, e, () => {
    early = this.use(e.value);
  });
};

Lowerer.prototype.update = function (this: Lowerer, e: ast.Update): Value {
  const saved: { old: Value | null } = { old: null };
  const res = this.writeTo(
    e.target,
    (cur) => {
      const t = this.m.types.get(e.target)!;
      const w = widthOfType(t);
      const c = cur();
      saved.old =
        c.k === "int" && !e.prefix
          ? { k: "int", v: this.b.mov(this.b.vreg(w === 64 ? "i64" : "i32"), c.v), w }
          : null;
      const v = this.b.bin(e.op === "++" ? "add" : "sub", w, this.scalar(c, e), 1n);
      return { k: "int", v: this.narrow(v, t), w };
    },
    e,
  );
  return saved.old ?? res;
};

/** Assigns to a Name, struct/header field or array element; `value(cur)` computes the new value. */
Lowerer.prototype.writeTo = function (
  this: Lowerer,
  target: ast.Expr,
  value: (cur: () => Value) => Value,
  n: ast.Node,
  beforeCheck?: () => void,
): Value {
  const tt = this.m.types.get(target);
  if (target.kind === "Paren") return this.writeTo(target.expr, value, n, beforeCheck);
  if (target.kind === "Name") {
    const sym = this.m.names.get(target);
    if (sym?.kind === "local" || sym?.kind === "param") {
      const cur = this.lookupLocal(sym.id);
      if (!cur) this.unsupported(`${target.name} used before it is defined`, target);
      const v = value(() => cur);
      if (cur.k === "int") this.b.mov(cur.v as VReg, this.scalar(v, n));
      else if (cur.k === "nint" && v.k === "nint") {
        this.b.mov(cur.v as VReg, v.v);
        this.b.mov(cur.ok as VReg, v.ok);
      } else if (cur.k === "nint" && v.k === "int") {
        // A plain integer into a nullable local: present, with that value.
        this.b.mov(cur.v as VReg, this.scalar(v, n));
        this.b.mov(cur.ok as VReg, 1n);
      } else if (cur.k === "ref" && v.k === "ref") {
        if (isSlot(cur.base) && tt)
          this.b.copy(cur.base, cur.off, v.base, v.off, sizeAlign(inner(tt)).size);
        else if (!isSlot(cur.base)) {
          // A reference rebound to a stack value: that slot may outlive its scope.
          if (isSlot(v.base)) this.escaped.add(v.base);
          this.b.mov(cur.base, this.addrOf(v));
        }
      } else if (cur.k === "ref" && v.k === "nint" && !isSlot(cur.base)) this.b.mov(cur.base, 0n);
      return v;
    }
    if (sym?.kind === "global") {
      const p = this.b.addrOfGlobal(sym.info.name, 0);
      const v = value(() => this.loadScalar(p, 0, sym.info.type));
      this.storeScalar(p, 0, sym.info.type, this.scalar(v, n));
      return v;
    }
    this.unsupported(`cannot assign to ${target.name}`, target);
  }
  if (target.kind === "Member") {
    const tgt = this.m.members.get(target);
    if (tgt?.kind === "headerField") {
      const obj = this.ref(target.object);
      const v = value(() => this.readHeaderField(obj, tgt.field));
      this.writeHeaderField(obj, tgt.field, v, n);
      this.forgetParsesOf(tgt.header, tgt.field.name);
      return v;
    }
    if (tgt?.kind === "contextField" && tgt.field.writable && tgt.field.offset !== null) {
      // tc's mark and priority: the kernel rewrites the 4-byte context store.
      const off = tgt.field.offset;
      const v = value(() => this.contextField(tgt.field));
      this.b.store(4, this.ctx, off, this.scalar(v, n));
      return v;
    }
    if (tgt?.kind === "structField" && tgt.field.wire) {
      const obj = this.ref(target.object);
      const wire = tgt.field.wire;
      const v = value(() => this.readHeaderField(obj, wire, true));
      this.writeHeaderField(obj, wire, v, n, true);
      return v;
    }
    if (tgt?.kind === "structField") {
      const obj = this.ref(target.object);
      const off = obj.off + tgt.field.offset;
      const ft = tgt.field.type;
      const v = value(() =>
        isScalar(ft) ? this.loadScalar(obj.base, off, ft) : { k: "ref", base: obj.base, off },
      );
      this.storeValue({ base: obj.base, off }, ft, v, n);
      return v;
    }
    this.unsupported("cannot assign to this member", target);
  }
  if (target.kind === "Index") {
    const t = tt!;
    if (this.m.constValues.get(target.index) !== undefined) {
      const a = this.element(target, null);
      const v = value(() => (isScalar(t) ? this.loadScalar(a.base, a.off, t) : { k: "ref", ...a }));
      this.storeValue(a, t, v, n);
      return v;
    }
    const skip = this.b.block("oobw");
    const a = this.element(target, skip, beforeCheck);
    const v = value(() => this.loadScalar(a.base, a.off, t));
    this.storeValue(a, t, v, n);
    this.b.jmp(skip); // an out-of-range write is skipped
    this.b.place(skip);
    return v;
  }
  this.unsupported("invalid assignment target", target);
};
