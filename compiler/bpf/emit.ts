// Emission: lays out allocated machine blocks, resolves jump targets to slot
// offsets, and keeps relocations (lddw against a map or data-section symbol) and a
// slot → source span table for BTF line info.
import type { Span } from "../diagnostics/span.ts";
import type { Insn } from "./insn.ts";
import { slots } from "./insn.ts";
import { isVirtual, type MFunc, type MInst } from "./machine.ts";

export interface Relocation {
  /** Index of the lddw in `insns`. */
  insn: number;
  /** Offset of the lddw in 8-byte slots (its byte offset in the section is slot × 8). */
  slot: number;
  /** A map name, or a data section (.rodata/.bss/.data; imm64 holds the offset). */
  symbol: string;
}

export interface LineEntry {
  /** Offset in 8-byte slots. */
  slot: number;
  span: Span;
}

export interface EmittedProgram {
  name: string;
  insns: Insn[];
  relocations: Relocation[];
  lines: LineEntry[];
  frameSize: number;
}

export class EmitError extends Error {}

export function emitProgram(mf: MFunc): EmittedProgram {
  const all: MInst[] = [];
  const blockSlot = new Map<number, number>();
  let slot = 0;
  for (const b of mf.blocks) {
    blockSlot.set(b.id, slot);
    for (const m of b.insts) {
      all.push(m);
      slot += slots(m as Insn);
    }
  }
  const insns: Insn[] = [];
  const relocations: Relocation[] = [];
  const lines: LineEntry[] = [];
  slot = 0;
  let lastSpan: Span | undefined;
  for (const m of all) {
    if (isVirtual(m.dst) || isVirtual(m.src))
      throw new EmitError(`unallocated register in ${mf.name}`);
    const insn: Insn = { code: m.code, dst: m.dst, src: m.src, off: m.off, imm: m.imm };
    if (m.imm64 !== undefined) insn.imm64 = m.imm64;
    if (m.target) {
      const off = blockSlot.get(m.target.id)! - (slot + 1);
      if (off < -32768 || off > 32767) throw new EmitError(`jump too far in ${mf.name}`);
      insn.off = off;
    }
    if (m.reloc) relocations.push({ insn: insns.length, slot, symbol: m.reloc });
    if (
      m.span &&
      (!lastSpan || lastSpan.start !== m.span.start || lastSpan.length !== m.span.length)
    ) {
      lines.push({ slot, span: m.span });
      lastSpan = m.span;
    }
    insns.push(insn);
    slot += slots(insn);
  }
  return { name: mf.name, insns, relocations, lines, frameSize: mf.frameSize };
}
