// Expressions with TypeScript's precedence and associativity. Binary operators use
// precedence climbing exactly as tsc does, so `as` binds like a relational operator
// (`a + b as u16` is `(a + b) as u16`; `x as u16 + 1` is `(x as u16) + 1`).
import type { AssignOp, BinaryOp, Expr, ObjectProp, TypeNode, Unsupported } from "../ast/nodes.ts";
import { PREC } from "../ast/precedence.ts";
import { span } from "../diagnostics/span.ts";
import { Cursor } from "./cursor.ts";
import { KEYWORDS, T } from "./lexer.ts";
import { classifyNumber, decodeString } from "./literals.ts";
import { parseType, parseTypeArgs } from "./types.ts";

const ASSIGN_OPS = new Set([
  "=",
  "+=",
  "-=",
  "*=",
  "/=",
  "%=",
  "<<=",
  ">>=",
  ">>>=",
  "&=",
  "|=",
  "^=",
  "**=",
  "&&=",
  "||=",
  "??=",
]);
const UNSUPPORTED_ASSIGN: Record<string, string> = {
  "**=": "the '**=' operator",
  "&&=": "the '&&=' operator",
  "||=": "the '||=' operator",
  "??=": "the '??=' operator",
};
const UNSUPPORTED_BINARY: Record<string, string> = {
  "??": "the '??' operator",
  "**": "the '**' operator",
  in: "the 'in' operator",
  instanceof: "the 'instanceof' operator",
};

interface Op {
  op: string;
  /** Tokens the operator spans: `>>=` is three `>`/`=` tokens. */
  n: number;
  end: number;
}

/** The operator at the cursor, joining adjacent `>` tokens (see lexer.ts). */
export function peekOp(p: Cursor): Op | null {
  const t = p.tok;
  if (t.t === T.Ident) {
    if (t.image === "as" || t.image === "satisfies" || t.image === "in" || t.image === "instanceof")
      return { op: t.image, n: 1, end: t.end };
    return null;
  }
  if (t.t !== T.Punct) return null;
  if (t.image !== ">") return { op: t.image, n: 1, end: t.end };
  let op = ">";
  let n = 1;
  let end = t.end;
  for (;;) {
    const nx = p.peek(n);
    if (nx.t !== T.Punct || nx.start !== end) break;
    if (nx.image === ">" && (op === ">" || op === ">>")) op += ">";
    else if (nx.image === "=") op += "=";
    else break;
    n++;
    end = nx.end;
    if (op.endsWith("=")) break;
  }
  return { op, n, end };
}

function consumeOp(p: Cursor, o: Op): void {
  for (let k = 0; k < o.n; k++) p.next();
}

/** Expression including the comma operator (which is reported). */
export function parseExpression(p: Cursor): Expr {
  const start = p.tok.start;
  const first = parseAssignment(p);
  if (!p.isP(",")) return first;
  const c = p.tok;
  p.unsupported("comma expressions", span(c.start, c.end), { hint: "write separate statements" });
  p.muted(() => {
    while (p.eatP(",")) parseAssignment(p);
  });
  return p.node("comma expressions", start);
}

export function parseAssignment(p: Cursor): Expr {
  p.enter();
  try {
    const arrow = tryArrow(p);
    if (arrow) return arrow;
    const start = p.tok.start;
    const left = parseConditional(p);
    const o = peekOp(p);
    if (!o || !ASSIGN_OPS.has(o.op)) return left;
    consumeOp(p, o);
    const value = parseAssignment(p);
    const bad = UNSUPPORTED_ASSIGN[o.op];
    if (bad) {
      p.unsupported(bad, span(o.end - o.op.length, o.end), { singular: true });
      return p.node(bad, start);
    }
    return { kind: "Assign", span: p.spanFrom(start), op: o.op as AssignOp, target: left, value };
  } finally {
    p.leave();
  }
}

// ------------------------------------------------------------------ arrows

function tryArrow(p: Cursor): Unsupported | null {
  const start = p.tok.start;
  let headLen = 0; // tokens up to and including `=>`
  if (p.isK("async") && !p.peek().nl && (p.peek().t === T.Ident || p.isP("(", 1))) {
    if (p.peek().t === T.Ident && p.isP("=>", 2)) headLen = 3;
    else if (p.isP("(", 1)) headLen = parenArrowHead(p, 1);
  } else if (p.isBindingIdent() && p.isP("=>", 1)) headLen = 2;
  else if (p.isP("(")) headLen = parenArrowHead(p, 0);
  else if (p.isP("<") && p.peek().t === T.Ident) {
    // `<T>(x: T) => x` — a generic arrow; `<T>x` (a type assertion) is handled in parseUnary.
    if (
      p.lookahead(() => {
        p.skipAngles();
        return p.isP("(") && parenArrowHead(p, 0) > 0;
      })
    ) {
      const s = p.tok.start;
      p.unsupported("arrow functions", span(s, p.tok.end), { hint: "use a top-level function" });
      p.muted(() => {
        p.skipAngles();
        skipArrowRest(p, parenArrowHead(p, 0));
      });
      return p.node("arrow functions", start);
    }
  }
  if (headLen === 0) return null;
  // Report on the head `(a, b) =>`, not the whole body.
  p.unsupported("arrow functions", span(start, p.peek(headLen - 1).end), {
    hint: "use a top-level function",
  });
  p.muted(() => skipArrowRest(p, headLen));
  return p.node("arrow functions", start);
}

/**
 * If the `(` at offset k starts an arrow head, the number of tokens from the cursor
 * through `=>` (a return type `(…): T =>` included), else 0.
 */
function parenArrowHead(p: Cursor, k: number): number {
  let depth = 0;
  let j = k;
  for (;;) {
    const t = p.peek(j);
    if (t.t === T.EOF) return 0;
    if (t.t === T.Punct) {
      if (t.image === "(" || t.image === "[" || t.image === "{") depth++;
      else if (t.image === ")" || t.image === "]" || t.image === "}") depth--;
    }
    j++;
    if (depth === 0) break;
  }
  if (p.isP("=>", j)) return j + 1;
  if (p.isP(":", j)) {
    // `(a): u32 => a` vs `c ? (a) : b`: try the return type.
    let n = 0;
    p.lookahead(() => {
      const i0 = p.i;
      for (let m = 0; m <= j; m++) p.next();
      parseType(p);
      if (p.isP("=>")) n = p.i - i0 + 1;
      return n > 0;
    });
    return n;
  }
  return 0;
}

function skipArrowRest(p: Cursor, headLen: number): void {
  for (let m = 0; m < headLen; m++) p.next();
  if (p.isP("{")) p.skipBalanced();
  else parseAssignment(p);
}

// ------------------------------------------------------------------ operators

function parseConditional(p: Cursor): Expr {
  const start = p.tok.start;
  const test = parseBinary(p, 0);
  if (!p.isP("?")) return test;
  p.next();
  const then = parseAssignment(p);
  p.expectP(":");
  const otherwise = parseAssignment(p);
  return { kind: "Conditional", span: p.spanFrom(start), test, then, else: otherwise };
}

function parseBinary(p: Cursor, minPrec: number): Expr {
  const start = p.tok.start;
  let left = parseUnary(p);
  for (;;) {
    const o = peekOp(p);
    if (!o) break;
    const prec = PREC[o.op];
    if (prec === undefined) break;
    const rightAssoc = o.op === "**";
    if (rightAssoc ? prec < minPrec : prec <= minPrec) break;
    if ((o.op === "as" || o.op === "satisfies") && p.tok.nl) break;
    const opStart = p.tok.start;
    consumeOp(p, o);
    if (o.op === "as") {
      if (p.isK("const")) {
        const c = p.next();
        p.unsupported("const assertions", span(opStart, c.end));
        left = p.node("const assertions", start);
        continue;
      }
      const type = parseType(p);
      left = { kind: "As", span: p.spanFrom(start), expr: left, type };
      continue;
    }
    if (o.op === "satisfies") {
      p.unsupported("'satisfies' expressions", span(opStart, o.end));
      p.muted(() => parseType(p));
      left = p.node("'satisfies' expressions", start);
      continue;
    }
    const right = parseBinary(p, rightAssoc ? prec - 1 : prec);
    const bad = UNSUPPORTED_BINARY[o.op];
    if (bad) {
      p.unsupported(bad, span(opStart, o.end), { singular: true });
      left = p.node(bad, start);
      continue;
    }
    left = { kind: "Binary", span: p.spanFrom(start), op: o.op as BinaryOp, left, right };
  }
  return left;
}

function parseUnary(p: Cursor): Expr {
  p.enter();
  try {
    const t = p.tok;
    const start = t.start;
    if (t.t === T.Punct) {
      switch (t.image) {
        case "!":
        case "~":
        case "-":
        case "+": {
          p.next();
          const operand = parseUnary(p);
          return { kind: "Unary", span: p.spanFrom(start), op: t.image, operand };
        }
        case "++":
        case "--": {
          p.next();
          const target = parseUnary(p);
          return { kind: "Update", span: p.spanFrom(start), op: t.image, prefix: true, target };
        }
        case "<":
          p.unsupported("angle-bracket type assertions", span(t.start, t.end), {
            hint: "write 'x as T'",
          });
          p.muted(() => {
            p.next();
            parseType(p);
            p.expectP(">");
            parseUnary(p);
          });
          return p.node("angle-bracket type assertions", start);
      }
    } else if (t.t === T.Ident) {
      switch (t.image) {
        case "typeof":
        case "void":
        case "delete":
          return unsupportedPrefix(p, `the '${t.image}' operator`, true);
        case "await":
          return unsupportedPrefix(p, "'await' expressions", false);
        case "yield": {
          p.unsupported("generators", span(t.start, t.end));
          p.next();
          p.muted(() => {
            p.eatP("*");
            if (!p.tok.nl && startsExpression(p)) parseAssignment(p);
          });
          return p.node("generators", start);
        }
      }
    }
    return parsePostfix(p);
  } finally {
    p.leave();
  }
}

function unsupportedPrefix(p: Cursor, what: string, singular: boolean): Unsupported {
  const t = p.next();
  p.unsupported(what, span(t.start, t.end), { singular });
  p.muted(() => parseUnary(p));
  return p.node(what, t.start);
}

function startsExpression(p: Cursor): boolean {
  const t = p.tok;
  if (t.t === T.EOF) return false;
  if (t.t === T.Punct)
    return ["(", "[", "{", "!", "~", "-", "+", "++", "--", "<"].includes(t.image);
  return true;
}

function parsePostfix(p: Cursor): Expr {
  const start = p.tok.start;
  const e = parseLeftHandSide(p);
  if ((p.isP("++") || p.isP("--")) && !p.tok.nl) {
    const op = p.next().image as "++" | "--";
    return { kind: "Update", span: p.spanFrom(start), op, prefix: false, target: e };
  }
  return e;
}

// ------------------------------------------------------------------ calls and members

function parseLeftHandSide(p: Cursor): Expr {
  const start = p.tok.start;
  let e = parsePrimary(p);
  let optional = false;
  for (;;) {
    const t = p.tok;
    if (t.t === T.Punct) {
      if (t.image === ".") {
        p.next();
        if (p.isP("#")) p.fail("a property name");
        const property = p.expectIdentName();
        e = { kind: "Member", span: p.spanFrom(start), object: e, property };
        continue;
      }
      if (t.image === "?.") {
        if (!optional)
          p.unsupported("optional chaining", span(t.start, t.end), {
            singular: true,
            hint: "test for null explicitly",
          });
        optional = true;
        p.next();
        if (p.isP("(")) parseArguments(p);
        else if (p.isP("[")) {
          p.next();
          parseExpression(p);
          p.expectP("]");
        } else p.expectIdentName();
        continue;
      }
      if (t.image === "[") {
        p.next();
        const index = parseExpression(p);
        p.expectP("]");
        e = { kind: "Index", span: p.spanFrom(start), object: e, index };
        continue;
      }
      if (t.image === "(") {
        const args = parseArguments(p);
        e = { kind: "Call", span: p.spanFrom(start), callee: e, typeArgs: [], args };
        continue;
      }
      if (t.image === "<" && !t.nl && typeArgsThenCall(p)) {
        const typeArgs = parseTypeArgs(p);
        const args = parseArguments(p);
        e = { kind: "Call", span: p.spanFrom(start), callee: e, typeArgs, args };
        continue;
      }
      if (t.image === "!" && !t.nl) {
        p.next();
        e = { kind: "NonNull", span: p.spanFrom(start), expr: e };
        continue;
      }
    } else if (t.t === T.Template) {
      p.next();
      p.unsupported("tagged templates", span(t.start, t.end));
      e = p.node("tagged templates", start);
      continue;
    }
    break;
  }
  return optional ? p.node("optional chaining", start) : e;
}

// `f<u16>(…)` is a call with type arguments; `a < b` is a comparison (tsc decides the same way).
function typeArgsThenCall(p: Cursor): boolean {
  return p.lookahead(() => {
    parseTypeArgs(p);
    return p.isP("(");
  });
}

export function parseArguments(p: Cursor): Expr[] {
  p.expectP("(");
  const args: Expr[] = [];
  while (!p.isP(")")) {
    if (p.isP("...")) {
      const s = p.next();
      p.unsupported("spread syntax", span(s.start, s.end), { singular: true });
      p.muted(() => parseAssignment(p));
      args.push(p.node("spread syntax", s.start));
    } else args.push(parseAssignment(p));
    if (!p.eatP(",")) break;
  }
  p.expectP(")");
  return args;
}

// ------------------------------------------------------------------ primaries

function parsePrimary(p: Cursor): Expr {
  const t = p.tok;
  const start = t.start;
  switch (t.t) {
    case T.Number: {
      p.next();
      const c = classifyNumber(t.image);
      const at = span(t.start, t.end);
      if (c.kind === "int") return { kind: "NumberLit", span: at, value: c.value, raw: t.image };
      if (c.kind === "float") p.unsupported("floating-point numbers", at);
      else if (c.kind === "bigint")
        p.unsupported("bigint literals", at, {
          hint: "integer literals take the type their context needs, up to u64",
        });
      else p.report("InvalidNumber", at, t.image);
      return p.node(
        c.kind === "invalid"
          ? "invalid numeric literals"
          : c.kind === "float"
            ? "floating-point numbers"
            : "bigint literals",
        start,
      );
    }
    case T.String:
      p.next();
      return { kind: "StringLit", span: span(t.start, t.end), value: decodeString(t.image) };
    case T.Template:
      p.next();
      if (!t.bad)
        p.unsupported("template literals", span(t.start, t.end), {
          hint: "use a plain string literal",
        });
      return p.node("template literals", start);
    case T.Regex:
      p.next();
      p.unsupported("regular expressions", span(t.start, t.end));
      return p.node("regular expressions", start);
    case T.Ident:
      return parseWordPrimary(p);
    case T.Punct:
      switch (t.image) {
        case "(": {
          p.next();
          const expr = parseExpression(p);
          p.expectP(")");
          return { kind: "Paren", span: p.spanFrom(start), expr };
        }
        case "{":
          return parseObjectLiteral(p);
        case "[":
          return parseArrayLiteral(p);
      }
  }
  return p.fail("an expression");
}

function parseWordPrimary(p: Cursor): Expr {
  const t = p.tok;
  const start = t.start;
  const at = span(t.start, t.end);
  switch (t.image) {
    case "true":
    case "false":
      p.next();
      return { kind: "BoolLit", span: at, value: t.image === "true" };
    case "null":
      p.next();
      return { kind: "NullLit", span: at };
    case "this":
    case "super":
      p.next();
      p.unsupported(`'${t.image}'`, at, { singular: true });
      return p.node(`'${t.image}'`, start);
    case "new":
      return parseNew(p);
    case "function":
      p.unsupported("function expressions", at, { hint: "use a top-level function" });
      p.muted(() => skipFunctionLike(p));
      return p.node("function expressions", start);
    case "class":
      p.unsupported("classes", at, {
        hint: "use interfaces for data and top-level functions for code",
      });
      p.muted(() => skipClass(p));
      return p.node("classes", start);
    case "import":
      p.unsupported("dynamic imports", at);
      p.muted(() => {
        p.next();
        if (p.eatP(".")) p.expectIdentName();
        else p.skipBalanced();
      });
      return p.node("dynamic imports", start);
    case "async":
      if (p.isK("function", 1) && !p.peek().nl) {
        p.unsupported("async functions", span(t.start, p.peek().end));
        p.muted(() => {
          p.next();
          skipFunctionLike(p);
        });
        return p.node("async functions", start);
      }
      break;
  }
  if (KEYWORDS.has(t.image)) p.fail("an expression");
  p.next();
  return { kind: "Name", span: at, name: t.image };
}

/** `function [*] [name] [<T>] (…) [: T] { … }` — only to find its end. */
export function skipFunctionLike(p: Cursor): void {
  p.eatK("function");
  p.eatP("*");
  if (p.tok.t === T.Ident) p.next();
  if (p.isP("<")) p.skipAngles();
  if (!p.isP("(")) p.fail("'('");
  p.skipBalanced();
  if (p.eatP(":")) parseType(p);
  if (!p.isP("{")) p.fail("'{'");
  p.skipBalanced();
}

/** `class [Name] [<T>] [extends …] [implements …] { … }` — only to find its end. */
export function skipClass(p: Cursor): void {
  p.eatK("class");
  while (!p.isP("{") && !p.atEOF && !p.isP(";") && !p.isP("}")) {
    if (p.isP("(") || p.isP("[")) p.skipBalanced();
    else p.next();
  }
  if (p.isP("{")) p.skipBalanced();
}

function parseNew(p: Cursor): Expr {
  const start = p.next().start;
  if (p.isP(".")) {
    p.unsupported("'new.target'", span(start, p.tok.end), { singular: true });
    p.muted(() => {
      p.next();
      p.expectIdentName();
    });
    return p.node("'new.target'", start);
  }
  const callee = p.expectIdent();
  if (p.isP(".")) {
    p.unsupported("'new' on a qualified name", span(start, p.tok.end), { singular: true });
    p.muted(() => {
      while (p.eatP(".")) p.expectIdentName();
      if (p.isP("<")) parseTypeArgs(p);
      if (p.isP("(")) parseArguments(p);
    });
    return p.node("'new' on a qualified name", start);
  }
  const typeArgs: TypeNode[] = p.isP("<") ? parseTypeArgs(p) : [];
  const args = p.isP("(") ? parseArguments(p) : [];
  return { kind: "New", span: p.spanFrom(start), callee, typeArgs, args };
}

function parseObjectLiteral(p: Cursor): Expr {
  const start = p.tok.start;
  p.expectP("{");
  const props: ObjectProp[] = [];
  let bad: string | null = null;
  const drop = (
    what: string,
    at: { start: number; end: number },
    skip: () => void,
    hint?: string,
  ): void => {
    p.unsupported(what, span(at.start, at.end), hint !== undefined ? { hint } : {});
    p.muted(skip);
    bad ??= what;
  };
  while (!p.isP("}") && !p.atEOF) {
    const t = p.tok;
    const pstart = t.start;
    if (p.isP("...")) {
      drop("spread syntax", t, () => {
        p.next();
        parseAssignment(p);
      });
    } else if (p.isP("[")) {
      drop("computed property names", t, () => {
        p.skipBalanced();
        skipPropertyRest(p);
      });
    } else if (t.t === T.String || t.t === T.Number) {
      drop("quoted property names", t, () => {
        p.next();
        skipPropertyRest(p);
      });
    } else if (
      (t.image === "get" || t.image === "set" || t.image === "async") &&
      t.t === T.Ident &&
      p.peek().t === T.Ident &&
      !p.peek().nl
    ) {
      drop("methods in object literals", t, () => {
        p.next();
        p.next();
        skipPropertyRest(p);
      });
    } else {
      const name = p.expectIdentName();
      if (p.eatP(":")) {
        const value = parseAssignment(p);
        props.push({ kind: "ObjectProp", span: p.spanFrom(pstart), name, value });
      } else if (p.isP("(") || p.isP("<")) {
        drop("methods in object literals", p.tok, () => skipPropertyRest(p));
      } else if (p.isP(",") || p.isP("}")) {
        if (KEYWORDS.has(name.name)) p.fail("':'");
        props.push({
          kind: "ObjectProp",
          span: name.span,
          name,
          value: { kind: "Name", span: name.span, name: name.name },
        });
      } else p.fail("':'");
    }
    if (!p.eatP(",")) break;
  }
  p.expectP("}");
  return bad !== null ? p.node(bad, start) : { kind: "ObjectLit", span: p.spanFrom(start), props };
}

/** `[e, …]` (a trailing comma allowed); spread and holes are outside the subset. */
function parseArrayLiteral(p: Cursor): Expr {
  const start = p.tok.start;
  p.expectP("[");
  const elements: Expr[] = [];
  let bad: string | null = null;
  while (!p.isP("]") && !p.atEOF) {
    const t = p.tok;
    if (p.isP("...") || p.isP(",")) {
      const what = p.isP(",") ? "array holes" : "spread syntax";
      p.unsupported(what, span(t.start, t.end), { singular: what === "spread syntax" });
      bad ??= what;
      if (p.isP(",")) {
        p.next();
        continue;
      }
      p.muted(() => {
        p.next();
        parseAssignment(p);
      });
    } else elements.push(parseAssignment(p));
    if (!p.eatP(",")) break;
  }
  p.expectP("]");
  return bad !== null
    ? p.node(bad, start)
    : { kind: "ArrayLit", span: p.spanFrom(start), elements };
}

function skipPropertyRest(p: Cursor): void {
  if (p.eatP(":")) {
    parseAssignment(p);
    return;
  }
  if (p.isP("<")) p.skipAngles();
  p.skipBalanced();
  if (p.eatP(":")) parseType(p);
  if (p.isP("{")) p.skipBalanced();
}
