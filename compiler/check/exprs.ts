// Expression typing: literals and constant folding, names with flow-sensitive
// null narrowing, fields, indexing, operators with C-like promotion, implicit
// conversions (coerce) and the narrowing exception for narrow arithmetic.
import type * as ast from "../ast/nodes.ts";
import { CheckerBase, isViewType } from "./context.ts";
import { headerField, contextFields } from "./headers.ts";
import { fibLookupParamsType } from "./builtins.ts";
import type { Conversion, Sym } from "./result.ts";
import {
  actionInt,
  boolType,
  defaultIntType,
  fits,
  intType,
  nullable,
  nullType,
  promote,
  sameType,
  typeToString,
  u32,
  wrap,
  type IntType,
  type Type,
  type VoidType,
} from "./types.ts";

/**
 * Types `x` in `c ? x : null` may have: a header view, an integer, or a nullable (the
 * result is then `T | null`, as tsc types it).
 */
function nullableArm(t: Type): boolean {
  if (t.kind === "header" || t.kind === "int") return true;
  return t.kind === "nullable" && t.inner.kind !== "nullable";
}

/** The type of an expression that already has a reported error; suppresses follow-on errors. */
export const errorType: VoidType = Object.freeze({ kind: "void" }) as VoidType;

/** Nullable facts in each outcome of a condition. */
export interface Facts {
  t: Set<number>;
  f: Set<number>;
}

const arithOps = new Set(["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", ">>>"]);
const shiftOps = new Set(["<<", ">>", ">>>"]);
const equalityOps = new Set(["==", "!=", "===", "!=="]);

export function intersect(a: Set<number>, b: Set<number>): Set<number> {
  if (a === b) return a;
  const out = new Set<number>();
  for (const x of a) if (b.has(x)) out.add(x);
  return out;
}

export function unwrapParens(e: ast.Expr): ast.Expr {
  while (e.kind === "Paren") e = e.expr;
  return e;
}

/** Short source-like text of an expression for messages. */
export function exprText(e: ast.Expr): string {
  switch (e.kind) {
    case "Name":
      return e.name;
    case "Member":
      return `${exprText(e.object)}.${e.property.name}`;
    case "Call":
      return `${exprText(e.callee)}()`;
    case "Index":
      return `${exprText(e.object)}[…]`;
    case "Paren":
      return exprText(e.expr);
    default:
      return "this value";
  }
}

/** Implicit integer widening: same signedness and not narrower, or unsigned into a strictly wider signed type. */
export function implicitInt(from: IntType, to: IntType): boolean {
  if (from.signed === to.signed) return from.bits <= to.bits;
  return !from.signed && to.signed && from.bits < to.bits;
}

/** Folds an arithmetic operator at type w (wrapping), as run time does: x / 0 = 0, x % 0 = x (§3.4). */
export function foldArith(op: string, a: bigint, b: bigint, w: IntType | null): bigint {
  const bits = w ? BigInt(w.bits) : 64n;
  let r: bigint;
  switch (op) {
    case "+":
      r = a + b;
      break;
    case "-":
      r = a - b;
      break;
    case "*":
      r = a * b;
      break;
    case "/":
      r = b === 0n ? 0n : a / b;
      break;
    case "%":
      r = b === 0n ? a : a % b;
      break;
    case "&":
      r = a & b;
      break;
    case "|":
      r = a | b;
      break;
    case "^":
      r = a ^ b;
      break;
    case "<<":
      r = w ? a << (b & (bits - 1n)) : a << b;
      break;
    case ">>":
      r = w ? (w.signed ? a : BigInt.asUintN(w.bits, a)) >> (b & (bits - 1n)) : a >> b;
      break;
    case ">>>":
      r = (w ? BigInt.asUintN(w.bits, a) : a) >> (w ? b & (bits - 1n) : b);
      break;
    default:
      throw new Error(`not arithmetic: ${op}`);
  }
  return w ? wrap(r, w) : r;
}

function foldCompare(op: string, a: bigint, b: bigint): boolean {
  switch (op) {
    case "<":
      return a < b;
    case "<=":
      return a <= b;
    case ">":
      return a > b;
    case ">=":
      return a >= b;
    case "==":
    case "===":
      return a === b;
    default:
      return a !== b;
  }
}

export abstract class ExprChecker extends CheckerBase {
  abstract checkCall(e: ast.Call, expected: Type | undefined): Type;
  abstract assignment(e: ast.Assign): void;
  abstract update(e: ast.Update): void;

  /** Types e, records it, and returns its type (nullable narrowed by the current flow facts). */
  expr(e: ast.Expr, expected?: Type): Type {
    const t = this.exprInner(e, expected);
    this.m.types.set(e, t);
    return t;
  }

  isConst(e: ast.Expr): boolean {
    return this.m.constValues.has(e);
  }

  private exprInner(e: ast.Expr, expected: Type | undefined): Type {
    switch (e.kind) {
      case "NumberLit": {
        const t = defaultIntType(e.value);
        if (!t) {
          this.error("LiteralTooLarge", e.span, e.raw);
          return errorType;
        }
        this.m.constValues.set(e, e.value);
        this.untyped.add(e);
        return t;
      }
      case "BoolLit":
        this.m.constValues.set(e, e.value ? 1n : 0n);
        return boolType;
      case "NullLit":
        return nullType;
      case "StringLit":
        this.error("StringNotAllowed", e.span);
        return errorType;
      case "Name":
        return this.name(e);
      case "Member":
        return this.member(e);
      case "Index":
        return this.index(e);
      case "Call":
        return this.checkCall(e, expected);
      case "New":
        for (const a of e.args) if (a.kind !== "ObjectLit") this.expr(a);
        this.error("MapNotTopLevel", e.span);
        return errorType;
      case "Unary":
        return e.op === "!" ? (this.condition(e), boolType) : this.unary(e);
      case "Binary":
        if (e.op === "&&" || e.op === "||" || this.nullComparison(e)) {
          this.condition(e);
          return boolType;
        }
        return this.binary(e);
      case "Assign":
        this.error("AssignInExpression", e.span);
        this.assignment(e);
        return errorType;
      case "Update":
        this.error("AssignInExpression", e.span);
        this.update(e);
        return errorType;
      case "Conditional":
        return this.conditional(e, expected);
      case "As":
        return this.cast(e);
      case "NonNull": {
        this.error("NonNullAssertion", e.span);
        this.expr(e.expr);
        return errorType;
      }
      case "Paren": {
        const t = this.expr(e.expr, expected);
        const v = this.m.constValues.get(e.expr);
        if (v !== undefined) this.m.constValues.set(e, v);
        if (this.untyped.has(e.expr)) this.untyped.add(e);
        return t;
      }
      case "ObjectLit":
        return this.objectLit(e, expected);
      case "ArrayLit":
        return this.arrayLit(e, expected);
      case "Unsupported":
        return errorType;
    }
  }

  // ------------------------------------------------------------ names and members

  /** Looks a value name up without reporting anything. */
  peekValue(name: string): Sym | undefined {
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const s = this.scopes[i]!.get(name);
      if (s) return s;
    }
    return this.topValues.get(name)?.sym;
  }

  private name(e: ast.Name): Type {
    const sym = this.lookupValue(e.name, e.span);
    if (!sym) return errorType;
    this.m.names.set(e, sym);
    switch (sym.kind) {
      case "local":
      case "param": {
        const dead = this.flow.dead.get(sym.id);
        if (dead !== undefined && !this.reportedDead.has(sym.id)) {
          this.reportedDead.add(sym.id);
          this.error("ViewInvalidated", e.span, e.name, dead);
        }
        const v = this.localConsts.get(sym.id);
        if (v !== undefined) this.m.constValues.set(e, v);
        if (v !== undefined && this.localUntyped.has(sym.id)) {
          this.untyped.add(e);
          return defaultIntType(v) ?? sym.type;
        }
        const t = sym.type;
        return t.kind === "nullable" && this.flow.nonNull.has(sym.id) ? t.inner : t;
      }
      case "global":
        return sym.info.type;
      case "const":
        this.m.constValues.set(e, sym.info.value);
        if (sym.info.untyped) {
          this.untyped.add(e);
          return sym.info.decl.kind === "EnumMember"
            ? sym.info.type
            : (defaultIntType(sym.info.value) ?? sym.info.type);
        }
        return sym.info.type;
      case "loadParam":
        return sym.info.type;
      case "builtinConst":
        // Built-in constants are untyped like user ones (XDP_TX + 1, -IPPROTO_TCP fold exactly).
        this.m.constValues.set(e, sym.value);
        if (sym.type.kind === "int" || sym.type.kind === "action") this.untyped.add(e);
        return sym.type;
      case "map":
        this.error("MapNotValue", e.span, e.name);
        return errorType;
      case "function":
      case "builtinFn":
        this.error("NotAValue", e.span, e.name, "a function", "; call it");
        return errorType;
      case "enum":
        this.error("NotAValue", e.span, e.name, "an enum", "; use one of its members");
        return errorType;
    }
  }

  private member(e: ast.Member): Type {
    const prop = e.property.name;
    if (e.object.kind === "Name") {
      const sym = this.peekValue(e.object.name);
      if (sym?.kind === "enum") {
        this.m.names.set(e.object, sym);
        const info = sym.members.get(prop);
        if (!info) {
          this.error("NoSuchField", e.property.span, sym.name, prop);
          return errorType;
        }
        this.m.members.set(e, { kind: "enumMember", info });
        this.m.constValues.set(e, info.value);
        this.untyped.add(e);
        return info.type;
      }
    }
    const ot = this.expr(e.object);
    if (ot === errorType) return errorType;
    switch (ot.kind) {
      case "nullable":
        this.error("PossiblyNull", e.object.span, exprText(e.object));
        return errorType;
      case "header": {
        const f = headerField(ot, prop);
        if (!f) break;
        this.m.members.set(e, { kind: "headerField", header: ot.header, field: f });
        return f.type;
      }
      case "struct": {
        const f = ot.fields.find((x) => x.name === prop);
        if (!f) break;
        this.m.members.set(e, { kind: "structField", struct: ot, field: f });
        return f.type;
      }
      case "context":
      case "xskPacket": {
        const on = ot.kind === "xskPacket" ? "xsk" : ot.hook;
        const field = Object.hasOwn(contextFields[on], prop) ? contextFields[on][prop] : undefined;
        if (field) {
          this.m.members.set(e, { kind: "contextField", name: prop, on, field });
          return field.type;
        }
        break;
      }
      case "fixedArray":
        if (prop === "length") {
          this.m.members.set(e, { kind: "arrayLength", length: ot.length });
          this.m.constValues.set(e, BigInt(ot.length));
          return u32;
        }
        break;
    }
    this.error("NoSuchField", e.property.span, typeToString(ot), prop);
    return errorType;
  }

  private index(e: ast.Index): Type {
    const ot = this.expr(e.object);
    const it = this.expr(e.index);
    if (ot === errorType) return errorType;
    if (ot.kind === "nullable") {
      this.error("PossiblyNull", e.object.span, exprText(e.object));
      return errorType;
    }
    if (ot.kind !== "fixedArray") {
      this.error("NotIndexable", e.object.span, typeToString(ot));
      return errorType;
    }
    if (it !== errorType) {
      if (it.kind !== "int")
        this.error("IntegerRequired", e.index.span, "an index", typeToString(it));
      else {
        const v = this.m.constValues.get(e.index);
        if (v !== undefined && (v < 0n || v >= BigInt(ot.length)))
          this.error("IndexOutOfRange", e.index.span, v, typeToString(ot));
      }
    }
    return ot.elem;
  }

  // ------------------------------------------------------------ conditions and narrowing

  /** `x === null` and friends (either side a null literal). */
  nullComparison(e: ast.Binary): boolean {
    return (
      equalityOps.has(e.op) &&
      (unwrapParens(e.left).kind === "NullLit" || unwrapParens(e.right).kind === "NullLit")
    );
  }

  /** The narrowable symbol an expression names (a nullable local or parameter). */
  private narrowable(e: ast.Expr): number | null {
    const u = unwrapParens(e);
    if (u.kind !== "Name") return null;
    const s = this.m.names.get(u);
    return s && (s.kind === "local" || s.kind === "param") && s.type.kind === "nullable"
      ? s.id
      : null;
  }

  /** Types a condition and returns the nullable facts that hold when it is true / false. */
  condition(e: ast.Expr): Facts {
    const cur = this.flow.nonNull;
    if (e.kind === "Paren") {
      const r = this.condition(e.expr);
      this.m.types.set(e, this.m.types.get(e.expr) ?? boolType);
      const v = this.m.constValues.get(e.expr);
      if (v !== undefined) this.m.constValues.set(e, v);
      return r;
    }
    if (e.kind === "Unary" && e.op === "!") {
      const r = this.condition(e.operand);
      this.m.types.set(e, boolType);
      const v = this.m.constValues.get(e.operand);
      if (v !== undefined) this.m.constValues.set(e, v === 0n ? 1n : 0n);
      return { t: r.f, f: r.t };
    }
    if (e.kind === "Binary" && (e.op === "&&" || e.op === "||")) {
      const a = this.condition(e.left);
      const saved = this.flow.nonNull;
      this.flow.nonNull = e.op === "&&" ? a.t : a.f;
      const b = this.condition(e.right);
      this.flow.nonNull = saved;
      this.m.types.set(e, boolType);
      const va = this.m.constValues.get(e.left);
      const vb = this.m.constValues.get(e.right);
      if (va !== undefined && vb !== undefined) {
        const r = e.op === "&&" ? va !== 0n && vb !== 0n : va !== 0n || vb !== 0n;
        this.m.constValues.set(e, r ? 1n : 0n);
      }
      return e.op === "&&"
        ? { t: b.t, f: intersect(a.f, b.f) }
        : { t: intersect(a.t, b.t), f: b.f };
    }
    if (e.kind === "Binary" && this.nullComparison(e)) return this.nullTest(e);
    const t = this.expr(e);
    this.testConversion(e, t);
    const id = this.narrowable(e);
    if (id !== null && t.kind === "nullable") return { t: new Set(cur).add(id), f: cur };
    return { t: cur, f: cur };
  }

  private testConversion(e: ast.Expr, t: Type): void {
    if (t === errorType || t.kind === "bool") return;
    if (t.kind === "int" || t.kind === "nullable")
      this.m.conversions.set(e, { kind: "test", from: t, to: boolType });
    else this.error("ConditionType", e.span, typeToString(t));
  }

  private nullTest(e: ast.Binary): Facts {
    const cur = this.flow.nonNull;
    const leftNull = unwrapParens(e.left).kind === "NullLit";
    const side = leftNull ? e.right : e.left;
    const nul = leftNull ? e.left : e.right;
    this.expr(nul);
    const t = this.expr(side);
    this.m.types.set(e, boolType);
    if (t === errorType) return { t: cur, f: cur };
    const id = this.narrowable(side);
    if (t.kind !== "nullable" && id === null) {
      if (t.kind !== "null") this.error("OperatorTypes", e.span, e.op, typeToString(t), "null");
      return { t: cur, f: cur };
    }
    this.m.compareTypes.set(e, t.kind === "nullable" ? t : { kind: "nullable", inner: t });
    if (id === null) return { t: cur, f: cur };
    const withId = new Set(cur).add(id);
    return e.op === "===" || e.op === "==" ? { t: cur, f: withId } : { t: withId, f: cur };
  }

  // ------------------------------------------------------------ operators

  private unary(e: ast.Unary): Type {
    let t = this.expr(e.operand);
    if (t === errorType) return errorType;
    if (t.kind === "nullable") {
      this.error("PossiblyNull", e.operand.span, exprText(e.operand));
      return errorType;
    }
    if (t.kind === "action") t = actionInt(t);
    if (t.kind !== "int") {
      this.error("OperatorType", e.span, e.op, typeToString(t));
      return errorType;
    }
    const v = this.m.constValues.get(e.operand);
    if (this.untyped.has(e.operand)) {
      return this.untypedConst(e, e.op === "-" ? -v! : e.op === "~" ? ~v! : v!);
    }
    const w = promote(t);
    this.convert(e.operand, t, w);
    if (v !== undefined)
      this.m.constValues.set(e, wrap(e.op === "-" ? -v : e.op === "~" ? ~v : v, w));
    return w;
  }

  private binary(e: ast.Binary): Type {
    const lt = this.expr(e.left);
    const rt = this.expr(e.right);
    return this.binaryTyped(e, e.op, e.left, e.right, lt, rt);
  }

  /**
   * Types `left op right` given the operand types, recording conversions on the
   * operands and the folded value on `node` (a Binary, or an Assign for `op=`).
   */
  binaryTyped(
    node: ast.Expr,
    op: string,
    left: ast.Expr,
    right: ast.Expr,
    lt: Type,
    rt: Type,
  ): Type {
    if (lt === errorType || rt === errorType) return errorType;
    if (lt.kind === "void" || rt.kind === "void") {
      this.error("VoidValue", (lt.kind === "void" ? left : right).span);
      return errorType;
    }
    const nullableSide = lt.kind === "nullable" ? left : rt.kind === "nullable" ? right : null;
    if (nullableSide) {
      this.error("PossiblyNull", nullableSide.span, exprText(nullableSide));
      return errorType;
    }
    // XdpAction / XskVerdict are u32 in arithmetic and ordering (§2.4).
    if (lt.kind === "action") lt = actionInt(lt);
    if (rt.kind === "action") rt = actionInt(rt);
    const isCompare = !arithOps.has(op);
    if (isCompare && (lt.kind !== "int" || rt.kind !== "int"))
      return this.compareOther(node as ast.Binary, op, left, right, lt, rt);
    if (lt.kind !== "int" || rt.kind !== "int") {
      this.error("OperatorTypes", node.span, op, typeToString(lt), typeToString(rt));
      return errorType;
    }
    const lv = this.m.constValues.get(left);
    const rv = this.m.constValues.get(right);
    const lu = this.untyped.has(left);
    const ru = this.untyped.has(right);

    if (shiftOps.has(op)) {
      if (lu && ru) return this.foldUntyped(node, op, lv!, rv!, isCompare);
      const w = promote(lt);
      this.convert(left, lt, w);
      if (!ru && rt.bits !== w.bits) this.convertRaw(right, rt, intType(w.bits, rt.signed));
      if (lv !== undefined && rv !== undefined)
        this.m.constValues.set(node, foldArith(op, lv, rv, w));
      return w;
    }
    if (lu && ru) return this.foldUntyped(node, op, lv!, rv!, isCompare);

    const lc = lv !== undefined;
    const rc = rv !== undefined;
    // A typed constant (`const a: i32 = -1`) adapts only when it fits; otherwise it is an
    // operand of its declared type, so the message names the types the user wrote.
    const adaptL = lu || (lc && !rc && fits(lv, promote(rt)));
    const adaptR = ru || (rc && !lc && fits(rv, promote(lt)));
    let w: IntType;
    if (adaptL && !adaptR) {
      w = promote(rt);
      this.convert(right, rt, w);
      if (!this.fitConst(left, lt, w)) return errorType;
    } else if (adaptR && !adaptL) {
      w = promote(lt);
      this.convert(left, lt, w);
      if (!this.fitConst(right, rt, w)) return errorType;
    } else {
      const pl = promote(lt);
      const pr = promote(rt);
      if (pl.signed !== pr.signed && !(lc && rc)) {
        this.error("MixedSignedness", node.span, lt.name, rt.name);
        return errorType;
      }
      w = pr.bits > pl.bits ? intType(pr.bits, pl.signed) : pl;
      this.convert(left, lt, w);
      if (!this.fitConst(right, rt, w) && rc) return errorType;
      if (!rc) this.convert(right, rt, intType(w.bits, rt.signed));
    }
    if (isCompare) {
      this.m.compareTypes.set(node as ast.Binary, w);
      if (lc && rc)
        this.m.constValues.set(node, foldCompare(op, wrap(lv, w), wrap(rv, w)) ? 1n : 0n);
      return boolType;
    }
    if (lc && rc) this.m.constValues.set(node, foldArith(op, wrap(lv, w), wrap(rv, w), w));
    return w;
  }

  /** Both operands untyped constants: exact arithmetic, still untyped. */
  private foldUntyped(node: ast.Expr, op: string, a: bigint, b: bigint, isCompare: boolean): Type {
    if (isCompare) {
      this.m.constValues.set(node, foldCompare(op, a, b) ? 1n : 0n);
      return boolType;
    }
    if (shiftOps.has(op) && (b < 0n || b > 63n)) {
      this.error("ConstantDoesNotFit", node.span, b, "a shift count (0..63)");
      return errorType;
    }
    return this.untypedConst(
      node,
      op === ">>>" && a < 0n ? BigInt.asUintN(64, a) >> b : foldArith(op, a, b, null),
    );
  }

  /** Records r as the value of an untyped constant expression; it must fit 64 bits. */
  private untypedConst(node: ast.Expr, r: bigint): Type {
    const t = defaultIntType(r);
    if (!t) {
      this.error("ConstantDoesNotFit", node.span, r, "64 bits");
      return errorType;
    }
    this.m.constValues.set(node, r);
    this.untyped.add(node);
    return t;
  }

  /** A constant operand adapting to type w: it must fit. */
  private fitConst(e: ast.Expr, t: IntType, w: IntType): boolean {
    const v = this.m.constValues.get(e);
    if (v === undefined) return false;
    if (!fits(v, w)) {
      this.error("ConstantDoesNotFit", e.span, v, w.name);
      return false;
    }
    if (this.untyped.has(e)) this.m.conversions.set(e, { kind: "literal", from: t, to: w });
    else this.convertRaw(e, t, w);
    return true;
  }

  /** Operand conversion to the operator's working type (never narrowing). */
  private convert(e: ast.Expr, from: IntType, to: IntType): void {
    if (sameType(from, to)) return;
    if (this.untyped.has(e)) {
      this.fitConst(e, from, to);
      return;
    }
    this.convertRaw(e, from, to);
  }

  private convertRaw(e: ast.Expr, from: IntType, to: IntType): void {
    if (sameType(from, to)) return;
    const kind: Conversion["kind"] =
      from.bits < to.bits ? "widen" : from.bits > to.bits ? "truncate" : "sign";
    this.m.conversions.set(e, { kind, from, to });
  }

  /** Comparisons of non-integers: bool and verdict equality. */
  private compareOther(
    e: ast.Binary,
    op: string,
    left: ast.Expr,
    right: ast.Expr,
    lt: Type,
    rt: Type,
  ): Type {
    const eq = equalityOps.has(op);
    let ok = false;
    let at: Type = lt;
    if (eq && lt.kind === "bool" && rt.kind === "bool") ok = true;
    else if (eq && (lt.kind === "action" || rt.kind === "action")) {
      const act = lt.kind === "action" ? lt : rt;
      const other = lt.kind === "action" ? right : left;
      const ot = lt.kind === "action" ? rt : lt;
      at = act;
      ok = sameType(lt, rt) || (ot.kind === "int" && this.coerce(other, act, false));
    }
    if (!ok) {
      this.error("OperatorTypes", e.span, op, typeToString(lt), typeToString(rt));
      return errorType;
    }
    this.m.compareTypes.set(e, at);
    const lv = this.m.constValues.get(left);
    const rv = this.m.constValues.get(right);
    if (lv !== undefined && rv !== undefined)
      this.m.constValues.set(e, foldCompare(op, lv, rv) ? 1n : 0n);
    return boolType;
  }

  private conditional(e: ast.Conditional, expected: Type | undefined): Type {
    const f = this.condition(e.test);
    const saved = this.flow.nonNull;
    this.flow.nonNull = f.t;
    const a = this.expr(e.then, expected);
    this.flow.nonNull = f.f;
    const b = this.expr(e.else, expected);
    this.flow.nonNull = saved;
    if (a === errorType || b === errorType) return errorType;
    let t: Type | null = null;
    if (a.kind === "int" && b.kind === "int") {
      const au = this.untyped.has(e.then);
      const bu = this.untyped.has(e.else);
      if (au && bu) {
        const target = expected?.kind === "int" ? expected : a.bits >= b.bits ? a : b;
        if (this.coerce(e.then, target) && this.coerce(e.else, target)) t = target;
        else return errorType;
      } else if (au) t = this.constantArm(e.then, e.else, b);
      else if (bu) t = this.constantArm(e.else, e.then, a);
      else if (implicitInt(a, b)) t = (this.convertRaw(e.then, a, b), b);
      else if (implicitInt(b, a)) t = (this.convertRaw(e.else, b, a), a);
    } else if (sameType(a, b)) t = a;
    else if (b.kind === "null" && nullableArm(a)) t = this.withNull(e.then, a);
    else if (a.kind === "null" && nullableArm(b)) t = this.withNull(e.else, b);
    else if (a.kind === "action" && b.kind === "int") t = this.coerce(e.else, a) ? a : null;
    else if (b.kind === "action" && a.kind === "int") t = this.coerce(e.then, b) ? b : null;
    if (!t) {
      this.error("TypeMismatch", e.else.span, typeToString(b), typeToString(a));
      return errorType;
    }
    const tv = this.m.constValues.get(e.test);
    if (tv !== undefined) {
      const v = this.m.constValues.get(tv !== 0n ? e.then : e.else);
      if (v !== undefined) this.m.constValues.set(e, v);
    }
    return t;
  }

  /** The type of `c ? x : null` from x's (an untyped constant has its default type here). */
  private withNull(x: ast.Expr, t: Type): Type {
    this.untyped.delete(x);
    return t.kind === "nullable" ? t : nullable(t);
  }

  /**
   * `c ? K : x` with K an untyped constant: the arms convert as a binary operator's
   * operands, so K takes x's type when it fits and x's promoted type otherwise.
   */
  private constantArm(k: ast.Expr, other: ast.Expr, ot: IntType): IntType | null {
    const v = this.m.constValues.get(k);
    const w = promote(ot);
    if (v !== undefined && !fits(v, ot) && fits(v, w)) {
      this.convertRaw(other, ot, w);
      return this.coerce(k, w) ? w : null;
    }
    return this.coerce(k, ot) ? ot : null;
  }

  private cast(e: ast.As): Type {
    const target = this.resolveType(e.type);
    const st = this.expr(e.expr);
    if (!target || st === errorType) return errorType;
    const v = this.m.constValues.get(e.expr);
    // bool converts to an integer only with `b ? 1 : 0` (§3.5), as tsc's boolean→number.
    if (target.kind === "int" && (st.kind === "int" || st.kind === "action")) {
      if (v !== undefined) this.m.constValues.set(e, wrap(v, target));
      return target;
    }
    if (target.kind === "action" && (st.kind === "int" || st.kind === "action")) {
      if (v !== undefined) this.m.constValues.set(e, v);
      return target;
    }
    if (sameType(st, target)) {
      if (v !== undefined) this.m.constValues.set(e, v);
      return target;
    }
    this.error("InvalidCast", e.span, typeToString(st), typeToString(target));
    return errorType;
  }

  private arrayLit(e: ast.ArrayLit, expected: Type | undefined): Type {
    if (!expected || expected.kind !== "fixedArray") {
      if (expected !== errorType) this.error("ArrayLiteralNeedsType", e.span);
      for (const x of e.elements) this.expr(x);
      return errorType;
    }
    if (e.elements.length !== expected.length)
      this.error(
        "ArrayLiteralLength",
        e.span,
        e.elements.length,
        typeToString(expected),
        expected.length,
      );
    for (const x of e.elements) {
      this.expr(x, expected.elem);
      this.coerce(x, expected.elem);
    }
    return expected;
  }

  private objectLit(e: ast.ObjectLit, expected: Type | undefined): Type {
    if (!expected || expected.kind !== "struct") {
      if (expected === undefined || expected !== errorType)
        this.error("StructLiteralNeedsType", e.span);
      for (const p of e.props) this.expr(p.value);
      return errorType;
    }
    const seen = new Set<string>();
    for (const p of e.props) {
      const f = expected.fields.find((x) => x.name === p.name.name);
      if (!f) {
        this.error("UnknownStructField", p.name.span, expected.name, p.name.name);
        this.expr(p.value);
        continue;
      }
      if (seen.has(f.name)) this.error("DuplicateField", p.name.span, f.name);
      seen.add(f.name);
      this.expr(p.value, f.type);
      this.coerce(p.value, f.type);
    }
    // Built-in kernel structs have union members: unset fields are zero.
    if (expected !== fibLookupParamsType)
      for (const f of expected.fields)
        if (!seen.has(f.name)) this.error("MissingStructField", e.span, f.name, expected.name);
    return expected;
  }

  // ------------------------------------------------------------ conversions

  /**
   * Checks that e (already typed) can be used as `target`, recording the implicit
   * conversion. Reports and returns false when it cannot (unless report is false).
   */
  coerce(e: ast.Expr, target: Type, report = true): boolean {
    const t = this.m.types.get(e) ?? errorType;
    if (t === errorType || target === errorType) return false;
    const fail = (): boolean => {
      if (report) {
        if (t.kind === "void") this.error("VoidValue", e.span);
        else this.error("TypeMismatch", e.span, typeToString(t), typeToString(target));
      }
      return false;
    };
    if (t.kind === "void") return fail();
    const v = this.m.constValues.get(e);
    switch (target.kind) {
      case "int": {
        if (t.kind === "action") {
          if (target.bits < 32 && !(v !== undefined && fits(v, target))) return fail();
          if (target.bits > 32)
            this.m.conversions.set(e, { kind: "widen", from: actionInt(t), to: target });
          return true;
        }
        if (t.kind !== "int") return fail();
        if (v !== undefined && (this.untyped.has(e) || !implicitInt(t, target))) {
          if (!fits(v, target)) {
            if (report) this.error("ConstantDoesNotFit", e.span, v, target.name);
            return false;
          }
          if (this.untyped.has(e)) {
            if (!sameType(t, target))
              this.m.conversions.set(e, { kind: "literal", from: t, to: target });
          } else this.convertRaw(e, t, target);
          return true;
        }
        if (implicitInt(t, target)) {
          this.convertRaw(e, t, target);
          return true;
        }
        if (this.narrowArithmetic(e, target)) {
          this.m.conversions.set(e, { kind: "truncate", from: t, to: target });
          return true;
        }
        if (report) {
          if (t.bits <= target.bits) this.error("SignednessNeedsCast", e.span, t.name, target.name);
          else this.error("NarrowingNeedsCast", e.span, t.name, target.name);
        }
        return false;
      }
      case "action":
        if (sameType(t, target)) return true;
        // A run-time integer that converts implicitly to the verdict's integer is a
        // verdict as is (XdpAction is u32, TcAction i32, §2.4).
        if (t.kind === "int" && v === undefined && implicitInt(t, actionInt(target))) {
          this.convertRaw(e, t, actionInt(target));
          return true;
        }
        if (t.kind === "int" && v !== undefined) {
          const [min, max] =
            target.of === "xdp" ? [0n, 4n] : target.of === "tc" ? [-1n, 7n] : [0n, 1n];
          if (v < min || v > max) {
            if (report) this.error("ConstantDoesNotFit", e.span, v, typeToString(target));
            return false;
          }
          this.m.conversions.set(e, { kind: "literal", from: t, to: target });
          return true;
        }
        return fail();
      case "nullable":
        if (t.kind === "null" || sameType(t, target) || sameType(t, target.inner)) return true;
        // A value for a nullable integer local (`let v = ctx.load16(0); … v = 5`), as tsc
        // allows: converted to the inner type like any assignment.
        if (target.inner.kind === "int" && (t.kind === "int" || t.kind === "action"))
          return this.coerce(e, target.inner, report);
        return fail();
      default:
        return sameType(t, target) ? true : fail();
    }
  }

  /**
   * The narrowing exception: arithmetic whose operands are all no wider than the
   * target (constants that fit included) may be stored without a cast; it wraps.
   */
  narrowArithmetic(e: ast.Expr, target: IntType): boolean {
    const u = unwrapParens(e);
    const arith =
      (u.kind === "Binary" && arithOps.has(u.op)) ||
      (u.kind === "Unary" && u.op !== "!") ||
      u.kind === "Conditional";
    return arith && this.leavesFit(u, target);
  }

  private leavesFit(e: ast.Expr, target: IntType): boolean {
    const v = this.m.constValues.get(e);
    if (v !== undefined) return fits(v, target);
    switch (e.kind) {
      case "Paren":
        return this.leavesFit(e.expr, target);
      case "Binary":
        if (!arithOps.has(e.op)) return false;
        return (
          this.leavesFit(e.left, target) && (shiftOps.has(e.op) || this.leavesFit(e.right, target))
        );
      case "Unary":
        return e.op !== "!" && this.leavesFit(e.operand, target);
      case "Conditional":
        return this.leavesFit(e.then, target) && this.leavesFit(e.else, target);
      default: {
        const t = this.m.types.get(e);
        return t?.kind === "int" && implicitInt(t, target);
      }
    }
  }

  /** The header view a Member/Index chain reads from, if any (for view invalidation). */
  rootIsPacket(e: ast.Expr): boolean {
    let u = unwrapParens(e);
    while (u.kind === "Member" || u.kind === "Index") u = unwrapParens(u.object);
    const t = this.m.types.get(u);
    return t !== undefined && isViewType(t);
  }
}
