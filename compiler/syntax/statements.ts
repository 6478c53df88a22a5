// Statements, blocks, variable and function declarations. Each statement is a
// recovery point: a syntax error inside it is reported once, the tokens up to the
// next statement are skipped and an Unsupported node takes its place.
import type {
  Block,
  Expr,
  ForStmt,
  FunctionDecl,
  Param,
  Stmt,
  SwitchCase,
  TypeNode,
  Unsupported,
  VarDecl,
} from "../ast/nodes.ts";
import { span } from "../diagnostics/span.ts";
import { Cursor } from "./cursor.ts";
import { parseEnum, parseImport, parseInterface, parseTypeAlias } from "./declarations.ts";
import { parseAssignment, parseExpression, skipClass } from "./expressions.ts";
import { T } from "./lexer.ts";
import { parseType } from "./types.ts";

const BOUNDED_LOOP = "use a for loop with a constant bound";

/** Parses one statement (several for `let a = 1, b = 2`) into `out`, recovering from errors. */
export function parseStatementInto(p: Cursor, out: Stmt[]): void {
  const startIndex = p.i;
  const start = p.tok.start;
  p.recover(
    () => statement(p, out),
    () => {
      p.syncStatement(startIndex);
      if (p.i === startIndex && !p.isP("}") && !p.atEOF) p.next();
      out.push(p.node("invalid syntax", start));
    },
  );
}

/** A statement in a single-statement position (`if` branches, loop bodies). */
export function parseSingleStatement(p: Cursor): Stmt {
  const start = p.tok.start;
  const out: Stmt[] = [];
  parseStatementInto(p, out);
  if (out.length === 1) return out[0]!;
  p.unsupported("several declarations here", span(start, p.lastEnd), {
    singular: true,
    hint: "wrap them in braces",
  });
  return p.node("several declarations here", start);
}

function statement(p: Cursor, out: Stmt[]): void {
  p.enter();
  try {
    out.push(...statementInner(p));
  } finally {
    p.leave();
  }
}

function statementInner(p: Cursor): Stmt[] {
  const t = p.tok;
  const start = t.start;
  if (t.t === T.Punct) {
    if (t.image === "{") return [parseBlock(p)];
    if (t.image === ";") {
      p.next();
      return [{ kind: "EmptyStmt", span: span(t.start, t.end) }];
    }
    if (t.image === "@") {
      skipDecorators(p);
      const out: Stmt[] = [];
      parseStatementInto(p, out);
      return out;
    }
  } else if (t.t === T.Ident) {
    const nextSameLine = !p.peek().nl;
    switch (t.image) {
      case "const":
        if (p.isK("enum", 1)) return [misplaced(p, "enums", () => parseEnum(p, start, false))];
        return parseVarDecls(p, start, false);
      case "let":
      case "var":
        return parseVarDecls(p, start, false);
      case "if":
        return [parseIf(p)];
      case "for":
        return [parseFor(p)];
      case "switch":
        return [parseSwitch(p)];
      case "return": {
        p.next();
        const value = p.isP(";") || p.isP("}") || p.atEOF || p.tok.nl ? null : parseExpression(p);
        p.semicolon();
        return [{ kind: "ReturnStmt", span: p.spanFrom(start), value }];
      }
      case "break":
      case "continue": {
        p.next();
        if (p.tok.t === T.Ident && !p.tok.nl) {
          const l = p.next();
          p.unsupported("labels", span(l.start, l.end));
        }
        p.semicolon();
        const kind = t.image === "break" ? "BreakStmt" : "ContinueStmt";
        return [{ kind, span: p.spanFrom(start) }];
      }
      case "function":
        return [parseFunction(p, start, false)];
      case "async":
        if (p.isK("function", 1) && nextSameLine) return [parseFunction(p, start, false)];
        break;
      case "while":
        p.unsupported("while loops", span(t.start, t.end), { hint: BOUNDED_LOOP });
        p.muted(() => {
          p.next();
          p.skipBalanced();
          parseSingleStatement(p);
        });
        return [p.node("while loops", start)];
      case "do":
        p.unsupported("do-while loops", span(t.start, t.end), { hint: BOUNDED_LOOP });
        p.muted(() => {
          p.next();
          parseSingleStatement(p);
          p.expectK("while");
          p.skipBalanced();
          p.eatP(";");
        });
        return [p.node("do-while loops", start)];
      case "try":
        p.unsupported("exceptions (try/catch)", span(t.start, t.end));
        p.muted(() => {
          p.next();
          p.skipBalanced();
          if (p.eatK("catch")) {
            if (p.isP("(")) p.skipBalanced();
            p.skipBalanced();
          }
          if (p.eatK("finally")) p.skipBalanced();
        });
        return [p.node("exceptions (try/catch)", start)];
      case "throw":
        p.unsupported("exceptions (throw)", span(t.start, t.end), {
          hint: "return a verdict instead",
        });
        p.muted(() => {
          p.next();
          parseExpression(p);
          p.semicolon();
        });
        return [p.node("exceptions (throw)", start)];
      case "class":
        return [parseClass(p, start)];
      case "abstract":
        if (p.isK("class", 1) && nextSameLine) return [parseClass(p, start)];
        break;
      case "interface":
        if (p.peek().t === T.Ident)
          return [misplaced(p, "interfaces", () => parseInterface(p, start, false))];
        break;
      case "type":
        if (p.peek().t === T.Ident && nextSameLine)
          return [misplaced(p, "type aliases", () => parseTypeAlias(p, start, false))];
        break;
      case "enum":
        return [misplaced(p, "enums", () => parseEnum(p, start, false))];
      case "import":
        if (!p.isP("(", 1) && !p.isP(".", 1))
          return [misplaced(p, "imports", () => parseImport(p))];
        break;
      case "export":
        p.report("MisplacedDeclaration", span(t.start, t.end), "exports");
        p.next();
        return [...statementInner(p)];
      case "debugger":
        p.next();
        p.unsupported("debugger statements", span(t.start, t.end));
        p.semicolon();
        return [p.node("debugger statements", start)];
      case "with":
        p.unsupported("with statements", span(t.start, t.end));
        p.muted(() => {
          p.next();
          p.skipBalanced();
          parseSingleStatement(p);
        });
        return [p.node("with statements", start)];
      case "case":
      case "default":
      case "else":
      case "catch":
      case "finally":
        p.fail("a statement");
    }
    if (p.isBindingIdent() && p.isP(":", 1)) {
      p.unsupported("labeled statements", span(t.start, p.peek().end));
      p.muted(() => {
        p.next();
        p.next();
        parseSingleStatement(p);
      });
      return [p.node("labeled statements", start)];
    }
  }
  const expr = parseExpression(p);
  p.semicolon();
  return [{ kind: "ExprStmt", span: p.spanFrom(start), expr }];
}

/** A declaration that TypeScript allows in a block but filters only at the top level. */
function misplaced(p: Cursor, what: string, parse: () => unknown): Unsupported {
  const start = p.tok.start;
  const head = p.tok;
  p.report("MisplacedDeclaration", span(head.start, head.end), what);
  p.muted(parse);
  return p.node(what, start);
}

export function skipDecorators(p: Cursor): void {
  const start = p.tok.start;
  p.muted(() => {
    while (p.eatP("@")) {
      p.expectIdentName();
      while (p.eatP(".")) p.expectIdentName();
      if (p.isP("(")) p.skipBalanced();
    }
  });
  p.unsupported("decorators", span(start, p.lastEnd));
}

export function parseClass(p: Cursor, start: number): Unsupported {
  const t = p.tok;
  p.unsupported("classes", span(t.start, p.isK("abstract") ? p.peek().end : t.end), {
    hint: "use interfaces for data and top-level functions for code",
  });
  p.muted(() => {
    p.eatK("abstract");
    skipClass(p);
  });
  return p.node("classes", start);
}

export function parseBlock(p: Cursor): Block {
  const start = p.expectP("{").start;
  const body: Stmt[] = [];
  while (!p.isP("}") && !p.atEOF) {
    // A top-level keyword at the start of a line means this block's `}` is missing.
    if (p.tok.nl && (p.isK("export") || (p.isK("import") && !p.isP("(", 1) && !p.isP(".", 1))))
      break;
    const before = p.i;
    parseStatementInto(p, body);
    if (p.i === before) p.next();
  }
  // A missing `}` is reported but keeps the block: the function stays usable for the checker.
  if (!p.eatP("}"))
    p.report("UnexpectedToken", span(p.tok.start, p.tok.end), p.describe(p.tok), "'}'");
  return { kind: "Block", span: p.spanFrom(start), body };
}

// ------------------------------------------------------------------ declarations

/** `const|let|var a: T = e, b = f`; the cursor is at the keyword (after any `export`). */
export function parseVarDecls(
  p: Cursor,
  start: number,
  exported: boolean,
): (VarDecl | Unsupported)[] {
  const kw = p.next();
  if (kw.image === "var")
    p.unsupported("'var' declarations", span(kw.start, kw.end), { hint: "use 'let' or 'const'" });
  const declKind = kw.image === "const" ? "const" : "let";
  const out: (VarDecl | Unsupported)[] = [];
  let first = true;
  do {
    const dstart = first ? start : p.tok.start;
    first = false;
    out.push(parseDeclarator(p, dstart, declKind, exported));
  } while (p.eatP(","));
  p.semicolon();
  // A single declaration is the whole statement, `;` included (as tsc spans it).
  if (out.length === 1) out[0]!.span = p.spanFrom(start);
  return out;
}

function parseDeclarator(
  p: Cursor,
  start: number,
  declKind: "const" | "let",
  exported: boolean,
): VarDecl | Unsupported {
  if (p.isP("{") || p.isP("[")) {
    const t = p.tok;
    p.unsupported("destructuring", span(t.start, t.end), { singular: true });
    p.muted(() => {
      p.skipBalanced();
      if (p.eatP(":")) parseType(p);
      if (p.eatP("=")) parseAssignment(p);
    });
    return p.node("destructuring", start);
  }
  const name = p.expectIdent();
  if (p.isP("!") && !p.tok.nl) {
    const b = p.next();
    p.unsupported("definite assignment assertions", span(b.start, b.end));
  }
  const type: TypeNode | null = p.eatP(":") ? parseType(p) : null;
  const init: Expr | null = p.eatP("=") ? parseAssignment(p) : null;
  return { kind: "VarDecl", span: p.spanFrom(start), declKind, name, type, init, exported };
}

/** `[async] function [*] name(params): T { body }`; the cursor is at `async` or `function`. */
export function parseFunction(
  p: Cursor,
  start: number,
  exported: boolean,
): FunctionDecl | Unsupported {
  if (p.isK("async")) {
    const a = p.tok;
    p.unsupported("async functions", span(a.start, p.peek().end));
    p.muted(() => {
      p.next();
      parseFunction(p, start, exported);
    });
    return p.node("async functions", start);
  }
  p.expectK("function");
  if (p.isP("*")) {
    const s = p.tok;
    p.unsupported("generators", span(start, s.end));
    p.muted(() => {
      p.next();
      parseFunctionRest(p, start, exported);
    });
    return p.node("generators", start);
  }
  return parseFunctionRest(p, start, exported);
}

function parseFunctionRest(
  p: Cursor,
  start: number,
  exported: boolean,
): FunctionDecl | Unsupported {
  const name = p.expectIdent();
  if (p.isP("<")) {
    const s = p.tok.start;
    p.muted(() => p.skipAngles());
    p.unsupported("generic functions", span(s, p.lastEnd));
  }
  const params = parseParams(p);
  const returnType = p.eatP(":") ? parseType(p) : null;
  if (!p.isP("{")) {
    if (p.isP(";") || p.tok.nl || p.atEOF || p.isP("}")) {
      p.unsupported("function declarations without a body", name.span, {
        hint: "overloads are not supported",
      });
      p.eatP(";");
      return p.node("function declarations without a body", start);
    }
    p.fail("'{'");
  }
  const body = parseBlock(p);
  return {
    kind: "FunctionDecl",
    span: p.spanFrom(start),
    name,
    params,
    returnType,
    body,
    exported,
  };
}

function parseParams(p: Cursor): Param[] {
  p.expectP("(");
  const params: Param[] = [];
  p.recover(
    () => {
      while (!p.isP(")")) {
        const param = parseParam(p);
        if (param) params.push(param);
        if (!p.eatP(",")) break;
      }
      p.expectP(")");
    },
    () => p.skipToClose(")"),
  );
  return params;
}

function parseParam(p: Cursor): Param | null {
  const start = p.tok.start;
  if (p.isP("@")) skipDecorators(p);
  const t = p.tok;
  if (
    t.t === T.Ident &&
    ["public", "private", "protected", "readonly", "override"].includes(t.image) &&
    p.peek().t === T.Ident
  ) {
    p.next();
    p.unsupported("parameter properties", span(t.start, t.end));
  }
  if (p.isK("this")) {
    const th = p.next();
    p.unsupported("'this' parameters", span(th.start, th.end));
    p.muted(() => {
      if (p.eatP(":")) parseType(p);
    });
    return null;
  }
  if (p.isP("{") || p.isP("[")) {
    p.unsupported("destructuring", span(t.start, t.end), { singular: true });
    p.muted(() => {
      p.skipBalanced();
      if (p.eatP(":")) parseType(p);
      if (p.eatP("=")) parseAssignment(p);
    });
    return null;
  }
  if (p.isP("...")) {
    const r = p.next();
    p.unsupported("rest parameters", span(r.start, r.end));
  }
  const name = p.expectIdent();
  if (p.isP("?")) {
    const q = p.next();
    p.unsupported("optional parameters", span(q.start, q.end));
  }
  const type = p.eatP(":") ? parseType(p) : null;
  if (p.isP("=")) {
    const eq = p.next();
    p.muted(() => parseAssignment(p));
    p.unsupported("default parameters", span(eq.start, p.lastEnd));
  }
  return { kind: "Param", span: p.spanFrom(start), name, type };
}

// ------------------------------------------------------------------ control flow

/** `( expr )` of if/switch: an error inside is confined to the parentheses. */
function parseHeadExpr(p: Cursor): Expr {
  p.expectP("(");
  const start = p.tok.start;
  return p.recover(
    () => {
      const e = parseExpression(p);
      p.expectP(")");
      return e;
    },
    () => {
      p.skipToClose(")");
      return p.node("invalid syntax", start);
    },
  );
}

function parseIf(p: Cursor): Stmt {
  const start = p.next().start;
  const test = parseHeadExpr(p);
  const then = parseSingleStatement(p);
  const otherwise = p.eatK("else") ? parseSingleStatement(p) : null;
  return { kind: "IfStmt", span: p.spanFrom(start), test, then, else: otherwise };
}

function parseSwitch(p: Cursor): Stmt {
  const start = p.next().start;
  const discriminant = parseHeadExpr(p);
  p.expectP("{");
  const cases: SwitchCase[] = [];
  while (!p.isP("}") && !p.atEOF) {
    const cstart = p.tok.start;
    let test: Expr | null = null;
    if (p.eatK("case")) {
      test = p.recover(
        () => {
          const e = parseExpression(p);
          p.expectP(":");
          return e;
        },
        () => {
          while (!p.atEOF && !p.isP(":") && !p.isP("}") && !p.tok.nl) p.next();
          p.eatP(":");
          return p.node("invalid syntax", cstart);
        },
      );
    } else if (p.eatK("default")) {
      p.expectP(":");
    } else {
      // Statements before the first case: report once, keep parsing them for their own errors.
      const t = p.tok;
      p.report("UnexpectedToken", span(t.start, t.end), p.describe(t), "'case' or 'default'");
      const junk: Stmt[] = [];
      const before = p.i;
      parseStatementInto(p, junk);
      if (p.i === before) p.next();
      continue;
    }
    const body: Stmt[] = [];
    while (!p.isP("}") && !p.isK("case") && !p.isK("default") && !p.atEOF) {
      const before = p.i;
      parseStatementInto(p, body);
      if (p.i === before) p.next();
    }
    cases.push({ kind: "SwitchCase", span: p.spanFrom(cstart), test, body });
  }
  p.expectP("}");
  return { kind: "SwitchStmt", span: p.spanFrom(start), discriminant, cases };
}

/** Whether the `for (` header at the cursor is `for (x of y)` / `for (x in y)`. */
function forEachKind(p: Cursor): "of" | "in" | null {
  let depth = 0;
  for (let k = 1; ; k++) {
    const t = p.peek(k);
    if (t.t === T.EOF) return null;
    if (t.t === T.Punct) {
      if (t.image === "(" || t.image === "[" || t.image === "{") depth++;
      else if (t.image === ")" || t.image === "]" || t.image === "}") {
        if (--depth < 0) return null;
      } else if (t.image === ";" && depth === 0) return null;
    } else if (depth === 0 && t.t === T.Ident && (t.image === "of" || t.image === "in"))
      return t.image;
  }
}

function parseFor(p: Cursor): Stmt {
  const start = p.next().start;
  if (p.isK("await")) {
    const a = p.tok;
    p.unsupported("'for await' loops", span(start, a.end), { hint: BOUNDED_LOOP });
    p.muted(() => {
      p.next();
      p.skipBalanced();
      parseSingleStatement(p);
    });
    return p.node("'for await' loops", start);
  }
  if (!p.isP("(")) p.fail("'('");
  const each = forEachKind(p);
  if (each) {
    const what = each === "of" ? "for...of loops" : "for...in loops";
    p.unsupported(what, span(start, p.lastEnd), { hint: BOUNDED_LOOP });
    p.muted(() => {
      p.skipBalanced();
      parseSingleStatement(p);
    });
    return p.node(what, start);
  }
  p.next();
  type Header = Pick<ForStmt, "init" | "test" | "update">;
  const header = p.recover<Header | null>(
    () => {
      let init: ForStmt["init"] = null;
      if (p.isK("const") || p.isK("let") || p.isK("var")) {
        const istart = p.tok.start;
        const kw = p.next();
        if (kw.image === "var")
          p.unsupported("'var' declarations", span(kw.start, kw.end), {
            hint: "use 'let' or 'const'",
          });
        const d = parseDeclarator(p, istart, kw.image === "const" ? "const" : "let", false);
        if (p.isP(",")) {
          const c = p.tok;
          p.unsupported("several loop variables", span(c.start, c.end), {
            hint: "declare the others before the loop",
          });
          p.muted(() => {
            while (p.eatP(",")) parseDeclarator(p, p.tok.start, "let", false);
          });
        }
        init = d.kind === "VarDecl" ? d : null;
      } else if (!p.isP(";")) init = parseExpression(p);
      p.expectP(";");
      const test = p.isP(";") ? null : parseExpression(p);
      p.expectP(";");
      const update = p.isP(")") ? null : parseExpression(p);
      p.expectP(")");
      return { init, test, update };
    },
    () => {
      p.skipToClose(")");
      return null;
    },
  );
  const body = parseSingleStatement(p);
  if (!header) return p.node("invalid syntax", start);
  return { kind: "ForStmt", span: p.spanFrom(start), ...header, body };
}
