// Test support: clang/llvm-objdump 14 as the oracle for the disassembler.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  ElfWriter,
  parseElf,
  EM_BPF,
  R_BPF_64_32,
  R_BPF_64_64,
  R_BPF_64_ABS32,
  R_BPF_64_ABS64,
  R_BPF_64_NODYLD32,
  SHF_ALLOC,
  SHF_EXECINSTR,
  SHT_PROGBITS,
  STB_GLOBAL,
  STT_FUNC,
  STT_SECTION,
  type ElfFile,
} from "../../compiler/elf/index.ts";
import type { ListingRelocation } from "../../compiler/bpf/disasm.ts";

export const OBJDUMP = "/usr/bin/llvm-objdump";

export function objdump(dir: string, object: Uint8Array, flags: string[]): string {
  const p = join(dir, "obj.o");
  writeFileSync(p, object);
  return execFileSync(OBJDUMP, [...flags, "--no-show-raw-insn", p], { encoding: "utf8" });
}

/** Lines of one section's disassembly (`Disassembly of section X:` up to the next section). */
export function sectionBlock(text: string, section: string): string[] {
  const lines = text.split("\n");
  const start = lines.indexOf(`Disassembly of section ${section}:`);
  if (start < 0) return [];
  const out: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (l.startsWith("Disassembly of section ")) break;
    out.push(l);
  }
  while (out.length && out[0] === "") out.shift();
  while (out.length && out.at(-1) === "") out.pop();
  return out;
}

const RELOC_NAMES: Record<number, string> = {
  [R_BPF_64_64]: "R_BPF_64_64",
  [R_BPF_64_ABS64]: "R_BPF_64_ABS64",
  [R_BPF_64_ABS32]: "R_BPF_64_ABS32",
  [R_BPF_64_NODYLD32]: "R_BPF_64_NODYLD32",
  [R_BPF_64_32]: "R_BPF_64_32",
};

/** Symbols (by slot) and relocations (by slot) of one code section, as llvm-objdump names them. */
export function sectionAnnotations(elf: ElfFile, section: string) {
  const sec = elf.section(section)!;
  const symbols = new Map<number, string>();
  for (const s of elf.symbols) {
    if (s.shndx === sec.index && s.name && s.type !== STT_SECTION) symbols.set(s.value / 8, s.name);
  }
  const relocations = new Map<number, ListingRelocation>();
  for (const r of elf.relocations.find((x) => x.targetIndex === sec.index)?.entries ?? []) {
    const sym = elf.symbols.find((s) => s.index === r.symbol);
    const name = sym?.type === STT_SECTION ? elf.sections[sym.shndx]!.name : r.symbolName;
    relocations.set(r.offset / 8, { type: RELOC_NAMES[r.type] ?? `type ${r.type}`, symbol: name });
  }
  return { symbols, relocations };
}

/** A relocatable BPF object with one function `prog` in `.text` holding the given bytes. */
export function objectFor(code: Uint8Array): Uint8Array {
  const w = new ElfWriter();
  const text = w.addSection({
    name: ".text",
    type: SHT_PROGBITS,
    flags: SHF_ALLOC | SHF_EXECINSTR,
    data: code,
    align: 8,
  });
  w.addSymbol({
    name: "prog",
    value: 0,
    size: code.length,
    type: STT_FUNC,
    bind: STB_GLOBAL,
    section: text,
  });
  const bytes = w.encode();
  if (parseElf(bytes).machine !== EM_BPF) throw new Error("ElfWriter did not produce a BPF object");
  return bytes;
}

/** Drops the ` <label>` / ` <fn+0x18>` annotation llvm-objdump adds after a jump target. */
export function stripTargetLabel(line: string): string {
  return line.replace(/(\bgotol? [+-]\d+) <[^<>]+>$/, "$1");
}
