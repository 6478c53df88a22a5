// The checker's output contract: what the backend (compiler/ir) may rely on.
//
// When `diagnostics` holds no error, every fact below is complete and consistent:
// every expression reachable in a function body has a type, every Name a symbol,
// every Call a target, every for loop a bound. With errors, the tables are
// best-effort and must not be lowered.
//
// Value convention for expressions (read this before lowering):
//   - `types.get(e)` is the type `e` itself evaluates to.
//   - `constValues.get(e)`, when present, is e's compile-time value, already
//     reduced to types.get(e) (wrapped, signed values negative). The backend may
//     emit it directly and skip e's sub-expressions.
//   - `conversions.get(e)`, when present, says that the *user* of e needs it as
//     another type; see Conversion. No entry means it is used at types.get(e).
//   - Binary operands are converted to the operator's working type (the promoted
//     type, ≥ 32 bits), so after conversions both operands of an arithmetic Binary
//     have the Binary's own type (comparisons: `compareTypes`). A shift's right
//     operand is converted to the width of the left one. `>>` is arithmetic for
//     signed types, `>>>` always logical. Division/modulo by zero yields 0.
//   - `x = v`: types.get(assign) is x's declared type; v carries its conversion.
//     `x op= v`: types.get(assign) is the working type W of `x op v` (operands
//     converted as for Binary), and conversions.get(assign) truncates W back to
//     x's type when narrower. `x++`/`x--` wrap at x's own type.
//   - `e as T` (As): the backend converts types.get(e.expr) to T itself (truncate,
//     zero/sign-extend by the source's signedness, bool → 0/1); no table entry.
//   - Conditions (if/?:/&&/||/!/for test) that are not bool carry a `test`
//     conversion: integers test `!= 0`, nullables `!== null`.
//   - Verdict types (XdpAction/XskVerdict) are u32 at run time.
//   - Uninitialized `let` locals start at zero (structs zero-filled).
import type * as ast from "../ast/nodes.ts";
import type { Diagnostic } from "../diagnostics/diagnostic.ts";
import { BPF_MAP_TYPE as T } from "../uapi/bpf.ts";
import type { ContextField } from "./headers.ts";
import type {
  HeaderField,
  HeaderKind,
  IntType,
  MapKind,
  MapType,
  StructField,
  StructType,
  TcSection,
  Type,
} from "./types.ts";

export interface CheckResult {
  diagnostics: Diagnostic[];
  module: CheckedModule;
}

export interface CheckedModule {
  file: string;
  /** Every struct type declared by the file, in declaration order (nested first). */
  structs: StructType[];
  /** Top-level constants and const-enum members, with folded values. */
  consts: ConstInfo[];
  /** Load-time parameters (`param<T>(name, default)`): `.rodata` variables. */
  params: LoadParamInfo[];
  /** Top-level `let` variables: `.bss` (initial 0) / `.data`. */
  globals: GlobalInfo[];
  maps: MapInfo[];
  /** libxdp run configs (`const runConfig = …`), one per XDP program that has one. */
  runConfigs: RunConfigInfo[];
  /** All functions, in declaration order. */
  functions: FunctionInfo[];

  // ------------------------------------------------------------ side tables
  /**
   * The type of every checked expression (see the value convention above). Names
   * that are not values — a map as the object of a method call, a function or
   * helper as a callee, an enum as the object of `E.A` — and the format string of
   * trace() have no entry; names/calls/members describe them.
   */
  types: Map<ast.Expr, Type>;
  /** What every Name expression (and assignment-target Name) refers to. */
  names: Map<ast.Name, Sym>;
  /** Compile-time values of constant-foldable expressions (bool: 0n/1n). */
  constValues: Map<ast.Expr, bigint>;
  /** The resolved meaning of every Call expression. */
  calls: Map<ast.Call, CallTarget>;
  /** The resolved meaning of every Member expression that is not a method callee. */
  members: Map<ast.Member, MemberTarget>;
  /** Implicit conversions applied where an expression's value is used. */
  conversions: Map<ast.Expr, Conversion>;
  /** For a comparison Binary (`==`, `<`, …): the type both operands are compared at. */
  compareTypes: Map<ast.Binary, Type>;
  /** The shape of every (accepted) for loop. */
  loops: Map<ast.ForStmt, LoopBound>;
  /** Local variable symbols by declaration (including for counters). */
  locals: Map<ast.VarDecl, LocalSym>;
  /** Switch case test values, by case (default cases absent). */
  caseValues: Map<ast.SwitchCase, bigint>;
}

// ---------------------------------------------------------------- declarations

export interface ConstInfo {
  name: string;
  type: Type; // an int or bool type
  value: bigint;
  decl: ast.VarDecl | ast.EnumMember;
  /** An untyped constant (§3.2): uses take their context's type; `value` is exact. */
  untyped?: boolean;
}

export interface LoadParamInfo {
  /** Source-level name of the const. */
  name: string;
  /** The name the loader sets (`xdpc load --set port=5353`): the string literal. */
  key: string;
  type: IntType | Type; // an int type or bool
  default: bigint;
  decl: ast.VarDecl;
}

/**
 * What libxdp's `XDP_RUN_CONFIG(prog)` declares for one XDP program: its priority in the
 * dispatcher and the verdicts after which the next program runs. Absent fields keep
 * libxdp's defaults (priority 50, chain on XDP_PASS only).
 */
export interface RunConfigInfo {
  program: string;
  priority?: number;
  /** XDP action numbers, in source order, no duplicates. */
  chainCallActions?: number[];
}

export interface GlobalInfo {
  name: string;
  type: Type; // int or bool
  init: bigint;
  decl: ast.VarDecl;
}

/** Kernel map type numbers (enum bpf_map_type). */
export const bpfMapType: Record<MapKind, number> = {
  HashMap: T.HASH,
  ArrayMap: T.ARRAY,
  PerCpuHash: T.PERCPU_HASH,
  PerCpuArray: T.PERCPU_ARRAY,
  LruHash: T.LRU_HASH,
  LruPerCpuHash: T.LRU_PERCPU_HASH,
  LpmTrie: T.LPM_TRIE,
  DevMap: T.DEVMAP,
  DevMapHash: T.DEVMAP_HASH,
  CpuMap: T.CPUMAP,
  XskMap: T.XSKMAP,
  RingBuf: T.RINGBUF,
};

export interface MapInfo {
  name: string;
  kind: MapKind;
  /** enum bpf_map_type value. */
  bpfType: number;
  type: MapType;
  /** Key type (u32 for array-like maps); null for RingBuf. */
  key: Type | null;
  value: Type;
  /** Key/value sizes as the kernel sees them (0 for RingBuf). */
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** map_flags: BPF_F_NO_PREALLOC (1) for LpmTrie, else 0. */
  flags: number;
  pinned: boolean;
  /** XskMap: the handler function bound to it. */
  handler: FunctionInfo | null;
  decl: ast.VarDecl;
}

export type FunctionKind = "xdp" | "tc" | "handler" | "helper";

export interface FunctionInfo {
  name: string;
  kind: FunctionKind;
  decl: ast.FunctionDecl;
  params: ParamSym[];
  returnType: Type;
  /** User functions this one calls directly (distinct, in first-call order). */
  callees: FunctionInfo[];
  /** True when it (or a callee) calls a context method that moves or changes packet data (PACKET_CHANGING). */
  adjustsPacket: boolean;
  /** A tc program's ELF section: "tc", or "tcx/ingress"/"tcx/egress" from `TcContext<S>`. */
  section?: TcSection;
}

// ---------------------------------------------------------------- symbols

/** A local `const`/`let` in a function body (or a for counter). id is unique per module. */
export interface LocalSym {
  kind: "local";
  id: number;
  name: string;
  type: Type;
  mutable: boolean;
  decl: ast.VarDecl;
}
export interface ParamSym {
  kind: "param";
  id: number;
  name: string;
  type: Type;
  index: number;
  decl: ast.Param;
}
export interface GlobalSym {
  kind: "global";
  info: GlobalInfo;
}
export interface ConstSym {
  kind: "const";
  info: ConstInfo;
}
export interface LoadParamSym {
  kind: "loadParam";
  info: LoadParamInfo;
}
export interface MapSym {
  kind: "map";
  info: MapInfo;
}
export interface FunctionSym {
  kind: "function";
  info: FunctionInfo;
}
/** A built-in constant from "xdpc" (XDP_PASS, IPPROTO_UDP, …). */
export interface BuiltinConstSym {
  kind: "builtinConst";
  name: string;
  type: Type;
  value: bigint;
}
/** A built-in function from "xdpc" (only as a callee). */
export interface BuiltinFnSym {
  kind: "builtinFn";
  name: HelperName;
}
/** The name of a const enum (only as the object of `E.Member`). */
export interface EnumSym {
  kind: "enum";
  name: string;
  type: IntType;
  members: Map<string, ConstInfo>;
}
export type Sym =
  | LocalSym
  | ParamSym
  | GlobalSym
  | ConstSym
  | LoadParamSym
  | MapSym
  | FunctionSym
  | BuiltinConstSym
  | BuiltinFnSym
  | EnumSym;

// ---------------------------------------------------------------- calls and members

export type HelperName =
  | "ktimeNs"
  | "randomU32"
  | "cpuId"
  | "atomicAdd"
  | "trace"
  | "fibLookup"
  | "redirect"
  /** bpf_redirect_neigh / bpf_redirect_peer: tc only. */
  | "redirectNeigh"
  | "redirectPeer"
  | "param"
  /** `zeroed<T>()`: a zero-filled stack value of struct or FixedArray T (types.get(call) is T). */
  | "zeroed"
  /** bpf_csum_diff over two values (struct, FixedArray, header view, or null). */
  | "csumDiff"
  /** RFC 1071/1624 arithmetic, inlined. */
  | "csumFold"
  | "csumReplace16"
  | "csumReplace32"
  /** Byte swaps (BPF_END): bswapN on the little-endian hosts eBPF and Wasm run on, htons/ntohs = bswap16. */
  | "bswap16"
  | "bswap32"
  | "bswap64"
  | "htons"
  | "htonl"
  | "ntohs"
  | "ntohl";

export type MapMethod =
  "lookup" | "lookupRef" | "update" | "delete" | "increment" | "output" | "redirect";

export type CallTarget =
  /** `ctx.ipv4()` / `pkt.ipv4()`: the header view or null (rules in LANGUAGE.md §5). */
  | { kind: "ipv6Ext"; max: number; on: "ctx" | "xsk" }
  | {
      kind: "header";
      header: HeaderKind;
      on: "ctx" | "xsk";
      /** VLAN tags the L3 walk skips at most (the accessor's constant argument; 2 without one). */
      vlanTags: number;
    }
  /** `ctx.load8/16/32(off)`: checked big-endian load, null when out of bounds. */
  | { kind: "load"; width: 1 | 2 | 4; on: "ctx" | "xsk" }
  /** `ctx.csum(off, len, seed)`: bpf_csum_diff over len packet bytes at off, null when out of bounds. */
  | { kind: "csum"; len: number; on: "ctx" | "xsk" }
  /** `ctx.store8/16/32(off, v)`: checked big-endian store, false when out of bounds. */
  | { kind: "store"; width: 1 | 2 | 4; on: "ctx" | "xsk" }
  /** `ctx.l3CsumReplace/l4CsumReplace(off, from, to, size[, opts])` (tc): BPF_F_* `flags` besides the size; true on success. */
  | { kind: "csumReplace"; layer: 3 | 4; size: 2 | 4; flags: number }
  /** `ctx.storeBytes(off, src[, opts])` (tc): bpf_skb_store_bytes of `size` bytes with BPF_F_* `flags`; true on success. */
  | { kind: "storeBytes"; size: number; flags: number }
  /** `ctx.adjustHead(delta)` / `ctx.adjustTail(delta)`: returns bool. */
  | { kind: "adjust"; which: "head" | "tail" }
  /** `ctx.changeHead(len[, flags])` / `ctx.changeTail(len[, flags])` (tc): bpf_skb_change_head/tail; true on success. */
  | { kind: "change"; which: "head" | "tail" }
  /** `m.lookup(k)` … ; args[] are in source order; `update` flag defaults to BPF_ANY (0), `increment` by to 1. */
  | { kind: "map"; method: MapMethod; map: MapInfo }
  /** A built-in helper function. */
  | { kind: "helper"; name: HelperName }
  /** A user function. */
  | { kind: "function"; fn: FunctionInfo };

export type MemberTarget =
  /** A header view field (on-wire description). */
  | { kind: "headerField"; header: HeaderKind; field: HeaderField }
  /** A struct field (offset in the struct). */
  | { kind: "structField"; struct: StructType; field: StructField }
  /** `ctx.len`, `ctx.ifindex`, `ctx.mark` (tc, writable), `pkt.len`…: a context scalar. */
  | { kind: "contextField"; name: string; on: "xdp" | "tc" | "xsk"; field: ContextField }
  /** `E.A` of a const enum: a constant (see constValues). */
  | { kind: "enumMember"; info: ConstInfo }
  /** `a.length` of a FixedArray: a constant. */
  | { kind: "arrayLength"; length: number };

// ---------------------------------------------------------------- conversions and loops

/**
 * An implicit conversion of an expression's value at its use:
 * - widen:    int → wider int (zero-extend from unsigned, sign-extend from signed).
 * - truncate: int → narrower int, keeping the low bits (the arithmetic-narrowing
 *             exception `ip.ttl = ip.ttl - 1`, or a constant that fits).
 * - literal:  a constant (in constValues) taking the type its context needs; the
 *             value already fits `to`.
 * - test:     int / nullable / bool used as a condition: `!= 0` / `!== null`.
 * - sign:     same width, other signedness (only for constants that fit).
 */
export interface Conversion {
  kind: "widen" | "truncate" | "literal" | "test" | "sign";
  from: Type;
  to: Type;
}

/**
 * `for (let i = start; i < end; i += step)` (also `<=`, normalised to an exclusive
 * end). The counter has `counter.type`; the body runs `tripCount` times.
 */
export interface LoopBound {
  counter: LocalSym;
  start: bigint;
  /** Exclusive: the loop runs while the counter is below it (above it when descending). */
  end: bigint;
  /** Positive; subtracted when descending (`i--`, `i -= c` with `>`/`>=`). */
  step: bigint;
  tripCount: number;
  descending?: boolean;
}
