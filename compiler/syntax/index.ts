// The front end: source text → AST plus every syntax diagnostic of the file.
// Never throws: constructs outside the subset and syntax errors become diagnostics
// and Unsupported nodes, so later phases can still report what they find.
import type { Program } from "../ast/nodes.ts";
import { DiagnosticBag, type Diagnostic } from "../diagnostics/diagnostic.ts";
import { span } from "../diagnostics/span.ts";
import { Cursor } from "./cursor.ts";
import { lex } from "./lexer.ts";
import { parseProgram } from "./items.ts";

export interface ParseResult {
  program: Program;
  diagnostics: Diagnostic[];
}

export function parse(source: string, file: string): ParseResult {
  const bag = new DiagnosticBag(file);
  let program: Program;
  let cursor: Cursor | undefined;
  try {
    const toks = lex(source, bag);
    cursor = new Cursor(source, toks, bag);
    program = parseProgram(cursor, file);
  } catch (e) {
    // Only a bug (or a stack overflow on absurd input) gets here; report it, do not crash the caller.
    const at = cursor ? cursor.tok.start : 0;
    if (e instanceof RangeError) bag.add("NestingTooDeep", span(at, at));
    else bag.add("InternalParserError", span(at, at), e instanceof Error ? e.message : String(e));
    program = { kind: "Program", span: span(0, source.length), file, items: [] };
  }
  const diagnostics = [...bag.items].sort((a, b) => a.span.start - b.span.start);
  return { program, diagnostics };
}
