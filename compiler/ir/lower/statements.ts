// Lowering: statements (methods of Lowerer; lowerer.ts holds its state).
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
import { walk } from "../../check/walk.ts";

declare module "./lowerer.ts" {
  interface Lowerer {
    block(b: ast.Block): void;
    stmt(s: ast.Stmt): void;
    varDecl(s: ast.VarDecl): void;
    bindCopy(v: Value, t: Type, name?: string): Value;
    fresh(t: Type): Value;
    ret(s: ast.ReturnStmt): void;
    forStmt(s: ast.ForStmt): void;
    shouldUnroll(s: ast.ForStmt, counter: number, trips: number): boolean;
    hideLoopResults(s: ast.ForStmt, counter: number): void;
    hasBoundedLoop(): boolean;
    keepsView(v: Value, bound: Value): void;
    inlinedSize(fn: FunctionInfo): number;
    switchStmt(s: ast.SwitchStmt): void;
  }
}

Lowerer.prototype.block = function (this: Lowerer, b: ast.Block): void {
  for (const s of b.body) this.stmt(s);
};

Lowerer.prototype.stmt = function (this: Lowerer, s: ast.Stmt): void {
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
};

Lowerer.prototype.varDecl = function (this: Lowerer, s: ast.VarDecl): void {
  const sym = this.m.locals.get(s);
  if (!sym) this.invariant(`unchecked declaration ${s.name.name}`, s);
  const t = sym.type;
  if (!s.init) {
    this.frame.locals.set(sym.id, this.fresh(t));
    return;
  }
  if (t.kind === "struct" || t.kind === "fixedArray") {
    // A struct value: a literal builds it in place; otherwise the local is a reference.
    if (s.init.kind === "ObjectLit" || s.init.kind === "ArrayLit" || sym.mutable) {
      const slot = this.scopeSlot(sizeAlign(t).size, sym.name);
      this.storeInto({ base: slot, off: 0 }, t, s.init);
      this.frame.locals.set(sym.id, { k: "ref", base: slot, off: 0 });
      return;
    }
  }
  const v = this.use(s.init);
  const bound = this.bindCopy(v, t, sym.name);
  this.frame.locals.set(sym.id, bound);
  if (!sym.mutable) this.keepsView(v, bound);
};

/**
 * A `const` local (or a parameter nothing assigns) bound to a header view with a known
 * offset from data: its own copy of the view can be re-derived the same way.
 */
Lowerer.prototype.keepsView = function (this: Lowerer, v: Value, bound: Value): void {
  if (v.k !== "ref" || bound.k !== "ref" || isSlot(v.base) || isSlot(bound.base)) return;
  const info = this.viewOffsets.get(v.base);
  if (info) this.viewOffsets.set(bound.base, info);
};

/** A local's own storage: scalars get their own vreg (assignments mutate it). */
Lowerer.prototype.bindCopy = function (this: Lowerer, v: Value, t: Type, name?: string): Value {
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
};

Lowerer.prototype.fresh = function (this: Lowerer, t: Type): Value {
  if (isScalar(t)) {
    const w = widthOfType(t);
    const r = this.b.vreg(w === 64 ? "i64" : "i32");
    this.b.mov(r, 0n);
    return { k: "int", v: r, w };
  }
  const slot = this.b.slot(Math.max(1, sizeAlign(t).size), 8);
  this.b.zero(slot, 0, sizeAlign(t).size);
  return { k: "ref", base: slot, off: 0 };
};

Lowerer.prototype.ret = function (this: Lowerer, s: ast.ReturnStmt): void {
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
};

Lowerer.prototype.forStmt = function (this: Lowerer, s: ast.ForStmt): void {
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
  const i: VReg = {
    ...this.b.vreg(w === 64 ? "i64" : "i32", bound.counter.name),
    trips: bound.tripCount,
  };
  this.b.mov(i, bound.start);
  this.frame.locals.set(bound.counter.id, { k: "int", v: i, w });
  this.forgetParsesIn(s.body);
  // The views that locals hold are re-derived at each use from here on, in the body
  // from its own data, after the loop from a fresh one: only their offsets from data,
  // scalars, live around the loop (fuzz seeds 60707, 62963; rule 4).
  for (const f of this.frames)
    for (const v of f.locals.values())
      if (v.k === "ref" && !isSlot(v.base) && this.viewOffsets.has(v.base))
        this.deferredViews.add(v.base);
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
  this.scoped(() => {
    // The body loads data and data_end afresh: a packet pointer live around the loop
    // would carry the ranges each trip's checks proved into the loop head's state, and
    // states that differ only in them never prune each other (campaign seed 12014).
    // Its parses start over too: they derive from data, which the outer ones checked
    // through the old pointer only (seed 24370: EtherType read at off=12 with r=0).
    this.memoHide(this.memo.flatMap((m) => [...m.keys()]).concat("data", "end"));
    this.stmt(s.body);
  });
  this.loops.pop();
  this.b.jmp(step);
  this.b.place(step);
  this.b.bin(bound.descending ? "sub" : "add", w, i, bound.step, i);
  this.b.jmp(head);
  this.b.place(exit);
  this.hideLoopResults(s, bound.counter.id);
  // So does the code after the loop: data loaded before it and used after would live
  // around it, and every packet pointer loaded from ctx shares one verifier id, so each
  // trip's checks on the body's own data would widen its range in the loop head's state
  // all the same (campaign seed 37099: fp-24=pkt(r=20) vs pkt(r=76), 1M processed).
  // Its parses start over from the fresh pointers too: a parse kept from before the loop
  // was checked through the old data only, and the L3 walk reads the EtherType at
  // data + 12 on the strength of the memoised eth parse (seed 50574: off=12 with r=0).
  // Past the scopes the loop is in as well: a `ctx.len` after the `if` around it read
  // the data loaded before the `if` (fuzz seed 58163: fp-56=pkt(r=62) in one state of
  // the inner loop's head, r=0 in another).
  this.memoHideAll();
};

/**
 * Where a bounded loop ends, each integer local its body assigns (the counter aside) is
 * read back from 4 bytes of a stack slot that no 8-byte spill covers, which the verifier
 * sees as an unknown (as rule 4 does with a view's offset). Such a local may be exact on
 * every path out, one value per way through the trips (fuzz seed 121582: counted down
 * on the trips that parse IPv6); a branch after the loop that the verifier decides on it
 * marks it precise, back into the loop, and the loop head's states, one per count, no
 * longer prune each other. Unknown after the loop, nothing decides on it there.
 */
Lowerer.prototype.hideLoopResults = function (
  this: Lowerer,
  s: ast.ForStmt,
  counter: number,
): void {
  const assigned = new Set<number>();
  walk(s.body, (n) => {
    if ((n.kind === "Assign" || n.kind === "Update") && n.target.kind === "Name") {
      const sym = this.m.names.get(n.target);
      if (sym && (sym.kind === "local" || sym.kind === "param") && sym.id !== counter)
        assigned.add(sym.id);
    }
  });
  for (const id of assigned) {
    const v = this.frame.locals.get(id);
    if (v?.k !== "int" || isImm(v.v)) continue;
    const r = v.v;
    const slot = this.b.slot(v.w === 64 ? 16 : 8, 8, r.name && `${r.name}.hid`);
    slot.hides = r;
    this.b.store(4, slot, 4, r);
    if (v.w === 32) {
      this.b.load(4, slot, 4, r.ty, r);
      continue;
    }
    // The high half is read from bytes 4–7 of an 8-byte spill of r: a narrower fill the
    // verifier tracks only from a spill's first byte. Not from a 4-byte store of r >> 32:
    // a register the verifier knows is 0 stored to the stack is marked precise.
    this.b.store(8, slot, 8, r);
    const hi = this.b.bin("shl", 64, this.b.load(4, slot, 12, "i64"), 32n);
    this.b.bin("or", 64, this.b.load(4, slot, 4, "i64"), hi, r);
  }
};

/** Whether the function, with the functions it inlines, has a loop not unrolled. */
Lowerer.prototype.hasBoundedLoop = function (this: Lowerer): boolean {
  if (this.boundedLoop !== undefined) return this.boundedLoop;
  let found = false;
  const seen = new Set<ast.Node>();
  const scan = (root: ast.Node) =>
    walk(root, (n) => {
      if (found) return false;
      if (n.kind === "ForStmt") {
        const bound = this.m.loops.get(n);
        if (bound && !this.shouldUnroll(n, bound.counter.id, bound.tripCount)) found = true;
      } else if (n.kind === "Call") {
        const tgt = this.m.calls.get(n);
        if (tgt?.kind === "function" && !seen.has(tgt.fn.decl)) {
          seen.add(tgt.fn.decl);
          scan(tgt.fn.decl.body);
        }
      }
    });
  scan(this.fn.decl.body);
  this.boundedLoop = found;
  return found;
};

/** Unroll small loops whose body never assigns the counter (≤ 16 trips, bounded code growth). */
Lowerer.prototype.shouldUnroll = function (
  this: Lowerer,
  s: ast.ForStmt,
  counter: number,
  trips: number,
): boolean {
  if (trips > 16) return false;
  let nodes = 0;
  let assigns = false;
  // A nested loop counts its trips over: unrolled too, it is that many bodies (a 12-trip
  // loop around an 11-trip one was 132 copies, and 20k instructions that took 8 s).
  const walk = (n: unknown, weight: number): void => {
    if (!n || typeof n !== "object" || assigns) return;
    if (Array.isArray(n)) return n.forEach((x) => walk(x, weight));
    const node = n as { kind?: string; target?: ast.Expr };
    if (typeof node.kind !== "string") return;
    nodes += weight;
    const call = node.kind === "Call" ? this.m.calls.get(n as ast.Call) : undefined;
    if (call?.kind === "function") nodes += weight * this.inlinedSize(call.fn);
    if ((node.kind === "Assign" || node.kind === "Update") && node.target?.kind === "Name") {
      const sym = this.m.names.get(node.target);
      if (sym && (sym.kind === "local" || sym.kind === "param") && sym.id === counter)
        assigns = true;
    }
    const inner = node.kind === "ForStmt" ? this.m.loops.get(n as ast.ForStmt) : undefined;
    const w = inner ? weight * Math.max(1, inner.tripCount) : weight;
    for (const [k, v] of Object.entries(n)) if (k !== "span") walk(v, k === "body" ? w : weight);
  };
  walk(s.body, 1);
  return !assigns && nodes * trips <= 4000;
};

/**
 * A user function's size as the unroller counts it: its nodes, nested loops counted
 * per trip and its own calls by their callees' sizes (memoized; the checker refuses
 * recursion). A call is inlined, so a loop around one grows by the callee each trip:
 * an 11-trip loop calling twice a helper with an 8-trip loop of header parses was 176
 * parses, over 32k instructions, more than an eBPF jump reaches (fuzz seed 70046).
 */
Lowerer.prototype.inlinedSize = function (this: Lowerer, fn: FunctionInfo): number {
  const known = this.fnSizes.get(fn);
  if (known !== undefined) return known;
  this.fnSizes.set(fn, 0); // a cycle (refused by the checker) adds nothing
  let nodes = 0;
  const walk = (n: unknown, weight: number): void => {
    if (!n || typeof n !== "object") return;
    if (Array.isArray(n)) return n.forEach((x) => walk(x, weight));
    const node = n as { kind?: string };
    if (typeof node.kind !== "string") return;
    nodes += weight;
    const call = node.kind === "Call" ? this.m.calls.get(n as ast.Call) : undefined;
    if (call?.kind === "function") nodes += weight * this.inlinedSize(call.fn);
    const inner = node.kind === "ForStmt" ? this.m.loops.get(n as ast.ForStmt) : undefined;
    const w = inner ? weight * Math.max(1, inner.tripCount) : weight;
    for (const [k, v] of Object.entries(n)) if (k !== "span") walk(v, k === "body" ? w : weight);
  };
  walk(fn.decl.body, 1);
  this.fnSizes.set(fn, nodes);
  return nodes;
};

Lowerer.prototype.switchStmt = function (this: Lowerer, s: ast.SwitchStmt): void {
  const d = this.use(s.discriminant);
  const w = widthOf(d);
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
};
