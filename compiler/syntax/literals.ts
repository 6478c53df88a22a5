// Numeric and string literal scanning and decoding. Pure functions over the source
// text: the lexer uses the scanners, the parser the decoders.

export type NumberClass =
  { kind: "int"; value: bigint } | { kind: "float" } | { kind: "bigint" } | { kind: "invalid" };

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isWordChar = (c: number): boolean =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36;

/**
 * Length of the numeric literal at `offset`, or 0. Greedy over word characters so
 * that `12abc` or `0x1g` become one (invalid) literal rather than two tokens; the
 * exponent sign is taken only after a decimal mantissa (`0xe+1` is `0xe + 1`).
 */
export function scanNumber(text: string, offset: number): number {
  let i = offset;
  const c0 = text.charCodeAt(i);
  if (c0 === 46 /* . */) {
    if (!isDigit(text.charCodeAt(i + 1))) return 0;
  } else if (!isDigit(c0)) return 0;
  const c1 = text.charCodeAt(i + 1);
  const prefixed =
    c0 === 48 && (c1 === 120 || c1 === 88 || c1 === 98 || c1 === 66 || c1 === 111 || c1 === 79);
  if (prefixed) {
    i += 2;
    while (isWordChar(text.charCodeAt(i))) i++;
    return i - offset;
  }
  let sawDot = false;
  let sawExp = false;
  for (;;) {
    const c = text.charCodeAt(i);
    if (isWordChar(c)) {
      i++;
      if ((c === 101 || c === 69) && !sawExp) {
        sawExp = true;
        const s = text.charCodeAt(i);
        if ((s === 43 || s === 45) && isDigit(text.charCodeAt(i + 1))) i++;
      }
    } else if (c === 46 && !sawDot && !sawExp) {
      sawDot = true;
      i++;
    } else break;
  }
  return i - offset;
}

const DEC = /^(?:\d+(?:_\d+)*)$/;
const HEX = /^[0-9a-fA-F]+(?:_[0-9a-fA-F]+)*$/;
const BIN = /^[01]+(?:_[01]+)*$/;
const OCT = /^[0-7]+(?:_[0-7]+)*$/;
const FLOAT = /^(?:\d+(?:_\d+)*)?(?:\.(?:\d+(?:_\d+)*)?)?(?:[eE][+-]?\d+(?:_\d+)*)?$/;

/** Classifies a numeric literal's text; integers get their exact value. */
export function classifyNumber(raw: string): NumberClass {
  let body = raw;
  const isBig = body.length > 1 && body.endsWith("n");
  if (isBig) body = body.slice(0, -1);
  const p = body.slice(0, 2).toLowerCase();
  if (p === "0x" || p === "0b" || p === "0o") {
    const digits = body.slice(2);
    const re = p === "0x" ? HEX : p === "0b" ? BIN : OCT;
    if (!re.test(digits)) return { kind: "invalid" };
    if (isBig) return { kind: "bigint" };
    return { kind: "int", value: BigInt(p + digits.replace(/_/g, "")) };
  }
  if (DEC.test(body)) {
    // A leading zero is legacy octal in sloppy JavaScript and an error in TypeScript.
    if (body.length > 1 && body[0] === "0") return { kind: "invalid" };
    if (isBig) return { kind: "bigint" };
    return { kind: "int", value: BigInt(body.replace(/_/g, "")) };
  }
  if (!isBig && body !== "." && FLOAT.test(body) && /\d/.test(body)) return { kind: "float" };
  return { kind: "invalid" };
}

/** Length of the quoted string at `offset` (quote included); stops before a line break when unterminated. */
export function scanString(text: string, offset: number): { length: number; terminated: boolean } {
  const q = text.charCodeAt(offset);
  let i = offset + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === q) return { length: i + 1 - offset, terminated: true };
    if (c === 10 || c === 13) break;
    if (c === 92 /* \ */) {
      i += text.charCodeAt(i + 1) === 13 && text.charCodeAt(i + 2) === 10 ? 3 : 2;
      continue;
    }
    i++;
  }
  return { length: Math.min(i, text.length) - offset, terminated: false };
}

/** Length of the template literal at `offset`, following `${ … }` nesting. */
export function scanTemplate(
  text: string,
  offset: number,
): { length: number; terminated: boolean } {
  const end = templateEnd(text, offset + 1);
  return end < 0
    ? { length: text.length - offset, terminated: false }
    : { length: end - offset, terminated: true };
}

// Returns the offset after the closing backtick, or -1.
function templateEnd(text: string, i: number): number {
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 96 /* ` */) return i + 1;
    if (c === 92) {
      i += 2;
      continue;
    }
    if (c === 36 /* $ */ && text.charCodeAt(i + 1) === 123 /* { */) {
      i = substitutionEnd(text, i + 2);
      if (i < 0) return -1;
      continue;
    }
    i++;
  }
  return -1;
}

// Skips the expression inside `${ … }`; returns the offset after its `}` or -1.
function substitutionEnd(text: string, i: number): number {
  let depth = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 125 /* } */) {
      if (depth === 0) return i + 1;
      depth--;
      i++;
    } else if (c === 123) {
      depth++;
      i++;
    } else if (c === 39 || c === 34) {
      i += scanString(text, i).length;
    } else if (c === 96) {
      i = templateEnd(text, i + 1);
      if (i < 0) return -1;
    } else i++;
  }
  return -1;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  b: "\b",
  f: "\f",
  v: "\v",
  "0": "\0",
};

/** The value of a string literal token (quotes included). Malformed escapes keep their character. */
export function decodeString(raw: string): string {
  const q = raw[0];
  const body = raw.length >= 2 && raw[raw.length - 1] === q ? raw.slice(1, -1) : raw.slice(1);
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch !== "\\" || i + 1 >= body.length) {
      out += ch;
      continue;
    }
    const e = body[++i]!;
    if (e in SIMPLE_ESCAPES && !(e === "0" && /\d/.test(body[i + 1] ?? "")))
      out += SIMPLE_ESCAPES[e];
    else if (e === "\r") {
      if (body[i + 1] === "\n") i++;
    } else if (e === "\n" || e === "\u2028" || e === "\u2029") {
      // line continuation
    } else if (e === "x" && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 1, i + 3))) {
      out += String.fromCharCode(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (e === "u" && body[i + 1] === "{") {
      const close = body.indexOf("}", i + 2);
      const hex = close < 0 ? "" : body.slice(i + 2, close);
      const cp = /^[0-9a-fA-F]{1,6}$/.test(hex) ? parseInt(hex, 16) : -1;
      if (cp >= 0 && cp <= 0x10ffff) {
        out += String.fromCodePoint(cp);
        i = close;
      } else out += e;
    } else if (e === "u" && /^[0-9a-fA-F]{4}$/.test(body.slice(i + 1, i + 5))) {
      out += String.fromCharCode(parseInt(body.slice(i + 1, i + 5), 16));
      i += 4;
    } else out += e;
  }
  return out;
}
