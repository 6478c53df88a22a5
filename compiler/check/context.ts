// Checker state shared by the expression, statement and declaration passes: the
// diagnostic bag, the result tables being filled, name scopes, the flow facts of
// the function being checked, and type-annotation resolution.
import type * as ast from "../ast/nodes.ts";
import { DiagnosticBag, type MessageId } from "../diagnostics/index.ts";
import type { Span } from "../diagnostics/span.ts";
import { builtins, type Builtin } from "./builtins.ts";
import { layoutStruct } from "./layout.ts";
import type {
  CheckedModule,
  ConstInfo,
  FunctionInfo,
  LocalSym,
  MapInfo,
  ParamSym,
  Sym,
} from "./result.ts";
import {
  boolType,
  fixedArray,
  nullable,
  tcContextType,
  tcContextTypes,
  typeToString,
  voidType,
  type IntType,
  type TcSection,
  type StructType,
  type Type,
} from "./types.ts";

/** Facts that hold at the current point of a function body. */
export interface Flow {
  /** Ids of nullable locals/params known to be non-null here. */
  nonNull: Set<number>;
  /** Packet views invalidated by adjustHead/adjustTail: id → what invalidated them. */
  dead: Map<number, string>;
}

interface TypeEntry {
  decl: ast.InterfaceDecl | ast.TypeAliasDecl | ast.EnumDecl;
  state: "new" | "resolving" | "done";
  type: Type | null;
}

interface TopValue {
  sym: Sym;
  span: Span;
}

/** TS names that tsc knows but the subset does not, with a hint. */
const foreignTypes: Record<string, string> = {
  number: "; use an integer type such as u32, or i32 when signed",
  bigint: "; use u64 or i64",
  string: "",
  any: "",
  unknown: "",
  never: "",
  object: "; declare an interface",
  symbol: "",
  undefined: "; use 'T | null' for header views and lookups",
  Array: "; use FixedArray<T, N>",
  Function: "",
  Promise: "",
};

export class CheckerBase {
  readonly bag: DiagnosticBag;
  readonly m: CheckedModule;
  /** Constant expressions not yet given a type by their context (literals and their folds). */
  readonly untyped = new Set<ast.Expr>();
  readonly topValues = new Map<string, TopValue>();
  readonly topTypes = new Map<string, TypeEntry>();
  /** Top-level value names declared later in the file than the item being checked. */
  readonly pendingTop = new Set<string>();
  /** Imported names: local name → built-in. */
  readonly imports = new Map<string, Builtin>();
  scopes: Map<string, LocalSym | ParamSym>[] = [];
  /** While an enum's initializers are checked: its earlier members, by bare name (as in TS). */
  enumMembers: Map<string, ConstInfo> | null = null;
  fn: FunctionInfo | null = null;
  flow: Flow = { nonNull: new Set(), dead: new Map() };
  nextId = 1;
  /** Values of local `const`s with constant initializers, by symbol id. */
  readonly localConsts = new Map<number, bigint>();
  /** Local consts whose initializer is an untyped constant: their uses are untyped too. */
  readonly localUntyped = new Set<number>();
  /** Locals (by id) that may point into packet data; invalidated by adjustHead/Tail. */
  readonly packetViews = new Set<number>();
  /** Locals/params (by id) holding packet views in the current function. */
  viewSyms: (LocalSym | ParamSym)[] = [];
  readonly reportedDead = new Set<number>();
  /** First call site of each caller → callee edge, for recursion messages. */
  readonly callSites = new Map<FunctionInfo, Map<FunctionInfo, Span>>();
  /** Per function, the maps its own body calls methods on, with the first call's span. */
  readonly mapUses = new Map<FunctionInfo, Map<MapInfo, Span>>();
  /** Functions by declaration, filled before bodies are checked. */
  readonly functions = new Map<ast.FunctionDecl, FunctionInfo>();
  /** Nesting of breakable statements: "loop" or "switch"; `broken` set when a break targets it. */
  breakables: { kind: "loop" | "switch"; broken: boolean }[] = [];

  constructor(readonly program: ast.Program) {
    this.bag = new DiagnosticBag(program.file);
    this.m = {
      file: program.file,
      structs: [],
      consts: [],
      params: [],
      globals: [],
      maps: [],
      runConfigs: [],
      functions: [],
      types: new Map(),
      names: new Map(),
      constValues: new Map(),
      calls: new Map(),
      members: new Map(),
      conversions: new Map(),
      compareTypes: new Map(),
      loops: new Map(),
      locals: new Map(),
      caseValues: new Map(),
    };
  }

  error(id: MessageId, at: Span, ...args: (string | number | bigint)[]): void {
    this.bag.add(id, at, ...args);
  }

  // ------------------------------------------------------------ scopes

  pushScope(): void {
    this.scopes.push(new Map());
  }
  popScope(): void {
    this.scopes.pop();
  }

  declareLocal(sym: LocalSym | ParamSym, at: Span): void {
    const scope = this.scopes[this.scopes.length - 1]!;
    if (scope.has(sym.name)) this.error("DuplicateDeclaration", at, sym.name);
    else scope.set(sym.name, sym);
    if (isViewType(sym.type)) this.viewSyms.push(sym);
  }

  /** Resolves a value name; reports and returns null when it is unknown. */
  lookupValue(name: string, at: Span): Sym | null {
    const member = this.enumMembers?.get(name);
    if (member) return { kind: "const", info: member };
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const s = this.scopes[i]!.get(name);
      if (s) return s;
    }
    const top = this.topValues.get(name);
    if (top) return top.sym;
    if (this.pendingTop.has(name)) {
      this.error("UsedBeforeDeclaration", at, name);
      return null;
    }
    const b = this.imports.get(name);
    if (b) {
      if (b.kind === "const") return { kind: "builtinConst", name, type: b.type, value: b.value };
      if (b.kind === "fn") return { kind: "builtinFn", name: b.name };
      this.error(
        "NotAValue",
        at,
        name,
        b.kind === "mapClass" ? "a map class" : "a type",
        b.kind === "mapClass" ? "; declare a map with 'new' at top level" : "",
      );
      return null;
    }
    if (this.topTypes.has(name)) {
      this.error("NotAValue", at, name, "a type", "");
      return null;
    }
    if (builtins.has(name)) this.error("NotImported", at, name);
    else this.error("CannotFindName", at, name);
    return null;
  }

  // ------------------------------------------------------------ types

  /** Resolves a type annotation; reports and returns null when it is not a valid type. */
  resolveType(n: ast.TypeNode): Type | null {
    switch (n.kind) {
      case "TypeRef":
        return this.resolveTypeRef(n);
      case "TypeLiteral":
        this.error(
          "UnsupportedHere",
          n.span,
          "inline object types",
          "; declare an interface and use its name",
        );
        return null;
      case "UnionType": {
        const nonNull = n.types.filter((t) => t.kind !== "NullType");
        if (nonNull.length === 1 && n.types.length === 2) {
          const inner = this.resolveType(nonNull[0]!);
          if (!inner) return null;
          if (!["header", "struct", "int", "bool", "fixedArray"].includes(inner.kind)) {
            this.error("NullableNotAllowed", n.span, `${typeToString(inner)} | null`);
            return null;
          }
          return nullable(inner);
        }
        this.error("UnsupportedHere", n.span, "a union type other than 'T | null'", "");
        return null;
      }
      case "NullType":
        this.error("TypeNotAllowedHere", n.span, "'null'", "a type on its own");
        return null;
      case "LiteralType":
        this.error("TypeNotAllowedHere", n.span, "a literal type", "a type here");
        return null;
      case "StringType":
        this.error(
          "TypeNotAllowedHere",
          n.span,
          "a string literal type",
          'a type here (only as the section of TcContext<"tcx/ingress">)',
        );
        return null;
    }
  }

  private resolveTypeRef(n: ast.TypeRef): Type | null {
    const name = n.name.name;
    const entry = this.topTypes.get(name);
    if (entry) {
      if (n.args.length) this.error("NoTypeArgs", n.span, name);
      return this.resolveEntry(name, entry);
    }
    if (name === "boolean") return boolType;
    if (name === "void") return voidType;
    if (name in foreignTypes) {
      this.error("UnsupportedType", n.name.span, name, foreignTypes[name]!);
      return null;
    }
    const b = this.imports.get(name);
    if (!b) {
      if (builtins.has(name)) this.error("NotImported", n.name.span, name);
      else this.error("UnknownType", n.name.span, name);
      return null;
    }
    switch (b.kind) {
      case "type":
        if (b.type === tcContextType) return this.tcContext(n);
        if (n.args.length) this.error("NoTypeArgs", n.span, name);
        return b.type;
      case "generic": {
        if (n.args.length !== 2) {
          this.error("TypeArgCount", n.span, name, 2, n.args.length);
          return null;
        }
        const elem = this.resolveType(n.args[0]!);
        const len = n.args[1]!;
        if (len.kind !== "LiteralType" || len.value <= 0n || len.value > 0xffffn) {
          this.error("FixedArrayLength", len.span);
          return null;
        }
        if (!elem) return null;
        if (!["int", "bool", "struct", "fixedArray"].includes(elem.kind)) {
          this.error(
            "TypeNotAllowedHere",
            n.args[0]!.span,
            typeToString(elem),
            "a FixedArray element type",
          );
          return null;
        }
        return fixedArray(elem, Number(len.value));
      }
      case "mapClass":
        this.error(
          "TypeNotAllowedHere",
          n.span,
          `map class '${name}'`,
          "a type; maps are declared with 'new' at top level",
        );
        return null;
      case "typeOnly":
        this.error("UnsupportedType", n.span, name, "");
        return null;
      default:
        this.error("NotAType", n.name.span, name);
        return null;
    }
  }

  /** `TcContext` or `TcContext<"tc" | "tcx/ingress" | "tcx/egress">`: its section (§9.1). */
  private tcContext(n: ast.TypeRef): Type | null {
    if (n.args.length === 0) return tcContextType;
    if (n.args.length > 1) {
      this.error("TypeArgCount", n.span, n.name.name, 1, n.args.length);
      return tcContextType;
    }
    const a = n.args[0]!;
    if (a.kind === "StringType" && Object.hasOwn(tcContextTypes, a.value))
      return tcContextTypes[a.value as TcSection];
    this.error(
      "TcSection",
      a.span,
      a.kind === "StringType" ? `, not ${JSON.stringify(a.value)}` : "",
    );
    return tcContextType; // reported: the program still checks as a tc one
  }

  resolveEntry(name: string, e: TypeEntry): Type | null {
    if (e.state === "done") return e.type;
    if (e.state === "resolving") {
      this.error("RecursiveType", e.decl.name.span, name);
      e.state = "done";
      return null;
    }
    e.state = "resolving";
    let t: Type | null = null;
    const d = e.decl;
    if (d.kind === "InterfaceDecl") t = this.resolveStruct(name, d.fields);
    else if (d.kind === "TypeAliasDecl")
      t =
        d.type.kind === "TypeLiteral"
          ? this.resolveStruct(name, d.type.fields)
          : this.resolveType(d.type);
    else t = this.enumType(d);
    if (e.state === "resolving") {
      e.type = t;
      e.state = "done";
    }
    return e.type;
  }

  /** Overridden by the declaration pass (enum members are folded there). */
  enumType(_d: ast.EnumDecl): IntType | null {
    return null;
  }

  private resolveStruct(name: string, fields: readonly ast.FieldDecl[]): StructType | null {
    const out: { name: string; type: Type }[] = [];
    const seen = new Set<string>();
    let ok = true;
    for (const f of fields) {
      if (f.optional) this.error("OptionalField", f.span, f.name.name);
      if (seen.has(f.name.name)) {
        this.error("DuplicateField", f.name.span, f.name.name);
        continue;
      }
      seen.add(f.name.name);
      const t = this.resolveType(f.type);
      if (!t) {
        ok = false;
        continue;
      }
      if (!["int", "bool", "struct", "fixedArray"].includes(t.kind)) {
        this.error(
          "TypeNotAllowedHere",
          f.type.span,
          typeToString(t),
          "a struct field type (integers, bool, structs and FixedArray)",
        );
        ok = false;
        continue;
      }
      out.push({ name: f.name.name, type: t });
    }
    if (!ok) return null;
    const s = layoutStruct(name, out);
    this.m.structs.push(s);
    return s;
  }
}

/** Types whose values may point into packet data. */
export function isViewType(t: Type): boolean {
  if (t.kind === "nullable") return isViewType(t.inner);
  return t.kind === "header";
}
