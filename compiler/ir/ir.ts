// The typed IR shared by the eBPF and WebAssembly backends: a control-flow graph of
// basic blocks over virtual registers. Not SSA — a mutable local is one vreg assigned
// in several places — which keeps lowering simple and suits both targets' register
// models. Integer vregs are 32 or 64 bits; narrower language types live zero- or
// sign-extended in a 32-bit vreg (an i32 vreg's upper half is always zero on eBPF).
// Pointer vregs carry the kind of memory they address, because the verifier and the
// Wasm memory layout both care.
import type { Span } from "../diagnostics/span.ts";

export type Width = 32 | 64;
/** Bytes moved by a load or store. */
export type Size = 1 | 2 | 4 | 8;

/**
 * Value types. `pkt` points into packet data (a view from a header accessor,
 * possibly 0 meaning null before it is narrowed); `pktEnd` is data_end; `stack`
 * a stack slot; `mapValue` a map value (0 when a lookup missed); `map` a map
 * reference (only passed to helpers); `global` an address in .rodata/.bss/.data.
 */
export type Ty = "i32" | "i64" | "ctx" | "pkt" | "pktEnd" | "stack" | "mapValue" | "map" | "global";

export function isPtr(t: Ty): boolean {
  return t !== "i32" && t !== "i64";
}
export function widthOf(t: Ty): Width {
  return t === "i32" ? 32 : 64;
}

export interface VReg {
  readonly id: number;
  readonly ty: Ty;
  /** Source-level name, for the printer only. */
  readonly name?: string;
  /** The trips of the bounded loop this vreg counts (set by the lowering). */
  readonly trips?: number;
}

/** An operand: a vreg or a constant (always held as the signed/unsigned bit pattern). */
export type Operand = VReg | bigint;

export function isImm(o: Operand): o is bigint {
  return typeof o === "bigint";
}

/** A stack slot of a function (struct literal, map key, spill …). */
export interface Slot {
  readonly id: number;
  readonly size: number;
  readonly align: number;
  readonly name?: string;
  /**
   * The vreg this slot reads back as an unknown to the verifier where a bounded loop ends
   * (docs/compiler.md rule 26); the `hides` pass drops the read-back where nothing after
   * it could make the value precise.
   */
  hides?: VReg;
}

/** A memory base: a pointer vreg, or a stack slot addressed directly (r10-relative). */
export type Base = VReg | Slot;
export function isSlot(b: Base): b is Slot {
  return !("ty" in b);
}

/** A helper argument: an operand, a map reference, or the address of a stack slot. */
export type Arg =
  Operand | { map: string } | { slot: Slot; off: number } | { global: string; off: number };

export type BinOp =
  | "add"
  | "sub"
  | "mul"
  | "udiv"
  | "umod"
  | "sdiv"
  | "smod"
  | "and"
  | "or"
  | "xor"
  | "shl"
  | "lshr"
  | "ashr";
/**
 * Unary ops. `be16/32/64` swap between host and network order (BPF_END TO_BE);
 * `zext8/16/32` truncate to the low bits; `sext8/16` sign-extend them; `isZero`
 * yields 1 when the operand is 0 else 0 (branch-free on eBPF).
 */
export type UnOp =
  | "neg"
  | "not"
  | "be16"
  | "be32"
  | "be64"
  | "zext8"
  | "zext16"
  | "zext32"
  | "sext8"
  | "sext16"
  | "sext32"
  | "isZero";
export type Cond =
  "eq" | "ne" | "ugt" | "uge" | "ult" | "ule" | "sgt" | "sge" | "slt" | "sle" | "set";

export type Inst =
  | { op: "mov"; dst: VReg; src: Operand; span?: Span }
  | { op: "bin"; kind: BinOp; w: Width; dst: VReg; a: Operand; b: Operand; span?: Span }
  | { op: "un"; kind: UnOp; w: Width; dst: VReg; a: Operand; span?: Span }
  | { op: "load"; size: Size; dst: VReg; base: Base; off: number; span?: Span }
  | { op: "store"; size: Size; base: Base; off: number; src: Operand; span?: Span }
  | { op: "atomicAdd"; size: 4 | 8; base: Base; off: number; src: Operand; span?: Span }
  | { op: "call"; helper: number; dst: VReg | null; args: Arg[]; span?: Span }
  | {
      op: "addr";
      dst: VReg;
      of: { slot: Slot; off: number } | { global: string; off: number } | { map: string };
      span?: Span;
    }
  /** dst = base + off, for pointer arithmetic (packet headers at variable offsets). */
  | { op: "ptrAdd"; dst: VReg; base: VReg; off: Operand; span?: Span }
  /** Struct copy of `size` bytes (size a multiple of nothing in particular). */
  | { op: "copy"; dst: Base; dstOff: number; src: Base; srcOff: number; size: number; span?: Span }
  | { op: "zero"; base: Base; off: number; size: number; span?: Span };

export type Term =
  | { op: "jmp"; target: Block; span?: Span }
  | {
      op: "br";
      cc: Cond;
      w: Width;
      a: Operand;
      b: Operand;
      then: Block;
      else: Block;
      /**
       * The backend makes `else` the fall-through even when `then` follows (a `ja`
       * more): the verifier walks the fall-through first and keeps the other branch
       * pending, so the shorter path goes first (a VLAN tag test: docs/compiler.md).
       */
      elseFirst?: boolean;
      span?: Span;
    }
  /**
   * Packet guard: bytes [ptr, ptr + n) are inside the packet (ptr + n <= end), else
   * goto fail. The backend emits it as `t = ptr + n; if t > end goto fail`, which
   * gives every packet pointer sharing ptr's verifier id the range n.
   */
  | { op: "guard"; ptr: VReg; n: number; end: VReg; ok: Block; fail: Block; span?: Span }
  | { op: "ret"; value: Operand; span?: Span };

export interface Block {
  readonly id: number;
  label: string;
  insts: Inst[];
  term: Term | null;
}

export interface Func {
  name: string;
  params: VReg[];
  blocks: Block[]; // blocks[0] is the entry
  slots: Slot[];
  nextVReg: number;
  nextBlock: number;
  nextSlot: number;
  span?: Span;
}

export function successors(t: Term | null): Block[] {
  if (!t) return [];
  switch (t.op) {
    case "jmp":
      return [t.target];
    case "br":
      return [t.then, t.else];
    case "guard":
      return [t.ok, t.fail];
    case "ret":
      return [];
  }
}

/** Vregs an instruction reads. */
export function uses(i: Inst | Term): VReg[] {
  // No closure per call: the optimizer calls this millions of times.
  const out: VReg[] = [];
  switch (i.op) {
    case "mov":
      pushVReg(out, i.src);
      break;
    case "bin":
      pushVReg(out, i.a);
      pushVReg(out, i.b);
      break;
    case "un":
      pushVReg(out, i.a);
      break;
    case "load":
      pushVReg(out, i.base);
      break;
    case "store":
    case "atomicAdd":
      pushVReg(out, i.base);
      pushVReg(out, i.src);
      break;
    case "call":
      for (const a of i.args) pushVReg(out, a);
      break;
    case "addr":
      break;
    case "ptrAdd":
      pushVReg(out, i.base);
      pushVReg(out, i.off);
      break;
    case "copy":
      pushVReg(out, i.dst);
      pushVReg(out, i.src);
      break;
    case "zero":
      pushVReg(out, i.base);
      break;
    case "jmp":
      break;
    case "br":
      pushVReg(out, i.a);
      pushVReg(out, i.b);
      break;
    case "guard":
      pushVReg(out, i.ptr);
      pushVReg(out, i.end);
      break;
    case "ret":
      pushVReg(out, i.value);
      break;
  }
  return out;
}

function pushVReg(out: VReg[], x: Operand | Arg | Base): void {
  if (typeof x !== "bigint" && "ty" in x) out.push(x);
}

/** The vreg an instruction writes, if any. */
export function def(i: Inst): VReg | null {
  switch (i.op) {
    case "mov":
    case "bin":
    case "un":
    case "load":
    case "addr":
    case "ptrAdd":
      return i.dst;
    case "call":
      return i.dst;
    default:
      return null;
  }
}

/** True when removing the instruction (its result unused) changes nothing observable. */
export function isPure(i: Inst): boolean {
  switch (i.op) {
    case "mov":
    case "bin":
    case "un":
    case "addr":
    case "ptrAdd":
      return true;
    // A load from a proven-in-bounds pointer has no effect; keeping it would only
    // waste an instruction.
    case "load":
      return true;
    default:
      return false;
  }
}

/** Truncates a constant to the bit pattern of `w` bits (as an unsigned bigint). */
export function wrap(v: bigint, w: Width): bigint {
  return BigInt.asUintN(w, v);
}
