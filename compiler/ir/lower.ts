// Checked AST → IR for one entry function (XDP program). User functions are
// inlined. Values follow check/types.ts's memory model: scalars live in vregs
// (≤ 32-bit types in i32 vregs, zero-extended when unsigned and sign-extended to
// 32 bits when signed), structs/arrays/headers are references to memory (a stack
// slot, a map value, packet data). Header accessors are memoised per dominating
// scope, so `ctx.eth()` then `ctx.ipv4()` then `ctx.udp()` parse each layer once;
// the guard pass then merges the bounds checks.
import type * as ast from "../ast/nodes.ts";
import type { Span } from "../diagnostics/span.ts";
import type { CallTarget, CheckedModule, FunctionInfo, MapInfo } from "../check/result.ts";
import type { HeaderField, HeaderKind, IntType, StructType, Type } from "../check/types.ts";
import { sizeAlign } from "../check/types.ts";
import { Builder } from "./builder.ts";
import type { Base, Block, Cond, Operand, Size, Slot, VReg, Width } from "./ir.ts";
import { isImm, isSlot } from "./ir.ts";
import { BPF_FUNC, BPF_NOEXIST as NOEXIST } from "../uapi/bpf.ts";

const H = {
  lookup: BPF_FUNC.map_lookup_elem,
  update: BPF_FUNC.map_update_elem,
  delete: BPF_FUNC.map_delete_elem,
  ktime: BPF_FUNC.ktime_get_ns,
  trace: BPF_FUNC.trace_printk,
  random: BPF_FUNC.get_prandom_u32,
  cpu: BPF_FUNC.get_smp_processor_id,
  redirect: BPF_FUNC.redirect,
  adjustHead: BPF_FUNC.xdp_adjust_head,
  redirectMap: BPF_FUNC.redirect_map,
  adjustTail: BPF_FUNC.xdp_adjust_tail,
  fibLookup: BPF_FUNC.fib_lookup,
  ringbufOutput: BPF_FUNC.ringbuf_output,
};
const BPF_NOEXIST = BigInt(NOEXIST);

/** Where a value lives: a scalar operand, a reference to memory, or a nullable integer. */
export type Value =
  | { k: "int"; v: Operand; w: Width }
  | { k: "ref"; base: Base; off: number }
  | { k: "nint"; v: Operand; ok: Operand; w: Width }
  | { k: "void" };

/** A broken invariant of the checker's output (compiler/check/result.ts): a compiler bug. */
export class LowerInvariantError extends Error {
  override name = "LowerInvariantError";
}

/** A construct the backend does not support: reported as a diagnostic. */
export class LowerError extends Error {
  constructor(
    message: string,
    readonly span: Span,
  ) {
    super(message);
  }
}

interface Frame {
  /** Inlined function: where `return` goes and where its value is put. */
  ret: { block: Block; value: VReg | null; type: Type } | null;
  locals: Map<number, Value>;
}

interface LoopCtx {
  brk: Block;
  cont: Block | null;
}

const VLAN_TPIDS = [0x8100n, 0x88a8n];

export function lowerFunction(m: CheckedModule, fn: FunctionInfo): import("./ir.ts").Func {
  return new Lowerer(m, fn).run();
}

function widthOfType(t: Type): Width {
  return t.kind === "int" && t.bits === 64 ? 64 : 32;
}
function intOf(t: Type): IntType | null {
  return t.kind === "int" ? t : null;
}
function inner(t: Type): Type {
  return t.kind === "nullable" ? t.inner : t;
}
function isScalar(t: Type): boolean {
  return t.kind === "int" || t.kind === "bool" || t.kind === "action";
}
const SIZES: Record<number, Size> = { 1: 1, 2: 2, 4: 4, 8: 8 };

class Lowerer {
  private readonly b: Builder;
  private ctx!: VReg;
  private frames: Frame[] = [];
  private loops: LoopCtx[] = [];
  /** Memo scopes for header accessors and packet pointers (innermost last). */
  private memo: Map<string, VReg>[] = [new Map()];
  private readonly memoEnabled: boolean;
  /** Header accessors being lowered with a private memo (when memoEnabled is off). */
  private accessorDepth = 0;
  private inlineDepth = 0;
  /**
   * Stack slots that carry a map call's key, value or record: dead once the helper
   * returns, so later calls reuse them (by size) instead of growing the frame.
   */
  private freeArgSlots = new Map<number, Slot[]>();
  private takenArgSlots: Slot[] = [];

  constructor(
    private readonly m: CheckedModule,
    private readonly fn: FunctionInfo,
  ) {
    this.b = new Builder(fn.name);
    this.b.fn.span = fn.decl.span;
    // After adjustHead/adjustTail every packet pointer is stale; recompute them at
    // each accessor rather than reason about which cached ones survived.
    this.memoEnabled = !fn.adjustsPacket;
  }

  run() {
    this.ctx = this.b.param("ctx", "ctx");
    const frame: Frame = { ret: null, locals: new Map() };
    const p0 = this.fn.params[0];
    if (p0) frame.locals.set(p0.id, { k: "ref", base: this.ctx, off: 0 });
    this.frames.push(frame);
    this.block(this.fn.decl.body);
    if (!this.b.terminated) this.b.ret(2n); // unreachable for a checked program (all paths return)
    return this.b.fn;
  }

  private get frame(): Frame {
    return this.frames[this.frames.length - 1]!;
  }
  private at(n: ast.Node): void {
    this.b.span = n.span;
  }
  /** A construct the backend cannot lower yet: a diagnostic for the user. */
  private unsupported(msg: string, n: ast.Node): never {
    throw new LowerError(msg, n.span);
  }
  /** A fact the checker guarantees does not hold: a compiler bug, an internal error. */
  private invariant(msg: string, n: ast.Node): never {
    throw new LowerInvariantError(`${msg} (at offset ${n.span.start})`);
  }

  // ------------------------------------------------------------ memo scopes

  private memoGet(key: string): VReg | undefined {
    if (!this.memoEnabled && this.accessorDepth === 0) return undefined;
    for (let k = this.memo.length - 1; k >= 0; k--) {
      const v = this.memo[k]!.get(key);
      if (v) return v;
    }
    return undefined;
  }
  private memoSet(key: string, v: VReg): void {
    if (this.memoEnabled || this.accessorDepth > 0) this.memo[this.memo.length - 1]!.set(key, v);
  }
  /** Lowers `f` in a nested scope: values memoised inside do not dominate what follows. */
  private scoped<T>(f: () => T): T {
    this.memo.push(new Map());
    try {
      return f();
    } finally {
      this.memo.pop();
    }
  }

  // ------------------------------------------------------------ statements

  private block(b: ast.Block): void {
    for (const s of b.body) this.stmt(s);
  }

  private stmt(s: ast.Stmt): void {
    this.at(s);
    switch (s.kind) {
      case "Block":
        return this.scoped(() => this.block(s));
      case "EmptyStmt":
      case "FunctionDecl":
      case "Unsupported":
        return;
      case "ExprStmt":
        this.expr(s.expr);
        return;
      case "VarDecl":
        return this.varDecl(s);
      case "IfStmt": {
        const t = this.b.block("then");
        const e = this.b.block("else");
        const j = s.else ? this.b.block("endif") : e;
        this.cond(s.test, t, e);
        this.b.place(t);
        this.scoped(() => this.stmt(s.then));
        this.b.jmp(j);
        if (s.else) {
          const els = s.else;
          this.b.place(e);
          this.scoped(() => this.stmt(els));
          this.b.jmp(j);
        }
        this.b.place(j);
        return;
      }
      case "ReturnStmt":
        return this.ret(s);
      case "ForStmt":
        return this.forStmt(s);
      case "SwitchStmt":
        return this.switchStmt(s);
      case "BreakStmt": {
        const l = this.loops[this.loops.length - 1];
        if (!l) this.invariant("break outside a loop or switch", s);
        this.b.jmp(l.brk);
        return;
      }
      case "ContinueStmt": {
        const l = [...this.loops].reverse().find((x) => x.cont);
        if (!l?.cont) this.invariant("continue outside a loop", s);
        this.b.jmp(l.cont);
        return;
      }
    }
  }

  private varDecl(s: ast.VarDecl): void {
    const sym = this.m.locals.get(s);
    if (!sym) this.invariant(`unchecked declaration ${s.name.name}`, s);
    const t = sym.type;
    if (!s.init) {
      this.frame.locals.set(sym.id, this.fresh(t));
      return;
    }
    if (t.kind === "struct" || t.kind === "fixedArray") {
      // A struct value: a literal builds it in place; otherwise the local is a reference.
      if (s.init.kind === "ObjectLit" || sym.mutable) {
        const slot = this.b.slot(sizeAlign(t).size, 8, sym.name);
        this.storeInto({ base: slot, off: 0 }, t, s.init);
        this.frame.locals.set(sym.id, { k: "ref", base: slot, off: 0 });
        return;
      }
    }
    const v = this.use(s.init);
    this.frame.locals.set(sym.id, this.bindCopy(v, t, sym.name));
  }

  /** A local's own storage: scalars get their own vreg (assignments mutate it). */
  private bindCopy(v: Value, t: Type, name?: string): Value {
    if (v.k === "int") {
      const r = this.b.vreg(v.w === 64 ? "i64" : "i32", name);
      this.b.mov(r, v.v);
      return { k: "int", v: r, w: v.w };
    }
    // A narrowed nullable bound to a non-nullable local is a plain integer local, so
    // that later assignments (`t += 1`) update it.
    if (v.k === "nint" && t.kind !== "nullable")
      return this.bindCopy({ k: "int", v: v.v, w: v.w }, t, name);
    if (v.k === "nint") {
      const r = this.b.vreg(v.w === 64 ? "i64" : "i32", name);
      this.b.mov(r, v.v);
      const ok = this.b.vreg(isImm(v.ok) ? "i64" : v.ok.ty, name ? name + ".ok" : undefined);
      this.b.mov(ok, v.ok);
      return { k: "nint", v: r, ok, w: v.w };
    }
    if (v.k === "ref" && t.kind === "nullable" && !isSlot(v.base)) {
      const r = this.b.vreg(v.base.ty, name);
      this.b.mov(r, v.base);
      return { k: "ref", base: r, off: v.off };
    }
    return v;
  }

  private fresh(t: Type): Value {
    if (isScalar(t)) {
      const w = widthOfType(t);
      const r = this.b.vreg(w === 64 ? "i64" : "i32");
      this.b.mov(r, 0n);
      return { k: "int", v: r, w };
    }
    const slot = this.b.slot(Math.max(1, sizeAlign(t).size), 8);
    this.b.zero(slot, 0, sizeAlign(t).size);
    return { k: "ref", base: slot, off: 0 };
  }

  private ret(s: ast.ReturnStmt): void {
    const r = this.frame.ret;
    if (!r) {
      const v = s.value ? this.use(s.value) : { k: "int" as const, v: 2n, w: 32 as Width };
      this.b.ret(this.scalar(v, s));
      return;
    }
    if (s.value && r.value) {
      const v = this.use(s.value);
      if (v.k === "int") this.b.mov(r.value, v.v);
      else if (v.k === "ref") this.b.mov(r.value, this.addrOf(v));
      // A nullable integer the checker has narrowed (`if (x === null) return 0; return x;`).
      else if (v.k === "nint" && r.type.kind !== "nullable") this.b.mov(r.value, v.v);
      else if (v.k === "nint")
        this.unsupported("returning a nullable integer from a function is not supported yet", s);
    } else if (s.value) this.expr(s.value);
    this.b.jmp(r.block);
  }

  private forStmt(s: ast.ForStmt): void {
    const bound = this.m.loops.get(s);
    if (!bound) this.invariant("unchecked loop", s);
    const ct = bound.counter.type;
    const w = widthOfType(ct);
    if (this.shouldUnroll(s, bound.counter.id, bound.tripCount)) {
      // Fully unrolled: the counter is a constant in each copy, so array indexing and
      // packet offsets become constant and the verifier walks straight-line code.
      const exit = this.b.block("endloop");
      for (let k = 0; k < bound.tripCount; k++) {
        const next = this.b.block("iter");
        const delta = BigInt(k) * bound.step;
        const value = BigInt.asUintN(w, bound.start + (bound.descending ? -delta : delta));
        this.frame.locals.set(bound.counter.id, { k: "int", v: value, w });
        this.loops.push({ brk: exit, cont: next });
        this.scoped(() => this.stmt(s.body));
        this.loops.pop();
        this.b.jmp(next);
        this.b.place(next);
      }
      this.b.jmp(exit);
      this.b.place(exit);
      return;
    }
    const i = this.b.vreg(w === 64 ? "i64" : "i32", bound.counter.name);
    this.b.mov(i, bound.start);
    this.frame.locals.set(bound.counter.id, { k: "int", v: i, w });
    const head = this.b.block("loop");
    const body = this.b.block("body");
    const step = this.b.block("step");
    const exit = this.b.block("endloop");
    this.b.jmp(head);
    this.b.place(head);
    const signed = intOf(ct)?.signed ?? false;
    const cc = bound.descending ? (signed ? "sgt" : "ugt") : signed ? "slt" : "ult";
    this.b.br(cc, w, i, bound.end, body, exit);
    this.b.place(body);
    this.loops.push({ brk: exit, cont: step });
    this.scoped(() => this.stmt(s.body));
    this.loops.pop();
    this.b.jmp(step);
    this.b.place(step);
    this.b.bin(bound.descending ? "sub" : "add", w, i, bound.step, i);
    this.b.jmp(head);
    this.b.place(exit);
  }

  /** Unroll small loops whose body never assigns the counter (≤ 16 trips, bounded code growth). */
  private shouldUnroll(s: ast.ForStmt, counter: number, trips: number): boolean {
    if (trips > 16) return false;
    let nodes = 0;
    let assigns = false;
    const walk = (n: unknown): void => {
      if (!n || typeof n !== "object" || assigns) return;
      if (Array.isArray(n)) return n.forEach(walk);
      const node = n as { kind?: string; target?: ast.Expr };
      if (typeof node.kind !== "string") return;
      nodes++;
      if ((node.kind === "Assign" || node.kind === "Update") && node.target?.kind === "Name") {
        const sym = this.m.names.get(node.target);
        if (sym && (sym.kind === "local" || sym.kind === "param") && sym.id === counter)
          assigns = true;
      }
      for (const [k, v] of Object.entries(n)) if (k !== "span") walk(v);
    };
    walk(s.body);
    return !assigns && nodes * trips <= 4000;
  }

  private switchStmt(s: ast.SwitchStmt): void {
    const d = this.use(s.discriminant);
    const w = d.k === "int" ? d.w : 32;
    const disc = this.b.vreg(w === 64 ? "i64" : "i32");
    this.b.mov(disc, this.scalar(d, s));
    const end = this.b.block("endswitch");
    const bodies = s.cases.map(() => this.b.block("case"));
    // Empty cases share the next non-empty body.
    const target = (k: number): Block => {
      let j = k;
      while (j < s.cases.length - 1 && s.cases[j]!.body.length === 0) j++;
      return bodies[j]!;
    };
    let dflt: Block = end;
    s.cases.forEach((c, k) => {
      if (!c.test) dflt = target(k);
    });
    s.cases.forEach((c, k) => {
      if (!c.test) return;
      const v = this.m.caseValues.get(c);
      if (v === undefined) this.invariant("unchecked case", c);
      const next = this.b.block("next");
      this.b.br("eq", w, disc, v, target(k), next);
      this.b.place(next);
    });
    this.b.jmp(dflt);
    this.loops.push({ brk: end, cont: null });
    s.cases.forEach((c, k) => {
      this.b.place(bodies[k]!);
      this.scoped(() => c.body.forEach((x) => this.stmt(x)));
      this.b.jmp(k + 1 < s.cases.length && c.body.length === 0 ? target(k + 1) : end);
    });
    this.loops.pop();
    this.b.place(end);
  }

  // ------------------------------------------------------------ conditions

  /** Branches on a condition without materialising it (short-circuit && || !). */
  private cond(e: ast.Expr, t: Block, f: Block): void {
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
  }

  /**
   * Branches on value truthiness as in TypeScript: an integer is true when non-zero, a
   * view when non-null, a nullable integer when non-null *and* non-zero (its value is 0
   * when null, so testing the value is both).
   */
  private test(v: Value, t: Block, f: Block, n: ast.Node): void {
    if (v.k === "int" || v.k === "nint") this.b.br("ne", v.w, v.v, 0n, t, f);
    else if (v.k === "ref") {
      if (isSlot(v.base)) this.b.jmp(t);
      else this.b.br("ne", 64, v.base, 0n, t, f);
    } else this.unsupported("void value used as a condition", n);
  }

  private compare(e: ast.Binary): { cc: Cond; w: Width; a: Operand; b: Operand } | null {
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
    const w: Width = a.k === "int" && a.w === 64 ? 64 : b.k === "int" && b.w === 64 ? 64 : 32;
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
  }

  /** A boolean value (0/1) from a condition, through a small diamond. */
  private condValue(e: ast.Expr): Value {
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
  }

  // ------------------------------------------------------------ expressions

  /** An expression's value converted as its use requires (check/result.ts conventions). */
  private use(e: ast.Expr): Value {
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
  }

  private convert(v: Value, from: Type, to: Type, n: ast.Node): Value {
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
  }
  private widenReg(o: Operand): Operand {
    if (isImm(o)) return o;
    const r = this.b.vreg("i64");
    this.b.mov(r, o);
    return r;
  }

  private scalar(v: Value, n: ast.Node): Operand {
    if (v.k === "int") return v.v;
    if (v.k === "nint") return v.v;
    this.unsupported("expected a scalar value", n);
  }

  private expr(e: ast.Expr): Value {
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
        const slot = this.b.slot(t.size, 8);
        this.storeInto({ base: slot, off: 0 }, t, e);
        return { k: "ref", base: slot, off: 0 };
      }
      case "StringLit":
      case "New":
      case "Unsupported":
        this.unsupported(`${e.kind} cannot be lowered here`, e);
    }
  }

  private name(e: ast.Name): Value {
    const sym = this.m.names.get(e);
    if (!sym) this.invariant(`unresolved name ${e.name}`, e);
    switch (sym.kind) {
      case "local":
      case "param": {
        const v = this.lookupLocal(sym.id);
        if (!v) this.unsupported(`${e.name} used before it is defined`, e);
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
  }

  private lookupLocal(id: number): Value | undefined {
    for (let k = this.frames.length - 1; k >= 0; k--) {
      const v = this.frames[k]!.locals.get(id);
      if (v) return v;
      // Inlined functions see only their own locals and parameters.
      if (this.frames[k]!.ret) break;
    }
    return undefined;
  }

  /** Loads an integer/bool of type t from memory, extended to its vreg representation. */
  private loadScalar(base: Base, off: number, t: Type): Value {
    const { size } = sizeAlign(t);
    const w = widthOfType(t);
    const r = this.b.load(SIZES[size]!, base, off, w === 64 ? "i64" : "i32");
    const it = intOf(t);
    if (it?.signed && it.bits < 32)
      return { k: "int", v: this.b.un(it.bits === 8 ? "sext8" : "sext16", 32, r), w: 32 };
    return { k: "int", v: r, w };
  }

  private storeScalar(base: Base, off: number, t: Type, v: Operand): void {
    const { size } = sizeAlign(t);
    this.b.store(SIZES[size]!, base, off, v);
  }

  /** Builds a value of type t at dest from expression e (struct literals in place). */
  private storeInto(dest: { base: Base; off: number }, t: Type, e: ast.Expr): void {
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
    const v = this.use(e);
    this.storeValue(dest, t, v, e);
  }

  private storeValue(dest: { base: Base; off: number }, t: Type, v: Value, n: ast.Node): void {
    if (isScalar(t)) return this.storeScalar(dest.base, dest.off, t, this.scalar(v, n));
    if (v.k !== "ref") this.unsupported("expected a struct value", n);
    this.b.copy(dest.base, dest.off, v.base, v.off, sizeAlign(t).size);
  }

  private addrOf(v: Value & { k: "ref" }): VReg {
    if (isSlot(v.base)) return this.b.addrOfSlot(v.base, v.off);
    return v.off === 0 ? v.base : this.b.ptrAdd(v.base, BigInt(v.off));
  }

  // ------------------------------------------------------------ members and indexing

  private member(e: ast.Member): Value {
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
        return this.contextField(tgt.name);
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
  }

  private ref(e: ast.Expr): { k: "ref"; base: Base; off: number } {
    const v = this.use(e);
    if (v.k !== "ref") this.unsupported("expected a struct, array or header", e);
    return v;
  }

  private contextField(name: "len" | "ifindex" | "rxQueue"): Value {
    if (name === "len") {
      const { data, end } = this.packet();
      const a = this.b.vreg("i64");
      this.b.mov(a, end);
      const d = this.b.vreg("i64");
      this.b.mov(d, data);
      return { k: "int", v: this.b.un("zext32", 32, this.b.bin("sub", 64, a, d)), w: 32 };
    }
    return { k: "int", v: this.b.load(4, this.ctx, name === "ifindex" ? 12 : 16), w: 32 };
  }

  /**
   * `inMemory`: a wire field of a struct on the stack or in a map value, where the
   * verifier wants each access aligned to its size (FibLookupParams.smac at 52).
   */
  private readHeaderField(
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
  }

  private writeHeaderField(
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
  }

  /** Element address of a FixedArray; a variable index is checked at run time (out of range → `oob`). */
  private element(e: ast.Index, oob: Block | null): { base: Base; off: number } {
    const arr = this.ref(e.object);
    const at = this.m.types.get(e.object);
    const t = at ? inner(at) : null;
    if (!t || t.kind !== "fixedArray") this.unsupported("indexing a non-array", e);
    const es = sizeAlign(t.elem).size;
    const c = this.m.constValues.get(e.index);
    if (c !== undefined) return { base: arr.base, off: arr.off + Number(c) * es };
    if (!oob) this.unsupported("variable index without a bounds path", e);
    const iv = this.use(e.index);
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
  }

  private index(e: ast.Index): Value {
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
  }

  // ------------------------------------------------------------ operators

  private unary(e: ast.Unary): Value {
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
  }

  /** Keeps the vreg representation of a sub-32-bit result (wrap at the type's width). */
  private narrow(v: Operand, t: Type): Operand {
    const it = intOf(t);
    if (!it || it.bits >= 32) return v;
    if (it.bits === 8) return this.b.un(it.signed ? "sext8" : "zext8", 32, v);
    return this.b.un(it.signed ? "sext16" : "zext16", 32, v);
  }

  private binary(e: ast.Binary): Value {
    if (e.op === "&&" || e.op === "||" || isComparison(e.op)) return this.condValue(e);
    const t = this.m.types.get(e)!;
    const it = intOf(t);
    const w = widthOfType(t);
    const a = this.scalar(this.use(e.left), e.left);
    const b = this.scalar(this.use(e.right), e.right);
    const signed = it?.signed ?? false;
    const op = binOp(e.op, signed);
    return { k: "int", v: this.narrow(this.b.bin(op, w, a, b), t), w };
  }

  private conditional(e: ast.Conditional): Value {
    const t = this.m.types.get(e)!;
    const tb = this.b.block("cthen");
    const fb = this.b.block("celse");
    const j = this.b.block("cjoin");
    this.cond(e.test, tb, fb);
    if (isScalar(t)) {
      const w = widthOfType(t);
      const r = this.b.vreg(w === 64 ? "i64" : "i32");
      this.b.place(tb);
      this.scoped(() => this.b.mov(r, this.scalar(this.use(e.then), e.then)));
      this.b.jmp(j);
      this.b.place(fb);
      this.scoped(() => this.b.mov(r, this.scalar(this.use(e.else), e.else)));
      this.b.jmp(j);
      this.b.place(j);
      return { k: "int", v: r, w };
    }
    const r = this.b.vreg("pkt");
    const arm = (x: ast.Expr) => {
      const v = this.use(x);
      if (v.k === "ref") this.b.mov(r, this.addrOf(v));
      else this.b.mov(r, 0n);
    };
    this.b.place(tb);
    this.scoped(() => arm(e.then));
    this.b.jmp(j);
    this.b.place(fb);
    this.scoped(() => arm(e.else));
    this.b.jmp(j);
    this.b.place(j);
    return { k: "ref", base: r, off: 0 };
  }

  // ------------------------------------------------------------ assignment

  private assign(e: ast.Assign): Value {
    const rhs = (cur: () => Value): Value => {
      if (e.op === "=") return this.use(e.value);
      const t = this.m.types.get(e)!;
      const w = widthOfType(t);
      const it = intOf(t);
      const a = this.scalar(cur(), e.target);
      const b = this.scalar(this.use(e.value), e.value);
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
    return this.writeTo(e.target, rhs, e);
  }

  private update(e: ast.Update): Value {
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
  }

  /** Assigns to a Name, struct/header field or array element; `value(cur)` computes the new value. */
  private writeTo(target: ast.Expr, value: (cur: () => Value) => Value, n: ast.Node): Value {
    const tt = this.m.types.get(target);
    if (target.kind === "Paren") return this.writeTo(target.expr, value, n);
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
        } else if (cur.k === "ref" && v.k === "ref") {
          if (isSlot(cur.base) && tt)
            this.b.copy(cur.base, cur.off, v.base, v.off, sizeAlign(inner(tt)).size);
          else if (!isSlot(cur.base)) this.b.mov(cur.base, this.addrOf(v));
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
        const v = value(() =>
          isScalar(t) ? this.loadScalar(a.base, a.off, t) : { k: "ref", ...a },
        );
        this.storeValue(a, t, v, n);
        return v;
      }
      const skip = this.b.block("oobw");
      const a = this.element(target, skip);
      const v = value(() => this.loadScalar(a.base, a.off, t));
      this.storeValue(a, t, v, n);
      this.b.jmp(skip); // an out-of-range write is skipped
      this.b.place(skip);
      return v;
    }
    this.unsupported("invalid assignment target", target);
  }

  // ------------------------------------------------------------ calls

  private call(e: ast.Call): Value {
    const tgt: CallTarget | undefined = this.m.calls.get(e);
    if (!tgt) this.invariant("unresolved call", e);
    switch (tgt.kind) {
      case "header": {
        const v = this.header(tgt.header);
        return { k: "ref", base: v, off: 0 };
      }
      case "load":
        return this.rawLoad(tgt.width, e);
      case "adjust": {
        const delta = this.scalar(this.use(e.args[0]!), e.args[0]!);
        const r = this.b.call(
          tgt.which === "head" ? H.adjustHead : H.adjustTail,
          [this.ctx, delta],
          "i64",
        )!;
        for (const m of this.memo) m.clear();
        return { k: "int", v: this.b.un("isZero", 64, r), w: 32 };
      }
      case "map": {
        const mark = this.takenArgSlots.length;
        const v = this.mapCall(tgt.method, tgt.map, e);
        for (const s of this.takenArgSlots.splice(mark)) {
          const free = this.freeArgSlots.get(s.size) ?? [];
          free.push(s);
          this.freeArgSlots.set(s.size, free);
        }
        return v;
      }
      case "helper":
        return this.helper(tgt.name, e);
      case "function":
        return this.inline(tgt.fn, e);
    }
  }

  private helper(name: string, e: ast.Call): Value {
    switch (name) {
      case "ktimeNs":
        return { k: "int", v: this.b.call(H.ktime, [], "i64")!, w: 64 };
      case "randomU32":
        return { k: "int", v: this.b.call(H.random, [], "i32")!, w: 32 };
      case "cpuId":
        return { k: "int", v: this.b.call(H.cpu, [], "i32")!, w: 32 };
      case "redirect": {
        const ifindex = this.scalar(this.use(e.args[0]!), e);
        return { k: "int", v: this.b.call(H.redirect, [ifindex, 0n], "i32")!, w: 32 };
      }
      case "atomicAdd": {
        const target = e.args[0]!;
        const gsym = target.kind === "Name" ? this.m.names.get(target) : undefined;
        if (gsym?.kind === "global") {
          const size = sizeAlign(gsym.info.type).size;
          const n = this.scalar(this.use(e.args[1]!), e.args[1]!);
          const p = this.b.addrOfGlobal(gsym.info.name, 0);
          if (size === 4 || size === 8) this.b.atomicAdd(size, p, 0, n);
          else
            this.storeScalar(
              p,
              0,
              gsym.info.type,
              this.b.bin("add", 32, this.scalar(this.loadScalar(p, 0, gsym.info.type), e), n),
            );
          return { k: "void" };
        }
        if (target.kind !== "Member")
          this.unsupported("atomicAdd needs a struct field or a global", target);
        const tgt = this.m.members.get(target);
        if (tgt?.kind !== "structField") this.unsupported("atomicAdd needs a struct field", target);
        const obj = this.ref(target.object);
        const size = sizeAlign(tgt.field.type).size;
        const n = this.scalar(this.use(e.args[1]!), e.args[1]!);
        if (size === 4 || size === 8)
          this.b.atomicAdd(size, obj.base, obj.off + tgt.field.offset, n);
        else {
          const cur = this.loadScalar(obj.base, obj.off + tgt.field.offset, tgt.field.type);
          this.storeScalar(
            obj.base,
            obj.off + tgt.field.offset,
            tgt.field.type,
            this.b.bin("add", 32, this.scalar(cur, e), n),
          );
        }
        return { k: "void" };
      }
      case "trace": {
        const fmt = e.args[0];
        if (fmt?.kind !== "StringLit") this.unsupported("trace needs a format string", e);
        const bytes = [...new TextEncoder().encode(fmt.value), 0];
        const slot = this.b.slot(bytes.length, 8, "fmt");
        for (let k = 0; k < bytes.length; k += 8) {
          const n = Math.min(8, bytes.length - k);
          let done = 0;
          // Aligned pieces of 8/4/2/1 bytes (stack stores must be aligned).
          for (const sz of [8, 4, 2, 1] as const) {
            while (n - done >= sz) {
              let v = 0n;
              for (let j = sz - 1; j >= 0; j--) v = (v << 8n) | BigInt(bytes[k + done + j]!);
              this.b.store(sz, slot, k + done, v);
              done += sz;
            }
          }
        }
        const args = e.args.slice(1).map((a) => {
          const v = this.use(a);
          return this.scalar(v, a);
        });
        this.b.call(H.trace, [{ slot, off: 0 }, BigInt(bytes.length), ...args], null);
        return { k: "void" };
      }
      case "zeroed": {
        const t = this.m.types.get(e);
        const size = t ? sizeAlign(t).size : 0;
        const slot = this.b.slot(Math.max(1, size), 8);
        this.b.zero(slot, 0, size);
        return { k: "ref", base: slot, off: 0 };
      }
      case "fibLookup": {
        const pt = this.m.types.get(e.args[1]!);
        const params = this.use(e.args[1]!);
        if (params.k !== "ref" || !pt)
          this.unsupported("fibLookup needs a FibLookupParams value", e);
        const mem = this.inMemory(params, pt, e, "fib");
        const flags = e.args[2] ? this.scalar(this.use(e.args[2]), e) : 0n;
        return {
          k: "int",
          v: this.b.call(H.fibLookup, [this.ctx, mem, BigInt(sizeAlign(pt).size), flags], "i32")!,
          w: 32,
        };
      }
      default:
        this.unsupported(`helper ${name} is not supported by the eBPF backend yet`, e);
    }
  }

  /** A stack slot for one map call's argument (see freeArgSlots). */
  private argSlot(size: number, name: string): Slot {
    const s = this.freeArgSlots.get(size)?.pop() ?? this.b.slot(size, 8, name);
    this.takenArgSlots.push(s);
    return s;
  }

  /** Puts a key/value in memory the helper may read: a stack slot (copying when needed). */
  private inMemory(
    v: Value,
    t: Type,
    n: ast.Node,
    name: string,
  ): { slot: Slot; off: number } | VReg {
    if (v.k === "ref") {
      if (isSlot(v.base)) return { slot: v.base, off: v.off };
      if (v.base.ty === "mapValue" || v.base.ty === "stack")
        return v.off === 0 ? v.base : this.b.ptrAdd(v.base, BigInt(v.off));
      const size = sizeAlign(t).size;
      const s = this.argSlot(size, name);
      this.b.copy(s, 0, v.base, v.off, size);
      return { slot: s, off: 0 };
    }
    const { size } = sizeAlign(t);
    const s = this.argSlot(size, name);
    this.storeScalar(s, 0, t, this.scalar(v, n));
    return { slot: s, off: 0 };
  }

  /** The key argument of a map call: LpmTrie keys get their integer fields after prefixlen in network order. */
  private key(map: MapInfo, e: ast.Expr, n: ast.Node): { slot: Slot; off: number } | VReg {
    const keyT = map.key!;
    if (map.kind !== "LpmTrie" || keyT.kind !== "struct")
      return this.inMemory(this.use(e), keyT, n, "key");
    const slot = this.argSlot(keyT.size, "lpmkey");
    if (e.kind === "ObjectLit") this.storeInto({ base: slot, off: 0 }, keyT, e);
    else this.storeValue({ base: slot, off: 0 }, keyT, this.use(e), n);
    for (const f of keyT.fields.slice(1)) {
      const it = intOf(f.type);
      if (!it || it.bits === 8) continue;
      const size = SIZES[it.bits / 8]!;
      const x = this.b.load(size, slot, f.offset, it.bits === 64 ? "i64" : "i32");
      const w: Width = it.bits === 64 ? 64 : 32;
      this.b.store(
        size,
        slot,
        f.offset,
        this.b.un(it.bits === 16 ? "be16" : it.bits === 32 ? "be32" : "be64", w, x),
      );
    }
    return { slot, off: 0 };
  }

  private mapCall(method: string, map: MapInfo, e: ast.Call): Value {
    const mapArg = { map: map.name };
    const keyT = map.key;
    switch (method) {
      case "lookup": {
        const key = this.key(map, e.args[0]!, e);
        const p = this.b.call(H.lookup, [mapArg, key], "mapValue")!;
        if (!isScalar(map.value)) return { k: "ref", base: p, off: 0 };
        // An integer value is copied out: 0 with ok = null on a miss.
        const w = widthOfType(map.value);
        const r = this.b.vreg(w === 64 ? "i64" : "i32");
        const hit = this.b.block("hit");
        const miss = this.b.block("miss");
        const j = this.b.block("lookupjoin");
        this.b.br("ne", 64, p, 0n, hit, miss);
        this.b.place(hit);
        this.b.mov(r, this.scalar(this.loadScalar(p, 0, map.value), e));
        this.b.jmp(j);
        this.b.place(miss);
        this.b.mov(r, 0n);
        this.b.jmp(j);
        this.b.place(j);
        return { k: "nint", v: r, ok: p, w };
      }
      case "update": {
        const key = this.key(map, e.args[0]!, e);
        const val = this.inMemory(this.use(e.args[1]!), map.value, e, "value");
        const flags = e.args[2] ? this.scalar(this.use(e.args[2]), e) : 0n;
        const r = this.b.call(H.update, [mapArg, key, val, flags], "i64")!;
        return { k: "int", v: this.b.un("isZero", 64, r), w: 32 };
      }
      case "delete": {
        const key = this.key(map, e.args[0]!, e);
        const r = this.b.call(H.delete, [mapArg, key], "i64")!;
        return { k: "int", v: this.b.un("isZero", 64, r), w: 32 };
      }
      case "increment":
        this.increment(map, e);
        return { k: "void" };
      case "output": {
        const t = map.value;
        const rec = this.inMemory(this.use(e.args[0]!), t, e, "record");
        const r = this.b.call(
          H.ringbufOutput,
          [mapArg, rec, BigInt(sizeAlign(t).size), 0n],
          "i64",
        )!;
        return { k: "int", v: this.b.un("isZero", 64, r), w: 32 };
      }
      case "redirect": {
        const key = this.scalar(this.use(e.args[0]!), e);
        const fallback = e.args[1] ? this.scalar(this.use(e.args[1]), e) : 0n;
        return { k: "int", v: this.b.call(H.redirectMap, [mapArg, key, fallback], "i32")!, w: 32 };
      }
      default:
        this.unsupported(`map method ${method} is not supported`, e);
    }
  }

  private increment(map: MapInfo, e: ast.Call): void {
    const key = this.key(map, e.args[0]!, e);
    const vt = map.value;
    const size = sizeAlign(vt).size;
    const w = widthOfType(vt);
    let by: Operand = e.args[1] ? this.scalar(this.use(e.args[1]), e) : 1n;
    if (w === 32 && !isImm(by) && by.ty === "i64") by = this.b.un("zext32", 32, by);
    const perCpu =
      map.kind === "PerCpuArray" || map.kind === "PerCpuHash" || map.kind === "LruPerCpuHash";
    const hash = map.kind !== "ArrayMap" && map.kind !== "PerCpuArray";
    const p = this.b.call(H.lookup, [{ map: map.name }, key], "mapValue")!;
    const hit = this.b.block("inc");
    const miss = this.b.block("incmiss");
    const done = this.b.block("incdone");
    this.b.br("ne", 64, p, 0n, hit, hash ? miss : done);
    this.b.place(hit);
    this.addTo(p, size, w, by, perCpu);
    this.b.jmp(done);
    if (hash) {
      this.b.place(miss);
      const val = this.argSlot(size, "init");
      this.b.store(SIZES[size]!, val, 0, by);
      const r = this.b.call(
        H.update,
        [{ map: map.name }, key, { slot: val, off: 0 }, BPF_NOEXIST],
        "i64",
      )!;
      // Lost a race with another CPU inserting the key: add to its entry instead.
      const raced = this.b.block("incrace");
      this.b.br("ne", 64, r, 0n, raced, done);
      this.b.place(raced);
      const p2 = this.b.call(H.lookup, [{ map: map.name }, key], "mapValue")!;
      const hit2 = this.b.block("inc2");
      this.b.br("ne", 64, p2, 0n, hit2, done);
      this.b.place(hit2);
      this.addTo(p2, size, w, by, perCpu);
      this.b.jmp(done);
    }
    this.b.place(done);
  }

  private addTo(p: VReg, size: number, w: Width, by: Operand, perCpu: boolean): void {
    if (!perCpu && (size === 4 || size === 8)) {
      this.b.atomicAdd(size, p, 0, by);
      return;
    }
    const cur = this.b.load(SIZES[size]!, p, 0, w === 64 ? "i64" : "i32");
    this.b.store(SIZES[size]!, p, 0, this.b.bin("add", w, cur, by));
  }

  private inline(fn: FunctionInfo, e: ast.Call): Value {
    const locals = new Map<number, Value>();
    fn.params.forEach((p, k) => {
      const a = e.args[k];
      if (!a) return;
      locals.set(p.id, this.bindCopy(this.use(a), p.type, p.name));
    });
    // Counted only around the body: arguments (`h(h(x))`) are lowered before, at the
    // caller's depth. The checker rejects recursion; this only bounds call chains.
    if (++this.inlineDepth > 32) this.unsupported("functions nest too deeply to inline", e);
    const rt = fn.returnType;
    const retBlock = this.b.block(`ret.${fn.name}`);
    let value: VReg | null = null;
    if (isScalar(rt)) value = this.b.vreg(widthOfType(rt) === 64 ? "i64" : "i32", fn.name);
    else if (rt.kind !== "void") value = this.b.vreg("pkt", fn.name);
    if (value) this.b.mov(value, 0n);
    this.frames.push({ ret: { block: retBlock, value, type: rt }, locals });
    const savedLoops = this.loops;
    this.loops = [];
    this.scoped(() => this.block(fn.decl.body));
    this.loops = savedLoops;
    this.frames.pop();
    this.b.jmp(retBlock);
    this.b.place(retBlock);
    this.inlineDepth--;
    if (!value) return { k: "void" };
    if (isScalar(rt)) return { k: "int", v: value, w: widthOfType(rt) };
    return { k: "ref", base: value, off: 0 };
  }

  // ------------------------------------------------------------ packet access

  /** data and data_end for the current point (memoised per scope). */
  private packet(): { data: VReg; end: VReg } {
    let data = this.memoGet("data");
    let end = this.memoGet("end");
    if (!data || !end) {
      data = this.b.load(4, this.ctx, 0, "pkt");
      end = this.b.load(4, this.ctx, 4, "pktEnd");
      this.memoSet("data", data);
      this.memoSet("end", end);
    }
    return { data, end };
  }

  private rawLoad(width: 1 | 2 | 4, e: ast.Call): Value {
    const off = this.scalar(this.use(e.args[0]!), e);
    const { data, end } = this.packet();
    const r = this.b.vreg("i32");
    const ok = this.b.vreg("i64");
    const fail = this.b.block("loadfail");
    const inr = this.b.block("loadoff");
    const good = this.b.block("loadok");
    const j = this.b.block("loadjoin");
    const o64 = this.b.vreg("i64");
    this.b.mov(o64, off);
    // The verifier needs a bounded offset before it adds it to a packet pointer, and it
    // only trusts the guard below when offset + width stays within 0xffff (MAX_PACKET_OFF);
    // no frame is that long, so a larger offset is out of bounds anyway.
    this.b.br("ugt", 64, o64, BigInt(0xffff - width), fail, inr);
    this.b.place(inr);
    const p = this.b.ptrAdd(data, o64);
    this.b.guard(p, width, end, good, fail);
    this.b.place(good);
    let v: Operand = this.b.load(width, p, 0);
    if (width === 2) v = this.b.un("be16", 32, v);
    if (width === 4) v = this.b.un("be32", 32, v);
    this.b.mov(r, v);
    this.b.mov(ok, 1n);
    this.b.jmp(j);
    this.b.place(fail);
    this.b.mov(r, 0n);
    this.b.mov(ok, 0n);
    this.b.jmp(j);
    this.b.place(j);
    return { k: "nint", v: r, ok, w: 32 };
  }

  /**
   * A header view pointer: the header's start in packet data, or 0 when the
   * packet is not that protocol or too short (LANGUAGE.md §5).
   */
  private header(h: HeaderKind): VReg {
    if (this.memoEnabled || this.accessorDepth > 0) return this.headerAt(h);
    // Without the memo (the function adjusts the packet), one accessor must still derive
    // all its headers from one load of data: a reloaded data pointer has no verified range.
    this.accessorDepth++;
    this.memo.push(new Map());
    try {
      return this.headerAt(h);
    } finally {
      this.memo.pop();
      this.accessorDepth--;
    }
  }

  private headerAt(h: HeaderKind): VReg {
    const known = this.memoGet(h);
    if (known) return known;
    const view = this.b.vreg("pkt", h);
    const fail = this.b.block(`no${h}`);
    const join = this.b.block(`${h}done`);
    const { data, end } = this.packet();
    const finish = (p: VReg, n: number) => {
      const ok = this.b.block(`${h}ok`);
      this.b.guard(p, n, end, ok, fail);
      this.b.place(ok);
      this.b.mov(view, p);
      this.b.jmp(join);
    };
    const onNull = (v: VReg, notNull: Block) => this.b.br("eq", 64, v, 0n, fail, notNull);
    switch (h) {
      case "eth":
        finish(data, 14);
        break;
      case "vlan": {
        const eth = this.header("eth");
        const a = this.b.block("vlaneth");
        onNull(eth, a);
        this.b.place(a);
        const proto = this.b.un("be16", 32, this.b.load(2, eth, 12));
        const isTag = this.b.block("vlantag");
        const other = this.b.block("vlanother");
        this.b.br("eq", 32, proto, VLAN_TPIDS[0]!, isTag, other);
        this.b.place(other);
        this.b.br("eq", 32, proto, VLAN_TPIDS[1]!, isTag, fail);
        this.b.place(isTag);
        finish(this.b.ptrAdd(data, 14n), 4);
        break;
      }
      case "ipv4":
      case "ipv6": {
        const l3 = this.l3();
        const a = this.b.block(`${h}et`);
        this.b.br("eq", 32, l3.ethertype, h === "ipv4" ? 0x0800n : 0x86ddn, a, fail);
        this.b.place(a);
        const p = this.b.ptrAdd(data, l3.off);
        const g = this.b.block(`${h}hdr`);
        this.b.guard(p, h === "ipv4" ? 20 : 40, end, g, fail);
        this.b.place(g);
        const b0 = this.b.load(1, p, 0);
        const ver = this.b.bin("lshr", 32, b0, 4n);
        const vok = this.b.block(`${h}ver`);
        this.b.br("eq", 32, ver, h === "ipv4" ? 4n : 6n, vok, fail);
        this.b.place(vok);
        if (h === "ipv4") {
          const ihl = this.b.bin("and", 32, b0, 0x0fn);
          const ihlok = this.b.block("ihlok");
          this.b.br("uge", 32, ihl, 5n, ihlok, fail);
          this.b.place(ihlok);
          const hl = this.b.bin("shl", 32, ihl, 2n);
          const q = this.b.ptrAdd(p, hl);
          this.memoSet("ipv4.hl", hl);
          finish2(this.b, q, end, fail, () => {
            this.b.mov(view, p);
            this.b.jmp(join);
          });
        } else {
          this.b.mov(view, p);
          this.b.jmp(join);
        }
        break;
      }
      case "tcp":
      case "udp":
      case "icmp":
      case "icmp6": {
        const proto = { tcp: 6n, udp: 17n, icmp: 1n, icmp6: 58n }[h];
        const size = h === "tcp" ? 20 : 8;
        const viaV6 = this.b.block(`${h}v6`);
        // Both IP views are computed up front so that their memo entries dominate what
        // follows (a later udp() after tcp() reuses them); for an IPv4 packet the IPv6
        // attempt costs one EtherType compare.
        const ip6 = h === "icmp" ? null : this.header("ipv6");
        if (h !== "icmp6") {
          const ip = this.header("ipv4");
          const hl = this.memoGet("ipv4.hl") ?? this.ipv4HeaderLength(ip);
          const a = this.b.block(`${h}v4`);
          this.b.br("eq", 64, ip, 0n, h === "icmp" ? fail : viaV6, a);
          this.b.place(a);
          const pr = this.b.load(1, ip, 9);
          const b2 = this.b.block(`${h}proto4`);
          // An IPv4 packet of another protocol is not IPv6 either.
          this.b.br("eq", 32, pr, proto, b2, fail);
          this.b.place(b2);
          const frag = this.b.bin("and", 32, this.b.un("be16", 32, this.b.load(2, ip, 6)), 0x1fffn);
          const b3 = this.b.block(`${h}nofrag`);
          this.b.br("eq", 32, frag, 0n, b3, fail);
          this.b.place(b3);
          finish(this.b.ptrAdd(ip, hl), size);
        } else this.b.jmp(viaV6);
        this.b.place(viaV6);
        if (h === "icmp") {
          this.b.jmp(fail);
          break;
        }
        const c = this.b.block(`${h}v6hdr`);
        onNull(ip6!, c);
        this.b.place(c);
        const nh = this.b.load(1, ip6!, 6);
        const d = this.b.block(`${h}proto6`);
        this.b.br("eq", 32, nh, proto, d, fail);
        this.b.place(d);
        finish(this.b.ptrAdd(ip6!, 40n), size);
        break;
      }
    }
    this.b.place(fail);
    this.b.mov(view, 0n);
    this.b.jmp(join);
    this.b.place(join);
    this.memoSet(h, view);
    return view;
  }

  /**
   * A store to a field that an accessor's parse reads (EtherType, the tag's EtherType,
   * protocol / next header, fragment fields) voids the memoised parses that read it, in
   * every scope: a later accessor parses the packet again (§5 rules on its bytes now).
   */
  private forgetParsesOf(h: HeaderKind, field: string): void {
    const l4 = ["tcp", "udp", "icmp", "icmp6"];
    const keys =
      (h === "eth" && field === "proto") || (h === "vlan" && field === "proto")
        ? ["vlan", "l3.et", "l3.off", "ipv4", "ipv6", "ipv4.hl", ...l4]
        : h === "ipv4" && ["protocol", "flags", "fragmentOffset"].includes(field)
          ? l4
          : h === "ipv6" && field === "nextHeader"
            ? l4
            : [];
    for (const m of this.memo) for (const k of keys) m.delete(k);
  }

  /** ihl × 4 of a non-null ipv4 view (recomputed when the memo does not have it). */
  private ipv4HeaderLength(ip: VReg): VReg {
    const r = this.b.vreg("i32", "hl");
    const a = this.b.block("hlv4");
    const z = this.b.block("hlnull");
    const j = this.b.block("hljoin");
    this.b.br("ne", 64, ip, 0n, a, z);
    this.b.place(a);
    this.b.bin("shl", 32, this.b.bin("and", 32, this.b.load(1, ip, 0), 0xfn), 2n, r);
    this.b.jmp(j);
    this.b.place(z);
    this.b.mov(r, 0n);
    this.b.jmp(j);
    this.b.place(j);
    return r;
  }

  /** EtherType after up to two VLAN tags and the L3 offset (memoised; eth must be present). */
  private l3(): { ethertype: VReg; off: VReg; fail: Block } {
    const et0 = this.memoGet("l3.et");
    const off0 = this.memoGet("l3.off");
    if (et0 && off0) return { ethertype: et0, off: off0, fail: this.b.block("unused") };
    const et = this.b.vreg("i32", "ethertype");
    const off = this.b.vreg("i64", "l3off");
    const done = this.b.block("l3done");
    const eth = this.header("eth");
    const { data, end } = this.packet();
    const a = this.b.block("l3eth");
    const none = this.b.block("l3none");
    this.b.br("eq", 64, eth, 0n, none, a);
    this.b.place(a);
    this.b.un("be16", 32, this.b.load(2, data, 12), et);
    this.b.mov(off, 14n);
    for (let tag = 0; tag < 2; tag++) {
      const isTag = this.b.block("l3tag");
      const other = this.b.block("l3tpid");
      this.b.br("eq", 32, et, VLAN_TPIDS[0]!, isTag, other);
      this.b.place(other);
      this.b.br("eq", 32, et, VLAN_TPIDS[1]!, isTag, done);
      this.b.place(isTag);
      const present = this.b.block("l3tagok");
      this.b.guard(data, 18 + 4 * tag, end, present, none);
      this.b.place(present);
      this.b.un("be16", 32, this.b.load(2, data, 16 + 4 * tag), et);
      this.b.mov(off, BigInt(18 + 4 * tag));
    }
    this.b.jmp(done);
    this.b.place(none);
    // Not Ethernet or a truncated tag: an EtherType no accessor matches.
    this.b.mov(et, 0n);
    this.b.mov(off, 14n);
    this.b.jmp(done);
    this.b.place(done);
    this.memoSet("l3.et", et);
    this.memoSet("l3.off", off);
    return { ethertype: et, off, fail: none };
  }
}

/** `q <= end` for a pointer at a variable offset (the ihl×4 bytes rule), then `then()`. */
function finish2(b: Builder, q: VReg, end: VReg, fail: Block, then: () => void): void {
  const ok = b.block("hlok");
  b.guard(q, 0, end, ok, fail);
  b.place(ok);
  then();
}

function isComparison(op: ast.BinaryOp): boolean {
  return ["==", "!=", "===", "!==", "<", "<=", ">", ">="].includes(op);
}

function binOp(op: ast.BinaryOp, signed: boolean): import("./ir.ts").BinOp {
  switch (op) {
    case "+":
      return "add";
    case "-":
      return "sub";
    case "*":
      return "mul";
    case "/":
      return signed ? "sdiv" : "udiv";
    case "%":
      return signed ? "smod" : "umod";
    case "<<":
      return "shl";
    case ">>":
      return signed ? "ashr" : "lshr";
    case ">>>":
      return "lshr";
    case "&":
      return "and";
    case "|":
      return "or";
    case "^":
      return "xor";
    default:
      throw new Error(`not an arithmetic operator: ${op}`);
  }
}

/** The .rodata variable name of a load-time parameter: its key when it is a C identifier. */
export function paramSymbol(p: { name: string; key: string }): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(p.key) ? p.key : p.name;
}

export type { StructType };
