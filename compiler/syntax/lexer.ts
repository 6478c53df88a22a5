// The chevrotain lexer. Tokens are reduced to a compact form the parser reads by
// kind and image. `>` is always a single token: the parser joins adjacent `>`s into
// `>>`, `>>>`, `>=`, `>>=`, `>>>=` where an operator is wanted, so the closing `>>`
// of `Map<K, FixedArray<u8, 4>>` needs no special case (TypeScript's rescan trick).
import { createToken, Lexer, type IToken, type TokenType } from "chevrotain";
import type { DiagnosticBag } from "../diagnostics/diagnostic.ts";
import { span } from "../diagnostics/span.ts";
import { scanNumber, scanString, scanTemplate } from "./literals.ts";

export enum T {
  Ident,
  Number,
  String,
  Template,
  Regex,
  Punct,
  EOF,
}

export interface Tok {
  t: T;
  image: string;
  start: number;
  end: number;
  /** A line break separates this token from the previous one (for ASI and restricted productions). */
  nl: boolean;
  /** String literal without its closing quote, template without closing backtick, … */
  bad?: boolean;
}

type Match = [string];
const matched = (text: string, offset: number, len: number): Match | null =>
  len > 0 ? [text.slice(offset, offset + len)] : null;

// Tokens after which `/` divides; elsewhere it starts a regular expression literal.
const DIVISION_AFTER_KEYWORDS = new Set(["this", "super", "true", "false", "null"]);
function regexAllowed(prev: IToken | undefined): boolean {
  if (!prev) return true;
  const ty = prev.tokenType;
  if (ty === Identifier)
    return KEYWORDS.has(prev.image) && !DIVISION_AFTER_KEYWORDS.has(prev.image);
  if (ty === Punct) return !(prev.image === ")" || prev.image === "]" || prev.image === "}");
  return false;
}

function scanRegex(text: string, offset: number): number {
  let i = offset + 1;
  let inClass = false;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "\n" || c === "\r") return 0;
    if (c === "\\") i += 2;
    else {
      if (c === "[") inClass = true;
      else if (c === "]") inClass = false;
      else if (c === "/" && !inClass) {
        i++;
        while (/[a-z]/i.test(text[i] ?? "")) i++;
        return i - offset;
      }
      i++;
    }
  }
  return 0;
}

const WhiteSpace = createToken({
  name: "WhiteSpace",
  pattern: /[ \t\r\n\f\v\u00a0\ufeff\u2028\u2029]+/,
  group: Lexer.SKIPPED,
  line_breaks: true,
});
const LineComment = createToken({
  name: "LineComment",
  pattern: /\/\/[^\n\r\u2028\u2029]*/,
  group: Lexer.SKIPPED,
});
// An unterminated block comment runs to the end of the input.
const BlockComment = createToken({
  name: "BlockComment",
  pattern: {
    exec: (text, offset) => {
      if (text.charCodeAt(offset) !== 47 || text.charCodeAt(offset + 1) !== 42) return null;
      const close = text.indexOf("*/", offset + 2);
      return matched(text, offset, (close < 0 ? text.length : close + 2) - offset);
    },
  },
  start_chars_hint: ["/"],
  group: "comments",
  line_breaks: true,
});
const Hashbang = createToken({
  name: "Hashbang",
  pattern: {
    exec: (text, offset) =>
      offset === 0 && text.startsWith("#!")
        ? matched(text, 0, /^#![^\n]*/.exec(text)![0].length)
        : null,
  },
  start_chars_hint: ["#"],
  group: Lexer.SKIPPED,
  line_breaks: false,
});
const Template = createToken({
  name: "Template",
  pattern: {
    exec: (text, offset) =>
      text.charCodeAt(offset) === 96
        ? matched(text, offset, scanTemplate(text, offset).length)
        : null,
  },
  start_chars_hint: ["`"],
  line_breaks: true,
});
const Str = createToken({
  name: "String",
  pattern: {
    exec: (text, offset) => {
      const c = text.charCodeAt(offset);
      return c === 34 || c === 39 ? matched(text, offset, scanString(text, offset).length) : null;
    },
  },
  start_chars_hint: ['"', "'"],
  line_breaks: true,
});
const Num = createToken({
  name: "Number",
  pattern: { exec: (text, offset) => matched(text, offset, scanNumber(text, offset)) },
  start_chars_hint: [".", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
  line_breaks: false,
});
const Regex = createToken({
  name: "Regex",
  pattern: {
    exec: (text, offset, tokens) => {
      if (text.charCodeAt(offset) !== 47 || !regexAllowed(tokens[tokens.length - 1])) return null;
      const n = text.charCodeAt(offset + 1);
      if (n === 47 || n === 42) return null;
      return matched(text, offset, scanRegex(text, offset));
    },
  },
  start_chars_hint: ["/"],
  line_breaks: false,
});
const Identifier = createToken({ name: "Identifier", pattern: /[A-Za-z_$][A-Za-z0-9_$]*/ });
// Longest first. `?.` before a digit is `?` then a number (`a?.5:1`).
const Punct = createToken({
  name: "Punct",
  pattern:
    /\.\.\.|===|!==|\*\*=|<<=|&&=|\|\|=|\?\?=|==|!=|<=|<<|=>|\*\*|\+\+|--|\+=|-=|\*=|\/=|%=|&=|\|=|\^=|&&|\|\||\?\?|\?\.(?![0-9])|[{}()[\];,<>+\-*/%&|^!~?:=.@#]/,
});
const Unknown = createToken({ name: "Unknown", pattern: /[\s\S]/, line_breaks: true });

const allTokens: TokenType[] = [
  WhiteSpace,
  LineComment,
  BlockComment,
  Hashbang,
  Template,
  Str,
  Num,
  Regex,
  Identifier,
  Punct,
  Unknown,
];

// Built once: chevrotain analyses the token set in the constructor.
const lexer = new Lexer(allTokens, { positionTracking: "onlyOffset", ensureOptimizations: false });

/** Reserved words: never a binding or a plain name, always allowed as a property name. */
export const KEYWORDS = new Set([
  "break",
  "case",
  "catch",
  "class",
  "const",
  "continue",
  "debugger",
  "default",
  "delete",
  "do",
  "else",
  "enum",
  "export",
  "extends",
  "false",
  "finally",
  "for",
  "function",
  "if",
  "import",
  "in",
  "instanceof",
  "new",
  "null",
  "return",
  "super",
  "switch",
  "this",
  "throw",
  "true",
  "try",
  "typeof",
  "var",
  "void",
  "while",
  "with",
  "let",
  "yield",
  "await",
  "implements",
  "package",
  "private",
  "protected",
  "public",
  "static",
]);

const KIND = new Map<TokenType, T>([
  [Identifier, T.Ident],
  [Num, T.Number],
  [Str, T.String],
  [Template, T.Template],
  [Regex, T.Regex],
  [Punct, T.Punct],
]);

function hasLineBreak(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13 || c === 0x2028 || c === 0x2029) return true;
  }
  return false;
}

/** Tokenizes `source`; lexical errors go to `bag` and the offending characters are dropped. */
export function lex(source: string, bag: DiagnosticBag): Tok[] {
  const result = lexer.tokenize(source);
  for (const c of result.groups["comments"] ?? []) {
    if (c.image.length < 4 || !c.image.endsWith("*/"))
      bag.add("UnterminatedComment", span(c.startOffset, c.startOffset + 2));
  }
  const out: Tok[] = [];
  let prevEnd = 0;
  // Invalid characters come as Unknown tokens or, outside the first-char tables, as
  // lexer errors; either way one diagnostic per run of them (a surrogate pair is one).
  const bad: [number, number][] = result.errors.map((e) => [e.offset, e.offset + e.length]);
  for (const tok of result.tokens) {
    const start = tok.startOffset;
    const end = start + tok.image.length;
    const kind = KIND.get(tok.tokenType);
    if (kind === undefined) {
      bad.push([start, end]);
      continue;
    }
    const t: Tok = {
      t: kind,
      image: tok.image,
      start,
      end,
      nl: hasLineBreak(source, prevEnd, start),
    };
    if (kind === T.String) {
      if (!scanString(source, start).terminated) {
        t.bad = true;
        bag.add("UnterminatedString", span(start, end));
      }
    } else if (kind === T.Template && !scanTemplate(source, start).terminated) {
      t.bad = true;
      bag.add("UnterminatedTemplate", span(start, end));
    }
    out.push(t);
    prevEnd = end;
  }
  bad.sort((a, b) => a[0] - b[0]);
  for (let k = 0; k < bad.length;) {
    const s0 = bad[k]![0];
    let e0 = bad[k]![1];
    while (++k < bad.length && bad[k]![0] <= e0) e0 = Math.max(e0, bad[k]![1]);
    bag.add("InvalidCharacter", span(s0, e0), source.slice(s0, e0));
  }
  out.push({
    t: T.EOF,
    image: "",
    start: source.length,
    end: source.length,
    nl: hasLineBreak(source, prevEnd, source.length),
  });
  return out;
}
