// Test helpers: span-free AST views and quick accessors.
import { parse } from "../../compiler/syntax/index.ts";
import type { Expr, FunctionDecl, Program, Stmt } from "../../compiler/ast/nodes.ts";

/** The AST as plain JSON without spans (bigints as "123n"), for equality and snapshots. */
export function stripSpans(node: unknown): unknown {
  return JSON.parse(JSON.stringify(node, (k, v: unknown) => (k === "span" ? undefined : typeof v === "bigint" ? `${v}n` : v)));
}

export function parseOk(src: string): Program {
  const r = parse(src, "test.ts");
  if (r.diagnostics.length > 0) throw new Error(`unexpected diagnostics:\n${r.diagnostics.map((d) => `${d.code} ${d.message} @${d.span.start}`).join("\n")}`);
  return r.program;
}

/** The expression of `x = <src>;` wrapped in a function. */
export function expr(src: string): Expr {
  const p = parseOk(`function f() { ${src}; }`);
  const s = (p.items[0] as FunctionDecl).body.body[0] as Stmt;
  if (s.kind !== "ExprStmt") throw new Error(`not an expression statement: ${s.kind}`);
  return s.expr;
}

export function stmts(src: string): Stmt[] {
  return (parseOk(`function f() {\n${src}\n}`).items[0] as FunctionDecl).body.body;
}

/** A compact S-expression view of an expression, for precedence tests. */
export function sexpr(e: Expr): string {
  switch (e.kind) {
    case "NumberLit":
      return e.raw;
    case "BoolLit":
      return String(e.value);
    case "NullLit":
      return "null";
    case "StringLit":
      return JSON.stringify(e.value);
    case "Name":
      return e.name;
    case "Member":
      return `${sexpr(e.object)}.${e.property.name}`;
    case "Index":
      return `${sexpr(e.object)}[${sexpr(e.index)}]`;
    case "Call":
      return `(call ${sexpr(e.callee)}${e.typeArgs.length ? `<${e.typeArgs.length}>` : ""}${e.args.map((a) => ` ${sexpr(a)}`).join("")})`;
    case "New":
      return `(new ${e.callee.name}${e.args.map((a) => ` ${sexpr(a)}`).join("")})`;
    case "Unary":
      return `(${e.op} ${sexpr(e.operand)})`;
    case "Binary":
      return `(${e.op} ${sexpr(e.left)} ${sexpr(e.right)})`;
    case "Assign":
      return `(${e.op} ${sexpr(e.target)} ${sexpr(e.value)})`;
    case "Update":
      return e.prefix ? `(${e.op}pre ${sexpr(e.target)})` : `(${e.op}post ${sexpr(e.target)})`;
    case "Conditional":
      return `(? ${sexpr(e.test)} ${sexpr(e.then)} ${sexpr(e.else)})`;
    case "As":
      return `(as ${sexpr(e.expr)} ${e.type.kind === "TypeRef" ? e.type.name.name : e.type.kind})`;
    case "NonNull":
      return `(! ${sexpr(e.expr)})`;
    case "Paren":
      return `[${sexpr(e.expr)}]`;
    case "ObjectLit":
      return `{${e.props.map((p) => `${p.name.name}: ${sexpr(p.value)}`).join(", ")}}`;
    case "Unsupported":
      return `<unsupported ${e.what}>`;
  }
}
