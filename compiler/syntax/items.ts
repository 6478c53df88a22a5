// Top-level items: imports, type declarations, constants, globals, maps and functions.
// Each item is a recovery point; statements at the top level are reported.
import type { Program, Stmt, TopItem } from "../ast/nodes.ts";
import { span } from "../diagnostics/span.ts";
import { Cursor } from "./cursor.ts";
import {
  parseEnum,
  parseImport,
  parseInterface,
  parseStringLit,
  parseTypeAlias,
} from "./declarations.ts";
import { parseAssignment } from "./expressions.ts";
import { T } from "./lexer.ts";
import {
  parseClass,
  parseFunction,
  parseStatementInto,
  parseVarDecls,
  skipDecorators,
} from "./statements.ts";

export function parseProgram(p: Cursor, file: string): Program {
  const items: TopItem[] = [];
  while (!p.atEOF) {
    const before = p.i;
    parseItemInto(p, items);
    if (p.i === before) p.next();
  }
  return { kind: "Program", span: span(0, p.source.length), file, items };
}

function parseItemInto(p: Cursor, out: TopItem[]): void {
  const startIndex = p.i;
  const start = p.tok.start;
  p.recover(
    () => item(p, out),
    () => {
      p.syncItem(startIndex);
      if (p.i === startIndex) p.next();
      out.push(p.node("invalid syntax", start));
    },
  );
}

function item(p: Cursor, out: TopItem[]): void {
  const t = p.tok;
  const start = t.start;
  if (t.t === T.Ident) {
    switch (t.image) {
      case "import":
        if (p.isP("(", 1) || p.isP(".", 1)) break;
        out.push(parseImport(p));
        return;
      case "export":
        p.next();
        exported(p, start, out);
        return;
    }
    if (declaration(p, start, false, out)) return;
  } else if (p.isP("@")) {
    skipDecorators(p);
    return;
  } else if (p.isP(";")) {
    p.next(); // a stray `;` between items is harmless
    return;
  }
  // A statement at the top level: parse it for its own errors, then report it once.
  const stmts: Stmt[] = [];
  parseStatementInto(p, stmts);
  for (const s of stmts) {
    if (s.kind === "Unsupported") out.push(s);
    else if (s.kind === "EmptyStmt") continue;
    else {
      p.unsupported("statements at the top level", s.span, { hint: "move them into a function" });
      out.push({ kind: "Unsupported", span: s.span, what: "statements at the top level" });
    }
  }
}

/** The declarations shared by `export` and plain items; false when the cursor is not at one. */
function declaration(p: Cursor, start: number, isExported: boolean, out: TopItem[]): boolean {
  const t = p.tok;
  const next = p.peek();
  const sameLine = !next.nl;
  switch (t.image) {
    case "function":
      out.push(parseFunction(p, start, isExported));
      return true;
    case "async":
      if (p.isK("function", 1) && sameLine) {
        out.push(parseFunction(p, start, isExported));
        return true;
      }
      return false;
    case "const":
      if (p.isK("enum", 1)) out.push(parseEnum(p, start, isExported));
      else out.push(...parseVarDecls(p, start, isExported));
      return true;
    case "let":
    case "var":
      out.push(...parseVarDecls(p, start, isExported));
      return true;
    case "interface":
      if (next.t !== T.Ident) return false;
      out.push(parseInterface(p, start, isExported));
      return true;
    case "type":
      if (next.t !== T.Ident || !sameLine) return false;
      out.push(parseTypeAlias(p, start, isExported));
      return true;
    case "enum":
      out.push(parseEnum(p, start, isExported));
      return true;
    case "class":
      out.push(parseClass(p, start));
      return true;
    case "abstract":
      if (!p.isK("class", 1) || !sameLine) return false;
      out.push(parseClass(p, start));
      return true;
    case "declare":
      if (next.t !== T.Ident || !sameLine) return false;
      p.unsupported("ambient declarations ('declare')", span(t.start, t.end), {
        hint: "xdpc declares the built-ins for you",
      });
      p.muted(() => {
        p.next();
        p.skipDeclaration();
      });
      out.push(p.node("ambient declarations ('declare')", start));
      return true;
    case "namespace":
    case "module":
      if (!(next.t === T.Ident || next.t === T.String) || !sameLine) return false;
      p.unsupported("namespaces", span(t.start, t.end));
      p.muted(() => {
        p.next();
        p.next();
        while (p.eatP(".")) p.expectIdentName();
        if (p.isP("{")) p.skipBalanced();
        else p.semicolon();
      });
      out.push(p.node("namespaces", start));
      return true;
  }
  return false;
}

/** After `export`. */
function exported(p: Cursor, start: number, out: TopItem[]): void {
  const t = p.tok;
  if (t.t === T.Ident && t.image === "default") {
    p.unsupported("default exports", span(start, t.end), { hint: "export the function by name" });
    p.muted(() => {
      p.next();
      if (!declaration(p, p.tok.start, true, [])) {
        parseAssignment(p);
        p.semicolon();
      }
    });
    out.push(p.node("default exports", start));
    return;
  }
  if (p.isP("{") || p.isP("*") || (p.isK("type") && p.isP("{", 1))) {
    const what = p.isP("*") ? "re-exports" : "export lists";
    p.unsupported(what, span(start, t.end), { hint: "write 'export' on the declaration" });
    p.muted(() => {
      p.eatK("type");
      if (p.isP("{")) p.skipBalanced();
      else {
        p.next();
        if (p.eatK("as")) p.expectIdentName();
      }
      if (p.eatK("from")) parseStringLit(p);
      p.semicolon();
    });
    out.push(p.node(what, start));
    return;
  }
  if (p.isP("=") || p.isK("import") || p.isK("as")) {
    p.unsupported("export assignments", span(start, t.end));
    p.muted(() => p.skipDeclaration());
    out.push(p.node("export assignments", start));
    return;
  }
  if (t.t === T.Ident && declaration(p, start, true, out)) return;
  p.fail("a declaration");
}
