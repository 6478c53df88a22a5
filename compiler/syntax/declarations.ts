// Declarations that do not contain statements: imports, interfaces, type aliases, enums.
import type {
  EnumDecl,
  EnumMember,
  ImportDecl,
  ImportSpecifier,
  InterfaceDecl,
  StringLit,
  TypeAliasDecl,
  Unsupported,
} from "../ast/nodes.ts";
import { span } from "../diagnostics/span.ts";
import { Cursor } from "./cursor.ts";
import { parseAssignment } from "./expressions.ts";
import { T } from "./lexer.ts";
import { decodeString } from "./literals.ts";
import { parseType, parseTypeMembers } from "./types.ts";

const NAMED_IMPORTS = 'use named imports: import { … } from "xdpc"';

/** `import { A, type B, C as D } from "xdpc"`; the cursor is at `import`. */
export function parseImport(p: Cursor): ImportDecl | Unsupported {
  const start = p.next().start;
  let typeOnly = false;
  if (
    p.isK("type") &&
    (p.isP("{", 1) || p.isP("*", 1) || (p.peek().t === T.Ident && !p.isK("from", 1)))
  ) {
    p.next();
    typeOnly = true;
  }
  if (p.tok.t === T.String) {
    const s = p.next();
    p.unsupported("side-effect imports", span(start, s.end));
    p.semicolon();
    return p.node("side-effect imports", start);
  }
  let specifiers: ImportSpecifier[] | null = null;
  let bad: string | null = null;
  if (p.tok.t === T.Ident && p.isP("=", 1)) {
    const d = p.next();
    p.unsupported("import assignments", span(start, d.end));
    p.muted(() => p.skipDeclaration());
    return p.node("import assignments", start);
  }
  if (p.tok.t === T.Ident && !(p.isK("from") && p.peek().t === T.String)) {
    const d = p.next();
    p.unsupported("default imports", span(d.start, d.end), { hint: NAMED_IMPORTS });
    bad = "default imports";
    if (!p.eatP(",")) {
      p.expectK("from");
      parseStringLit(p);
      p.semicolon();
      return p.node(bad, start);
    }
  }
  if (p.isP("*")) {
    const s = p.next();
    p.unsupported("namespace imports", span(s.start, p.peek(1).end), { hint: NAMED_IMPORTS });
    p.expectK("as");
    p.expectIdent();
    bad = "namespace imports";
  } else if (p.isP("{")) {
    specifiers = parseSpecifiers(p);
  } else if (bad === null) p.fail("'{'");
  p.expectK("from");
  const source = parseStringLit(p);
  if (p.isK("with") || p.isK("assert")) {
    const w = p.next();
    p.unsupported("import attributes", span(w.start, w.end));
    p.muted(() => p.skipBalanced());
  }
  p.semicolon();
  if (specifiers === null) return p.node(bad ?? "imports", start);
  return { kind: "ImportDecl", span: p.spanFrom(start), specifiers, source, typeOnly };
}

function parseSpecifiers(p: Cursor): ImportSpecifier[] {
  p.expectP("{");
  const out: ImportSpecifier[] = [];
  while (!p.isP("}")) {
    const start = p.tok.start;
    let typeOnly = false;
    // `{ type A }` is a type-only specifier; `{ type }` and `{ type as X }` import a name "type".
    if (p.isK("type") && p.peek().t === T.Ident && !p.isK("as", 1)) {
      p.next();
      typeOnly = true;
    }
    if (p.tok.t === T.String) {
      const s = p.tok;
      p.unsupported("string import names", span(s.start, s.end));
      p.fail("an identifier");
    }
    const imported = p.isK("as", 1) ? p.expectIdentName() : p.expectIdent();
    const local = p.eatK("as") ? p.expectIdent() : imported;
    out.push({ kind: "ImportSpecifier", span: p.spanFrom(start), imported, local, typeOnly });
    if (!p.eatP(",")) break;
  }
  p.expectP("}");
  return out;
}

export function parseStringLit(p: Cursor): StringLit {
  if (p.tok.t !== T.String) p.fail("a string literal");
  const t = p.next();
  return { kind: "StringLit", span: span(t.start, t.end), value: decodeString(t.image) };
}

/** Reports `<T>` after a declaration name and skips it. */
function typeParams(p: Cursor, what: string): void {
  if (!p.isP("<")) return;
  const s = p.tok.start;
  p.muted(() => p.skipAngles());
  p.unsupported(what, span(s, p.lastEnd));
}

/** `interface Name { … }`; the cursor is at `interface`. */
export function parseInterface(p: Cursor, start: number, exported: boolean): InterfaceDecl {
  p.expectK("interface");
  const name = p.expectIdent();
  typeParams(p, "generic types");
  if (p.isK("extends")) {
    const e = p.next();
    p.unsupported("interface inheritance", span(e.start, e.end), {
      singular: true,
      hint: "repeat the fields or nest a struct",
    });
    p.muted(() => {
      while (!p.isP("{") && !p.atEOF && !p.isP(";")) {
        if (p.isP("<")) p.skipAngles();
        else p.next();
      }
    });
  }
  const fields = parseTypeMembers(p);
  return { kind: "InterfaceDecl", span: p.spanFrom(start), name, fields, exported };
}

/** `type Name = T`; the cursor is at `type`. */
export function parseTypeAlias(p: Cursor, start: number, exported: boolean): TypeAliasDecl {
  p.expectK("type");
  const name = p.expectIdent();
  typeParams(p, "generic types");
  p.expectP("=");
  const type = parseType(p);
  p.semicolon();
  return { kind: "TypeAliasDecl", span: p.spanFrom(start), name, type, exported };
}

/** `[const] enum E { A = 1, B }`; the cursor is at `const` or `enum`. */
export function parseEnum(p: Cursor, start: number, exported: boolean): EnumDecl {
  const isConst = p.eatK("const");
  // A plain enum is a run-time object in TypeScript; only `const enum` folds to constants.
  if (!isConst)
    p.unsupported("plain (non-const) enums", span(p.tok.start, p.tok.end), {
      hint: "write 'const enum'",
    });
  p.expectK("enum");
  const name = p.expectIdent();
  p.expectP("{");
  const members: EnumMember[] = [];
  while (!p.isP("}")) {
    const mstart = p.tok.start;
    if (p.tok.t === T.String) {
      const s = p.tok;
      p.unsupported("quoted enum member names", span(s.start, s.end));
      p.fail("an identifier");
    }
    const mname = p.expectIdentName();
    const init = p.eatP("=") ? parseAssignment(p) : null;
    members.push({ kind: "EnumMember", span: p.spanFrom(mstart), name: mname, init });
    if (!p.eatP(",")) break;
  }
  p.expectP("}");
  return { kind: "EnumDecl", span: p.spanFrom(start), name, members, isConst, exported };
}
