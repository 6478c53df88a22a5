// Statements: locals, assignments, if/switch/for with flow facts (null narrowing,
// invalidated packet views), bounded loops, break/continue/return and whether a
// statement can complete normally (for "all paths return" and switch fall-through).
import type * as ast from "../ast/nodes.ts";
import { CallChecker } from "./calls.ts";
import { errorType, intersect, unwrapParens } from "./exprs.ts";
import type { LocalSym } from "./result.ts";
import { PACKET_CHANGING, walk } from "./walk.ts";

/** TCX_NEXT, TCX_PASS, TCX_DROP, TCX_REDIRECT: the verdicts tcx_action_code keeps. */
const TCX_VERDICTS: readonly bigint[] = [-1n, 0n, 2n, 7n];
import { defaultIntType, fits, typeToString, wrap, type IntType, type Type } from "./types.ts";

const localTypeKinds = new Set([
  "int",
  "bool",
  "struct",
  "fixedArray",
  "header",
  "nullable",
  "action",
]);

export abstract class StmtChecker extends CallChecker {
  /** Checks statements in order; returns whether control can reach their end. */
  block(stmts: readonly ast.Stmt[]): boolean {
    let completes = true;
    for (const s of stmts) if (!this.stmt(s)) completes = false;
    return completes;
  }

  stmt(s: ast.Stmt): boolean {
    switch (s.kind) {
      case "VarDecl":
        this.localVar(s);
        return true;
      case "FunctionDecl":
        this.error("NestedFunction", s.name.span, s.name.name);
        return true;
      case "Block": {
        this.pushScope();
        const c = this.block(s.body);
        this.popScope();
        return c;
      }
      case "ExprStmt":
        this.exprStmt(s.expr);
        return true;
      case "IfStmt":
        return this.ifStmt(s);
      case "SwitchStmt":
        return this.switchStmt(s);
      case "ForStmt":
        this.forStmt(s);
        return true;
      case "BreakStmt": {
        const b = this.breakables[this.breakables.length - 1];
        if (!b) this.error("BreakOutside", s.span, "break", " or switch");
        else b.broken = true;
        return false;
      }
      case "ContinueStmt":
        if (!this.breakables.some((b) => b.kind === "loop"))
          this.error("BreakOutside", s.span, "continue", "");
        return false;
      case "ReturnStmt":
        this.returnStmt(s);
        return false;
      case "EmptyStmt":
      case "Unsupported":
        return true;
    }
  }

  exprStmt(e: ast.Expr): void {
    if (e.kind === "Assign") this.assignment(e);
    else if (e.kind === "Update") this.update(e);
    else this.expr(e);
  }

  // ------------------------------------------------------------ declarations and assignments

  localVar(d: ast.VarDecl): LocalSym {
    let declT: Type | null = null;
    if (d.type) {
      declT = this.resolveType(d.type);
      if (declT && !localTypeKinds.has(declT.kind)) {
        this.error("TypeNotAllowedHere", d.type.span, typeToString(declT), "a variable type");
        declT = null;
      }
    }
    let type: Type = declT ?? errorType;
    let initType: Type | null = null;
    if (d.init) {
      const init = unwrapParens(d.init);
      if (
        init.kind === "Call" &&
        init.callee.kind === "Name" &&
        init.callee.name === "param" &&
        this.peekValue("param") === undefined &&
        this.imports.get("param")?.kind === "fn"
      ) {
        this.error("ParamMisplaced", d.init.span);
      } else {
        initType = this.expr(d.init, declT ?? undefined);
        if (declT) this.coerce(d.init, declT);
        else if (initType === errorType) type = errorType;
        else if (initType.kind === "null") this.error("CannotInferType", d.name.span, d.name.name);
        else if (initType.kind === "void") this.error("VoidValue", d.init.span);
        else if (!localTypeKinds.has(initType.kind))
          this.error("TypeNotAllowedHere", d.init.span, typeToString(initType), "a variable type");
        else type = initType;
      }
    } else {
      if (d.declKind === "const") this.error("ConstNeedsInit", d.name.span, d.name.name);
      else if (!declT) this.error("CannotInferType", d.name.span, d.name.name);
    }
    const sym: LocalSym = {
      kind: "local",
      id: this.nextId++,
      name: d.name.name,
      type,
      mutable: d.declKind === "let",
      decl: d,
    };
    this.m.locals.set(d, sym);
    this.declareLocal(sym, d.name.span);
    if (d.init && d.declKind === "const" && (type.kind === "int" || type.kind === "bool")) {
      const v = this.m.constValues.get(d.init);
      if (v !== undefined) {
        // An unannotated local const of an untyped constant is a named constant too (§3.2).
        const untyped = !declT && type.kind === "int" && this.untyped.has(d.init);
        this.localConsts.set(sym.id, type.kind === "int" && !untyped ? wrap(v, type) : v);
        if (untyped) this.localUntyped.add(sym.id);
      }
    }
    if (
      type.kind === "nullable" &&
      initType &&
      initType.kind !== "nullable" &&
      initType.kind !== "null"
    )
      this.flow.nonNull = new Set(this.flow.nonNull).add(sym.id);
    if (type.kind === "fixedArray" && d.init && this.rootIsPacket(d.init)) this.viewSyms.push(sym);
    return sym;
  }

  /** Types an assignment target; returns its declared type, or null after an error. */
  private target(t: ast.Expr): Type | null {
    const u = t;
    if (u.kind === "Name") {
      const sym = this.lookupValue(u.name, u.span);
      if (!sym) return null;
      this.m.names.set(u, sym);
      let what: string | null = null;
      switch (sym.kind) {
        case "local":
          if (!sym.mutable) what = "a constant";
          break;
        case "param":
        case "global":
          break;
        case "const":
        case "builtinConst":
          what = "a constant";
          break;
        case "loadParam":
          what = "a load-time parameter";
          break;
        case "map":
          what = "a map";
          break;
        default:
          what = `a ${sym.kind === "enum" ? "enum" : "function"}`;
      }
      if (what) {
        this.error("AssignToConst", u.span, u.name, what);
        return null;
      }
      const ty = sym.kind === "global" ? sym.info.type : (sym as { type: Type }).type;
      this.m.types.set(u, ty);
      return ty;
    }
    if (u.kind === "Member") {
      const ty = this.expr(u);
      if (ty === errorType) return null;
      const m = this.m.members.get(u);
      if (
        m &&
        ((m.kind === "contextField" && !m.field.writable) ||
          m.kind === "arrayLength" ||
          m.kind === "enumMember" ||
          (m.kind === "headerField" && !m.field.writable))
      ) {
        this.error(
          "ReadOnlyField",
          u.span,
          m.kind === "headerField" ? `${m.header}.${m.field.name}` : u.property.name,
        );
        return null;
      }
      return ty;
    }
    if (u.kind === "Index") {
      const ty = this.expr(u);
      return ty === errorType ? null : ty;
    }
    this.error("InvalidAssignTarget", t.span);
    this.expr(t);
    return null;
  }

  assignment(a: ast.Assign): void {
    const tt = this.target(a.target);
    if (a.op === "=") {
      const vt = this.expr(a.value, tt ?? undefined);
      this.m.types.set(a, tt ?? errorType);
      if (!tt) return;
      if (this.coerce(a.value, tt)) this.assigned(a.target, vt);
      return;
    }
    const vt = this.expr(a.value);
    if (!tt || vt === errorType) {
      this.m.types.set(a, errorType);
      return;
    }
    if (tt.kind !== "int") {
      this.error("OperatorTypes", a.span, a.op, typeToString(tt), typeToString(vt));
      this.m.types.set(a, errorType);
      return;
    }
    const op = a.op.slice(0, -1);
    const w = this.binaryTyped(a, op, a.target, a.value, tt, vt);
    this.m.types.set(a, w);
    if (w === errorType || w.kind !== "int") return;
    if (w.bits > tt.bits || w.signed !== tt.signed) {
      const v = this.m.constValues.get(a.value);
      const ok =
        v !== undefined
          ? fits(v, tt)
          : this.narrowArithmetic(a.value, tt) || this.leavesFitValue(a.value, tt);
      if (!ok) {
        const vi = vt.kind === "int" ? vt : w;
        if (vi.signed !== tt.signed)
          this.error("SignednessNeedsCast", a.value.span, vi.name, tt.name);
        else this.error("NarrowingNeedsCast", a.value.span, vi.name, tt.name);
        return;
      }
      this.m.conversions.set(a, { kind: "truncate", from: w, to: tt });
    }
  }

  /** For `t op= v`: v itself no wider than t (the target is trivially). */
  private leavesFitValue(v: ast.Expr, t: IntType): boolean {
    const vt = this.m.types.get(v);
    return vt?.kind === "int" && vt.bits <= t.bits && vt.signed === t.signed;
  }

  /** Flow effects of `x = value`: narrowing and revived packet views. */
  private assigned(target: ast.Expr, vt: Type): void {
    if (target.kind !== "Name") return;
    const sym = this.m.names.get(target);
    if (!sym || (sym.kind !== "local" && sym.kind !== "param")) return;
    if (this.flow.dead.has(sym.id)) {
      this.flow.dead = new Map(this.flow.dead);
      this.flow.dead.delete(sym.id);
      this.reportedDead.delete(sym.id);
    }
    if (sym.type.kind === "nullable") {
      const s = new Set(this.flow.nonNull);
      if (vt.kind !== "nullable" && vt.kind !== "null") s.add(sym.id);
      else s.delete(sym.id);
      this.flow.nonNull = s;
    }
  }

  update(u: ast.Update): void {
    const tt = this.target(u.target);
    this.m.types.set(u, tt ?? errorType);
    if (tt && tt.kind !== "int") this.error("OperatorType", u.span, u.op, typeToString(tt));
  }

  // ------------------------------------------------------------ control flow

  private ifStmt(s: ast.IfStmt): boolean {
    const f = this.condition(s.test);
    const entryDead = this.flow.dead;
    this.flow = { nonNull: f.t, dead: new Map(entryDead) };
    const thenC = this.stmt(s.then);
    const thenFlow = this.flow;
    this.flow = { nonNull: f.f, dead: new Map(entryDead) };
    const elseC = s.else ? this.stmt(s.else) : true;
    const elseFlow = this.flow;
    if (thenC && elseC) {
      const dead = new Map(thenFlow.dead);
      for (const [k, v] of elseFlow.dead) if (!dead.has(k)) dead.set(k, v);
      this.flow = { nonNull: intersect(thenFlow.nonNull, elseFlow.nonNull), dead };
    } else if (thenC) this.flow = thenFlow;
    else this.flow = elseFlow;
    return thenC || elseC;
  }

  /** Ids of locals assigned anywhere in a statement (their narrowing is void after loops/switches). */
  private assignedIds(root: ast.Node): Set<number> {
    const ids = new Set<number>();
    walk(root, (node) => {
      if ((node.kind === "Assign" || node.kind === "Update") && node.target.kind === "Name") {
        const s = this.peekValue(node.target.name);
        if (s && (s.kind === "local" || s.kind === "param")) ids.add(s.id);
      }
    });
    return ids;
  }

  /** Runs `body` as a loop or switch region: flow after it is conservative. */
  private region(
    root: ast.Node,
    kind: "loop" | "switch",
    body: () => boolean,
  ): { completes: boolean; broken: boolean } {
    const assigned = this.assignedIds(root);
    const entryNonNull = new Set([...this.flow.nonNull].filter((x) => !assigned.has(x)));
    const acc = new Map<number, string>(this.flow.dead);
    if (kind === "loop" && this.mayAdjust(root))
      for (const s of this.viewSyms)
        if (!acc.has(s.id)) acc.set(s.id, "a packet-changing call later in this loop");
    this.flow = { nonNull: entryNonNull, dead: new Map(acc) };
    this.deadAccumulators.push(acc);
    this.breakables.push({ kind, broken: false });
    const completes = body();
    const b = this.breakables.pop()!;
    this.deadAccumulators.pop();
    for (const [k, v] of acc)
      for (const outer of this.deadAccumulators) if (!outer.has(k)) outer.set(k, v);
    this.flow = { nonNull: entryNonNull, dead: acc };
    return { completes, broken: b.broken };
  }

  /** Whether a statement contains a call that may move packet data. */
  private mayAdjust(root: ast.Node): boolean {
    let found = false;
    walk(root, (node) => {
      if (found) return false;
      if (node.kind === "Call") {
        const c = node.callee;
        if (c.kind === "Member" && PACKET_CHANGING.includes(c.property.name)) found = true;
        if (c.kind === "Name") {
          const s = this.peekValue(c.name);
          if (s?.kind === "function" && s.info.adjustsPacket) found = true;
        }
      }
    });
    return found;
  }

  private switchStmt(s: ast.SwitchStmt): boolean {
    const dt = this.expr(s.discriminant);
    const ok = dt === errorType || dt.kind === "int" || dt.kind === "action";
    if (!ok) this.error("IntegerRequired", s.discriminant.span, "a switch value", typeToString(dt));
    const seen = new Map<bigint, ast.SwitchCase>();
    this.pushScope();
    const entryFlow = this.flow;
    let hasDefault = false;
    let lastCompletes = true;
    const r = this.region(s, "switch", () => {
      const regionFlow = this.flow;
      s.cases.forEach((c, i) => {
        if (!c.test) hasDefault = true;
        else {
          this.expr(c.test);
          const v = this.m.constValues.get(c.test);
          if (v === undefined) this.error("NotConstant", c.test.span, "a case value");
          else if (ok && dt !== errorType && this.coerce(c.test, dt)) {
            const cv = dt.kind === "int" ? wrap(v, dt) : v;
            if (seen.has(cv)) this.error("DuplicateCase", c.test.span, cv);
            else seen.set(cv, c);
            this.m.caseValues.set(c, cv);
          }
        }
        this.flow = {
          nonNull: regionFlow.nonNull,
          dead: new Map(this.deadAccumulators[this.deadAccumulators.length - 1]!),
        };
        const completes = this.block(c.body);
        if (completes && c.body.length > 0 && i < s.cases.length - 1)
          this.error("SwitchFallthrough", c.span);
        if (i === s.cases.length - 1) lastCompletes = completes;
      });
      return lastCompletes;
    });
    this.popScope();
    void entryFlow;
    return r.broken || !hasDefault || r.completes || s.cases.length === 0;
  }

  private forStmt(s: ast.ForStmt): void {
    this.pushScope();
    const shape = this.loopShape(s);
    let counter: LocalSym | null = null;
    if (typeof shape === "string") {
      this.error("LoopShape", s.span, shape);
      // Still check every part so that other errors surface.
      if (s.init) s.init.kind === "VarDecl" ? this.localVar(s.init) : this.exprStmt(s.init);
      if (s.test) this.condition(s.test);
      if (s.update) this.exprStmt(s.update);
    } else {
      const { init, test, bound } = shape;
      const bt = this.expr(bound);
      const bv = this.m.constValues.get(bound);
      let ctype: IntType | null = null;
      if (init.type) {
        const t = this.resolveType(init.type);
        if (t && t.kind === "int") ctype = t;
        else if (t)
          this.error("IntegerRequired", init.type.span, "a loop counter", typeToString(t));
      } else if (bt.kind === "int") ctype = this.untyped.has(bound) ? defaultIntType(bv ?? 0n) : bt;
      if (bt !== errorType && bv === undefined)
        this.error("NotConstant", bound.span, "the loop bound");
      if (ctype && bv !== undefined) {
        this.coerce(bound, ctype);
        counter = this.localVarTyped(init, ctype);
        const left = this.expr(test.left);
        this.m.types.set(test, this.binaryTyped(test, test.op, test.left, test.right, left, bt));
        if (s.test !== test) this.m.types.set(s.test!, this.m.types.get(test)!);
        this.exprStmt(s.update!);
        const sv = this.m.constValues.get(init.init!);
        const step = shape.step;
        const down = shape.descending;
        if (sv !== undefined) {
          const end = test.op === "<=" ? bv + 1n : test.op === ">=" ? bv - 1n : bv;
          const span = down ? sv - end : end - sv;
          const trip = span > 0n ? (span + step - 1n) / step : 0n;
          // The counter's last value (after the final step) must fit, or it wraps forever.
          const lastValue = down ? sv - trip * step : sv + trip * step;
          if (trip > 0n && !fits(lastValue, ctype))
            this.error("LoopCounterOverflow", test.span, ctype.name);
          else
            this.m.loops.set(s, {
              counter,
              start: sv,
              end,
              step,
              tripCount: Number(trip),
              ...(down ? { descending: true } : {}),
            });
        }
      } else {
        this.localVar(init);
        this.condition(test);
        this.exprStmt(s.update!);
      }
    }
    if (counter) {
      const c = counter;
      walk(s.body, (n) => {
        if (
          (n.kind === "Assign" || n.kind === "Update") &&
          n.target.kind === "Name" &&
          n.target.name === c.name &&
          this.peekValue(c.name) === c
        )
          this.error("LoopCounterAssigned", n.span, c.name);
      });
    }
    this.region(s.body, "loop", () => {
      this.stmt(s.body);
      return true;
    });
    this.popScope();
  }

  /** Declares a for counter with a known type, checking its initializer against it. */
  private localVarTyped(d: ast.VarDecl, t: IntType): LocalSym {
    if (d.init) {
      this.expr(d.init, t);
      this.coerce(d.init, t);
    }
    const sym: LocalSym = {
      kind: "local",
      id: this.nextId++,
      name: d.name.name,
      type: t,
      mutable: true,
      decl: d,
    };
    this.m.locals.set(d, sym);
    this.declareLocal(sym, d.name.span);
    return sym;
  }

  /** The accepted loop form, or why the loop is rejected. */
  private loopShape(
    s: ast.ForStmt,
  ):
    | { init: ast.VarDecl; test: ast.Binary; bound: ast.Expr; step: bigint; descending: boolean }
    | string {
    const init = s.init;
    if (!init || init.kind !== "VarDecl" || init.declKind !== "let" || !init.init)
      return "the loop must declare its counter with 'let i = <constant>'";
    const name = init.name.name;
    const test = s.test && unwrapParens(s.test);
    if (
      !test ||
      test.kind !== "Binary" ||
      (test.op !== "<" && test.op !== "<=" && test.op !== ">" && test.op !== ">=") ||
      unwrapParens(test.left).kind !== "Name" ||
      (unwrapParens(test.left) as ast.Name).name !== name
    )
      return `the condition must be '${name} < <constant>' or '${name} <= <constant>'`;
    // `<`/`<=` count up (`i++`, `i += c`); `>`/`>=` count down (`i--`, `i -= c`).
    const descending = test.op === ">" || test.op === ">=";
    const u = s.update;
    let step: bigint | null = null;
    if (
      u?.kind === "Update" &&
      u.op === (descending ? "--" : "++") &&
      u.target.kind === "Name" &&
      u.target.name === name
    )
      step = 1n;
    if (
      u?.kind === "Assign" &&
      u.op === (descending ? "-=" : "+=") &&
      u.target.kind === "Name" &&
      u.target.name === name
    ) {
      const v = unwrapParens(u.value);
      if (v.kind === "NumberLit" && v.value > 0n) step = v.value;
    }
    if (step === null)
      return descending
        ? `the update must be '${name}--' or '${name} -= <positive literal>'`
        : `the update must be '${name}++' or '${name} += <positive literal>'`;
    return { init, test, bound: test.right, step, descending };
  }

  private returnStmt(s: ast.ReturnStmt): void {
    const fn = this.fn;
    if (!fn) return;
    const rt = fn.returnType;
    if (rt.kind === "void") {
      if (s.value) {
        if (rt !== errorType) this.error("UnexpectedReturnValue", s.value.span, fn.name);
        this.expr(s.value);
      }
      return;
    }
    if (!s.value) {
      this.error("MissingReturnValue", s.span, typeToString(rt));
      return;
    }
    this.expr(s.value, rt);
    if (this.coerce(s.value, rt) && fn.section && fn.section !== "tc") this.tcxVerdict(s.value);
  }

  /**
   * A tcx program's constant verdict must be one tcx defines (TCX_VERDICTS): the
   * kernel's tcx_action_code runs any other as TCX_NEXT, which TC_ACT_PIPE or
   * TC_ACT_STOLEN written at tcx almost never mean. A conditional's branches are
   * checked one by one; a run-time value is returned as is.
   */
  private tcxVerdict(e: ast.Expr): void {
    const u = unwrapParens(e);
    const v = this.m.constValues.get(u);
    if (v === undefined) {
      if (u.kind === "Conditional") {
        this.tcxVerdict(u.then);
        this.tcxVerdict(u.else);
      }
      return;
    }
    if (TCX_VERDICTS.includes(v)) return;
    this.error("TcxVerdict", u.span, u.kind === "Name" ? `${u.name} (${v})` : `${v}`);
  }
}
