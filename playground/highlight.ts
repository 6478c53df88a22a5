// Syntax highlighting with the compiler's own lexer, so the page colours exactly the
// tokens the compiler sees: keywords, type names, constants, calls, numbers, strings
// and, in the gaps between tokens, comments. The result is one HTML line per source
// line, with diagnostics drawn over it: the span underlined and the message after the
// line's end (the editor lays this under a transparent textarea).
import { lex, KEYWORDS, T } from "../compiler/syntax/lexer.ts";
import { DiagnosticBag } from "../compiler/diagnostics/diagnostic.ts";

export interface Mark {
  start: number;
  length: number;
  line: number;
  severity: string;
  text: string;
}

/** Type-level words of the language that the lexer reads as plain identifiers. */
const TYPE_WORDS = new Set([
  "u8",
  "u16",
  "u32",
  "u64",
  "i8",
  "i16",
  "i32",
  "i64",
  "bool",
  "boolean",
  "number",
  "bigint",
  "string",
  "interface",
  "type",
  "as",
  "from",
  "of",
  "declare",
]);

function classOf(image: string, t: T, next: string | undefined): string {
  switch (t) {
    case T.Number:
      return "num";
    case T.String:
    case T.Template:
    case T.Regex:
      return "str";
    case T.Punct:
      return "punct";
    case T.Ident:
      if (KEYWORDS.has(image)) return "kw";
      if (TYPE_WORDS.has(image)) return "type";
      if (/^[A-Z][A-Z0-9_]+$/.test(image)) return "const";
      if (/^[A-Z]/.test(image)) return "type";
      if (next === "(") return "fn";
      return "id";
  }
  return "";
}

const esc = (s: string) =>
  s.replace(/[&<>]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : "&gt;"));

/** A class name per character of `source` ("" for whitespace). */
function charClasses(source: string): string[] {
  const cls = new Array<string>(source.length).fill("");
  const toks = lex(source, new DiagnosticBag("highlight")).filter((t) => t.t !== T.EOF);
  let prev = 0;
  const gap = (from: number, to: number) => {
    // Between tokens there is only whitespace and comments: anything else is a comment.
    for (let i = from; i < to; i++) if (!/\s/.test(source[i]!)) cls[i] = "com";
  };
  toks.forEach((tok, k) => {
    gap(prev, tok.start);
    const c = classOf(tok.image, tok.t, toks[k + 1]?.image);
    for (let i = tok.start; i < tok.end; i++) cls[i] = c;
    prev = tok.end;
  });
  gap(prev, source.length);
  return cls;
}

/**
 * The highlighted source as HTML: `<span class="line" data-line="N">` per line (1-based),
 * marks underlined (`squiggle error|warning`), each line's messages in a trailing
 * `<span class="diag-msg">`.
 */
export function highlight(source: string, marks: readonly Mark[] = []): string {
  const cls = charClasses(source);
  const squiggle = new Array<string>(source.length + 1).fill("");
  const byLine = new Map<number, Mark[]>();
  for (const m of marks) {
    // A zero-length span (a missing token) underlines the character at its offset.
    const end = Math.min(source.length + 1, m.start + Math.max(1, m.length));
    for (let i = m.start; i < end; i++) if (squiggle[i] !== "error") squiggle[i] = m.severity;
    byLine.set(m.line, [...(byLine.get(m.line) ?? []), m]);
  }
  const lines: string[] = [];
  let line = 1;
  let html = "";
  let run = "";
  let runKey = "";
  const flush = () => {
    if (!run) return;
    const [c, sq] = runKey.split("|");
    const classes = [c, sq ? `squiggle ${sq}` : ""].filter(Boolean).join(" ");
    html += classes ? `<span class="${classes}">${esc(run)}</span>` : esc(run);
    run = "";
  };
  const endLine = () => {
    flush();
    const ms = byLine.get(line) ?? [];
    const msg = ms.length
      ? `<span class="diag-msg ${ms.some((m) => m.severity === "error") ? "error" : "warning"}">${ms
          .map((m) => esc(m.text))
          .join(" · ")}</span>`
      : "";
    lines.push(
      `<span class="line${ms.length ? " has-diag" : ""}" data-line="${line}">${html}${msg}</span>`,
    );
    html = "";
    line++;
  };
  for (let i = 0; i < source.length; i++) {
    const ch = source[i]!;
    if (ch === "\n") {
      endLine();
      runKey = "";
      continue;
    }
    const key = `${cls[i]}|${squiggle[i]}`;
    if (key !== runKey) {
      flush();
      runKey = key;
    }
    run += ch;
  }
  // A mark at the very end of the file (e.g. a missing `}`) shows as one underlined space.
  if (squiggle[source.length]) {
    flush();
    html += `<span class="squiggle ${squiggle[source.length]}"> </span>`;
  }
  endLine();
  return lines.join("\n");
}
