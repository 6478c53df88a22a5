// Top-level declarations: imports, structs/aliases/enums, function signatures,
// constants, load-time parameters, globals and maps; then function bodies and the
// recursion check. Order matters only where the language says so: top-level
// constants see earlier declarations, functions see everything.
import type * as ast from "../ast/nodes.ts";
import type { Span } from "../diagnostics/span.ts";
import { builtins, stdlibModule } from "./builtins.ts";
import { errorType, exprText, unwrapParens } from "./exprs.ts";
import {
  bpfMapType,
  type CheckResult,
  type ConstInfo,
  type EnumSym,
  type FunctionInfo,
  type FunctionKind,
  type LoadParamInfo,
  type MapInfo,
  type ParamSym,
  type Sym,
} from "./result.ts";
import { sharedMapUses } from "./sharing.ts";
import { StmtChecker } from "./stmts.ts";
import {
  contextType,
  fits,
  i32,
  i64,
  sameType,
  sizeAlign,
  typeToString,
  u32,
  u64,
  voidType,
  wrap,
  xskPacketType,
  type IntType,
  type MapKind,
  type MapType,
  type TcSection,
  type Type,
} from "./types.ts";
import { PACKET_CHANGING, walk } from "./walk.ts";

const paramTypeKinds = new Set([
  "int",
  "bool",
  "struct",
  "fixedArray",
  "header",
  "context",
  "xskPacket",
  "action",
]);
const returnTypeKinds = new Set(["int", "bool", "void", "action"]);
const mapArgKinds = new Set(["int", "bool", "struct", "fixedArray"]);

export class Checker extends StmtChecker {
  private readonly valueDecls = new Map<string, Span>();

  run(): CheckResult {
    const items = this.program.items;
    for (const it of items) if (it.kind === "ImportDecl") this.importDecl(it);
    for (const it of items) this.collectNames(it);
    for (const it of items)
      if (it.kind === "InterfaceDecl" || it.kind === "TypeAliasDecl" || it.kind === "EnumDecl") {
        const e = this.topTypes.get(it.name.name);
        if (e && e.decl === it) this.resolveEntry(it.name.name, e);
      }
    for (const it of items) if (it.kind === "FunctionDecl") this.signature(it);
    this.computeAdjusts();
    for (const it of items) if (it.kind === "VarDecl") this.topVar(it);
    for (const info of this.m.functions) this.body(info);
    this.recursion();
    for (const u of sharedMapUses(this.m.functions, this.mapUses)) {
      const what = u.program.kind === "tc" ? "tc program" : "XDP program";
      this.error(
        "MapSharedWithHandler",
        u.at,
        u.map.name,
        `${what} '${u.program.name}'`,
        u.handler.name,
      );
    }
    // Source order, as the parser reports; sort is stable for diagnostics at one offset.
    const diagnostics = [...this.bag.items].sort((a, b) => a.span.start - b.span.start);
    return { diagnostics, module: this.m };
  }

  // ------------------------------------------------------------ names

  private importDecl(d: ast.ImportDecl): void {
    if (d.source.value !== stdlibModule) {
      this.error("UnknownModule", d.source.span, d.source.value);
      return;
    }
    for (const s of d.specifiers) {
      const b = builtins.get(s.imported.name);
      if (!b) {
        this.error("UnknownImport", s.imported.span, s.imported.name);
        continue;
      }
      if (!this.declareValueName(s.local.name, s.local.span)) continue;
      this.imports.set(s.local.name, b);
    }
  }

  /** Records a top-level name; reports a duplicate (returns false). */
  private declareValueName(name: string, at: Span): boolean {
    if (this.valueDecls.has(name)) {
      this.bag.push({
        ...this.diagAt("DuplicateDeclaration", at, name),
        related: [{ message: "first declared here", span: this.valueDecls.get(name)! }],
      });
      return false;
    }
    this.valueDecls.set(name, at);
    return true;
  }

  private diagAt(id: "DuplicateDeclaration", at: Span, name: string) {
    const before = this.bag.items.length;
    this.error(id, at, name);
    return this.bag.items.splice(before, 1)[0]!;
  }

  private collectNames(it: ast.TopItem): void {
    switch (it.kind) {
      case "InterfaceDecl":
      case "TypeAliasDecl":
      case "EnumDecl": {
        const name = it.name.name;
        // Interfaces and type aliases live in the type namespace; an enum in both.
        if (this.topTypes.has(name) || (this.imports.has(name) && it.kind !== "EnumDecl")) {
          const first = this.topTypes.get(name)?.decl.name.span ?? this.valueDecls.get(name);
          this.bag.push({
            ...this.diagAt("DuplicateDeclaration", it.name.span, name),
            related: first ? [{ message: "first declared here", span: first }] : undefined,
          });
          return;
        }
        if (it.kind === "EnumDecl" && !this.declareValueName(name, it.name.span)) return;
        this.topTypes.set(name, { decl: it, state: "new", type: null });
        return;
      }
      case "FunctionDecl":
        this.declareValueName(it.name.name, it.name.span);
        return;
      case "VarDecl":
        if (this.declareValueName(it.name.name, it.name.span)) this.pendingTop.add(it.name.name);
        return;
      default:
        return;
    }
  }

  // ------------------------------------------------------------ enums

  override enumType(d: ast.EnumDecl): IntType | null {
    const sym: EnumSym = { kind: "enum", name: d.name.name, type: u32, members: new Map() };
    if (!this.topValues.has(d.name.name))
      this.topValues.set(d.name.name, { sym, span: d.name.span });
    const values: { m: ast.EnumMember; v: bigint }[] = [];
    let next = 0n;
    for (const m of d.members) {
      let v = next;
      if (m.init) {
        this.enumMembers = sym.members;
        const t = this.expr(m.init);
        this.enumMembers = null;
        const c = this.m.constValues.get(m.init);
        if (c === undefined || t.kind !== "int") {
          if (t !== errorType)
            this.error("NotConstant", m.init.span, `enum member '${m.name.name}'`);
        } else v = c;
      }
      if (values.some((x) => x.m.name.name === m.name.name))
        this.error("DuplicateDeclaration", m.name.span, m.name.name);
      values.push({ m, v });
      next = v + 1n;
      // Later members may refer to earlier ones as `E.A`.
      const provisional: ConstInfo = {
        name: `${d.name.name}.${m.name.name}`,
        type: u32,
        value: v,
        decl: m,
        untyped: true,
      };
      sym.members.set(m.name.name, provisional);
    }
    const all = values.map((x) => x.v);
    const t = ([u32, i32, u64, i64] as IntType[]).find((ty) => all.every((v) => fits(v, ty)));
    if (!t) {
      this.error("ConstantDoesNotFit", d.name.span, `of enum '${d.name.name}'`, "64 bits");
      return null;
    }
    sym.type = t;
    for (const { m, v } of values) {
      const info: ConstInfo = {
        name: `${d.name.name}.${m.name.name}`,
        type: t,
        value: v,
        decl: m,
        untyped: true,
      };
      sym.members.set(m.name.name, info);
      this.m.consts.push(info);
    }
    return t;
  }

  // ------------------------------------------------------------ functions

  private signature(d: ast.FunctionDecl): void {
    const params: ParamSym[] = d.params.map((p, index) => {
      let type: Type = errorType;
      if (!p.type) this.error("MissingParamType", p.name.span, p.name.name);
      else {
        const t = this.resolveType(p.type);
        if (t && !paramTypeKinds.has(t.kind))
          this.error("TypeNotAllowedHere", p.type.span, typeToString(t), "a parameter type");
        else if (t) type = t;
      }
      return { kind: "param", id: this.nextId++, name: p.name.name, type, index, decl: p };
    });
    let returnType: Type = errorType;
    if (d.returnType) {
      const t = this.resolveType(d.returnType);
      if (t && !returnTypeKinds.has(t.kind))
        this.error(
          "TypeNotAllowedHere",
          d.returnType.span,
          typeToString(t),
          "a return type (integers, bool, verdicts or void)",
        );
      else if (t) returnType = t;
    } else {
      let returnsValue = false;
      walk(d.body, (n) => {
        if (n.kind === "ReturnStmt" && n.value) returnsValue = true;
      });
      if (returnsValue) this.error("MissingReturnType", d.name.span, d.name.name);
      else returnType = voidType;
    }
    let kind: FunctionKind = "helper";
    let section: TcSection | undefined;
    if (d.exported) {
      const p0 = params.length === 1 ? params[0]!.type : null;
      if (p0 === contextType && returnType.kind === "action" && returnType.of === "xdp")
        kind = "xdp";
      else if (
        p0?.kind === "context" &&
        p0.hook === "tc" &&
        returnType.kind === "action" &&
        returnType.of === "tc"
      ) {
        kind = "tc";
        section = p0.section ?? "tc";
      } else if (p0 === xskPacketType && returnType.kind === "action" && returnType.of === "xsk")
        kind = "handler";
      else this.error("ExportedSignature", d.name.span, d.name.name);
    }
    const info: FunctionInfo = {
      name: d.name.name,
      kind,
      decl: d,
      params,
      returnType,
      callees: [],
      adjustsPacket: false,
      ...(section ? { section } : {}),
    };
    this.functions.set(d, info);
    this.m.functions.push(info);
    if (!this.topValues.has(info.name) && this.valueDecls.get(info.name) === d.name.span)
      this.topValues.set(info.name, { sym: { kind: "function", info }, span: d.name.span });
  }

  /** Which functions may move packet data, directly or through callees (syntactic, before bodies). */
  private computeAdjusts(): void {
    const calls = new Map<FunctionInfo, Set<string>>();
    for (const info of this.m.functions) {
      const names = new Set<string>();
      walk(info.decl.body, (n) => {
        if (n.kind !== "Call") return;
        const c = n.callee;
        if (c.kind === "Member" && PACKET_CHANGING.includes(c.property.name))
          info.adjustsPacket = true;
        if (c.kind === "Name") names.add(c.name);
      });
      calls.set(info, names);
    }
    for (let changed = true; changed;) {
      changed = false;
      for (const info of this.m.functions) {
        if (info.adjustsPacket) continue;
        for (const n of calls.get(info)!) {
          const s = this.topValues.get(n)?.sym;
          if (s?.kind === "function" && s.info.adjustsPacket) {
            info.adjustsPacket = true;
            changed = true;
            break;
          }
        }
      }
    }
  }

  private body(info: FunctionInfo): void {
    this.fn = info;
    this.scopes = [new Map()];
    this.flow = { nonNull: new Set(), dead: new Map() };
    this.viewSyms = [];
    this.breakables = [];
    this.deadAccumulators = [];
    for (const p of info.params) this.declareLocal(p, p.decl.name.span);
    const completes = this.block(info.decl.body.body);
    if (completes && info.returnType.kind !== "void")
      this.error("MissingReturn", info.decl.name.span, info.name);
    this.fn = null;
    this.scopes = [];
  }

  /** Reports every call cycle once (Tarjan's strongly connected components). */
  private recursion(): void {
    let index = 0;
    const idx = new Map<FunctionInfo, number>();
    const low = new Map<FunctionInfo, number>();
    const stack: FunctionInfo[] = [];
    const on = new Set<FunctionInfo>();
    const sccs: FunctionInfo[][] = [];
    const strong = (v: FunctionInfo): void => {
      idx.set(v, index);
      low.set(v, index++);
      stack.push(v);
      on.add(v);
      for (const w of v.callees) {
        if (!idx.has(w)) {
          strong(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
      if (low.get(v) === idx.get(v)) {
        const scc: FunctionInfo[] = [];
        let w: FunctionInfo;
        do {
          w = stack.pop()!;
          on.delete(w);
          scc.push(w);
        } while (w !== v);
        sccs.push(scc);
      }
    };
    for (const f of this.m.functions) if (!idx.has(f)) strong(f);
    for (const scc of sccs) {
      const members = new Set(scc);
      const first = this.m.functions.find((f) => members.has(f))!;
      if (scc.length === 1 && !first.callees.includes(first)) continue;
      // Walk a cycle through the component starting at its first-declared function.
      const path = [first];
      const seen = new Set([first]);
      let cur = first;
      for (;;) {
        const next =
          cur.callees.find((c) => c === first) ??
          cur.callees.find((c) => members.has(c) && !seen.has(c));
        if (!next) break;
        if (next === first) {
          const at = this.callSites.get(cur)?.get(first) ?? first.decl.name.span;
          this.error("Recursion", at, [...path, first].map((f) => f.name).join(" → "));
          break;
        }
        path.push(next);
        seen.add(next);
        cur = next;
      }
    }
  }

  // ------------------------------------------------------------ top-level variables

  private topVar(d: ast.VarDecl): void {
    const name = d.name.name;
    this.pendingTop.delete(name);
    const isFirst = this.valueDecls.get(name) === d.name.span;
    const register = (sym: Sym): void => {
      if (isFirst) this.topValues.set(name, { sym, span: d.name.span });
    };
    const init = d.init && unwrapParens(d.init);
    if (init?.kind === "New") return this.mapDecl(d, init, register);
    if (name === "runConfig" && init?.kind === "ObjectLit") return this.runConfig(d, init);
    if (
      init?.kind === "Call" &&
      init.callee.kind === "Name" &&
      init.callee.name === "param" &&
      this.imports.get("param")?.kind === "fn"
    )
      return this.loadParam(d, init, register);
    let declT: Type | null = null;
    if (d.type) declT = this.resolveType(d.type);
    if (d.declKind === "const") {
      if (!d.init) {
        this.error("ConstNeedsInit", d.name.span, name);
        return;
      }
      const t = this.expr(d.init, declT ?? undefined);
      const type = declT ?? t;
      if (declT && !this.coerce(d.init, declT))
        return register({ kind: "const", info: { name, type: declT, value: 0n, decl: d } });
      const v = this.m.constValues.get(d.init);
      if (v === undefined || !["int", "bool", "action"].includes(type.kind)) {
        if (t !== errorType) this.error("TopLevelInit", d.init.span, name);
        // Registered even after an error, so uses do not cascade into "cannot find name".
        register({
          kind: "const",
          info: {
            name,
            type: type.kind === "int" || type.kind === "bool" ? type : errorType,
            value: 0n,
            decl: d,
          },
        });
        return;
      }
      const untyped = !declT && this.untyped.has(d.init);
      const info: ConstInfo = {
        name,
        type,
        value: untyped || type.kind !== "int" ? v : wrap(v, type),
        decl: d,
        untyped,
      };
      this.m.consts.push(info);
      return register({ kind: "const", info });
    }
    // `let` at top level: a global variable.
    let type: Type | null = declT;
    let value = 0n;
    if (declT && declT.kind !== "int" && declT.kind !== "bool") {
      this.error("GlobalType", d.name.span, name, typeToString(declT));
      return;
    }
    if (d.init) {
      const t = this.expr(d.init, declT ?? undefined);
      if (declT) this.coerce(d.init, declT);
      else if (t !== errorType) type = t;
      const v = this.m.constValues.get(d.init);
      if (v === undefined) {
        if (t !== errorType)
          this.error("NotConstant", d.init.span, "the initial value of a global variable");
      } else value = v;
    } else if (!declT) this.error("CannotInferType", d.name.span, name);
    if (!type) return;
    if (type.kind !== "int" && type.kind !== "bool") {
      this.error("GlobalType", d.name.span, name, typeToString(type));
      return;
    }
    const info = { name, type, init: type.kind === "int" ? wrap(value, type) : value, decl: d };
    this.m.globals.push(info);
    register({ kind: "global", info });
  }

  /**
   * `const runConfig = { priority, chainCallActions }` for the file's one XDP program, or
   * `{ prog: { … }, … }` keyed by program: what libxdp's XDP_RUN_CONFIG(prog) declares.
   */
  private runConfig(d: ast.VarDecl, obj: ast.ObjectLit): void {
    if (d.declKind !== "const") this.error("RunConfigTarget", d.name.span, "must be a const");
    const xdp = this.m.functions.filter((f) => f.kind === "xdp").map((f) => f.name);
    const listed = xdp.length ? ` (its XDP programs: ${xdp.join(", ")})` : " (it has none)";
    const keyed = obj.props.some((p) => unwrapParens(p.value).kind === "ObjectLit");
    if (!keyed) {
      const cfg = this.runConfigFields(obj);
      if (xdp.length === 1) {
        if (cfg) this.m.runConfigs.push({ program: xdp[0]!, ...cfg });
      } else if (xdp.length === 0)
        this.error(
          "RunConfigTarget",
          d.name.span,
          "applies to the file's XDP program, and this file has none",
        );
      else
        this.error(
          "RunConfigTarget",
          d.name.span,
          `applies to one XDP program, and this file has ${xdp.length} (${xdp.join(", ")}): key it by program, as { ${xdp[0]}: { priority: 10 }, … }`,
        );
      return;
    }
    const seen = new Set<string>();
    for (const p of obj.props) {
      const prog = p.name.name;
      if (seen.has(prog)) {
        this.error("RunConfigDuplicate", p.name.span, `program '${prog}'`);
        continue;
      }
      seen.add(prog);
      const f = this.m.functions.find((x) => x.name === prog);
      if (f?.kind !== "xdp")
        this.error(
          "RunConfigProgram",
          p.name.span,
          prog,
          f?.kind === "tc"
            ? " (it is a tc program; libxdp's dispatcher runs XDP programs)"
            : listed,
        );
      const v = unwrapParens(p.value);
      if (v.kind !== "ObjectLit") {
        this.error(
          "RunConfigTarget",
          p.value.span,
          `for '${prog}' must be an object { priority, chainCallActions }, like the others`,
        );
        continue;
      }
      const cfg = this.runConfigFields(v);
      if (cfg && f?.kind === "xdp") this.m.runConfigs.push({ program: prog, ...cfg });
    }
  }

  private runConfigFields(
    obj: ast.ObjectLit,
  ): { priority?: number; chainCallActions?: number[] } | null {
    const out: { priority?: number; chainCallActions?: number[] } = {};
    let ok = true;
    const seen = new Set<string>();
    for (const p of obj.props) {
      const field = p.name.name;
      if (seen.has(field)) {
        this.error("RunConfigDuplicate", p.name.span, `field '${field}'`);
        ok = false;
        continue;
      }
      seen.add(field);
      if (field === "priority") {
        const t = this.expr(p.value);
        const v = this.m.constValues.get(p.value);
        if (t === errorType) ok = false;
        else if (t.kind !== "int" || v === undefined) {
          this.error(
            "RunConfigPriority",
            p.value.span,
            t.kind !== "int" ? `, not ${typeToString(t)}` : ", not a value known at compile time",
          );
          ok = false;
        } else if (v < 0n || v > 1000n) {
          this.error("RunConfigPriority", p.value.span, `, got ${v}`);
          ok = false;
        } else out.priority = Number(v);
      } else if (field === "chainCallActions") {
        const arr = unwrapParens(p.value);
        if (arr.kind !== "ArrayLit") {
          this.error("RunConfigAction", p.value.span, `, got '${exprText(p.value)}'`);
          ok = false;
          continue;
        }
        const acts: number[] = [];
        for (const e of arr.elements) {
          const t = this.expr(e);
          const v = this.m.constValues.get(e);
          if (t === errorType) ok = false;
          else if (t.kind !== "action" || t.of !== "xdp" || v === undefined || v < 0n || v > 4n) {
            const text = e.kind === "NumberLit" ? e.raw : exprText(e);
            this.error("RunConfigAction", e.span, `, got '${text}'`);
            ok = false;
          } else if (acts.includes(Number(v))) {
            this.error("RunConfigDuplicate", e.span, `action ${exprText(e)}`);
            ok = false;
          } else acts.push(Number(v));
        }
        out.chainCallActions = acts;
      } else {
        this.error("RunConfigField", p.name.span, field);
        ok = false;
      }
    }
    return ok ? out : null;
  }

  private loadParam(d: ast.VarDecl, call: ast.Call, register: (s: Sym) => void): void {
    const name = d.name.name;
    this.m.names.set(call.callee as ast.Name, { kind: "builtinFn", name: "param" });
    this.m.calls.set(call, { kind: "helper", name: "param" });
    if (d.declKind !== "const") this.error("ParamMisplaced", call.span);
    let type: Type | null = null;
    if (call.typeArgs.length !== 1) this.error("ParamForm", call.span);
    else {
      type = this.resolveType(call.typeArgs[0]!);
      if (type && type.kind !== "int" && type.kind !== "bool") {
        this.error("ParamType", call.typeArgs[0]!.span, typeToString(type));
        type = null;
      }
    }
    if (type && d.type) {
      const declT = this.resolveType(d.type);
      if (declT && !sameType(declT, type))
        this.error("TypeMismatch", call.span, typeToString(type), typeToString(declT));
    }
    this.m.types.set(call, type ?? errorType);
    if (call.args.length !== 2) {
      this.error("ArgCount", call.span, "param", 2, call.args.length);
      for (const a of call.args) if (a.kind !== "StringLit") this.expr(a);
      return;
    }
    const [keyArg, defArg] = call.args as [ast.Expr, ast.Expr];
    let key: string | null = null;
    if (keyArg.kind === "StringLit" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(keyArg.value))
      key = keyArg.value;
    else this.error("ParamName", keyArg.span);
    const dt = this.expr(defArg, type ?? undefined);
    let def = 0n;
    if (type && this.coerce(defArg, type)) {
      const v = this.m.constValues.get(defArg);
      if (v === undefined) this.error("NotConstant", defArg.span, "the default of a param()");
      else def = type.kind === "int" ? wrap(v, type) : v;
    } else if (dt !== errorType && type && !this.m.constValues.has(defArg))
      this.error("NotConstant", defArg.span, "the default of a param()");
    if (!type) return;
    if (key !== null && this.m.params.some((p) => p.key === key)) {
      this.error("ParamDuplicate", keyArg.span, key);
      key = null;
    }
    // A control plane sets parameters by name and types them by export (xdpc/runtime
    // ParamsOf): the two must agree.
    if (d.exported && key !== null && key !== name)
      this.error("ParamExportName", d.name.span, key, name);
    const info: LoadParamInfo = { name, key: key ?? name, type, default: def, decl: d };
    if (key !== null) this.m.params.push(info);
    register({ kind: "loadParam", info });
  }

  private mapDecl(d: ast.VarDecl, n: ast.New, register: (s: Sym) => void): void {
    const name = d.name.name;
    if (d.declKind !== "const") this.error("MapNotTopLevel", n.span);
    const cls = n.callee.name;
    const b = this.imports.get(cls);
    if (!b || b.kind !== "mapClass") {
      if (!b && builtins.get(cls)?.kind === "mapClass")
        this.error("NotImported", n.callee.span, cls);
      else if (!b && !this.topTypes.has(cls)) this.error("CannotFindName", n.callee.span, cls);
      else
        this.error(
          "UnsupportedHere",
          n.span,
          `'new ${cls}'`,
          "; only the xdpc map classes can be constructed",
        );
      return;
    }
    const kind = b.mapKind;
    if (n.typeArgs.length !== b.typeArgs) {
      this.error(
        "TypeArgCount",
        n.typeArgs.length ? n.typeArgs[0]!.span : n.callee.span,
        cls,
        b.typeArgs,
        n.typeArgs.length,
      );
      return;
    }
    const arg = (i: number, which: string): Type | null => {
      const t = this.resolveType(n.typeArgs[i]!);
      if (t && !mapArgKinds.has(t.kind)) {
        this.error("MapTypeArg", n.typeArgs[i]!.span, which, typeToString(t));
        return null;
      }
      return t;
    };
    let key: Type | null = u32;
    let value: Type | null = u32;
    let ok = true;
    if (kind === "ArrayMap" || kind === "PerCpuArray") value = arg(0, "value");
    else if (kind === "RingBuf") {
      key = null;
      value = arg(0, "record");
      if (value && value.kind !== "struct" && value.kind !== "int") {
        this.error("MapTypeArg", n.typeArgs[0]!.span, "record", typeToString(value));
        value = null;
      }
      if (!value) ok = false;
    } else if (b.typeArgs === 2) {
      key = arg(0, "key");
      value = arg(1, "value");
      if (!key) ok = false;
    }
    if (!value) ok = false;
    if (kind === "LpmTrie" && key) {
      const f0 = key.kind === "struct" ? key.fields[0] : undefined;
      if (
        !f0 ||
        f0.name !== "prefixlen" ||
        f0.type !== u32 ||
        key.kind !== "struct" ||
        key.fields.length < 2
      ) {
        this.error("LpmKey", n.typeArgs[0]!.span, typeToString(key));
        ok = false;
      }
    }
    let maxEntries: number | null = null;
    let pinned = false;
    let handler: FunctionInfo | null = null;
    const opts = n.args[0];
    if (n.args.length > 1) this.error("ArgCount", n.span, cls, 1, n.args.length);
    if (opts && opts.kind !== "ObjectLit") {
      this.expr(opts);
      this.error("MapMaxEntries", opts.span, name);
      ok = false;
    } else if (opts) {
      for (const p of opts.props) {
        const key = p.name.name;
        if (key === "maxEntries") {
          const t = this.expr(p.value);
          const v = this.m.constValues.get(p.value);
          if (t === errorType) ok = false;
          else if (t.kind !== "int" || v === undefined || v <= 0n || v > 0xffffffffn) {
            this.error(
              "MapMaxEntriesInvalid",
              p.value.span,
              v === undefined ? "a value that is not a constant" : String(v),
            );
            ok = false;
          } else maxEntries = Number(v);
        } else if (key === "pinned") {
          const t = this.expr(p.value);
          const v = this.m.constValues.get(p.value);
          if (t.kind !== "bool" || v === undefined) {
            if (t !== errorType)
              this.error("NotConstant", p.value.span, "'pinned' (true or false)");
          } else pinned = v === 1n;
        } else if (key === "handler" && kind === "XskMap") {
          const v = unwrapParens(p.value);
          const s = v.kind === "Name" ? this.peekValue(v.name) : undefined;
          if (v.kind === "Name" && s) this.m.names.set(v, s);
          if (s?.kind === "function" && s.info.kind === "handler") handler = s.info;
          else {
            this.error("XskHandlerInvalid", p.value.span, exprText(p.value));
            ok = false;
          }
        } else this.error("MapOptionUnknown", p.name.span, key, cls);
      }
    }
    if (
      maxEntries === null &&
      ok &&
      !(opts && opts.kind === "ObjectLit" && opts.props.some((p) => p.name.name === "maxEntries"))
    ) {
      this.error("MapMaxEntries", n.span, name);
      ok = false;
    }
    if (
      kind === "RingBuf" &&
      maxEntries !== null &&
      (maxEntries < 4096 || (maxEntries & (maxEntries - 1)) !== 0)
    ) {
      this.error("RingBufSize", n.span, maxEntries);
      ok = false;
    }
    if (!value) value = u32;
    const type: MapType = {
      kind: "map",
      mapKind: kind,
      key,
      value,
      maxEntries: maxEntries ?? 0,
      pinned,
      handler: handler?.name ?? null,
    };
    this.m.types.set(n, type);
    const info: MapInfo = {
      name,
      kind,
      bpfType: bpfMapType[kind as MapKind],
      type,
      key,
      value,
      keySize: key ? sizeAlign(key).size : 0,
      valueSize: kind === "RingBuf" ? 0 : sizeAlign(value).size,
      maxEntries: maxEntries ?? 0,
      flags: kind === "LpmTrie" ? 1 : 0,
      pinned,
      handler,
      decl: d,
    };
    if (ok) this.m.maps.push(info);
    register({ kind: "map", info });
  }
}
