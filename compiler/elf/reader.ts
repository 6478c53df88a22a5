// Parses ELF64 little-endian relocatable objects: sections, symbols, REL relocations.
import {
  ELF_HEADER_SIZE,
  REL_SIZE,
  SHN_ABS,
  SHN_UNDEF,
  SHT_NOBITS,
  SHT_REL,
  SHT_SYMTAB,
  STT_SECTION,
  SYMBOL_SIZE,
} from "./constants.ts";
import { readCString } from "../btf/strings.ts";

export interface ElfSectionInfo {
  index: number;
  name: string;
  type: number;
  flags: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  align: number;
  entsize: number;
  /** Contents (empty for SHT_NOBITS). */
  data: Uint8Array;
}

export interface ElfSymbolInfo {
  index: number;
  name: string;
  value: number;
  size: number;
  type: number;
  bind: number;
  visibility: number;
  shndx: number;
  /** Name of the defining section, if any. */
  section?: string;
}

export interface ElfRelocation {
  offset: number;
  type: number;
  symbol: number;
  symbolName: string;
}

export interface ElfRelocationSection {
  /** The `.rel…` section itself. */
  name: string;
  /** The section the relocations apply to. */
  target: string;
  targetIndex: number;
  entries: ElfRelocation[];
}

export interface ElfFile {
  type: number;
  machine: number;
  sections: ElfSectionInfo[];
  symbols: ElfSymbolInfo[];
  relocations: ElfRelocationSection[];
  section(name: string): ElfSectionInfo | undefined;
}

export function parseElf(bytes: Uint8Array): ElfFile {
  if (
    bytes.length < ELF_HEADER_SIZE ||
    bytes[0] !== 0x7f ||
    bytes[1] !== 0x45 ||
    bytes[2] !== 0x4c ||
    bytes[3] !== 0x46
  ) {
    throw new Error("not an ELF file");
  }
  if (bytes[4] !== 2 || bytes[5] !== 1)
    throw new Error("only ELF64 little-endian objects are supported");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const num = (o: number) => Number(dv.getBigUint64(o, true));
  const shoff = num(40);
  const shentsize = dv.getUint16(58, true);
  const shnum = dv.getUint16(60, true);
  const shstrndx = dv.getUint16(62, true);
  if (shentsize < 64 && shnum > 0)
    throw new Error(`ELF section header size ${shentsize} is below 64`);
  if (shoff + shnum * shentsize > bytes.length) throw new Error("ELF section headers truncated");

  const raw: {
    nameOff: number;
    type: number;
    flags: number;
    offset: number;
    size: number;
    link: number;
    info: number;
    align: number;
    entsize: number;
  }[] = [];
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * shentsize;
    raw.push({
      nameOff: dv.getUint32(h, true),
      type: dv.getUint32(h + 4, true),
      flags: num(h + 8),
      offset: num(h + 24),
      size: num(h + 32),
      link: dv.getUint32(h + 40, true),
      info: dv.getUint32(h + 44, true),
      align: num(h + 48),
      entsize: num(h + 56),
    });
  }
  const body = (r: (typeof raw)[number]) => {
    if (r.type === SHT_NOBITS) return new Uint8Array();
    if (r.offset + r.size > bytes.length) throw new Error("ELF section truncated");
    return bytes.subarray(r.offset, r.offset + r.size);
  };
  const shstr = raw[shstrndx] ? body(raw[shstrndx]) : new Uint8Array(1);
  const sections: ElfSectionInfo[] = raw.map((r, index) => ({
    index,
    name: readCString(shstr, r.nameOff),
    type: r.type,
    flags: r.flags,
    offset: r.offset,
    size: r.size,
    link: r.link,
    info: r.info,
    align: r.align,
    entsize: r.entsize,
    data: body(r),
  }));

  const symbols: ElfSymbolInfo[] = [];
  const symtab = sections.find((s) => s.type === SHT_SYMTAB);
  if (symtab) {
    const strs = sections[symtab.link]?.data ?? new Uint8Array(1);
    const sdv = new DataView(symtab.data.buffer, symtab.data.byteOffset, symtab.data.byteLength);
    for (let i = 0; i < Math.floor(symtab.data.length / SYMBOL_SIZE); i++) {
      const o = i * SYMBOL_SIZE;
      const st_info = sdv.getUint8(o + 4);
      const shndx = sdv.getUint16(o + 6, true);
      const sym: ElfSymbolInfo = {
        index: i,
        name: readCString(strs, sdv.getUint32(o, true)),
        value: Number(sdv.getBigUint64(o + 8, true)),
        size: Number(sdv.getBigUint64(o + 16, true)),
        type: st_info & 0xf,
        bind: st_info >> 4,
        visibility: sdv.getUint8(o + 5) & 0x3,
        shndx,
      };
      if (shndx !== SHN_UNDEF && shndx < SHN_ABS && sections[shndx])
        sym.section = sections[shndx].name;
      // Section symbols are nameless; name them after their section, as readelf does.
      if (sym.type === STT_SECTION && !sym.name && sym.section) sym.name = sym.section;
      symbols.push(sym);
    }
  }

  const relocations: ElfRelocationSection[] = [];
  for (const s of sections) {
    if (s.type !== SHT_REL) continue;
    const rdv = new DataView(s.data.buffer, s.data.byteOffset, s.data.byteLength);
    const entries: ElfRelocation[] = [];
    for (let i = 0; i < Math.floor(s.data.length / REL_SIZE); i++) {
      const info = rdv.getBigUint64(i * REL_SIZE + 8, true);
      const symbol = Number(info >> 32n);
      entries.push({
        offset: Number(rdv.getBigUint64(i * REL_SIZE, true)),
        type: Number(info & 0xffffffffn),
        symbol,
        symbolName: symbols[symbol]?.name ?? "",
      });
    }
    relocations.push({
      name: s.name,
      target: sections[s.info]?.name ?? "",
      targetIndex: s.info,
      entries,
    });
  }

  return {
    type: dv.getUint16(16, true),
    machine: dv.getUint16(18, true),
    sections,
    symbols,
    relocations,
    section: (name) => sections.find((s) => s.name === name),
  };
}
