// A minimal ELF64 little-endian relocatable-object writer. Sections and symbols are
// handles until encode(), which orders symbols (locals first, as ELF requires),
// places each `.rel<name>` right after its target section (as clang does) and
// shares one `.strtab` for section and symbol names (as clang does).
import {
  ELF_HEADER_SIZE,
  EM_BPF,
  ET_REL,
  REL_SIZE,
  SECTION_HEADER_SIZE,
  SHF_INFO_LINK,
  SHN_ABS,
  SHN_UNDEF,
  SHT_NOBITS,
  SHT_REL,
  SHT_STRTAB,
  SHT_SYMTAB,
  STB_LOCAL,
  STT_SECTION,
  STV_DEFAULT,
  SYMBOL_SIZE,
} from "./constants.ts";
import { StringTable } from "../btf/strings.ts";

export interface ElfSection {
  name: string;
  type: number;
  flags: number;
  /** Contents; for SHT_NOBITS only the length counts. */
  data: Uint8Array;
  align: number;
  entsize: number;
  /** Filled by encode(). */
  index: number;
  readonly relocations: { offset: number; symbol: ElfSymbol; type: number }[];
}

export interface ElfSymbol {
  name: string;
  value: number;
  size: number;
  type: number;
  bind: number;
  visibility: number;
  /** The defining section, or "abs"/"undef". */
  section: ElfSection | "abs" | "undef";
  /** Filled by encode(). */
  index: number;
}

export class ElfWriter {
  private readonly sections: ElfSection[] = [];
  private readonly symbols: ElfSymbol[] = [];

  addSection(s: {
    name: string;
    type: number;
    flags: number;
    data: Uint8Array;
    align: number;
    entsize?: number;
  }): ElfSection {
    if (this.sections.some((x) => x.name === s.name))
      throw new Error(`duplicate ELF section ${s.name}`);
    const sec: ElfSection = { entsize: 0, ...s, index: -1, relocations: [] };
    this.sections.push(sec);
    return sec;
  }

  section(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  addSymbol(s: Omit<ElfSymbol, "index" | "visibility"> & { visibility?: number }): ElfSymbol {
    const sym: ElfSymbol = { visibility: STV_DEFAULT, ...s, index: -1 };
    this.symbols.push(sym);
    return sym;
  }

  symbol(name: string): ElfSymbol | undefined {
    return this.symbols.find((s) => s.name === name);
  }

  addRelocation(target: ElfSection, offset: number, symbol: ElfSymbol, type: number): void {
    target.relocations.push({ offset, symbol, type });
  }

  encode(): Uint8Array {
    const names = new StringTable();
    // Symbol order: the null symbol, locals, then globals; sh_info is the first global.
    const locals = this.symbols.filter((s) => s.bind === STB_LOCAL);
    const globals = this.symbols.filter((s) => s.bind !== STB_LOCAL);
    const ordered = [...locals, ...globals];
    ordered.forEach((s, i) => (s.index = i + 1));

    interface Out {
      name: string;
      type: number;
      flags: number;
      data: Uint8Array;
      size: number;
      align: number;
      entsize: number;
      link: number;
      info: number;
    }
    const strtab: Out = {
      name: ".strtab",
      type: SHT_STRTAB,
      flags: 0,
      data: new Uint8Array(),
      size: 0,
      align: 1,
      entsize: 0,
      link: 0,
      info: 0,
    };
    const outs: Out[] = [strtab];
    const relOuts: { rel: Out; target: ElfSection }[] = [];
    for (const s of this.sections) {
      s.index = outs.length + 1;
      outs.push({
        name: s.name,
        type: s.type,
        flags: s.flags,
        data: s.data,
        size: s.data.length,
        align: s.align,
        entsize: s.entsize,
        link: 0,
        info: 0,
      });
      if (s.relocations.length) {
        const rel: Out = {
          name: ".rel" + s.name,
          type: SHT_REL,
          flags: SHF_INFO_LINK,
          data: new Uint8Array(),
          size: 0,
          align: 8,
          entsize: REL_SIZE,
          link: 0,
          info: s.index,
        };
        outs.push(rel);
        relOuts.push({ rel, target: s });
      }
    }
    const symtab: Out = {
      name: ".symtab",
      type: SHT_SYMTAB,
      flags: 0,
      data: new Uint8Array(),
      size: 0,
      align: 8,
      entsize: SYMBOL_SIZE,
      link: 1,
      info: locals.length + 1,
    };
    outs.push(symtab);
    const symtabIndex = outs.length;

    for (const o of outs) names.add(o.name);
    for (const s of ordered) if (s.type !== STT_SECTION) names.add(s.name);

    // Relocation tables, sorted by offset like the assembler's output.
    for (const { rel, target } of relOuts) {
      const rs = [...target.relocations].sort((a, b) => a.offset - b.offset);
      const data = new Uint8Array(rs.length * REL_SIZE);
      const dv = new DataView(data.buffer);
      rs.forEach((r, i) => {
        if (r.symbol.index < 0)
          throw new Error(`relocation against unregistered symbol ${r.symbol.name}`);
        dv.setBigUint64(i * REL_SIZE, BigInt(r.offset), true);
        dv.setBigUint64(i * REL_SIZE + 8, (BigInt(r.symbol.index) << 32n) | BigInt(r.type), true);
      });
      rel.data = data;
      rel.size = data.length;
      rel.link = symtabIndex;
    }

    const symData = new Uint8Array((ordered.length + 1) * SYMBOL_SIZE);
    const sdv = new DataView(symData.buffer);
    ordered.forEach((s) => {
      const o = s.index * SYMBOL_SIZE;
      // Section symbols are nameless, as clang writes them (readers show the section's name).
      sdv.setUint32(o, s.type === STT_SECTION ? 0 : names.add(s.name), true);
      sdv.setUint8(o + 4, ((s.bind & 0xf) << 4) | (s.type & 0xf));
      sdv.setUint8(o + 5, s.visibility & 0x3);
      const shndx =
        s.section === "abs" ? SHN_ABS : s.section === "undef" ? SHN_UNDEF : s.section.index;
      if (shndx < 0) throw new Error(`symbol ${s.name} in an unregistered section`);
      sdv.setUint16(o + 6, shndx, true);
      sdv.setBigUint64(o + 8, BigInt(s.value), true);
      sdv.setBigUint64(o + 16, BigInt(s.size), true);
    });
    symtab.data = symData;
    symtab.size = symData.length;
    strtab.data = names.bytes();
    strtab.size = strtab.data.length;

    // Layout: header, section contents in order (NOBITS take no file space), then headers.
    const offsets: number[] = [];
    let pos = ELF_HEADER_SIZE;
    for (const o of outs) {
      pos = alignUp(pos, Math.max(1, o.align));
      offsets.push(pos);
      if (o.type !== SHT_NOBITS) pos += o.size;
    }
    const shoff = alignUp(pos, 8);
    const total = shoff + (outs.length + 1) * SECTION_HEADER_SIZE;
    const out = new Uint8Array(total);
    const dv = new DataView(out.buffer);
    out.set(
      [
        0x7f, 0x45, 0x4c, 0x46, 2 /* ELFCLASS64 */, 1 /* little endian */, 1 /* EV_CURRENT */,
        0 /* SYSV */,
      ],
      0,
    );
    dv.setUint16(16, ET_REL, true);
    dv.setUint16(18, EM_BPF, true);
    dv.setUint32(20, 1, true);
    dv.setBigUint64(24, 0n, true); // e_entry
    dv.setBigUint64(32, 0n, true); // e_phoff
    dv.setBigUint64(40, BigInt(shoff), true);
    dv.setUint32(48, 0, true); // e_flags
    dv.setUint16(52, ELF_HEADER_SIZE, true);
    dv.setUint16(54, 0, true); // e_phentsize (as clang writes it)
    dv.setUint16(56, 0, true);
    dv.setUint16(58, SECTION_HEADER_SIZE, true);
    dv.setUint16(60, outs.length + 1, true);
    dv.setUint16(62, 1, true); // e_shstrndx: .strtab
    outs.forEach((o, i) => {
      if (o.type !== SHT_NOBITS) out.set(o.data, offsets[i]);
      const h = shoff + (i + 1) * SECTION_HEADER_SIZE;
      dv.setUint32(h, names.add(o.name), true);
      dv.setUint32(h + 4, o.type, true);
      dv.setBigUint64(h + 8, BigInt(o.flags), true);
      dv.setBigUint64(h + 16, 0n, true);
      dv.setBigUint64(h + 24, BigInt(offsets[i]!), true);
      dv.setBigUint64(h + 32, BigInt(o.size), true);
      dv.setUint32(h + 40, o.link, true);
      dv.setUint32(h + 44, o.info, true);
      dv.setBigUint64(h + 48, BigInt(o.align), true);
      dv.setBigUint64(h + 56, BigInt(o.entsize), true);
    });
    return out;
  }
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
