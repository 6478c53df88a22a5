// Machine-level code between instruction selection and emission: eBPF
// instructions whose registers may still be virtual, whose jumps name blocks and
// whose lddw may name a relocation symbol (cilium/ebpf's habit: symbols until
// serialisation). Registers 0..10 are physical; VREG_BASE + n is virtual n.
import type { Span } from "../diagnostics/span.ts";
import {
  BPF_ALU,
  BPF_ALU64,
  BPF_CALL,
  BPF_END,
  BPF_EXIT,
  BPF_JA,
  BPF_JMP,
  BPF_JMP32,
  BPF_LD,
  BPF_LDX,
  BPF_MOV,
  BPF_NEG,
  BPF_ST,
  BPF_STX,
  BPF_X,
} from "./insn.ts";

export const VREG_BASE = 16;
export const FP = 10;

export interface MInst {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
  imm64?: bigint;
  /** Jump target. */
  target?: MBlock;
  /** lddw against a symbol: a map name, or a data section (.rodata/.bss/.data) with imm64 as offset. */
  reloc?: string;
  /** call: how many argument registers (r1..) it reads. */
  nargs?: number;
  /** A 32-bit mov that truncates a 64-bit value: not a no-op even as a self-move. */
  trunc?: boolean;
  span?: Span;
}

export interface MBlock {
  id: number;
  label: string;
  insts: MInst[];
  succs: MBlock[];
}

export interface MFunc {
  name: string;
  blocks: MBlock[];
  /** Bytes of stack in use below r10 (slots, then spills). */
  frameSize: number;
  nextVreg: number;
}

export function isVirtual(r: number): boolean {
  return r >= VREG_BASE;
}

/** Registers an instruction reads and writes (r10 excluded: it never changes). */
export function regsOf(m: MInst): { defs: number[]; uses: number[] } {
  const cls = m.code & 0x07;
  const op = m.code & 0xf0;
  const x = (m.code & BPF_X) !== 0;
  const defs: number[] = [];
  const uses: number[] = [];
  switch (cls) {
    case BPF_ALU:
    case BPF_ALU64:
      if (op === BPF_MOV) {
        if (x) uses.push(m.src);
      } else if (op === BPF_NEG || op === BPF_END) {
        uses.push(m.dst);
      } else {
        uses.push(m.dst);
        if (x) uses.push(m.src);
      }
      defs.push(m.dst);
      break;
    case BPF_LDX:
      uses.push(m.src);
      defs.push(m.dst);
      break;
    case BPF_ST:
      uses.push(m.dst);
      break;
    case BPF_STX:
      uses.push(m.dst, m.src);
      break;
    case BPF_LD:
      defs.push(m.dst);
      break;
    case BPF_JMP:
    case BPF_JMP32:
      if (op === BPF_JA) break;
      if (op === BPF_CALL) {
        for (let r = 1; r <= (m.nargs ?? 5); r++) uses.push(r);
        defs.push(0, 1, 2, 3, 4, 5);
        break;
      }
      if (op === BPF_EXIT) {
        uses.push(0);
        break;
      }
      uses.push(m.dst);
      if (x) uses.push(m.src);
      break;
  }
  return { defs: defs.filter((r) => r !== FP), uses: uses.filter((r) => r !== FP) };
}
