// A Csmith-style generator: random well-typed xdpc filters, each with an exact C twin
// written to the language's defined semantics (docs/language.md §3–§8), so that xdpc's
// build and clang -O2's must behave identically. No undefined behaviour on the C side:
// arithmetic is done in the unsigned type of its width and cast back, shift counts are
// masked, x / 0 = 0 and x % 0 = x, signed division is spelled out on magnitudes.
//
// A program is a tree (items, statements, expressions) that renders to both languages,
// so that the reducer (reduce.ts) can delete statements and replace expressions and
// render again.

// ------------------------------------------------------------------ random numbers

export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    // mulberry32
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  big(bits: number): bigint {
    let v = 0n;
    for (let i = 0; i < bits; i += 16) v = (v << 16n) | BigInt(this.int(65536));
    return BigInt.asUintN(bits, v);
  }
}

// ------------------------------------------------------------------ types

export interface IntT {
  bits: 8 | 16 | 32 | 64;
  signed: boolean;
}
export const INTS: IntT[] = [8, 16, 32, 64].flatMap((bits) =>
  [false, true].map((signed) => ({ bits: bits as IntT["bits"], signed })),
);
const U32: IntT = { bits: 32, signed: false };
const U64: IntT = { bits: 64, signed: false };
const U8: IntT = { bits: 8, signed: false };
const U16: IntT = { bits: 16, signed: false };
export const tsName = (t: IntT) => `${t.signed ? "i" : "u"}${t.bits}`;
export const cName = (t: IntT) => `__${t.signed ? "s" : "u"}${t.bits}`;
const cu = (t: IntT) => `__u${t.bits}`;
const promote = (t: IntT): IntT => (t.bits < 32 ? { bits: 32, signed: t.signed } : t);
const same = (a: IntT, b: IntT) => a.bits === b.bits && a.signed === b.signed;
const minOf = (t: IntT) => (t.signed ? -(1n << BigInt(t.bits - 1)) : 0n);
const maxOf = (t: IntT) =>
  t.signed ? (1n << BigInt(t.bits - 1)) - 1n : (1n << BigInt(t.bits)) - 1n;
const fits = (v: bigint, t: IntT) => v >= minOf(t) && v <= maxOf(t);
const wrapTo = (v: bigint, t: IntT) =>
  t.signed ? BigInt.asIntN(t.bits, v) : BigInt.asUintN(t.bits, v);
/** Implicit conversion (§3.5): same signedness not narrower, or unsigned into a wider signed. */
const implicit = (from: IntT, to: IntT) =>
  from.signed === to.signed
    ? from.bits <= to.bits
    : !from.signed && to.signed && from.bits < to.bits;

// ------------------------------------------------------------------ program tree

/** An expression: renders from its children, so the reducer can replace any of them. */
export interface Expr {
  t: IntT | "bool";
  /** An untyped constant expression (takes its context's type; never both operands). */
  konst?: bigint;
  /** Folded at compile time (a constant, or an operator/cast over constants only). */
  c?: boolean;
  kids: Expr[];
  fmt(k: [string, string][]): [string, string];
}

/** A statement or item: its expressions and nested blocks render into lines. */
export interface Stmt {
  kind: string;
  exprs: Expr[];
  blocks: Stmt[][];
  fmt(e: [string, string][], b: [string[], string[]][]): [string[], string[]];
  /** Never deleted by the reducer (the final return). */
  keep?: boolean;
}

export function renderExpr(e: Expr): [string, string] {
  return e.fmt(e.kids.map(renderExpr));
}

export function renderBlock(b: Stmt[]): [string[], string[]] {
  const ts: string[] = [];
  const c: string[] = [];
  for (const s of b) {
    const [a, d] = s.fmt(s.exprs.map(renderExpr), s.blocks.map(renderBlock));
    ts.push(...a);
    c.push(...d);
  }
  return [ts, c];
}

export interface Program {
  seed: number;
  /** Top-level items (structs, maps, globals, params, helpers) and the program last. */
  items: Stmt[];
  /** Load-time parameters' values the driver sets (`--set`), by name; the rest keep their default. */
  sets: Record<string, string>;
  /**
   * The program is also an AF_XDP handler's twin: it returns only XDP_DROP / XDP_TX and
   * uses only what a handler has (no adjust*, redirects or ring buffers), so that
   * `handlerOf` turns it into the handler whose Wasm run must match its kernel run.
   */
  handler: boolean;
}

export function render(p: Program): { ts: string; c: string; handler?: string } {
  const [ts, c] = renderBlock(p.items);
  const body = ts.join("\n") + "\n";
  return {
    ts: TS_HEAD + body,
    c: C_HEAD + c.join("\n") + "\n",
    ...(p.handler ? { handler: handlerOf(body) } : {}),
  };
}

/** The verdicts of a handler (XSK_DROP 0, XSK_TX 1) as its XDP twin returns them. */
export const XSK_AS_XDP: Record<number, number> = { 0: 1, 1: 3 };

/**
 * The AF_XDP handler of a handler-mode program's TS body: the same statements over an
 * XskPacket (pkt.len, pkt.rxQueue, the same accessors and loads), XSK_DROP for
 * XDP_DROP and XSK_TX for XDP_TX, bound by an XskMap. Generated names never contain
 * these words, so a textual rename is exact.
 */
function handlerOf(body: string): string {
  const h = body
    .replace(/\bctx\b/g, "pkt")
    .replace(/\bXdpContext\b/g, "XskPacket")
    .replace(/\bXdpAction\b/g, "XskVerdict")
    .replace(/\bXDP_DROP\b/g, "XSK_DROP")
    .replace(/\bXDP_TX\b/g, "XSK_TX");
  return (
    TS_HEAD +
    `import { XskMap, XSK_DROP, XSK_TX, type XskPacket, type XskVerdict } from "xdpc";\n` +
    h +
    "const xsks = new XskMap({ maxEntries: 1, handler: prog });\n"
  );
}

const ind = (lines: string[]) => lines.map((l) => "  " + l);

const TS_HEAD = `import type { XdpContext, XdpAction, FixedArray, bool, u8, u16, u32, u64, i8, i16, i32, i64 } from "xdpc";
import { XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT, BPF_ANY, BPF_NOEXIST, BPF_EXIST, zeroed, redirect, param } from "xdpc";
import { ArrayMap, HashMap, LruHash, PerCpuArray, PerCpuHash, LpmTrie, RingBuf, DevMap } from "xdpc";
`;

const C_HEAD = `#include "xdpc_twin.h"
#define XI static __always_inline
char LICENSE[] SEC("license") = "GPL";
XI __u32 x_g8(const __u8 *p, int o) { return p[o]; }
XI __u32 x_g16(const __u8 *p, int o) { return ((__u32)p[o] << 8) | p[o + 1]; }
XI __u32 x_g32(const __u8 *p, int o) { return ((__u32)p[o] << 24) | ((__u32)p[o + 1] << 16) | ((__u32)p[o + 2] << 8) | p[o + 3]; }
XI void x_s8(__u8 *p, int o, __u32 v) { p[o] = v; }
XI void x_s16(__u8 *p, int o, __u32 v) { p[o] = v >> 8; p[o + 1] = v; }
XI void x_s32(__u8 *p, int o, __u32 v) { p[o] = v >> 24; p[o + 1] = v >> 16; p[o + 2] = v >> 8; p[o + 3] = v; }
/* ctx.loadN(off): null (-1) unless off <= 0xffff - N and N bytes are present (the
 * bounded offset keeps the verifier's packet range, as xdpc's own check does). */
#define Y_LOAD(N, EXPR) \
	XI long y_load##N(struct xdp_md *ctx, __u32 off) \
	{ \
		if (off > 0xffff - N / 8) \
			return -1; \
		unsigned char *p = X_DATA(ctx) + off; \
		if ((void *)(p + N / 8) > X_END(ctx)) \
			return -1; \
		return EXPR; \
	}
Y_LOAD(8, p[0])
Y_LOAD(16, ((__u32)p[0] << 8) | p[1])
Y_LOAD(32, ((__u32)p[0] << 24) | ((__u32)p[1] << 16) | ((__u32)p[2] << 8) | p[3])
XI __u32 x_udiv32(__u32 a, __u32 b) { return b ? a / b : 0; }
XI __u64 x_udiv64(__u64 a, __u64 b) { return b ? a / b : 0; }
XI __u32 x_umod32(__u32 a, __u32 b) { return b ? a % b : a; }
XI __u64 x_umod64(__u64 a, __u64 b) { return b ? a % b : a; }
XI __s32 x_sdiv32(__s32 a, __s32 b)
{
	__u32 ua = a < 0 ? 0u - (__u32)a : (__u32)a, ub = b < 0 ? 0u - (__u32)b : (__u32)b;
	__u32 q = ub ? ua / ub : 0;
	return (__s32)((a < 0) != (b < 0) ? 0u - q : q);
}
XI __s64 x_sdiv64(__s64 a, __s64 b)
{
	__u64 ua = a < 0 ? 0ull - (__u64)a : (__u64)a, ub = b < 0 ? 0ull - (__u64)b : (__u64)b;
	__u64 q = ub ? ua / ub : 0;
	return (__s64)((a < 0) != (b < 0) ? 0ull - q : q);
}
XI __s32 x_smod32(__s32 a, __s32 b)
{
	__u32 ua = a < 0 ? 0u - (__u32)a : (__u32)a, ub = b < 0 ? 0u - (__u32)b : (__u32)b;
	__u32 r = ub ? ua % ub : ua;
	return (__s32)(a < 0 ? 0u - r : r);
}
XI __s64 x_smod64(__s64 a, __s64 b)
{
	__u64 ua = a < 0 ? 0ull - (__u64)a : (__u64)a, ub = b < 0 ? 0ull - (__u64)b : (__u64)b;
	__u64 r = ub ? ua % ub : ua;
	return (__s64)(a < 0 ? 0ull - r : r);
}
`;

// ------------------------------------------------------------------ expression helpers

function leaf(t: IntT | "bool", ts: string, c: string): Expr {
  return { t, kids: [], fmt: () => [ts, c] };
}

/** A C constant of type t (two's complement bits, cast: no suffix questions). */
function cConst(v: bigint, t: IntT): string {
  return `((${cName(t)})0x${BigInt.asUintN(t.bits, v).toString(16)}ull)`;
}
function tsLit(v: bigint, r?: Rng): string {
  const a = v < 0n ? -v : v;
  const s = r && a > 9n && r.chance(0.5) ? "0x" + a.toString(16) : a.toString();
  return v < 0n ? `(-${s})` : s;
}
/** A typed constant: a literal that takes type t from its context. */
export function constOf(v: bigint, t: IntT, r?: Rng): Expr {
  const e = leaf(t, tsLit(v, r), cConst(v, t));
  e.konst = v;
  e.c = true;
  return e;
}
/** A zero of type t that stands alone (the reducer's replacement). */
export function zeroOf(t: IntT | "bool"): Expr {
  const z =
    t === "bool" ? leaf("bool", "false", "0") : leaf(t, `(0 as ${tsName(t)})`, cConst(0n, t));
  z.c = true;
  return z;
}

function cast(e: Expr, t: IntT): Expr {
  return {
    t,
    c: e.c,
    kids: [e],
    fmt: ([a]) => [`(${a![0]} as ${tsName(t)})`, `((${cName(t)})(${a![1]}))`],
  };
}
/** e (of a type implicitly convertible to t, or a constant) used where t is expected. */
function convC(e: Expr, t: IntT): Expr {
  return { t, c: e.c, kids: [e], fmt: ([a]) => [a![0], `((${cName(t)})(${a![1]}))`] };
}

const ARITH = ["+", "-", "*", "/", "%", "&", "|", "^"] as const;
const SHIFTS = ["<<", ">>", ">>>"] as const;
const CMPS = ["<", "<=", ">", ">=", "===", "!=="] as const;

function binary(op: string, a: Expr, b: Expr, w: IntT): Expr {
  const W = cName(w);
  const UW = cu(w);
  const m = w.bits - 1;
  return {
    t: w,
    c: a.c && b.c,
    kids: [a, b],
    fmt: ([x, y]) => {
      const ts = `(${x![0]} ${op} ${y![0]})`;
      const A = `(${W})(${x![1]})`;
      const B = `(${W})(${y![1]})`;
      let c: string;
      switch (op) {
        case "/":
        case "%": {
          const f = `x_${w.signed ? "s" : "u"}${op === "/" ? "div" : "mod"}${w.bits}`;
          c = `((${W})${f}(${A}, ${B}))`;
          break;
        }
        case "<<":
          c = `((${W})((${UW})(${x![1]}) << ((${UW})(${y![1]}) & ${m})))`;
          break;
        case ">>":
          c = w.signed
            ? `((${W})((${W})(${x![1]}) >> ((${UW})(${y![1]}) & ${m})))`
            : `((${W})((${UW})(${x![1]}) >> ((${UW})(${y![1]}) & ${m})))`;
          break;
        case ">>>":
          c = `((${W})((${UW})(${x![1]}) >> ((${UW})(${y![1]}) & ${m})))`;
          break;
        default:
          c = `((${W})((${UW})(${x![1]}) ${op} (${UW})(${y![1]})))`;
      }
      return [ts, c];
    },
  };
}

function compare(op: string, a: Expr, b: Expr, w: IntT): Expr {
  const W = cName(w);
  const cop = op === "===" ? "==" : op === "!==" ? "!=" : op;
  return {
    t: "bool",
    c: a.c && b.c,
    kids: [a, b],
    fmt: ([x, y]) => [`(${x![0]} ${op} ${y![0]})`, `((${W})(${x![1]}) ${cop} (${W})(${y![1]}))`],
  };
}

/** An integer or bool used as a condition: C's `!= 0`. */
function truth(e: Expr): Expr {
  if (e.t === "bool") return e;
  return { t: "bool", c: e.c, kids: [e], fmt: ([x]) => [x![0], `((${x![1]}) != 0)`] };
}

// ------------------------------------------------------------------ headers

interface HField {
  name: string;
  t: IntT;
  get: (p: string) => string;
  set?: (p: string, v: string) => string;
}
const g16 = (o: number) => (p: string) => `x_g16(${p}, ${o})`;
const s16 = (o: number) => (p: string, v: string) => `x_s16(${p}, ${o}, ${v});`;
const g8 = (o: number) => (p: string) => `x_g8(${p}, ${o})`;
const s8 = (o: number) => (p: string, v: string) => `x_s8(${p}, ${o}, ${v});`;
const g32 = (o: number) => (p: string) => `x_g32(${p}, ${o})`;
const s32 = (o: number) => (p: string, v: string) => `x_s32(${p}, ${o}, ${v});`;
const plain = (name: string, t: IntT, o: number): HField => ({
  name,
  t,
  get: t.bits === 8 ? g8(o) : t.bits === 16 ? g16(o) : g32(o),
  set: t.bits === 8 ? s8(o) : t.bits === 16 ? s16(o) : s32(o),
});
const mac = (name: string, o: number): HField => ({
  name,
  t: U64,
  get: (p) => `x_mac_get(${p} + ${o})`,
  set: (p, v) => `x_mac_set(${p} + ${o}, ${v});`,
});
/** A sub-byte field of the big-endian unit at o: (unit >> shift) & mask; writes keep the rest. */
const bits = (
  name: string,
  t: IntT,
  o: number,
  unit: 8 | 16 | 32,
  shift: number,
  mask: number,
  ro = false,
): HField => {
  const g = unit === 8 ? "x_g8" : unit === 16 ? "x_g16" : "x_g32";
  const s = unit === 8 ? "x_s8" : unit === 16 ? "x_s16" : "x_s32";
  const M = `0x${(mask * 2 ** shift).toString(16)}u`;
  return {
    name,
    t,
    get: (p) => `((${g}(${p}, ${o}) >> ${shift}) & 0x${mask.toString(16)})`,
    set: ro
      ? undefined
      : (p, v) =>
          `${s}(${p}, ${o}, (${g}(${p}, ${o}) & ~${M}) | (((__u32)(${v}) << ${shift}) & ${M}));`,
  };
};

export const HEADERS: Record<string, { c: string; fields: HField[] }> = {
  eth: { c: "x_eth", fields: [mac("dst", 0), mac("src", 6), plain("proto", U16, 12)] },
  vlan: {
    c: "x_vlan",
    fields: [plain("tci", U16, 0), bits("vid", U16, 0, 16, 0, 0xfff), plain("proto", U16, 2)],
  },
  ipv4: {
    c: "x_ipv4",
    fields: [
      bits("version", U8, 0, 8, 4, 0xf, true),
      bits("ihl", U8, 0, 8, 0, 0xf, true),
      plain("tos", U8, 1),
      plain("totalLength", U16, 2),
      plain("id", U16, 4),
      bits("flags", U8, 6, 16, 13, 0x7),
      bits("fragmentOffset", U16, 6, 16, 0, 0x1fff),
      plain("ttl", U8, 8),
      plain("protocol", U8, 9),
      plain("checksum", U16, 10),
      plain("src", U32, 12),
      plain("dst", U32, 16),
    ],
  },
  ipv6: {
    c: "x_ipv6",
    fields: [
      bits("version", U8, 0, 8, 4, 0xf, true),
      bits("trafficClass", U8, 0, 32, 20, 0xff),
      bits("flowLabel", U32, 0, 32, 0, 0xfffff),
      plain("payloadLength", U16, 4),
      plain("nextHeader", U8, 6),
      plain("hopLimit", U8, 7),
    ],
  },
  tcp: {
    c: "x_tcp",
    fields: [
      plain("srcPort", U16, 0),
      plain("dstPort", U16, 2),
      plain("seq", U32, 4),
      plain("ack", U32, 8),
      bits("dataOffset", U8, 12, 8, 4, 0xf),
      plain("flags", U8, 13),
      plain("window", U16, 14),
      plain("checksum", U16, 16),
      plain("urgent", U16, 18),
    ],
  },
  udp: {
    c: "x_udp",
    fields: [
      plain("srcPort", U16, 0),
      plain("dstPort", U16, 2),
      plain("length", U16, 4),
      plain("checksum", U16, 6),
    ],
  },
  icmp: {
    c: "x_icmp",
    fields: [
      plain("type", U8, 0),
      plain("code", U8, 1),
      plain("checksum", U16, 2),
      plain("id", U16, 4),
      plain("seq", U16, 6),
    ],
  },
  icmp6: {
    c: "x_icmp6",
    fields: [
      plain("type", U8, 0),
      plain("code", U8, 1),
      plain("checksum", U16, 2),
      plain("id", U16, 4),
      plain("seq", U16, 6),
    ],
  },
};

// ------------------------------------------------------------------ generator state

interface Var {
  name: string;
  t: IntT;
  mutable: boolean;
  /** A `const` of a constant expression: the checker folds it (§3.2, typed constant). */
  c?: boolean;
}
interface StructDef {
  name: string;
  fields: { name: string; t: IntT; n?: number }[];
}
interface MapDef {
  name: string;
  kind:
    | "ArrayMap"
    | "PerCpuArray"
    | "HashMap"
    | "LruHash"
    | "PerCpuHash"
    | "LpmTrie"
    | "RingBuf"
    | "DevMap";
  key: IntT | StructDef | null;
  value: IntT | StructDef | null;
  max: number;
}
interface Helper {
  name: string;
  params: IntT[];
  ret: IntT | null;
  /** Takes ctx first and may have side effects (called as a statement). */
  proc: boolean;
}
interface View {
  name: string;
  header: string;
}
interface SVar {
  name: string;
  s: StructDef;
  /** A map-value view (C: pointer) rather than a stack value. */
  ptr: boolean;
}

export interface GenOptions {
  /** Statements in the program body (roughly). */
  size?: number;
  /** Force handler mode on or off (Program.handler; else 30% of seeds). */
  handler?: boolean;
}

class Gen {
  items: Stmt[] = [];
  /** Load-time parameters (read-only; the driver sets most of them to other values). */
  params: Var[] = [];
  sets: Record<string, string> = {};
  /** See Program.handler. */
  handler = false;
  structs: StructDef[] = [];
  maps: MapDef[] = [];
  globals: Var[] = [];
  helpers: Helper[] = [];
  private n = 0;
  // scope
  vars: Var[][] = [[]];
  views: View[] = [];
  svars: SVar[] = [];
  loopDepth = 0;
  inHelper: Helper | null = null;
  budget = 0;

  /**
   * Draws for the features added after the first campaigns (params, handler mode), so
   * that a seed without them generates what it did before.
   */
  constructor(
    readonly r: Rng,
    readonly side: Rng,
  ) {}

  fresh(p: string): string {
    return `${p}${this.n++}`;
  }
  allVars(): Var[] {
    return this.vars.flat();
  }
  scope<T>(f: () => T): T {
    this.vars.push([]);
    const nv = this.views.length;
    const ns = this.svars.length;
    try {
      return f();
    } finally {
      this.vars.pop();
      this.views.length = nv;
      this.svars.length = ns;
    }
  }
  randInt(): IntT {
    return this.r.pick(INTS);
  }
  interesting(t: IntT, r = this.r): bigint {
    const c = r.int(10);
    let v: bigint;
    if (c === 0) v = 0n;
    else if (c === 1) v = 1n;
    else if (c === 2) v = maxOf(t);
    else if (c === 3) v = minOf(t);
    else if (c === 4) v = t.signed ? -1n : maxOf(t);
    else if (c === 5) v = (1n << BigInt(r.int(t.bits))) + BigInt(r.range(-1, 1));
    else if (c <= 7) v = BigInt(r.int(64));
    else v = r.big(t.bits);
    return wrapTo(v, t);
  }

  // -------------------------------------------------------------- expressions

  /** An expression whose type is exactly t (or a constant typed t by its context). */
  expr(t: IntT, d: number, allowConst = true): Expr {
    const r = this.r;
    if (d <= 0 || r.chance(0.25)) return this.leafOf(t, allowConst);
    const wide = t.bits >= 32;
    const c = r.int(wide ? 12 : 5);
    switch (c) {
      case 0: {
        // cast from any type: the 64 pairs
        const s = this.randInt();
        return cast(this.expr(s, d - 1, false), t);
      }
      case 1:
        return this.leafOf(t, allowConst);
      case 2: {
        // bool → integer through ?: (§3.5)
        const b = this.bool(d - 1);
        return {
          t,
          c: b.c,
          kids: [b],
          fmt: ([x]) => [
            `((${x![0]} ? 1 : 0) as ${tsName(t)})`,
            `((${cName(t)})((${x![1]}) ? 1 : 0))`,
          ],
        };
      }
      case 3:
        if (this.helpers.some((h) => !h.proc && h.ret && same(h.ret, t))) return this.call(t, d);
        return cast(this.expr(promote(t), d - 1, false), t);
      case 4: {
        // arithmetic at 32/64 then narrowed with `as`
        return cast(this.expr(promote(t), d - 1, false), t);
      }
      case 5:
      case 6:
      case 7: {
        const op = r.pick(ARITH);
        return this.bin(op, t, d);
      }
      case 8: {
        const op = r.pick(SHIFTS);
        const a = this.nonConst(this.operand(t, d - 1, true));
        const cnt = r.chance(0.5)
          ? constOf(BigInt(r.int(t.bits)), promote(a.t as IntT))
          : this.expr(
              r.chance(0.5)
                ? (a.t as IntT)
                : { bits: r.pick([8, 16, 32, 64] as const), signed: t.signed },
              d - 1,
              false,
            );
        return binary(op, a, cnt, t);
      }
      case 9: {
        const op = r.pick(["-", "~"]);
        const a = this.nonConst(this.operand(t, d - 1, true));
        const W = cName(t);
        return {
          t,
          kids: [a],
          fmt: ([x]) => [
            `(${op}${x![0]})`,
            op === "-" ? `((${W})(0 - (${cu(t)})(${x![1]})))` : `((${W})(~(${cu(t)})(${x![1]})))`,
          ],
        };
      }
      case 10: {
        const b = this.bool(d - 1);
        const x = this.nonConst(this.expr(t, d - 1, false));
        const y = this.expr(t, d - 1, r.chance(0.3));
        return {
          t,
          kids: [b, x, y],
          fmt: ([c0, a, b2]) => [
            `(${c0![0]} ? ${a![0]} : ${b2![0]})`,
            `((${c0![1]}) ? (${cName(t)})(${a![1]}) : (${cName(t)})(${b2![1]}))`,
          ],
        };
      }
      default:
        return this.constExpr(t) ?? this.leafOf(t, allowConst);
    }
  }

  /** e, or (when e is folded at compile time) a run-time value of its type. */
  nonConst(e: Expr): Expr {
    if (!e.c) return e;
    const t = e.t as IntT;
    const vs = [...this.allVars(), ...this.globals].filter((v) => same(v.t, t) && !v.c);
    if (vs.length) {
      const v = this.r.pick(vs);
      return leaf(t, v.name, v.name);
    }
    const src = this.inHelper && !this.inHelper.proc ? "a0" : "ctx.len";
    const csrc = src === "a0" ? "a0" : "((__u32)bpf_xdp_get_buff_len(ctx))";
    return leaf(t, `(${src} as ${tsName(t)})`, `((${cName(t)})(${csrc}))`);
  }

  /** An operand of working type w: same signedness, no wider, promoting to w. */
  operand(w: IntT, d: number, exact: boolean): Expr {
    if (exact || this.r.chance(0.5)) return this.expr(w, d, false);
    const narrower = INTS.filter((s) => s.signed === w.signed && promote(s).bits === w.bits);
    return this.expr(this.r.pick(narrower), d, false);
  }

  bin(op: string, w: IntT, d: number): Expr {
    const r = this.r;
    const a = this.nonConst(this.operand(w, d - 1, false));
    const aw = promote(a.t as IntT);
    if (r.chance(0.3)) {
      // one side an untyped constant: it takes the other operand's type
      let v = this.interesting(a.t as IntT);
      if (op === "/" || op === "%") v = r.chance(0.3) ? 0n : v;
      const k = constOf(v, a.t as IntT, r);
      const [x, y] = r.chance(0.5) ? [a, k] : [k, a];
      const e = binary(op, x, y, aw);
      return aw.bits === w.bits ? e : cast(e, w);
    }
    const b = aw.bits === w.bits ? this.operand(w, d - 1, false) : this.expr(w, d - 1, false);
    return binary(op, a, b, w);
  }

  /** An untyped constant expression folded exactly; null when it would not fit t. */
  constExpr(t: IntT): Expr | null {
    const r = this.r;
    const ops = ["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"];
    let v = BigInt(r.range(-300, 300));
    let ts = tsLit(v);
    for (let i = r.range(1, 3); i > 0; i--) {
      const op = r.pick(ops);
      const b =
        op === "<<" || op === ">>"
          ? BigInt(r.int(12))
          : r.chance(0.2)
            ? 0n
            : BigInt(r.range(-100, 1000));
      if ((op === "<<" || op === ">>") && v < 0n) continue;
      switch (op) {
        case "+":
          v = v + b;
          break;
        case "-":
          v = v - b;
          break;
        case "*":
          v = v * b;
          break;
        case "/":
          v = b === 0n ? 0n : v / b;
          break;
        case "%":
          v = b === 0n ? v : v % b;
          break;
        case "&":
          v = v & b;
          break;
        case "|":
          v = v | b;
          break;
        case "^":
          v = v ^ b;
          break;
        case "<<":
          v = v << b;
          break;
        case ">>":
          v = v >> b;
          break;
      }
      ts = `(${ts} ${op} ${tsLit(b)})`;
    }
    if (!fits(v, t)) return null;
    const e = leaf(t, ts, cConst(v, t));
    e.konst = v;
    e.c = true;
    return e;
  }

  leafOf(t: IntT, allowConst: boolean): Expr {
    const r = this.r;
    const opts: (() => Expr | null)[] = [];
    const vs = this.allVars().filter((v) => same(v.t, t));
    if (vs.length)
      opts.push(() => {
        const v = r.pick(vs);
        const e = leaf(t, v.name, v.name);
        e.c = v.c;
        return e;
      });
    const gs = this.globals.filter((g) => same(g.t, t));
    if (gs.length)
      opts.push(() => {
        const g = r.pick(gs);
        return leaf(t, g.name, g.name);
      });
    const ps = this.params.filter((g) => same(g.t, t));
    if (ps.length)
      opts.push(() => {
        const g = r.pick(ps);
        return leaf(t, g.name, g.name);
      });
    // header fields of views in scope
    for (const v of this.views)
      for (const f of HEADERS[v.header]!.fields)
        if (same(f.t, t))
          opts.push(() =>
            leaf(t, `${v.name}.${f.name}`, `((${cName(t)})${f.get(`((__u8 *)${v.name})`)})`),
          );
    for (const sv of this.svars)
      for (const f of sv.s.fields)
        if (same(f.t, t)) {
          const acc = sv.ptr ? "->" : ".";
          if (f.n) {
            opts.push(() => {
              const i = r.chance(0.5)
                ? constOf(BigInt(r.int(f.n!)), U32)
                : this.nonConst(this.expr(U32, 1, false));
              return {
                t,
                kids: [i],
                fmt: ([x]) => [
                  `${sv.name}.${f.name}[${x![0]}]`,
                  `({ __u32 _i = (${x![1]}); _i < ${f.n} ? ${sv.name}${acc}${f.name}[_i] : (${cName(t)})0; })`,
                ],
              };
            });
          } else opts.push(() => leaf(t, `${sv.name}.${f.name}`, `${sv.name}${acc}${f.name}`));
        }
    if (!this.inHelper || this.inHelper.proc) {
      if (same(t, U32)) {
        opts.push(() => leaf(t, "ctx.len", "((__u32)bpf_xdp_get_buff_len(ctx))"));
        opts.push(() => leaf(t, "ctx.rxQueue", "ctx->rx_queue_index"));
      }
    }
    if (allowConst || opts.length === 0) opts.push(() => constOf(this.interesting(t), t, r));
    if (opts.length === 0 || (!allowConst && r.chance(0.05)))
      return cast(constOf(this.interesting(t), t, r), t);
    for (let k = 0; k < 4; k++) {
      const e = r.pick(opts)();
      if (e) return e;
    }
    return zeroOf(t);
  }

  call(t: IntT, d: number): Expr {
    const hs = this.helpers.filter((h) => !h.proc && h.ret && same(h.ret, t));
    const h = this.r.pick(hs);
    const args = h.params.map((p) => this.arg(p, d - 1));
    return {
      t,
      kids: args,
      fmt: (k) => [
        `${h.name}(${k.map((x) => x[0]).join(", ")})`,
        `${h.name}(${k.map((x) => x[1]).join(", ")})`,
      ],
    };
  }

  /** A value for a place of type t: exact, implicitly widened, or a constant. */
  arg(t: IntT, d: number): Expr {
    const r = this.r;
    if (r.chance(0.3)) {
      const s = INTS.filter((x) => implicit(x, t) && !same(x, t));
      if (s.length) return convC(this.expr(r.pick(s), d, false), t);
    }
    return convC(this.expr(t, d, true), t);
  }

  bool(d: number): Expr {
    const r = this.r;
    const c = d <= 0 ? 0 : r.int(6);
    switch (c) {
      case 0:
      case 1:
      case 2: {
        const w = r.pick(INTS);
        const a = this.nonConst(this.expr(w, d - 1, false));
        const b = r.chance(0.4) ? constOf(this.interesting(w), w, r) : this.expr(w, d - 1, false);
        const [x, y] = r.chance(0.5) ? [a, b] : [b, a];
        return compare(r.pick(CMPS), x, y, promote(w));
      }
      case 3: {
        const a = this.bool(d - 1);
        return { t: "bool", c: a.c, kids: [a], fmt: ([x]) => [`!${x![0]}`, `(!(${x![1]}))`] };
      }
      case 4: {
        const op = r.pick(["&&", "||"]);
        const a = r.chance(0.3) ? this.expr(this.randInt(), d - 1, false) : this.bool(d - 1);
        const b = r.chance(0.3) ? this.expr(this.randInt(), d - 1, false) : this.bool(d - 1);
        const ta = truth(a);
        const tb = truth(b);
        return {
          t: "bool",
          c: ta.c && tb.c,
          kids: [ta, tb],
          fmt: ([x, y]) => [`(${x![0]} ${op} ${y![0]})`, `((${x![1]}) ${op} (${y![1]}))`],
        };
      }
      default:
        return truth(this.expr(this.randInt(), d - 1, false));
    }
  }

  // -------------------------------------------------------------- statements

  stmt(s: Stmt): Stmt {
    return s;
  }

  block(n: number, ret: "verdict" | "void" | IntT): Stmt[] {
    const out: Stmt[] = [];
    for (let i = 0; i < n && this.budget > 0; i++) {
      this.budget--;
      out.push(...this.statement(ret));
    }
    return out;
  }

  retStmt(ret: "verdict" | "void" | IntT, keep = false): Stmt {
    const r = this.r;
    if (ret === "void")
      return { kind: "ret", exprs: [], blocks: [], keep, fmt: () => [["return;"], ["return;"]] };
    if (ret === "verdict" && this.handler) {
      // a handler's two verdicts, as constants or chosen at run time
      if (r.chance(0.7)) {
        const v = r.pick([1, 3]);
        const s = v === 1 ? "XDP_DROP" : "XDP_TX";
        return {
          kind: "ret",
          exprs: [],
          blocks: [],
          keep,
          fmt: () => [[`return ${s};`], [`return ${v};`]],
        };
      }
      const b = this.bool(2);
      return {
        kind: "ret",
        exprs: [b],
        blocks: [],
        keep,
        fmt: ([x]) => [[`return ${x![0]} ? XDP_TX : XDP_DROP;`], [`return (${x![1]}) ? 3 : 1;`]],
      };
    }
    if (ret === "verdict") {
      const c = r.int(8);
      if (c < 5) {
        const names = ["XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT"];
        const v = r.chance(0.8) ? r.range(1, 3) : r.pick([0, 4]);
        return {
          kind: "ret",
          exprs: [],
          blocks: [],
          keep,
          fmt: () => [[`return ${names[v]};`], [`return ${v};`]],
        };
      }
      if (c === 5) {
        const e = this.expr(U32, 2, false);
        return {
          kind: "ret",
          exprs: [e],
          blocks: [],
          keep,
          fmt: ([x]) => [
            [`return ((${x![0]}) % 4) as XdpAction;`],
            [`return (__u32)(${x![1]}) % 4;`],
          ],
        };
      }
      const devs = this.maps.find((m) => m.kind === "DevMap");
      if (c === 6 && devs) {
        const e = this.expr(U32, 1, true);
        return {
          kind: "ret",
          exprs: [convC(e, U32)],
          blocks: [],
          keep,
          fmt: ([x]) => [
            [`return ${devs.name}.redirect(${x![0]}, XDP_PASS);`],
            [`return bpf_redirect_map(&${devs.name}, ${x![1]}, XDP_PASS);`],
          ],
        };
      }
      const e = this.expr(U32, 1, true);
      return {
        kind: "ret",
        exprs: [convC(e, U32)],
        blocks: [],
        keep,
        fmt: ([x]) => [[`return redirect(${x![0]});`], [`return bpf_redirect(${x![1]}, 0);`]],
      };
    }
    const e = this.arg(ret, 3);
    return {
      kind: "ret",
      exprs: [e],
      blocks: [],
      keep,
      fmt: ([x]) => [[`return ${x![0]};`], [`return ${x![1]};`]],
    };
  }

  statement(ret: "verdict" | "void" | IntT): Stmt[] {
    const r = this.r;
    const inXdp = !this.inHelper || this.inHelper.proc;
    const c = r.int(inXdp ? 22 : 9);
    switch (c) {
      case 0:
      case 1:
      case 2: {
        // let v: T = e
        const t = this.randInt();
        const e = this.arg(t, 3);
        const name = this.fresh("v");
        const mutable = r.chance(0.7);
        this.vars[this.vars.length - 1]!.push({ name, t, mutable, c: !mutable && e.c });
        const kw = mutable ? "let" : "const";
        return [
          {
            kind: "decl",
            exprs: [e],
            blocks: [],
            fmt: ([x]) => [
              [`${kw} ${name}: ${tsName(t)} = ${x![0]};`],
              [`${cName(t)} ${name} = ${x![1]};`],
            ],
          },
        ];
      }
      case 3:
      case 4: {
        // assignment, compound assignment, ++/--
        const places = [...this.allVars().filter((v) => v.mutable), ...(inXdp ? this.globals : [])];
        if (!places.length) return [];
        const v = r.pick(places);
        const k = r.int(4);
        if (k === 0) {
          const op = r.pick(["++", "--"]);
          return [
            {
              kind: "inc",
              exprs: [],
              blocks: [],
              fmt: () => [
                [`${v.name}${op};`],
                [`${v.name} = (${cName(v.t)})((${cu(v.t)})${v.name} ${op[0]} 1);`],
              ],
            },
          ];
        }
        if (k === 1) {
          const op = r.pick([...ARITH, "<<", ">>"]);
          // b no wider than a (or a constant that fits)
          const s = INTS.filter((x) => x.signed === v.t.signed && x.bits <= v.t.bits);
          const bt = r.pick(s);
          const b = r.chance(0.3) ? constOf(this.interesting(bt), bt, r) : this.expr(bt, 2, false);
          const w = promote(v.t);
          return [
            {
              kind: "compound",
              exprs: [b],
              blocks: [],
              fmt: ([x]) => {
                const be = binary(op, leaf(v.t, v.name, v.name), leaf(b.t, x![0], x![1]), w);
                return [
                  [`${v.name} ${op}= ${x![0]};`],
                  [`${v.name} = (${cName(v.t)})(${renderExpr(be)[1]});`],
                ];
              },
            },
          ];
        }
        const e = this.arg(v.t, 3);
        return [
          {
            kind: "assign",
            exprs: [e],
            blocks: [],
            fmt: ([x]) => [[`${v.name} = ${x![0]};`], [`${v.name} = ${x![1]};`]],
          },
        ];
      }
      case 5: {
        // if / else
        const b = this.bool(3);
        const then = this.scope(() => this.block(r.range(1, 3), ret));
        const els = r.chance(0.5) ? this.scope(() => this.block(r.range(1, 2), ret)) : null;
        return [
          {
            kind: "if",
            exprs: [b],
            blocks: els ? [then, els] : [then],
            fmt: ([x], [t, e]) => [
              [`if (${x![0]}) {`, ...ind(t![0]), ...(e ? ["} else {", ...ind(e[0])] : []), "}"],
              [`if (${x![1]}) {`, ...ind(t![1]), ...(e ? ["} else {", ...ind(e[1])] : []), "}"],
            ],
          },
        ];
      }
      case 6: {
        // an early return under a condition
        const b = this.bool(2);
        const s = this.retStmt(ret);
        return [
          {
            kind: "if",
            exprs: [b],
            blocks: [[s]],
            fmt: ([x], [t]) => [
              [`if (${x![0]}) {`, ...ind(t![0]), "}"],
              [`if (${x![1]}) {`, ...ind(t![1]), "}"],
            ],
          },
        ];
      }
      case 7: {
        // for loop, up or down, with break / continue
        if (this.loopDepth >= 2) return [];
        const down = r.chance(0.3);
        const trips = r.chance(0.8) ? r.range(1, 12) : r.range(17, 40);
        const step = r.chance(0.7) ? 1 : r.range(2, 3);
        const lo = r.range(0, 5);
        const hi = lo + trips;
        const i = this.fresh("ix");
        const cmp = r.pick(down ? [">", ">="] : ["<", "<="]);
        const init = down ? hi : lo;
        const bound = down ? (cmp === ">=" ? lo + step : lo + step - 1) : hi;
        const upd =
          step === 1 ? (down ? `${i}--` : `${i}++`) : down ? `${i} -= ${step}` : `${i} += ${step}`;
        this.loopDepth++;
        const body = this.scope(() => {
          this.vars[this.vars.length - 1]!.push({ name: i, t: U32, mutable: false });
          const out: Stmt[] = [];
          const cond = this.bool(2); // before the body: only names declared outside it
          const parts = this.block(r.range(1, 3), ret);
          out.push(...parts);
          if (r.chance(0.6)) {
            const which = r.pick(["break", "continue"]);
            out.splice(r.int(out.length + 1), 0, {
              kind: "if",
              exprs: [cond],
              blocks: [],
              fmt: ([x]) => [[`if (${x![0]}) ${which};`], [`if (${x![1]}) ${which};`]],
            });
          }
          return out;
        });
        this.loopDepth--;
        return [
          {
            kind: "for",
            exprs: [],
            blocks: [body],
            fmt: (_, [b]) => [
              [`for (let ${i} = ${init}; ${i} ${cmp} ${bound}; ${upd}) {`, ...ind(b![0]), "}"],
              [`for (__u32 ${i} = ${init}; ${i} ${cmp} ${bound}; ${upd}) {`, ...ind(b![1]), "}"],
            ],
          },
        ];
      }
      case 8: {
        // switch with shared and default cases
        const t = this.randInt();
        const e = this.nonConst(this.expr(t, 2, false));
        const labels = new Set<bigint>();
        for (let k = r.range(1, 4); k > 0; k--)
          labels.add(r.chance(0.5) ? BigInt(r.int(6)) : this.interesting(t));
        const ls = [...labels];
        const groups: bigint[][] = [];
        for (const l of ls) {
          if (groups.length && r.chance(0.3)) groups[groups.length - 1]!.push(l);
          else groups.push([l]);
        }
        const hasDefault = r.chance(0.6);
        const bodies = [...groups, ...(hasDefault ? [null] : [])].map(() =>
          this.scope(() => {
            const b = this.block(r.range(0, 2), ret);
            return b;
          }),
        );
        const ends = bodies.map(() =>
          r.chance(0.7) ? "break" : this.loopDepth > 0 && r.chance(0.3) ? "continue" : "ret",
        );
        const rets = ends.map((x) => (x === "ret" ? [this.retStmt(ret)] : []));
        const blocks = [...bodies, ...rets];
        return [
          {
            kind: "switch",
            exprs: [e],
            blocks,
            fmt: ([x], bs) => {
              const ts = [`switch (${x![0]}) {`];
              const c2 = [`switch (${x![1]}) {`];
              bs.slice(0, bodies.length).forEach((b, k) => {
                const g = groups[k];
                const lab = g ? g.map((l) => `case ${tsLit(l)}:`) : ["default:"];
                const clab = g ? g.map((l) => `case ${cConst(l, t)}:`) : ["default:"];
                const re = bs[bodies.length + k]!;
                const end: [string[], string[]] =
                  ends[k] === "ret" ? re : [[`${ends[k]};`], [`${ends[k]};`]];
                ts.push(...ind(lab), "  {", ...ind(ind(b[0])), "  }", ...ind(ind(end[0])));
                c2.push(...ind(clab), "  {", ...ind(ind(b[1])), "  }", ...ind(ind(end[1])));
              });
              ts.push("}");
              c2.push("}");
              return [ts, c2];
            },
          },
        ];
      }
      default:
        return inXdp ? this.xdpStatement(ret, c) : [];
    }
  }

  xdpStatement(ret: "verdict" | "void" | IntT, c: number): Stmt[] {
    const r = this.r;
    const quit = (v: number): [string, string] =>
      ret === "void"
        ? ["return;", "return;"]
        : this.handler
          ? ["return XDP_DROP;", "return 1;"]
          : [`return ${["XDP_ABORTED", "XDP_DROP"][v]};`, `return ${v};`];
    switch (c) {
      case 9:
      case 10: {
        // a header view in its own scope
        const h = r.pick(Object.keys(HEADERS));
        const name = this.fresh(h);
        const body = this.scope(() => {
          this.views.push({ name, header: h });
          const out: Stmt[] = [];
          for (let k = r.range(1, 3); k > 0; k--) {
            if (r.chance(0.5)) {
              const ws = HEADERS[h]!.fields.filter((f) => f.set);
              const f = r.pick(ws);
              const e = this.arg(f.t, 2);
              out.push({
                kind: "hset",
                exprs: [e],
                blocks: [],
                fmt: ([x]) => [
                  [`${name}.${f.name} = ${x![0]};`],
                  [f.set!(`((__u8 *)${name})`, `(${x![1]})`)],
                ],
              });
            } else out.push(...this.block(1, ret));
          }
          return out;
        });
        const early = r.chance(0.4);
        const ctype = "void";
        return [
          {
            kind: "view",
            exprs: [],
            blocks: [body],
            fmt: (_, [b]) =>
              early
                ? [
                    [
                      "{",
                      `  const ${name} = ctx.${h}();`,
                      `  if (${name} !== null) {`,
                      ...ind(ind(b![0])),
                      "  }",
                      "}",
                    ],
                    [
                      "{",
                      `  ${ctype} *${name} = ${HEADERS[h]!.c}(ctx);`,
                      `  if (${name}) {`,
                      ...ind(ind(b![1])),
                      "  }",
                      "}",
                    ],
                  ]
                : [
                    [
                      `if (ctx.${h}() !== null) {`,
                      `  const ${name} = ctx.${h}();`,
                      `  if (${name} === null) ${quit(0)[0]}`,
                      ...ind(b![0]),
                      "}",
                    ],
                    [
                      `if (${HEADERS[h]!.c}(ctx)) {`,
                      `  ${ctype} *${name} = ${HEADERS[h]!.c}(ctx);`,
                      `  if (!${name}) ${quit(0)[1]}`,
                      ...ind(b![1]),
                      "}",
                    ],
                  ],
          },
        ];
      }
      case 11:
      case 12: {
        // checked load at a constant or variable offset, used narrowed or as a condition
        const w = r.pick([8, 16, 32] as const);
        const lt: IntT = w === 8 ? U8 : w === 16 ? U16 : U32;
        const off = r.chance(0.5) ? constOf(BigInt(r.int(80)), U32) : this.arg(U32, 2);
        const name = this.fresh("ld");
        const style = r.int(3);
        const inner = this.scope(() => {
          this.vars[this.vars.length - 1]!.push({ name, t: lt, mutable: false });
          return this.block(r.range(1, 2), ret);
        });
        const truthy = r.chance(0.3);
        return [
          {
            kind: "load",
            exprs: [off],
            blocks: [inner],
            fmt: ([o], [b]) => {
              const ts0 = `const ${name} = ctx.load${w}(${o![0]});`;
              const c0 = [
                `long ${name}_r = y_load${w}(ctx, ${o![1]});`,
                `${cName(lt)} ${name} = ${name}_r < 0 ? 0 : (${cName(lt)})${name}_r;`,
              ];
              const cTruthy = `${name}_r > 0`;
              if (style === 0)
                return [
                  [
                    "{",
                    `  ${ts0}`,
                    `  if (${name} !== null${truthy ? ` && ${name}` : ""}) {`,
                    ...ind(ind(b![0])),
                    "  }",
                    "}",
                  ],
                  [
                    "{",
                    ...ind(c0),
                    `  if (${name}_r >= 0${truthy ? ` && ${cTruthy}` : ""}) {`,
                    ...ind(ind(b![1])),
                    "  }",
                    "}",
                  ],
                ];
              if (style === 1)
                return [
                  [
                    "{",
                    `  ${ts0}`,
                    `  if (${truthy ? `!${name}` : `${name} === null`}) ${quit(1)[0]}`,
                    ...ind(b![0]),
                    "}",
                  ],
                  [
                    "{",
                    ...ind(c0),
                    `  if (${truthy ? `!(${cTruthy})` : `${name}_r < 0`}) ${quit(1)[1]}`,
                    ...ind(b![1]),
                    "}",
                  ],
                ];
              return [
                [
                  "{",
                  `  ${ts0}`,
                  `  if (${name} === null) ${quit(0)[0]}`,
                  `  if (${name}) {`,
                  ...ind(ind(b![0])),
                  "  }",
                  "}",
                ],
                [
                  "{",
                  ...ind(c0),
                  `  if (${name}_r < 0) ${quit(0)[1]}`,
                  `  if (${name} != 0) {`,
                  ...ind(ind(b![1])),
                  "  }",
                  "}",
                ],
              ];
            },
          },
        ];
      }
      case 13:
      case 14:
      case 15:
        return this.mapStatement(ret);
      case 16: {
        // struct local: literal or zeroed, field writes, FixedArray element writes
        const s = this.structs.length ? r.pick(this.structs) : null;
        if (!s) return [];
        const name = this.fresh("st");
        const hasArr = s.fields.some((f) => f.n);
        const inits = hasArr ? [] : s.fields.map((f) => this.arg(f.t, 2));
        const decl: Stmt = {
          kind: "struct",
          exprs: inits,
          blocks: [],
          fmt: (xs) =>
            hasArr
              ? [
                  [`const ${name} = zeroed<${s.name}>();`],
                  [`struct ${s.name} ${name};`, `__builtin_memset(&${name}, 0, sizeof(${name}));`],
                ]
              : [
                  [
                    `const ${name}: ${s.name} = { ${s.fields.map((f, k) => `${f.name}: ${xs[k]![0]}`).join(", ")} };`,
                  ],
                  [
                    `struct ${s.name} ${name};`,
                    `__builtin_memset(&${name}, 0, sizeof(${name}));`,
                    ...s.fields.map((f, k) => `${name}.${f.name} = ${xs[k]![1]};`),
                  ],
                ],
        };
        this.svars.push({ name, s, ptr: false });
        return [decl, ...this.fieldWrites({ name, s, ptr: false })];
      }
      case 17: {
        if (!this.views.length && !this.inHelper && !this.handler && r.chance(0.5)) {
          const head = r.chance(0.5);
          const d = head ? r.pick([-8, -4, 2, 4, 14, 20]) : r.pick([-8, -2, 4, 16]);
          const fn = head ? "adjustHead" : "adjustTail";
          const cfn = head ? "bpf_xdp_adjust_head" : "bpf_xdp_adjust_tail";
          const body = this.scope(() => this.block(r.range(0, 2), ret));
          return [
            {
              kind: "adjust",
              exprs: [],
              blocks: [body],
              fmt: (_, [b]) => [
                [`if (ctx.${fn}(${d})) {`, ...ind(b![0]), "}"],
                [`if (${cfn}(ctx, ${d}) == 0) {`, ...ind(b![1]), "}"],
              ],
            },
          ];
        }
        return this.procCall();
      }
      case 18:
        return this.procCall();
      default:
        return this.mapStatement(ret);
    }
  }

  fieldWrites(sv: SVar): Stmt[] {
    const r = this.r;
    const out: Stmt[] = [];
    const acc = sv.ptr ? "->" : ".";
    for (let k = r.range(0, 2); k > 0; k--) {
      const f = r.pick(sv.s.fields);
      const e = this.arg(f.t, 2);
      if (f.n) {
        const i = r.chance(0.4)
          ? constOf(BigInt(r.int(f.n)), U32)
          : this.nonConst(this.arg(U32, 1));
        out.push({
          kind: "aset",
          exprs: [i, e],
          blocks: [],
          fmt: ([x, y]) => [
            [`${sv.name}.${f.name}[${x![0]}] = ${y![0]};`],
            [
              `{ __u32 _i = (${x![1]}); ${cName(f.t)} _v = (${y![1]}); if (_i < ${f.n}) ${sv.name}${acc}${f.name}[_i] = _v; }`,
            ],
          ],
        });
      } else
        out.push({
          kind: "fset",
          exprs: [e],
          blocks: [],
          fmt: ([y]) => [
            [`${sv.name}.${f.name} = ${y![0]};`],
            [`${sv.name}${acc}${f.name} = ${y![1]};`],
          ],
        });
    }
    return out;
  }

  procCall(): Stmt[] {
    const ps = this.helpers.filter((h) => h.proc && h !== this.inHelper);
    if (!ps.length || this.inHelper) return [];
    const h = this.r.pick(ps);
    const args = h.params.map((p) => this.arg(p, 2));
    return [
      {
        kind: "call",
        exprs: args,
        blocks: [],
        fmt: (k) => [
          [`${h.name}(ctx${k.map((x) => ", " + x[0]).join("")});`],
          [`${h.name}(ctx${k.map((x) => ", " + x[1]).join("")});`],
        ],
      },
    ];
  }

  keyExpr(m: MapDef): { ts: (k: string[]) => string; c: (k: string[]) => string[]; exprs: Expr[] } {
    const r = this.r;
    if (m.kind === "LpmTrie") {
      const plen = constOf(BigInt(r.pick([0, 8, 16, 24, 32, r.int(33)])), U32);
      const addr = this.arg(U32, 2);
      return {
        exprs: [plen, addr],
        ts: ([p, a]) => `{ prefixlen: ${p}, addr: ${a} }`,
        c: ([p, a]) => [`struct lpmk _k = { .prefixlen = ${p}, .addr = bpf_htonl(${a}) };`],
      };
    }
    const kt = m.key as IntT;
    const e = r.chance(0.6) ? constOf(BigInt(r.int(Math.min(m.max, 16) + 1)), kt) : this.arg(kt, 2);
    return { exprs: [e], ts: ([k]) => k!, c: ([k]) => [`${cName(kt)} _k = ${k};`] };
  }

  mapStatement(ret: "verdict" | "void" | IntT): Stmt[] {
    const r = this.r;
    const ms = this.maps.filter((m) => m.kind !== "DevMap");
    if (!ms.length) return [];
    const m = r.pick(ms);
    if (m.kind === "RingBuf") {
      const s = m.value as StructDef;
      const fs = s.fields.map((f) => this.arg(f.t, 2));
      const name = this.fresh("ok");
      this.vars[this.vars.length - 1]!.push({ name, t: U32, mutable: false });
      return [
        {
          kind: "output",
          exprs: fs,
          blocks: [],
          fmt: (xs) => [
            [
              `const ${name}: u32 = ${m.name}.output({ ${s.fields.map((f, k) => `${f.name}: ${xs[k]![0]}`).join(", ")} }) ? 1 : 0;`,
            ],
            [
              `__u32 ${name};`,
              "{",
              `  struct ${s.name} _r;`,
              "  __builtin_memset(&_r, 0, sizeof(_r));",
              ...s.fields.map((f, k) => `  _r.${f.name} = ${xs[k]![1]};`),
              `  ${name} = bpf_ringbuf_output(&${m.name}, &_r, sizeof(_r), 0) == 0;`,
              "}",
            ],
          ],
        },
      ];
    }
    const key = this.keyExpr(m);
    const nk = key.exprs.length;
    const isHash = ["HashMap", "LruHash", "PerCpuHash", "LpmTrie"].includes(m.kind);
    const perCpu = m.kind.startsWith("PerCpu");
    const vt = m.value;
    let op = r.int(isHash ? 4 : 3);
    if (op === 0 && m.kind === "LpmTrie") op = 1;
    const kts = (xs: [string, string][]) => key.ts(xs.slice(0, nk).map((x) => x[0]));
    const kc = (xs: [string, string][]) => key.c(xs.slice(0, nk).map((x) => x[1]));
    if (op === 0 && vt && "bits" in vt) {
      // increment
      const by = r.chance(0.5) ? null : this.arg(vt, 2);
      // clang 14 (BPF v1) has no 32-bit atomic add; one CPU runs the twin, so a plain
      // add gives the same values (seed 213 was a skip). The plain add is unsigned: a
      // signed one may overflow, which C leaves undefined, and clang 14 then turned
      // `+= INT64_MIN` into `|= INT64_MIN` (seed 32603).
      const add =
        perCpu || vt.bits < 64
          ? (p: string, v: string) => `*${p} = (${cName(vt)})((${cu(vt)})*${p} + (${cu(vt)})${v});`
          : (p: string, v: string) => `__sync_fetch_and_add(${p}, ${v});`;
      return [
        {
          kind: "inc",
          exprs: [...key.exprs, ...(by ? [by] : [])],
          blocks: [],
          fmt: (xs) => {
            const v = by ? xs[nk]![1] : "1";
            return [
              [`${m.name}.increment(${kts(xs)}${by ? ", " + xs[nk]![0] : ""});`],
              [
                "{",
                ...ind(kc(xs)),
                `  ${cName(vt)} _by = ${v};`,
                `  ${cName(vt)} *_p = bpf_map_lookup_elem(&${m.name}, &_k);`,
                `  if (_p) ${add("_p", "_by")}`,
                ...(isHash
                  ? [`  else bpf_map_update_elem(&${m.name}, &_k, &_by, BPF_NOEXIST);`]
                  : []),
                "}",
              ],
            ];
          },
        },
      ];
    }
    if (op <= 1) {
      // update (flag) with its result kept
      const flag = r.pick(["", ", BPF_ANY", ", BPF_NOEXIST", ", BPF_EXIST"]);
      const cflag = flag ? flag.slice(2) : "BPF_ANY";
      const name = this.fresh("up");
      const v = vt && "bits" in vt ? this.arg(vt, 2) : null;
      if (!v && !this.svars.some((x) => x.s === vt && !x.ptr)) return [];
      this.vars[this.vars.length - 1]!.push({ name, t: U32, mutable: false });
      if (vt && "bits" in vt && v) {
        return [
          {
            kind: "update",
            exprs: [...key.exprs, v],
            blocks: [],
            fmt: (xs) => [
              [`const ${name}: u32 = ${m.name}.update(${kts(xs)}, ${xs[nk]![0]}${flag}) ? 1 : 0;`],
              [
                `__u32 ${name};`,
                "{",
                ...ind(kc(xs)),
                `  ${cName(vt)} _v = ${xs[nk]![1]};`,
                `  ${name} = bpf_map_update_elem(&${m.name}, &_k, &_v, ${cflag}) == 0;`,
                "}",
              ],
            ],
          },
        ];
      }
      const s = vt as StructDef;
      const sv = this.svars.filter((x) => x.s === s && !x.ptr);
      if (!sv.length) return [];
      const src = r.pick(sv);
      return [
        {
          kind: "update",
          exprs: key.exprs,
          blocks: [],
          fmt: (xs) => [
            [`const ${name}: u32 = ${m.name}.update(${kts(xs)}, ${src.name}${flag}) ? 1 : 0;`],
            [
              `__u32 ${name};`,
              "{",
              ...ind(kc(xs)),
              `  ${name} = bpf_map_update_elem(&${m.name}, &_k, &${src.name}, ${cflag}) == 0;`,
              "}",
            ],
          ],
        },
      ];
    }
    if (op === 3) {
      const name = this.fresh("dl");
      this.vars[this.vars.length - 1]!.push({ name, t: U32, mutable: false });
      return [
        {
          kind: "delete",
          exprs: key.exprs,
          blocks: [],
          fmt: (xs) => [
            [`const ${name}: u32 = ${m.name}.delete(${kts(xs)}) ? 1 : 0;`],
            [
              `__u32 ${name};`,
              "{",
              ...ind(kc(xs)),
              `  ${name} = bpf_map_delete_elem(&${m.name}, &_k) == 0;`,
              "}",
            ],
          ],
        },
      ];
    }
    // lookup: an integer copy (nullable) or a struct view
    const name = this.fresh("r");
    if (vt && "bits" in vt) {
      const truthy = r.chance(0.3);
      const inner = this.scope(() => {
        this.vars[this.vars.length - 1]!.push({ name, t: vt, mutable: false });
        return this.block(r.range(1, 2), ret);
      });
      return [
        {
          kind: "lookup",
          exprs: key.exprs,
          blocks: [inner],
          fmt: (xs, [b]) => [
            [
              "{",
              `  const ${name} = ${m.name}.lookup(${kts(xs)});`,
              `  if (${truthy ? name : `${name} !== null`}) {`,
              ...ind(ind(b![0])),
              "  }",
              "}",
            ],
            [
              "{",
              `  ${cName(vt)} ${name} = 0; int ${name}_ok = 0;`,
              "  {",
              ...ind(ind(kc(xs))),
              `    ${cName(vt)} *_p = bpf_map_lookup_elem(&${m.name}, &_k);`,
              `    if (_p) { ${name} = *_p; ${name}_ok = 1; }`,
              "  }",
              `  if (${truthy ? `${name} != 0` : `${name}_ok`}) {`,
              ...ind(ind(b![1])),
              "  }",
              "}",
            ],
          ],
        },
      ];
    }
    const s = vt as StructDef;
    const inner = this.scope(() => {
      const sv: SVar = { name, s, ptr: true };
      this.svars.push(sv);
      return [...this.fieldWrites(sv), ...this.block(r.range(0, 2), ret)];
    });
    return [
      {
        kind: "lookup",
        exprs: key.exprs,
        blocks: [inner],
        fmt: (xs, [b]) => [
          [
            "{",
            `  const ${name} = ${m.name}.lookup(${kts(xs)});`,
            `  if (${name} !== null) {`,
            ...ind(ind(b![0])),
            "  }",
            "}",
          ],
          [
            "{",
            ...ind(kc(xs)),
            `  struct ${s.name} *${name} = bpf_map_lookup_elem(&${m.name}, &_k);`,
            `  if (${name}) {`,
            ...ind(ind(b![1])),
            "  }",
            "}",
          ],
        ],
      },
    ];
  }

  // -------------------------------------------------------------- items

  items_(): void {
    const r = this.r;
    // structs (C layout; fields of every width, some FixedArrays)
    for (let k = r.range(0, 2); k > 0; k--) {
      const name = `S${k}`;
      const fields = Array.from({ length: r.range(1, 4) }, (_, i) => {
        const t = this.randInt();
        return { name: `f${i}`, t, n: r.chance(0.2) ? r.range(1, 6) : undefined };
      });
      const s: StructDef = { name, fields };
      this.structs.push(s);
      this.items.push({
        kind: "structdef",
        exprs: [],
        blocks: [],
        fmt: () => [
          [
            `interface ${name} { ${fields.map((f) => `${f.name}: ${f.n ? `FixedArray<${tsName(f.t)}, ${f.n}>` : tsName(f.t)};`).join(" ")} }`,
          ],
          [
            `struct ${name} { ${fields.map((f) => `${cName(f.t)} ${f.name}${f.n ? `[${f.n}]` : ""};`).join(" ")} };`,
          ],
        ],
      });
    }
    // maps
    const kinds: MapDef["kind"][] = [
      "ArrayMap",
      "PerCpuArray",
      "HashMap",
      "LruHash",
      "PerCpuHash",
      "LpmTrie",
      "RingBuf",
      "DevMap",
    ];
    // A handler's maps live in the Wasm host; ring buffers and DevMaps are XDP's.
    const usable = this.handler ? kinds.filter((x) => x !== "RingBuf" && x !== "DevMap") : kinds;
    for (let k = r.range(0, 3); k > 0; k--) {
      const kind = r.pick(usable);
      const name = this.fresh("m");
      // LRU maps never fill: the kernel evicts approximately (per-CPU free lists, even on
      // an update of a present key when full), which no host can mirror.
      const max = kind === "LruHash" ? 1024 : r.pick([1, 4, 16]);
      let key: MapDef["key"] = null;
      let value: MapDef["value"] = null;
      const valT = (): IntT | StructDef =>
        this.structs.length && r.chance(0.3)
          ? r.pick(this.structs)
          : r.pick([U32, U64, U8, U16, { bits: 64, signed: true } as IntT]);
      if (kind === "ArrayMap" || kind === "PerCpuArray") {
        key = U32;
        value = valT();
      } else if (kind === "LpmTrie") {
        key = null;
        value = r.pick([U32, U64]);
      } else if (kind === "RingBuf") {
        const s = this.structs.find((x) => !x.fields.some((f) => f.n));
        if (!s) continue;
        value = s;
      } else if (kind === "DevMap") {
        if (this.maps.some((m) => m.kind === "DevMap")) continue;
      } else {
        key = r.pick([U32, U64, U16]);
        value = valT();
      }
      if (value && !("bits" in value) && value.fields.every((f) => f.n)) value = U64;
      const m: MapDef = { name, kind, key, value, max };
      this.maps.push(m);
      this.items.push(this.mapItem(m));
    }
    // globals
    for (let k = r.range(0, 3); k > 0; k--) {
      const t = this.randInt();
      const v = r.chance(0.5) ? 0n : this.interesting(t);
      const name = this.fresh("g");
      this.globals.push({ name, t, mutable: true });
      this.items.push({
        kind: "global",
        exprs: [],
        blocks: [],
        fmt: () => [
          [`let ${name}: ${tsName(t)} = ${tsLit(v)};`],
          [`${cName(t)} ${name} = ${cConst(v, t)};`],
        ],
      });
    }
    // load-time parameters (§8): `const volatile` in the twin; most get a value other
    // than their default at load (Program.sets), in the kernel and in the Wasm host
    const side = this.side;
    if (side.chance(0.5))
      for (let k = side.range(1, 3); k > 0; k--) {
        const t = side.pick(INTS);
        const def = this.interesting(t, side);
        const name = `pa${this.params.length}`;
        this.params.push({ name, t, mutable: false });
        if (side.chance(0.8)) this.sets[name] = this.interesting(t, side).toString();
        this.items.push({
          kind: "param",
          exprs: [],
          blocks: [],
          fmt: () => [
            [`const ${name} = param<${tsName(t)}>("${name}", ${tsLit(def)});`],
            [`const volatile ${cName(t)} ${name} = ${cConst(def, t)};`],
          ],
        });
      }
    // helpers: pure functions (up to 6 params) and procedures (ctx + params, side effects)
    for (let k = r.range(0, 4); k > 0; k--) {
      const proc = r.chance(0.35);
      const params = Array.from({ length: r.range(proc ? 0 : 1, proc ? 3 : 6) }, () =>
        this.randInt(),
      );
      const ret = proc ? null : this.randInt();
      const h: Helper = { name: this.fresh(proc ? "pr" : "hf"), params, ret, proc };
      this.inHelper = h;
      const saved = this.budget;
      this.budget = r.range(1, 5);
      const body = this.scope(() => {
        params.forEach((t, i) =>
          this.vars[this.vars.length - 1]!.push({ name: `a${i}`, t, mutable: false }),
        );
        const b = this.block(this.budget, ret ?? "void");
        b.push(this.retStmt(ret ?? "void", true));
        return b;
      });
      this.budget = saved;
      this.inHelper = null;
      this.helpers.push(h);
      const tsParams = [
        ...(proc ? ["ctx: XdpContext"] : []),
        ...params.map((t, i) => `a${i}: ${tsName(t)}`),
      ].join(", ");
      const cParams =
        [
          ...(proc ? ["struct xdp_md *ctx"] : []),
          ...params.map((t, i) => `${cName(t)} a${i}`),
        ].join(", ") || "void";
      this.items.push({
        kind: "helper",
        exprs: [],
        blocks: [body],
        fmt: (_, [b]) => [
          [`function ${h.name}(${tsParams}): ${ret ? tsName(ret) : "void"} {`, ...ind(b![0]), "}"],
          [`XI ${ret ? cName(ret) : "void"} ${h.name}(${cParams}) {`, ...ind(b![1]), "}"],
        ],
      });
    }
  }

  mapItem(m: MapDef): Stmt {
    const tsT = (x: IntT | StructDef) => ("bits" in x ? tsName(x) : x.name);
    const cT = (x: IntT | StructDef) => ("bits" in x ? cName(x) : `struct ${x.name}`);
    const TYPES: Record<MapDef["kind"], string> = {
      ArrayMap: "BPF_MAP_TYPE_ARRAY",
      PerCpuArray: "BPF_MAP_TYPE_PERCPU_ARRAY",
      HashMap: "BPF_MAP_TYPE_HASH",
      LruHash: "BPF_MAP_TYPE_LRU_HASH",
      PerCpuHash: "BPF_MAP_TYPE_PERCPU_HASH",
      LpmTrie: "BPF_MAP_TYPE_LPM_TRIE",
      RingBuf: "BPF_MAP_TYPE_RINGBUF",
      DevMap: "BPF_MAP_TYPE_DEVMAP",
    };
    let ts: string;
    const c = [`struct {`, `  __uint(type, ${TYPES[m.kind]});`];
    switch (m.kind) {
      case "ArrayMap":
      case "PerCpuArray":
        ts = `const ${m.name} = new ${m.kind}<${tsT(m.value!)}>({ maxEntries: ${m.max} });`;
        c.push(
          `  __uint(max_entries, ${m.max});`,
          `  __type(key, __u32);`,
          `  __type(value, ${cT(m.value!)});`,
        );
        break;
      case "LpmTrie":
        ts = `const ${m.name} = new LpmTrie<LpmK, ${tsT(m.value!)}>({ maxEntries: ${m.max} });`;
        c.push(
          `  __uint(max_entries, ${m.max});`,
          `  __type(key, struct lpmk);`,
          `  __type(value, ${cT(m.value!)});`,
          `  __uint(map_flags, BPF_F_NO_PREALLOC);`,
        );
        break;
      case "RingBuf":
        ts = `const ${m.name} = new RingBuf<${tsT(m.value!)}>({ maxEntries: 4096 });`;
        c.push(`  __uint(max_entries, 4096);`);
        break;
      case "DevMap":
        ts = `const ${m.name} = new DevMap({ maxEntries: ${m.max} });`;
        c.push(
          `  __uint(max_entries, ${m.max});`,
          `  __type(key, __u32);`,
          `  __type(value, __u32);`,
        );
        break;
      default:
        ts = `const ${m.name} = new ${m.kind}<${tsT(m.key!)}, ${tsT(m.value!)}>({ maxEntries: ${m.max} });`;
        c.push(
          `  __uint(max_entries, ${m.max});`,
          `  __type(key, ${cT(m.key!)});`,
          `  __type(value, ${cT(m.value!)});`,
        );
    }
    c.push(`} ${m.name} SEC(".maps");`);
    const lpm = m.kind === "LpmTrie";
    return {
      kind: "map",
      exprs: [],
      blocks: [],
      fmt: () => [
        [...(lpm ? ["interface LpmK { prefixlen: u32; addr: u32 }"] : []), ts],
        [...(lpm ? ["struct lpmk { __u32 prefixlen; __u32 addr; };"] : []), ...c],
      ],
    };
  }
}

/** The random program of one seed. */
export function generate(seed: number, opts: GenOptions = {}): Program {
  const r = new Rng(seed);
  const side = new Rng(seed ^ 0x27d4eb2f);
  const g = new Gen(r, side);
  g.handler = opts.handler ?? side.chance(0.3);
  g.items_();
  g.budget = opts.size ?? r.range(4, 24);
  const body = g.scope(() => {
    const b = g.block(g.budget, "verdict");
    b.push(g.retStmt("verdict", true));
    return b;
  });
  // One LpmTrie key type at most: drop later duplicates of its declaration.
  let lpmSeen = false;
  const items = g.items.filter((it) => {
    if (it.kind !== "map") return true;
    const [ts] = it.fmt([], []);
    if (!ts[0]!.startsWith("interface LpmK")) return true;
    if (!lpmSeen) return (lpmSeen = true);
    const orig = it.fmt;
    it.fmt = (e, b) => {
      const [a, c] = orig(e, b);
      return [a.slice(1), c.slice(1)];
    };
    return true;
  });
  items.push({
    kind: "program",
    keep: true,
    exprs: [],
    blocks: [body],
    fmt: (_, [b]) => [
      ["export function prog(ctx: XdpContext): XdpAction {", ...ind(b![0]), "}"],
      ['SEC("xdp")', "int prog(struct xdp_md *ctx) {", ...ind(b![1]), "}"],
    ],
  });
  return { seed, items, sets: g.sets, handler: g.handler };
}
