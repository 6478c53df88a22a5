// A stable text summary of a BPF object (sections, symbols, relocations, programs
// with line info, maps, globals, BTF) for golden tests and `xdpc` inspection.
import { formatBtf } from "../btf/reader.ts";
import {
  R_BPF_64_32,
  R_BPF_64_64,
  SHF_ALLOC,
  SHF_EXECINSTR,
  SHF_INFO_LINK,
  SHF_WRITE,
  STB_GLOBAL,
  STB_LOCAL,
  STB_WEAK,
} from "./constants.ts";
import type { ObjectInfo } from "./object.ts";

const SHT: Record<number, string> = {
  0: "NULL",
  1: "PROGBITS",
  2: "SYMTAB",
  3: "STRTAB",
  8: "NOBITS",
  9: "REL",
};
const STT = ["NOTYPE", "OBJECT", "FUNC", "SECTION", "FILE"];
const BIND: Record<number, string> = {
  [STB_LOCAL]: "LOCAL",
  [STB_GLOBAL]: "GLOBAL",
  [STB_WEAK]: "WEAK",
};
const RELOC: Record<number, string> = {
  [R_BPF_64_64]: "R_BPF_64_64",
  [R_BPF_64_32]: "R_BPF_64_32",
};

function flags(f: number): string {
  return (
    (f & SHF_WRITE ? "W" : "") +
    (f & SHF_ALLOC ? "A" : "") +
    (f & SHF_EXECINSTR ? "X" : "") +
    (f & SHF_INFO_LINK ? "I" : "")
  );
}

export function summarizeObject(o: ObjectInfo): string {
  const out: string[] = [`license: ${JSON.stringify(o.license)}`, "", "sections:"];
  for (const s of o.elf.sections.slice(1)) {
    out.push(
      `  [${s.index}] ${s.name} ${SHT[s.type] ?? `0x${s.type.toString(16)}`} size=${s.size} align=${s.align}${s.flags ? ` flags=${flags(s.flags)}` : ""}${s.link ? ` link=${s.link}` : ""}${s.info ? ` info=${s.info}` : ""}`,
    );
  }
  out.push("", "symbols:");
  for (const s of o.elf.symbols.slice(1)) {
    out.push(
      `  ${s.index}: ${s.name} ${STT[s.type] ?? s.type} ${BIND[s.bind] ?? s.bind} ${s.section ?? (s.shndx === 0xfff1 ? "ABS" : "UND")}+${s.value} size=${s.size}`,
    );
  }
  out.push("", "relocations:");
  for (const r of o.elf.relocations) {
    for (const e of r.entries)
      out.push(`  ${r.target}+${e.offset} ${RELOC[e.type] ?? e.type} ${e.symbolName}`);
  }
  out.push("", "programs:");
  for (const p of o.programs) {
    out.push(
      `  ${p.name} (${p.section}+${p.offset}, ${p.insns.length / 8} slots, ${p.global ? "global" : "static"}${p.btfFunc ? `, btf func ${p.btfFunc}` : ""})`,
    );
    for (const r of p.relocations)
      out.push(
        `    reloc slot ${r.insnIndex}: ${r.kind} ${r.target}${r.offset !== undefined ? ` @${r.section}+${r.offset}` : ""}`,
      );
    for (const l of p.lineInfo)
      out.push(
        `    line slot ${l.insnIndex}: ${l.file}:${l.line}:${l.col} ${JSON.stringify(l.lineText)}`,
      );
  }
  out.push("", "maps:");
  for (const m of o.maps) {
    out.push(
      `  ${m.name}: type=${m.type} key=${m.keySize} value=${m.valueSize} max_entries=${m.maxEntries} flags=${m.flags} pinning=${m.pinning}`,
    );
  }
  out.push("", "globals:");
  for (const g of o.globals) {
    out.push(
      `  ${g.name}: ${g.section}+${g.offset} size=${g.size} init=${[...g.bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`,
    );
  }
  if (o.btf) out.push("", "btf:", formatBtf(o.btf).trimEnd());
  return out.join("\n") + "\n";
}
