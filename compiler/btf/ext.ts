// The `.BTF.ext` section: per-ELF-section func_info and line_info records. Offsets
// are in bytes from the start of the ELF section (libbpf converts them to
// instruction indexes per program); file and line strings live in the `.BTF`
// string table, so records must be added before the `.BTF` section is encoded.
import { BTF_MAGIC, BTF_VERSION } from "./kinds.ts";
import type { StringTable } from "./strings.ts";

export const BTF_EXT_HEADER_LEN = 32;
export const FUNC_INFO_REC_SIZE = 8;
export const LINE_INFO_REC_SIZE = 16;

/** line_col packs the line into the high 22 bits and the column into the low 10. */
export function lineCol(line: number, col: number): number {
  return ((line << 10) | Math.min(col, 0x3ff)) >>> 0;
}

export interface FuncInfo {
  /** Byte offset of the function's first instruction in its ELF section. */
  insnOff: number;
  /** BTF id of the FUNC type. */
  typeId: number;
}

export interface LineInfo {
  insnOff: number;
  file: string;
  /** The text of the source line (what the kernel's verifier log prints). */
  lineText: string;
  line: number;
  col: number;
}

export class BtfExtBuilder {
  private readonly funcs = new Map<string, FuncInfo[]>();
  private readonly lines = new Map<
    string,
    { insnOff: number; fileOff: number; lineOff: number; lineCol: number }[]
  >();

  constructor(private readonly strings: StringTable) {}

  addFuncInfo(section: string, rec: FuncInfo): void {
    this.strings.add(section);
    listFor(this.funcs, section).push(rec);
  }

  addLineInfo(section: string, rec: LineInfo): void {
    this.strings.add(section);
    listFor(this.lines, section).push({
      insnOff: rec.insnOff,
      fileOff: this.strings.add(rec.file),
      lineOff: this.strings.add(rec.lineText),
      lineCol: lineCol(rec.line, rec.col),
    });
  }

  get empty(): boolean {
    return this.funcs.size === 0 && this.lines.size === 0;
  }

  encode(): Uint8Array {
    const words: number[] = [];
    const funcStart = 0;
    if (this.funcs.size) {
      words.push(FUNC_INFO_REC_SIZE);
      for (const [sec, recs] of this.funcs) {
        const sorted = [...recs].sort((a, b) => a.insnOff - b.insnOff);
        words.push(this.strings.add(sec), sorted.length);
        for (const r of sorted) words.push(r.insnOff, r.typeId);
      }
    }
    const funcLen = words.length * 4 - funcStart;
    const lineStart = words.length * 4;
    if (this.lines.size) {
      words.push(LINE_INFO_REC_SIZE);
      for (const [sec, recs] of this.lines) {
        const sorted = [...recs].sort((a, b) => a.insnOff - b.insnOff);
        words.push(this.strings.add(sec), sorted.length);
        for (const r of sorted) words.push(r.insnOff, r.fileOff, r.lineOff, r.lineCol);
      }
    }
    const lineLen = words.length * 4 - lineStart;
    const out = new Uint8Array(BTF_EXT_HEADER_LEN + words.length * 4);
    const dv = new DataView(out.buffer);
    dv.setUint16(0, BTF_MAGIC, true);
    dv.setUint8(2, BTF_VERSION);
    dv.setUint8(3, 0);
    dv.setUint32(4, BTF_EXT_HEADER_LEN, true);
    dv.setUint32(8, funcStart, true);
    dv.setUint32(12, funcLen, true);
    dv.setUint32(16, lineStart, true);
    dv.setUint32(20, lineLen, true);
    dv.setUint32(24, words.length * 4, true); // core_relo_off: empty, at the end
    dv.setUint32(28, 0, true);
    words.forEach((w, i) => dv.setUint32(BTF_EXT_HEADER_LEN + i * 4, w >>> 0, true));
    return out;
  }
}

function listFor<T>(m: Map<string, T[]>, k: string): T[] {
  let l = m.get(k);
  if (!l) m.set(k, (l = []));
  return l;
}
