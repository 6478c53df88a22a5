// Test helpers: span-free AST views and quick accessors.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { parse } from "../../compiler/syntax/index.ts";
import type { Expr, FunctionDecl, Program, Stmt } from "../../compiler/ast/nodes.ts";

/** The AST as plain JSON without spans (bigints as "123n"), for equality and snapshots. */
export function stripSpans(node: unknown): unknown {
  return JSON.parse(
    JSON.stringify(node, (k, v: unknown) =>
      k === "span" ? undefined : typeof v === "bigint" ? `${v}n` : v,
    ),
  );
}

export function parseOk(src: string): Program {
  const r = parse(src, "test.ts");
  if (r.diagnostics.length > 0)
    throw new Error(
      `unexpected diagnostics:\n${r.diagnostics.map((d) => `${d.code} ${d.message} @${d.span.start}`).join("\n")}`,
    );
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
    case "ArrayLit":
      return `[${e.elements.map(sexpr).join(", ")}]`;
    case "Unsupported":
      return `<unsupported ${e.what}>`;
  }
}

export interface AnyNode {
  kind: string;
  span: { start: number; length: number };
  [k: string]: unknown;
}

/** Every AST node below `root` (inclusive) with its parent, depth first. */
export function allNodes(root: unknown): { node: AnyNode; parent: AnyNode | null }[] {
  const out: { node: AnyNode; parent: AnyNode | null }[] = [];
  const visit = (v: unknown, parent: AnyNode | null): void => {
    if (Array.isArray(v)) {
      for (const x of v) visit(x, parent);
      return;
    }
    if (v === null || typeof v !== "object") return;
    const n = v as AnyNode;
    if (typeof n.kind !== "string") return;
    out.push({ node: n, parent });
    for (const [k, child] of Object.entries(n)) if (k !== "span") visit(child, n);
  };
  visit(root, null);
  return out;
}

/** Asserts the structural invariants every parse result must satisfy, whatever the input. */
export function checkWellFormed(program: Program, source: string): void {
  if (program.kind !== "Program") throw new Error("not a Program");
  for (const { node, parent } of allNodes(program)) {
    const { start, length } = node.span ?? {};
    if (
      !Number.isInteger(start) ||
      !Number.isInteger(length) ||
      start! < 0 ||
      length! < 0 ||
      start! + length! > source.length
    ) {
      throw new Error(`${node.kind}: bad span ${JSON.stringify(node.span)}`);
    }
    if (parent && parent.kind !== "Program") {
      const ps = parent.span;
      if (start! < ps.start || start! + length! > ps.start + ps.length) {
        throw new Error(
          `${node.kind} span ${JSON.stringify(node.span)} outside its parent ${parent.kind} ${JSON.stringify(ps)}`,
        );
      }
    }
    for (const [k, v] of Object.entries(node)) {
      if (v === undefined) throw new Error(`${node.kind}.${k} is undefined`);
    }
  }
}

export function spanText(source: string, n: { span: { start: number; length: number } }): string {
  return source.slice(n.span.start, n.span.start + n.span.length);
}

/** Filter sources a teammate keeps in filters/ (if any), as [name, source]. */
export function filterSources(): [string, string][] {
  const dir = new URL("../../filters/", import.meta.url);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && !f.endsWith(".d.ts"))
    .sort()
    .map((f) => [f, readFileSync(new URL(f, dir), "utf8")]);
}

/** Our own fixtures in test/syntax/fixtures, as [name, source]. */
export function fixtureSources(): [string, string][] {
  const dir = new URL("./fixtures/", import.meta.url);
  return readdirSync(dir)
    .filter((f) => f.endsWith(".ts.txt"))
    .sort()
    .map((f) => [f.replace(/\.txt$/, ""), readFileSync(new URL(f, dir), "utf8")]);
}
