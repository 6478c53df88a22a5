// The Lowerer: its state, scopes and entry point. Its methods are defined per part of
// the language in the files beside this one (statements.ts, conditions.ts, ...), which
// lower.ts imports.
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

export class Lowerer {
  readonly b: Builder;
  ctx!: VReg;
  frames: Frame[] = [];
  loops: LoopCtx[] = [];
  /** Memo scopes for header accessors and packet pointers (innermost last; null hides an outer entry). */
  memo: Map<string, VReg | null>[] = [new Map()];
  inlineDepth = 0;
  /**
   * Stack slots that carry a map call's key, value or record: dead once the helper
   * returns, so later calls reuse them (by size) instead of growing the frame.
   */
  freeArgSlots = new Map<number, Slot[]>();
  /** Each user function's size as loop unrolling counts it (`inlinedSize`). */
  readonly fnSizes = new Map<FunctionInfo, number>();
  takenArgSlots: Slot[] = [];
  /** Struct-value slots per open scope (see scoped()). */
  scopeSlots: Slot[][] = [];
  /** Slots whose address a reference outside their scope may hold: never reused. */
  escaped = new Set<Slot>();
  /**
   * Header views and what `rebuiltView` re-derives each from: the offset from `data` it
   * was found at (`at`, 0x10000 when null), the stack slot holding a copy of it at bytes
   * 4–7, a flag set when the view is null, and the bytes its parse checked. Kept only in
   * a function with a bounded loop (`hasBoundedLoop`).
   */
  viewOffsets = new Map<VReg, { at: VReg; slot: Slot; none: VReg; size: number }>();
  /** Views that a `const` local held when a bounded loop began: each use re-derives them. */
  deferredViews = new Set<VReg>();
  /** Whether the function (with what it inlines) lowers a loop as a loop (memoised). */
  boundedLoop: boolean | undefined;

  constructor(
    readonly m: CheckedModule,
    readonly fn: FunctionInfo,
  ) {
    this.b = new Builder(fn.name);
    this.b.fn.span = fn.decl.span;
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

  get frame(): Frame {
    return this.frames[this.frames.length - 1]!;
  }
  at(n: ast.Node): void {
    this.b.span = n.span;
  }
  /** A construct the backend cannot lower yet: a diagnostic for the user. */
  unsupported(msg: string, n: ast.Node): never {
    throw new LowerError(msg, n.span);
  }
  /** A fact the checker guarantees does not hold: a compiler bug, an internal error. */
  invariant(msg: string, n: ast.Node): never {
    throw new LowerInvariantError(`${msg} (at offset ${n.span.start})`);
  }

  // ------------------------------------------------------------ memo scopes

  memoGet(key: string): VReg | undefined {
    for (let k = this.memo.length - 1; k >= 0; k--) {
      const v = this.memo[k]!.get(key);
      if (v !== undefined) return v ?? undefined;
    }
    return undefined;
  }
  /** Hides outer entries from the innermost scope: its first use computes them again. */
  memoHide(keys: readonly string[]): void {
    for (const k of keys) this.memo[this.memo.length - 1]!.set(k, null);
  }
  /**
   * Hides every entry from here to the end of the function, past the scopes now open:
   * what follows them is reached through the current point too.
   */
  memoHideAll(): void {
    const keys = new Set(this.memo.flatMap((m) => [...m.keys()]).concat("data", "end"));
    for (const m of this.memo) for (const k of keys) if (m.get(k) !== null) m.set(k, null);
  }
  memoSet(key: string, v: VReg): void {
    this.memo[this.memo.length - 1]!.set(key, v);
  }
  /**
   * Lowers `f` in a nested scope: values memoised inside do not dominate what follows,
   * and the stack slots of struct values created inside die with it (names are lexical,
   * assignments into slots copy), so later scopes reuse them: the frame grows with the
   * deepest nesting, not with the number of blocks.
   */
  scoped<T>(f: () => T): T {
    this.memo.push(new Map());
    this.scopeSlots.push([]);
    try {
      return f();
    } finally {
      this.memo.pop();
      for (const s of this.scopeSlots.pop()!) {
        if (this.escaped.has(s)) continue;
        const free = this.freeArgSlots.get(s.size) ?? [];
        free.push(s);
        this.freeArgSlots.set(s.size, free);
      }
    }
  }

  /** A slot for a struct value that lives until the end of the current scope. */
  scopeSlot(size: number, name?: string): Slot {
    const s = this.freeArgSlots.get(size)?.pop() ?? this.b.slot(size, 8, name);
    this.scopeSlots[this.scopeSlots.length - 1]?.push(s);
    return s;
  }
}
