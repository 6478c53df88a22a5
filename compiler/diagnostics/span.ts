// A span is an offset into the source text (UTF-16 code units, as JavaScript
// strings index) and a length. Line and column are computed only when printed.
export interface Span {
  readonly start: number;
  readonly length: number;
}

export function span(start: number, end: number): Span {
  return { start, length: Math.max(0, end - start) };
}

export function spanEnd(s: Span): number {
  return s.start + s.length;
}

/** The smallest span covering both. */
export function cover(a: Span, b: Span): Span {
  return span(Math.min(a.start, b.start), Math.max(spanEnd(a), spanEnd(b)));
}

export interface LineCol {
  line: number; // 1-based
  col: number; // 1-based
}

/** Start offsets of every line, for offset → line/column. */
export class LineMap {
  private readonly starts: number[] = [0];
  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }
  lineCol(offset: number): LineCol {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - this.starts[lo]! + 1 };
  }
  lineText(line: number): string {
    const s = this.starts[line - 1] ?? this.text.length;
    const e = line < this.starts.length ? this.starts[line]! - 1 : this.text.length;
    return this.text.slice(s, e).replace(/\r$/, "");
  }
  get lineCount(): number {
    return this.starts.length;
  }
}
