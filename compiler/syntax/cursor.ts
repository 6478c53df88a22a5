// Parser state shared by the grammar modules: the token stream, diagnostics (with
// muting for regions already reported as unsupported), spans and error recovery.
import type { DiagnosticBag } from "../diagnostics/diagnostic.ts";
import type { MessageId } from "../diagnostics/codes.ts";
import { span, type Span } from "../diagnostics/span.ts";
import type { Ident, Unsupported } from "../ast/nodes.ts";
import { KEYWORDS, T, type Tok } from "./lexer.ts";

/** Unwinds to the nearest recovery point. Never escapes parse(). */
export class ParseError {
  constructor(readonly at: number) {}
}

/** How deep statements and expressions may nest before we stop (keeps the JS stack safe). */
const MAX_DEPTH = 256;

export interface UnsupportedOptions {
  singular?: boolean;
  hint?: string;
}

export class Cursor {
  i = 0;
  /** End offset of the last consumed token: the end of the node being built. */
  lastEnd = 0;
  /** While > 0, diagnostics are dropped: the region is already reported as one construct. */
  mute = 0;
  depth = 0;
  private readonly reportedAt = new Set<number>();

  constructor(
    readonly source: string,
    readonly toks: Tok[],
    readonly bag: DiagnosticBag,
  ) {}

  get tok(): Tok {
    return this.toks[this.i]!;
  }
  peek(k = 1): Tok {
    return this.toks[Math.min(this.i + k, this.toks.length - 1)]!;
  }
  get atEOF(): boolean {
    return this.tok.t === T.EOF;
  }

  /** Punctuator test. */
  isP(image: string, k = 0): boolean {
    const t = this.peek(k);
    return t.t === T.Punct && t.image === image;
  }
  /** Keyword or contextual-keyword test. */
  isK(word: string, k = 0): boolean {
    const t = this.peek(k);
    return t.t === T.Ident && t.image === word;
  }
  /** An identifier that may name a binding (not a reserved word). */
  isBindingIdent(k = 0): boolean {
    const t = this.peek(k);
    return t.t === T.Ident && !KEYWORDS.has(t.image);
  }

  next(): Tok {
    const t = this.tok;
    if (t.t !== T.EOF) {
      this.i++;
      this.lastEnd = t.end;
    }
    return t;
  }
  eatP(image: string): boolean {
    if (!this.isP(image)) return false;
    this.next();
    return true;
  }
  eatK(word: string): boolean {
    if (!this.isK(word)) return false;
    this.next();
    return true;
  }
  expectP(image: string): Tok {
    if (!this.isP(image)) this.fail(`'${image}'`);
    return this.next();
  }
  expectK(word: string): Tok {
    if (!this.isK(word)) this.fail(`'${word}'`);
    return this.next();
  }

  /** A binding name: an identifier that is not a reserved word. */
  expectIdent(): Ident {
    if (!this.isBindingIdent()) this.fail("an identifier");
    const t = this.next();
    return { kind: "Ident", span: span(t.start, t.end), name: t.image };
  }
  /** A property or field name: any identifier, reserved words included (`m.delete(k)`). */
  expectIdentName(): Ident {
    if (this.tok.t !== T.Ident) this.fail("a name");
    const t = this.next();
    return { kind: "Ident", span: span(t.start, t.end), name: t.image };
  }

  /** From `start` to the end of the last consumed token. */
  spanFrom(start: number): Span {
    // Nothing consumed since `start` (a recovery node): an empty span where the parent still covers it.
    if (this.lastEnd < start) return span(this.lastEnd, this.lastEnd);
    return span(start, this.lastEnd);
  }
  text(s: Span): string {
    return this.source.slice(s.start, s.start + s.length);
  }

  report(id: MessageId, at: Span, ...args: (string | number | bigint)[]): void {
    if (this.mute > 0 || this.reportedAt.has(at.start)) return;
    this.reportedAt.add(at.start);
    this.bag.add(id, at, ...args);
  }

  /** Reports a construct outside the subset, naming it. */
  unsupported(what: string, at: Span, opts: UnsupportedOptions = {}): void {
    if (opts.hint !== undefined)
      this.report(
        opts.singular ? "UnsupportedConstructSingularHint" : "UnsupportedConstructHint",
        at,
        what,
        opts.hint,
      );
    else
      this.report(
        opts.singular ? "UnsupportedConstructSingular" : "UnsupportedConstruct",
        at,
        what,
      );
  }

  node(what: string, start: number): Unsupported {
    return { kind: "Unsupported", span: this.spanFrom(start), what };
  }

  describe(t: Tok): string {
    if (t.t === T.EOF) return "end of file";
    const img = t.image.length > 24 ? `${t.image.slice(0, 21)}...` : t.image;
    return `'${img.replace(/\s+/g, " ")}'`;
  }

  /** Reports "unexpected X; expected Y" at the current token and unwinds. */
  fail(expected: string): never {
    const t = this.tok;
    this.report("UnexpectedToken", span(t.start, t.end), this.describe(t), expected);
    throw new ParseError(t.start);
  }

  enter(): void {
    if (++this.depth > MAX_DEPTH) {
      const t = this.tok;
      this.report("NestingTooDeep", span(t.start, t.end));
      throw new ParseError(t.start);
    }
  }
  leave(): void {
    this.depth--;
  }

  /** Runs `f` with diagnostics muted (the enclosing construct is already reported). */
  muted<R>(f: () => R): R {
    this.mute++;
    try {
      return f();
    } finally {
      this.mute--;
    }
  }

  /**
   * Runs `parse`; on a parse error (already reported) restores the mute level and the
   * nesting depth it started with and returns `recover()`, which skips the bad tokens.
   */
  recover<R>(parse: () => R, recover: () => R): R {
    const mute = this.mute;
    const depth = this.depth;
    try {
      return parse();
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      this.mute = mute;
      this.depth = depth;
      return recover();
    }
  }

  /**
   * Runs `f` speculatively: on a parse error nothing is reported and the position is
   * restored. Returns whether `f` succeeded and returned true; the position is always
   * restored, so callers re-parse for real.
   */
  lookahead(f: () => boolean): boolean {
    const save = { i: this.i, lastEnd: this.lastEnd, depth: this.depth };
    this.mute++;
    try {
      return f();
    } catch (e) {
      if (e instanceof ParseError) return false;
      throw e;
    } finally {
      this.mute--;
      this.i = save.i;
      this.lastEnd = save.lastEnd;
      this.depth = save.depth;
    }
  }

  /** If at an opening bracket, skips through its matching closer. Always makes progress unless at EOF. */
  skipBalanced(): void {
    let depth = 0;
    do {
      const t = this.tok;
      if (t.t === T.EOF) return;
      if (t.t === T.Punct) {
        if (t.image === "(" || t.image === "[" || t.image === "{") depth++;
        else if (t.image === ")" || t.image === "]" || t.image === "}") depth--;
      }
      this.next();
    } while (depth > 0);
  }

  /** Skips `<…>` (type parameters or arguments), counting nested angle brackets. */
  skipAngles(): void {
    let depth = 0;
    do {
      const t = this.tok;
      if (t.t === T.EOF) return;
      if (t.t === T.Punct) {
        if (t.image === "<") depth++;
        else if (t.image === ">") depth--;
        else if (t.image === "(" || t.image === "[" || t.image === "{") {
          this.skipBalanced();
          continue;
        } else if (t.image === ";" || t.image === "}" || t.image === ")") return;
      }
      this.next();
    } while (depth > 0);
  }

  /** After an error inside `( … )` whose `(` is consumed: skip to and past the matching `)`. */
  skipToClose(close: ")" | "]"): void {
    while (!this.atEOF) {
      const t = this.tok;
      if (t.t === T.Punct) {
        if (t.image === close) {
          this.next();
          return;
        }
        // Do not run past the statement: a missing `)` must not swallow the body.
        if (t.image === "{" || t.image === "}" || t.image === ";") return;
        if (t.image === "(" || t.image === "[") {
          this.skipBalanced();
          continue;
        }
      }
      this.next();
    }
  }

  /**
   * Skips an unparseable statement: through a `;`, or to a `}` that closes the enclosing
   * block, or to a new line that starts a statement keyword.
   */
  syncStatement(startIndex: number): void {
    this.sync(startIndex, STATEMENT_START, true);
  }

  /** Skips an unparseable top-level item: through a `;`, or to a new line that starts an item. */
  syncItem(startIndex: number): void {
    this.sync(startIndex, ITEM_START, false);
  }

  private sync(startIndex: number, starters: ReadonlySet<string>, stopAtClose: boolean): void {
    while (!this.atEOF) {
      const t = this.tok;
      if (this.i > startIndex && t.nl && t.t === T.Ident && starters.has(t.image)) return;
      if (t.t === T.Punct) {
        if (t.image === ";") {
          this.next();
          return;
        }
        if (stopAtClose && t.image === "}") return;
        if (t.image === "{" || t.image === "(" || t.image === "[") {
          this.skipBalanced();
          continue;
        }
      }
      this.next();
    }
  }

  /**
   * Skips a declaration-like construct outside the subset: through `;`, or a
   * brace group at depth 0 followed by a new line, or to a new line after a token that can end one.
   */
  skipDeclaration(): void {
    const startIndex = this.i;
    while (!this.atEOF) {
      const t = this.tok;
      if (this.i > startIndex && t.nl && canEnd(this.toks[this.i - 1]!)) return;
      if (t.t === T.Punct) {
        if (t.image === ";") {
          this.next();
          return;
        }
        if (t.image === "}") return;
        if (t.image === "{" || t.image === "(" || t.image === "[") {
          this.skipBalanced();
          continue;
        }
      }
      this.next();
    }
  }

  /** Automatic semicolon insertion: `;`, or before `}`, end of file or a line break. */
  semicolon(): void {
    if (this.eatP(";")) return;
    if (this.isP("}") || this.atEOF || this.tok.nl) return;
    this.fail("';'");
  }
}

function canEnd(t: Tok): boolean {
  if (t.t !== T.Punct) return true;
  return t.image === ")" || t.image === "]" || t.image === "}" || t.image === ">";
}

export const STATEMENT_START = new Set([
  "const",
  "let",
  "var",
  "if",
  "for",
  "while",
  "do",
  "switch",
  "return",
  "break",
  "continue",
  "function",
  "class",
  "try",
  "throw",
  "export",
  "import",
  "interface",
  "enum",
]);
export const ITEM_START = new Set([
  "import",
  "export",
  "function",
  "const",
  "let",
  "var",
  "interface",
  "type",
  "enum",
  "class",
  "declare",
  "namespace",
  "async",
  "abstract",
]);
