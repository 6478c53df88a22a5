// Type syntax: references with arguments, struct literal types, `T | null`, numeric
// literal arguments. Anything else is reported and replaced by a recovered TypeRef.
import type { FieldDecl, TypeNode, TypeRef } from "../ast/nodes.ts";
import { span } from "../diagnostics/span.ts";
import { Cursor, ParseError, type UnsupportedOptions } from "./cursor.ts";
import { T } from "./lexer.ts";
import { classifyNumber, decodeString } from "./literals.ts";

export function parseType(p: Cursor): TypeNode {
  p.enter();
  try {
    p.eatP("|"); // a leading `|` is allowed in TypeScript
    const first = parseIntersection(p);
    if (!p.isP("|")) return first;
    const types = [first];
    while (p.eatP("|")) types.push(parseIntersection(p));
    return { kind: "UnionType", span: p.spanFrom(first.span.start), types };
  } finally {
    p.leave();
  }
}

/** A TypeRef standing for reported, unsupported type syntax; later phases stay silent about it. */
function recovered(p: Cursor, start: number): TypeRef {
  const s = p.spanFrom(start);
  return {
    kind: "TypeRef",
    span: s,
    name: { kind: "Ident", span: s, name: p.text(s) },
    args: [],
    recovered: true,
  };
}

function unsupportedType(
  p: Cursor,
  what: string,
  start: number,
  skip: () => void,
  opts?: UnsupportedOptions,
): TypeRef {
  const headEnd = p.tok.end;
  p.unsupported(what, span(start, headEnd), opts);
  p.muted(skip);
  return recovered(p, start);
}

function parseIntersection(p: Cursor): TypeNode {
  const start = p.tok.start;
  const first = parsePostfixType(p);
  if (!p.isP("&")) return first;
  const at = p.tok;
  p.unsupported("intersection types", span(at.start, at.end));
  p.muted(() => {
    while (p.eatP("&")) parsePostfixType(p);
  });
  return recovered(p, start);
}

function parsePostfixType(p: Cursor): TypeNode {
  const start = p.tok.start;
  let t = parsePrimaryType(p);
  while (p.isP("[") && !p.tok.nl) {
    const open = p.tok;
    if (p.isP("]", 1)) {
      p.unsupported("array types", span(open.start, p.peek().end), {
        hint: "use FixedArray<T, N>",
      });
      p.next();
      p.next();
    } else {
      p.unsupported("indexed access types", span(open.start, open.end));
      p.skipBalanced();
    }
    t = recovered(p, start);
  }
  if (p.isK("extends") && !p.tok.nl) {
    const at = p.tok;
    p.unsupported("conditional types", span(at.start, at.end));
    p.muted(() => {
      p.next();
      parseType(p);
      p.expectP("?");
      parseType(p);
      p.expectP(":");
      parseType(p);
    });
    t = recovered(p, start);
  }
  return t;
}

function parsePrimaryType(p: Cursor): TypeNode {
  const t = p.tok;
  const start = t.start;
  switch (t.t) {
    case T.Number: {
      p.next();
      const c = classifyNumber(t.image);
      if (c.kind === "int")
        return { kind: "LiteralType", span: span(t.start, t.end), value: c.value };
      p.report("InvalidNumber", span(t.start, t.end), t.image);
      return recovered(p, start);
    }
    case T.String:
      // The checker takes one only as TcContext's section (`TcContext<"tcx/ingress">`).
      p.next();
      return { kind: "StringType", span: span(t.start, t.end), value: decodeString(t.image) };
    case T.Template:
      p.next();
      p.unsupported("template literal types", span(t.start, t.end));
      return recovered(p, start);
    case T.Ident:
      return parseNamedType(p);
    case T.Punct:
      switch (t.image) {
        case "{":
          return { kind: "TypeLiteral", fields: parseTypeMembers(p), span: p.spanFrom(start) };
        case "(":
          if (isFunctionType(p))
            return unsupportedType(p, "function types", start, () => skipFunctionType(p));
          p.next();
          {
            // TypeNode has no parenthesized form: the inner type stands for it.
            const inner = parseType(p);
            p.expectP(")");
            return inner;
          }
        case "[":
          return unsupportedType(p, "tuple types", start, () => p.skipBalanced());
        case "<":
          return unsupportedType(p, "generic function types", start, () => skipFunctionType(p));
        case "-":
          return unsupportedType(p, "negative literal types", start, () => {
            p.next();
            p.next();
          });
      }
  }
  return p.fail("a type");
}

function parseNamedType(p: Cursor): TypeNode {
  const t = p.tok;
  const start = t.start;
  switch (t.image) {
    case "null":
      p.next();
      return { kind: "NullType", span: span(t.start, t.end) };
    case "true":
    case "false":
      p.next();
      p.unsupported("boolean literal types", span(t.start, t.end), { hint: "use bool" });
      return recovered(p, start);
    case "typeof":
      return unsupportedType(p, "'typeof' types", start, () => {
        p.next();
        p.expectIdentName();
        while (p.eatP(".")) p.expectIdentName();
      });
    case "this":
      p.next();
      p.unsupported("'this' types", span(t.start, t.end));
      return recovered(p, start);
    case "new":
      return unsupportedType(p, "constructor types", start, () => {
        p.next();
        skipFunctionType(p);
      });
    case "keyof":
    case "unique":
    case "infer":
    case "readonly":
      if (p.peek().t === T.Ident || p.isP("(", 1) || p.isP("{", 1) || p.isP("[", 1)) {
        return unsupportedType(p, `'${t.image}' types`, start, () => {
          p.next();
          parsePostfixType(p);
        });
      }
  }
  if (t.image !== "void" && !p.isBindingIdent()) p.fail("a type");
  const name = p.expectIdentName();
  if (p.isP(".")) {
    return unsupportedType(p, "qualified type names", start, () => {
      while (p.eatP(".")) p.expectIdentName();
      if (p.isP("<")) parseTypeArgs(p);
    });
  }
  const args = p.isP("<") && !p.tok.nl ? parseTypeArgs(p) : [];
  return { kind: "TypeRef", span: p.spanFrom(start), name, args };
}

/** `<T, U>`; the current token is `<`. */
export function parseTypeArgs(p: Cursor): TypeNode[] {
  p.expectP("<");
  const args: TypeNode[] = [];
  do {
    if (p.isP(">")) break; // trailing comma
    args.push(parseType(p));
  } while (p.eatP(","));
  p.expectP(">");
  return args;
}

// `(` starts a function type when followed by `)`, `...`, or `name` then `:`/`,`/`?`/`)=>`.
function isFunctionType(p: Cursor): boolean {
  if (p.isP(")", 1) || p.isP("...", 1)) return true;
  if (p.peek(1).t === T.Ident) {
    if (p.isP(":", 2) || p.isP(",", 2) || p.isP("?", 2)) return true;
    if (p.isP(")", 2) && p.isP("=>", 3)) return true;
  }
  return false;
}

function skipFunctionType(p: Cursor): void {
  if (p.isP("<")) p.skipAngles();
  p.skipBalanced();
  p.expectP("=>");
  parseType(p);
}

/**
 * `{ a: u32; b?: u16, … }` for interfaces and type literals; the current token is `{`.
 * Members outside the subset are reported and dropped.
 */
export function parseTypeMembers(p: Cursor): FieldDecl[] {
  p.expectP("{");
  const fields: FieldDecl[] = [];
  while (!p.isP("}") && !p.atEOF) {
    const before = p.i;
    const mute = p.mute;
    try {
      const f = parseMember(p);
      if (f) fields.push(f);
      if (!p.eatP(";") && !p.eatP(",") && !p.isP("}") && !p.tok.nl) p.fail("';' or '}'");
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      p.mute = mute;
      syncMember(p);
    }
    if (p.i === before) p.next();
  }
  p.expectP("}");
  return fields;
}

function syncMember(p: Cursor): void {
  const startIndex = p.i;
  while (!p.atEOF && !p.isP("}")) {
    if (p.i > startIndex && p.tok.nl) return;
    if (p.isP(";") || p.isP(",")) {
      p.next();
      return;
    }
    if (p.isP("{") || p.isP("(") || p.isP("[")) p.skipBalanced();
    else p.next();
  }
}

function parseMember(p: Cursor): FieldDecl | null {
  const start = p.tok.start;
  if (p.isK("readonly") && p.peek().t === T.Ident && !p.peek().nl) {
    const r = p.next();
    p.unsupported("readonly fields", span(r.start, r.end));
  }
  const t = p.tok;
  if (p.isP("[")) {
    p.unsupported("index signatures", span(t.start, t.end));
    p.muted(() => {
      p.skipBalanced();
      if (p.eatP("?")) {
        /* mapped type modifier */
      }
      if (p.eatP(":")) parseType(p);
    });
    return null;
  }
  if (t.t === T.String || t.t === T.Number) {
    p.unsupported("quoted field names", span(t.start, t.end));
    p.muted(() => {
      p.next();
      p.eatP("?");
      if (p.eatP(":")) parseType(p);
    });
    return null;
  }
  if (p.isP("(") || p.isP("<")) {
    p.unsupported("call signatures", span(t.start, t.end));
    p.muted(() => skipMethodRest(p));
    return null;
  }
  const name = p.expectIdentName();
  const optional = p.eatP("?");
  if (p.isP("(") || p.isP("<")) {
    p.unsupported("methods", span(start, p.lastEnd), {
      hint: "use a struct field or a top-level function",
    });
    p.muted(() => skipMethodRest(p));
    return null;
  }
  p.expectP(":");
  const type = parseType(p);
  return { kind: "FieldDecl", span: p.spanFrom(start), name, type, optional };
}

function skipMethodRest(p: Cursor): void {
  if (p.isP("<")) p.skipAngles();
  p.skipBalanced();
  if (p.eatP(":")) parseType(p);
}
