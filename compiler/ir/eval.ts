// Constant evaluation with exactly the eBPF semantics the backend emits (and the
// Wasm backend must reproduce): arithmetic wraps at the operation's width,
// unsigned and signed division by zero give 0, modulo by zero leaves the dividend
// (BPF_MOD), shift counts are masked to the width, INT_MIN / -1 = INT_MIN.
import type { BinOp, Cond, UnOp, Width } from "./ir.ts";
import { wrap } from "./ir.ts";

const s = (v: bigint, w: Width) => BigInt.asIntN(w, v);

export function evalBin(op: BinOp, w: Width, a0: bigint, b0: bigint): bigint {
  const a = wrap(a0, w);
  const b = wrap(b0, w);
  const sh = b & BigInt(w - 1);
  switch (op) {
    case "add":
      return wrap(a + b, w);
    case "sub":
      return wrap(a - b, w);
    case "mul":
      return wrap(a * b, w);
    case "udiv":
      return b === 0n ? 0n : a / b;
    case "umod":
      return b === 0n ? a : a % b;
    case "sdiv":
      return b === 0n ? 0n : wrap(s(a, w) / s(b, w), w);
    case "smod":
      return b === 0n ? a : wrap(s(a, w) % s(b, w), w);
    case "and":
      return a & b;
    case "or":
      return a | b;
    case "xor":
      return a ^ b;
    case "shl":
      return wrap(a << sh, w);
    case "lshr":
      return a >> sh;
    case "ashr":
      return wrap(s(a, w) >> sh, w);
  }
}

function swap(v: bigint, bytes: number): bigint {
  let r = 0n;
  for (let i = 0; i < bytes; i++) r = (r << 8n) | ((v >> BigInt(8 * i)) & 0xffn);
  return r;
}

export function evalUn(op: UnOp, w: Width, a0: bigint): bigint {
  const a = wrap(a0, w);
  switch (op) {
    case "neg":
      return wrap(-a, w);
    case "not":
      return wrap(~a, w);
    // Little-endian host: to-big-endian swaps, then zero-extends past the size.
    case "be16":
      return swap(a, 2);
    case "be32":
      return swap(a, 4);
    case "be64":
      return swap(a, 8);
    case "zext8":
      return a & 0xffn;
    case "zext16":
      return a & 0xffffn;
    case "zext32":
      return a & 0xffffffffn;
    case "sext8":
      return wrap(BigInt.asIntN(8, a), w);
    case "sext16":
      return wrap(BigInt.asIntN(16, a), w);
    case "sext32":
      return wrap(BigInt.asIntN(32, a), w);
    case "isZero":
      return a === 0n ? 1n : 0n;
  }
}

export function evalCond(cc: Cond, w: Width, a0: bigint, b0: bigint): boolean {
  const a = wrap(a0, w);
  const b = wrap(b0, w);
  switch (cc) {
    case "eq":
      return a === b;
    case "ne":
      return a !== b;
    case "ugt":
      return a > b;
    case "uge":
      return a >= b;
    case "ult":
      return a < b;
    case "ule":
      return a <= b;
    case "sgt":
      return s(a, w) > s(b, w);
    case "sge":
      return s(a, w) >= s(b, w);
    case "slt":
      return s(a, w) < s(b, w);
    case "sle":
      return s(a, w) <= s(b, w);
    case "set":
      return (a & b) !== 0n;
  }
}

/** The condition that holds when `cc` does not. */
export function negate(cc: Cond): Cond | null {
  const m: Record<Cond, Cond | null> = {
    eq: "ne",
    ne: "eq",
    ugt: "ule",
    uge: "ult",
    ult: "uge",
    ule: "ugt",
    sgt: "sle",
    sge: "slt",
    slt: "sge",
    sle: "sgt",
    set: null,
  };
  return m[cc];
}

/** The condition with operands swapped (a cc b  ⇔  b swap(cc) a). */
export function swapCond(cc: Cond): Cond {
  const m: Record<Cond, Cond> = {
    eq: "eq",
    ne: "ne",
    ugt: "ult",
    uge: "ule",
    ult: "ugt",
    ule: "uge",
    sgt: "slt",
    sge: "sle",
    slt: "sgt",
    sle: "sge",
    set: "set",
  };
  return m[cc];
}
