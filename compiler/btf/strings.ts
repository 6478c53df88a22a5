// A BTF/ELF-style string table: NUL-separated, offset 0 is the empty string,
// each distinct string stored once.

export class StringTable {
  private readonly offsets = new Map<string, number>([["", 0]]);
  private readonly parts: Uint8Array[] = [new Uint8Array(1)];
  private length = 1;
  private static readonly enc = new TextEncoder();

  /** The offset of `s`, adding it if absent. */
  add(s: string): number {
    const known = this.offsets.get(s);
    if (known !== undefined) return known;
    if (s.includes("\0")) throw new Error(`string table entry contains NUL: ${JSON.stringify(s)}`);
    const bytes = StringTable.enc.encode(s + "\0");
    const off = this.length;
    this.parts.push(bytes);
    this.length += bytes.length;
    this.offsets.set(s, off);
    return off;
  }

  get size(): number {
    return this.length;
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let p = 0;
    for (const part of this.parts) {
      out.set(part, p);
      p += part.length;
    }
    return out;
  }
}

const dec = new TextDecoder();

/** The NUL-terminated string at `off` in `table`. */
export function readCString(table: Uint8Array, off: number): string {
  if (off < 0 || off >= table.length)
    throw new Error(`string offset ${off} outside table of ${table.length} bytes`);
  let end = off;
  while (end < table.length && table[end] !== 0) end++;
  return dec.decode(table.subarray(off, end));
}
