// Lowering: the helpers and constants every part of Lowerer uses.
import type * as ast from "../../ast/nodes.ts";
import type { Span } from "../../diagnostics/span.ts";
import type { CallTarget, CheckedModule, FunctionInfo, MapInfo } from "../../check/result.ts";
import type { HeaderField, HeaderKind, IntType, StructType, Type } from "../../check/types.ts";
import { sizeAlign } from "../../check/types.ts";
import { Builder } from "../builder.ts";
import type { Base, Block, Cond, Operand, Size, Slot, VReg, Width } from "../ir.ts";
import { isImm, isSlot } from "../ir.ts";
import { BPF_FUNC, BPF_NOEXIST as NOEXIST } from "../../uapi/bpf.ts";
export const H = {
  lookup: BPF_FUNC.map_lookup_elem,
  update: BPF_FUNC.map_update_elem,
  delete: BPF_FUNC.map_delete_elem,
  ktime: BPF_FUNC.ktime_get_ns,
  trace: BPF_FUNC.trace_printk,
  random: BPF_FUNC.get_prandom_u32,
  cpu: BPF_FUNC.get_smp_processor_id,
  redirect: BPF_FUNC.redirect,
  redirectNeigh: BPF_FUNC.redirect_neigh,
  redirectPeer: BPF_FUNC.redirect_peer,
  adjustHead: BPF_FUNC.xdp_adjust_head,
  redirectMap: BPF_FUNC.redirect_map,
  adjustTail: BPF_FUNC.xdp_adjust_tail,
  fibLookup: BPF_FUNC.fib_lookup,
  csumDiff: BPF_FUNC.csum_diff,
  l3CsumReplace: BPF_FUNC.l3_csum_replace,
  l4CsumReplace: BPF_FUNC.l4_csum_replace,
  storeBytes: BPF_FUNC.skb_store_bytes,
  changeTail: BPF_FUNC.skb_change_tail,
  changeHead: BPF_FUNC.skb_change_head,
  ringbufOutput: BPF_FUNC.ringbuf_output,
};
export const BPF_NOEXIST = BigInt(NOEXIST);

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

export interface Frame {
  /** Inlined function: where `return` goes and where its value is put. */
  ret: { block: Block; value: VReg | null; type: Type } | null;
  locals: Map<number, Value>;
}

export interface LoopCtx {
  brk: Block;
  cont: Block | null;
}

export const VLAN_TPIDS = [0x8100n, 0x88a8n];

export function widthOfType(t: Type): Width {
  return t.kind === "int" && t.bits === 64 ? 64 : 32;
}
/** The width of a scalar value; a narrowed nullable ("nint", e.g. a map lookup's value) keeps its own. */
export function widthOf(v: Value): Width {
  return (v.k === "int" || v.k === "nint") && v.w === 64 ? 64 : 32;
}
export function intOf(t: Type): IntType | null {
  return t.kind === "int" ? t : null;
}
export function inner(t: Type): Type {
  return t.kind === "nullable" ? t.inner : t;
}
export function isScalar(t: Type): boolean {
  return t.kind === "int" || t.kind === "bool" || t.kind === "action";
}
export const SIZES: Record<number, Size> = { 1: 1, 2: 2, 4: 4, 8: 8 };

/** `q <= end` for a pointer at a variable offset (the ihl×4 bytes rule), then `then()`. */
export function finish2(b: Builder, q: VReg, end: VReg, fail: Block, then: () => void): void {
  const ok = b.block("hlok");
  b.guard(q, 0, end, ok, fail);
  b.place(ok);
  then();
}

export function isComparison(op: ast.BinaryOp): boolean {
  return ["==", "!=", "===", "!==", "<", "<=", ">", ">="].includes(op);
}

export function binOp(op: ast.BinaryOp, signed: boolean): import("../ir.ts").BinOp {
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
