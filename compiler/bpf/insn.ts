// The eBPF instruction set (RFC 9669) as data. An Insn is one 8-byte slot, except
// `lddw` (BPF_LD|BPF_IMM|BPF_DW), which is one Insn with `imm64` and occupies two.

// Instruction classes
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;

// Sizes (load/store)
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;

// Modes (load/store)
export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
export const BPF_MEMSX = 0x80;
export const BPF_ATOMIC = 0xc0;

// Source
export const BPF_K = 0x00;
export const BPF_X = 0x08;

// ALU operations
export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;
export const BPF_MOV = 0xb0;
export const BPF_ARSH = 0xc0;
export const BPF_END = 0xd0;

// Byte swap source for BPF_END
export const BPF_TO_LE = 0x00;
export const BPF_TO_BE = 0x08;

// Jump operations
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_JNE = 0x50;
export const BPF_JSGT = 0x60;
export const BPF_JSGE = 0x70;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
export const BPF_JLT = 0xa0;
export const BPF_JLE = 0xb0;
export const BPF_JSLT = 0xc0;
export const BPF_JSLE = 0xd0;

// Atomic operations (imm of BPF_STX|BPF_ATOMIC)
export const BPF_FETCH = 0x01;
export const BPF_XCHG = 0xe0 | BPF_FETCH;
export const BPF_CMPXCHG = 0xf0 | BPF_FETCH;

// src_reg values of lddw and call
export const BPF_PSEUDO_MAP_FD = 1;
export const BPF_PSEUDO_MAP_VALUE = 2;
export const BPF_PSEUDO_CALL = 1;

export type Reg = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;
export const R0 = 0,
  R1 = 1,
  R2 = 2,
  R3 = 3,
  R4 = 4,
  R5 = 5,
  R6 = 6,
  R7 = 7,
  R8 = 8,
  R9 = 9,
  R10 = 10;

export interface Insn {
  code: number; // opcode byte: class | size/op | mode/source
  dst: number; // 0..10
  src: number; // 0..10, or a pseudo value for lddw/call
  off: number; // signed 16-bit
  imm: number; // signed 32-bit
  /** lddw only: the full 64-bit immediate (the second slot carries its high half). */
  imm64?: bigint;
}

export function insnClass(code: number): number {
  return code & 0x07;
}

export function isLddw(i: Insn): boolean {
  return i.code === (BPF_LD | BPF_IMM | BPF_DW);
}

/** Number of 8-byte slots an instruction occupies. */
export function slots(i: Insn): 1 | 2 {
  return isLddw(i) ? 2 : 1;
}
