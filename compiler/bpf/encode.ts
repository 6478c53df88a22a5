// Serialises instructions to the kernel's wire format (struct bpf_insn, little-endian):
// byte 0 opcode, byte 1 dst (low nibble) | src (high nibble), bytes 2-3 off, 4-7 imm.
// lddw occupies two slots; the second carries the high half of imm64 and nothing else.
import { type Insn, isLddw, slots } from "./insn.ts";

/** A malformed instruction reached the encoder or decoder: a compiler bug, never a user error. */
export class InsnError extends Error {
  constructor(
    message: string,
    readonly index?: number,
  ) {
    super(index === undefined ? message : `insn ${index}: ${message}`);
    this.name = "InsnError";
  }
}

const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;
const INT64_MIN = -(1n << 63n);
const UINT64_MAX = (1n << 64n) - 1n;

function checkField(ok: boolean, what: string, value: unknown, index: number): void {
  if (!ok) throw new InsnError(`${what} out of range: ${String(value)}`, index);
}

function isInt(v: number, lo: number, hi: number): boolean {
  return Number.isInteger(v) && v >= lo && v <= hi;
}

/** Checks the field ranges of one instruction; throws InsnError on a bad field. */
export function validateInsn(i: Insn, index = 0): void {
  checkField(isInt(i.code, 0, 0xff), "opcode", i.code, index);
  checkField(isInt(i.dst, 0, 15), "dst register", i.dst, index);
  checkField(isInt(i.src, 0, 15), "src register", i.src, index);
  checkField(isInt(i.off, -0x8000, 0x7fff), "offset", i.off, index);
  if (isLddw(i) && i.imm64 !== undefined) {
    checkField(i.imm64 >= INT64_MIN && i.imm64 <= UINT64_MAX, "imm64", i.imm64, index);
  } else {
    checkField(isInt(i.imm, INT32_MIN, INT32_MAX), "imm", i.imm, index);
  }
  if (!isLddw(i) && i.imm64 !== undefined)
    throw new InsnError("imm64 on an instruction that is not lddw", index);
}

/** The 64-bit immediate of an lddw as an unsigned value (imm64 wins over imm when both are set). */
export function lddwValue(i: Insn): bigint {
  return BigInt.asUintN(64, i.imm64 ?? BigInt(i.imm));
}

function put(
  dv: DataView,
  at: number,
  code: number,
  dst: number,
  src: number,
  off: number,
  imm: number,
): void {
  dv.setUint8(at, code);
  dv.setUint8(at + 1, ((src & 0xf) << 4) | (dst & 0xf));
  dv.setInt16(at + 2, off, true);
  dv.setInt32(at + 4, imm, true);
}

export function encodedSize(insns: readonly Insn[]): number {
  let n = 0;
  for (const i of insns) n += slots(i);
  return n * 8;
}

export function encode(insns: readonly Insn[]): Uint8Array {
  const out = new Uint8Array(encodedSize(insns));
  const dv = new DataView(out.buffer);
  let at = 0;
  insns.forEach((i, index) => {
    validateInsn(i, index);
    if (isLddw(i)) {
      const v = lddwValue(i);
      put(dv, at, i.code, i.dst, i.src, i.off, Number(BigInt.asIntN(32, v)));
      put(dv, at + 8, 0, 0, 0, 0, Number(BigInt.asIntN(32, v >> 32n)));
      at += 16;
    } else {
      put(dv, at, i.code, i.dst, i.src, i.off, i.imm);
      at += 8;
    }
  });
  return out;
}
