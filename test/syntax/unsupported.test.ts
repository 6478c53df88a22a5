// Every construct outside the subset gets exactly one diagnostic that names it at its
// location, and parsing continues: a valid function after it is still parsed.
import { describe, expect, it } from "vitest";
import { parse } from "../../compiler/syntax/index.ts";
import type { FunctionDecl } from "../../compiler/ast/nodes.ts";
import { checkWellFormed } from "./helpers.ts";

interface Case {
  name: string;
  /** Source placed at top level (`top`) or inside a function body (`body`). */
  where: "top" | "body";
  src: string;
  code: number;
  /** The exact source text the diagnostic points at. */
  at: string;
  message: string;
}

const cases: Case[] = [
  {
    name: "class",
    where: "top",
    src: "class A { x = 1; m() { return 1; } }",
    code: 1012,
    at: "class",
    message: "classes are not supported in filters",
  },
  {
    name: "abstract class",
    where: "top",
    src: "abstract class A {}",
    code: 1012,
    at: "abstract class",
    message: "classes are not supported",
  },
  {
    name: "class expression",
    where: "body",
    src: "const K = class {};",
    code: 1012,
    at: "class",
    message: "classes are not supported",
  },
  {
    name: "arrow function",
    where: "body",
    src: "const f = (a: u32) => a + 1;",
    code: 1012,
    at: "(a: u32) =>",
    message: "arrow functions are not supported in filters",
  },
  {
    name: "arrow, one param",
    where: "body",
    src: "const f = x => { return x; };",
    code: 1012,
    at: "x =>",
    message: "arrow functions",
  },
  {
    name: "arrow with return type",
    where: "body",
    src: "const f = (a): u32 => a;",
    code: 1012,
    at: "(a): u32 =>",
    message: "arrow functions",
  },
  {
    name: "async arrow",
    where: "body",
    src: "const f = async () => 1;",
    code: 1012,
    at: "async () =>",
    message: "arrow functions",
  },
  {
    name: "while",
    where: "body",
    src: "while (x < 3) { x++; }",
    code: 1012,
    at: "while",
    message: "while loops are not supported in filters; use a for loop with a constant bound",
  },
  {
    name: "do-while",
    where: "body",
    src: "do { x++; } while (x < 3);",
    code: 1012,
    at: "do",
    message: "do-while loops are not supported in filters; use a for loop with a constant bound",
  },
  {
    name: "for-of",
    where: "body",
    src: "for (const b of bytes) { x += b; }",
    code: 1012,
    at: "for",
    message: "for...of loops are not supported",
  },
  {
    name: "for-in",
    where: "body",
    src: "for (const k in obj) x++;",
    code: 1012,
    at: "for",
    message: "for...in loops are not supported",
  },
  {
    name: "for await",
    where: "body",
    src: "for await (const x of y) {}",
    code: 1012,
    at: "for await",
    message: "'for await' loops",
  },
  {
    name: "try/catch",
    where: "body",
    src: "try { x(); } catch (e) { y(); } finally { z(); }",
    code: 1010,
    at: "try",
    message: "exceptions (try/catch) are not supported",
  },
  {
    name: "throw",
    where: "body",
    src: "throw new Error(1);",
    code: 1012,
    at: "throw",
    message: "exceptions (throw) are not supported",
  },
  {
    name: "async function",
    where: "top",
    src: "async function f() { await g(); }",
    code: 1010,
    at: "async function",
    message: "async functions are not supported",
  },
  {
    name: "await",
    where: "body",
    src: "x = await y;",
    code: 1010,
    at: "await",
    message: "'await' expressions are not supported",
  },
  {
    name: "generator",
    where: "top",
    src: "function* g() { yield 1; }",
    code: 1010,
    at: "function*",
    message: "generators are not supported",
  },
  {
    name: "yield",
    where: "body",
    src: "yield x;",
    code: 1010,
    at: "yield",
    message: "generators are not supported",
  },
  {
    name: "function expression",
    where: "body",
    src: "const f = function (a: u32) { return a; };",
    code: 1012,
    at: "function",
    message: "function expressions are not supported",
  },
  {
    name: "spread in an array literal",
    where: "body",
    src: "const a = [1, ...xs];",
    code: 1011,
    at: "...",
    message: "spread syntax is not supported",
  },
  {
    name: "spread argument",
    where: "body",
    src: "f(...xs);",
    code: 1011,
    at: "...",
    message: "spread syntax is not supported",
  },
  {
    name: "spread property",
    where: "body",
    src: "const o = { ...p, a: 1 };",
    code: 1010,
    at: "...",
    message: "spread syntax are not supported",
  },
  {
    name: "destructuring const",
    where: "body",
    src: "const { a, b } = s;",
    code: 1011,
    at: "{",
    message: "destructuring is not supported",
  },
  {
    name: "destructuring param",
    where: "top",
    src: "function f({ a }: S): void {}",
    code: 1011,
    at: "{",
    message: "destructuring is not supported",
  },
  {
    name: "optional chaining",
    where: "body",
    src: "x = ip?.ttl;",
    code: 1013,
    at: "?.",
    message: "optional chaining is not supported in filters; test for null explicitly",
  },
  {
    name: "var",
    where: "body",
    src: "var x = 1;",
    code: 1012,
    at: "var",
    message: "'var' declarations are not supported in filters; use 'let' or 'const'",
  },
  {
    name: "decorator",
    where: "top",
    src: "@sealed\nfunction f(): void {}",
    code: 1010,
    at: "@sealed",
    message: "decorators are not supported",
  },
  {
    name: "namespace",
    where: "top",
    src: "namespace N { export const a = 1; }",
    code: 1010,
    at: "namespace",
    message: "namespaces are not supported",
  },
  {
    name: "declare",
    where: "top",
    src: "declare const x: u32;",
    code: 1012,
    at: "declare",
    message: "ambient declarations ('declare') are not supported",
  },
  {
    name: "export default",
    where: "top",
    src: "export default function f() {}",
    code: 1012,
    at: "export default",
    message: "default exports are not supported",
  },
  {
    name: "export list",
    where: "top",
    src: "export { a, b };",
    code: 1012,
    at: "export {",
    message: "export lists are not supported",
  },
  {
    name: "default import",
    where: "top",
    src: 'import xdpc from "xdpc";',
    code: 1012,
    at: "xdpc",
    message: "default imports are not supported",
  },
  {
    name: "namespace import",
    where: "top",
    src: 'import * as x from "xdpc";',
    code: 1012,
    at: "* as x",
    message: "namespace imports are not supported",
  },
  {
    name: "typeof",
    where: "body",
    src: "x = typeof y;",
    code: 1011,
    at: "typeof",
    message: "the 'typeof' operator is not supported",
  },
  {
    name: "delete",
    where: "body",
    src: "delete o.a;",
    code: 1011,
    at: "delete",
    message: "the 'delete' operator is not supported",
  },
  {
    name: "void",
    where: "body",
    src: "void f();",
    code: 1011,
    at: "void",
    message: "the 'void' operator is not supported",
  },
  {
    name: "in",
    where: "body",
    src: "x = a in b;",
    code: 1011,
    at: "in",
    message: "the 'in' operator is not supported",
  },
  {
    name: "instanceof",
    where: "body",
    src: "x = a instanceof B;",
    code: 1011,
    at: "instanceof",
    message: "the 'instanceof' operator is not supported",
  },
  {
    name: "exponent",
    where: "body",
    src: "x = 2 ** 8;",
    code: 1011,
    at: "**",
    message: "the '**' operator is not supported",
  },
  {
    name: "exponent assignment",
    where: "body",
    src: "x **= 2;",
    code: 1011,
    at: "**=",
    message: "the '**=' operator is not supported",
  },
  {
    name: "nullish",
    where: "body",
    src: "x = a ?? b;",
    code: 1011,
    at: "??",
    message: "the '??' operator is not supported",
  },
  {
    name: "this",
    where: "body",
    src: "x = this.y;",
    code: 1011,
    at: "this",
    message: "'this' is not supported",
  },
  {
    name: "labeled statement",
    where: "body",
    src: "outer: for (;;) { break outer; }",
    code: 1010,
    at: "outer:",
    message: "labeled statements are not supported",
  },
  {
    name: "default parameter",
    where: "top",
    src: "function f(a: u32 = 1): void {}",
    code: 1010,
    at: "= 1",
    message: "default parameters are not supported",
  },
  {
    name: "rest parameter",
    where: "top",
    src: "function f(...a: u32): void {}",
    code: 1010,
    at: "...",
    message: "rest parameters are not supported",
  },
  {
    name: "optional parameter",
    where: "top",
    src: "function f(a?: u32): void {}",
    code: 1010,
    at: "?",
    message: "optional parameters are not supported",
  },
  {
    name: "generic function",
    where: "top",
    src: "function id<T>(a: T): T { return a; }",
    code: 1010,
    at: "<T>",
    message: "generic functions are not supported",
  },
  {
    name: "generic type",
    where: "top",
    src: "type Box<T> = { v: T };",
    code: 1010,
    at: "<T>",
    message: "generic types are not supported",
  },
  {
    name: "regex",
    where: "body",
    src: "x = /ab+c/g;",
    code: 1010,
    at: "/ab+c/g",
    message: "regular expressions are not supported",
  },
  {
    name: "template literal",
    where: "body",
    src: "trace(`x=${x}`);",
    code: 1012,
    at: "`x=${x}`",
    message: "template literals are not supported",
  },
  {
    name: "comma expression",
    where: "body",
    src: "x = 1, y = 2;",
    code: 1012,
    at: ",",
    message: "comma expressions are not supported",
  },
  {
    name: "float",
    where: "body",
    src: "x = 1.5;",
    code: 1010,
    at: "1.5",
    message: "floating-point numbers are not supported in filters",
  },
  {
    name: "exponent float",
    where: "body",
    src: "x = 1e3;",
    code: 1010,
    at: "1e3",
    message: "floating-point numbers are not supported",
  },
  {
    name: "bigint literal",
    where: "body",
    src: "x = 10n;",
    code: 1012,
    at: "10n",
    message: "bigint literals are not supported",
  },
  {
    name: "array type",
    where: "top",
    src: "interface S { a: u8[] }",
    code: 1012,
    at: "[]",
    message: "array types are not supported in filters; use FixedArray<T, N>",
  },
  {
    name: "intersection type",
    where: "top",
    src: "type T = A & B;",
    code: 1010,
    at: "&",
    message: "intersection types are not supported",
  },
  {
    name: "function type",
    where: "top",
    src: "type F = (a: u32) => u32;",
    code: 1010,
    at: "(",
    message: "function types are not supported",
  },
  {
    name: "tuple type",
    where: "top",
    src: "type P = [u32, u32];",
    code: 1010,
    at: "[",
    message: "tuple types are not supported",
  },
  {
    name: "interface extends",
    where: "top",
    src: "interface A extends B { x: u32 }",
    code: 1013,
    at: "extends",
    message: "interface inheritance is not supported",
  },
  {
    name: "interface method",
    where: "top",
    src: "interface A { f(): void; x: u8 }",
    code: 1012,
    at: "f",
    message: "methods are not supported",
  },
  {
    name: "index signature",
    where: "top",
    src: "interface A { [k: string]: u32 }",
    code: 1010,
    at: "[",
    message: "index signatures are not supported",
  },
  {
    name: "object method",
    where: "body",
    src: "const o = { f() { return 1; } };",
    code: 1010,
    at: "(",
    message: "methods in object literals are not supported",
  },
  {
    name: "computed key",
    where: "body",
    src: "const o = { [k]: 1 };",
    code: 1010,
    at: "[",
    message: "computed property names are not supported",
  },
  {
    name: "as const",
    where: "body",
    src: "x = 1 as const;",
    code: 1010,
    at: "as const",
    message: "const assertions are not supported",
  },
  {
    name: "satisfies",
    where: "body",
    src: "x = y satisfies u32;",
    code: 1010,
    at: "satisfies",
    message: "'satisfies' expressions are not supported",
  },
  {
    name: "angle assertion",
    where: "body",
    src: "x = <u32>y;",
    code: 1012,
    at: "<",
    message: "angle-bracket type assertions are not supported",
  },
  {
    name: "top-level statement",
    where: "top",
    src: "x = 1;",
    code: 1012,
    at: "x = 1;",
    message: "statements at the top level are not supported",
  },
  {
    name: "top-level if",
    where: "top",
    src: "if (a) b();",
    code: 1012,
    at: "if (a) b();",
    message: "statements at the top level are not supported",
  },
  {
    name: "local interface",
    where: "body",
    src: "interface L { a: u8 }",
    code: 1008,
    at: "interface",
    message: "interfaces can only appear at the top level of a filter",
  },
  {
    name: "local enum",
    where: "body",
    src: "const enum L { A }",
    code: 1008,
    at: "const",
    message: "enums can only appear at the top level",
  },
  {
    name: "function overload",
    where: "top",
    src: "function f(a: u32): u32;",
    code: 1012,
    at: "f",
    message: "function declarations without a body are not supported",
  },
  {
    name: "dynamic import",
    where: "body",
    src: 'x = import("y");',
    code: 1010,
    at: "import",
    message: "dynamic imports are not supported",
  },
  {
    name: "tagged template",
    where: "body",
    src: "x = tag`a`;",
    code: 1010,
    at: "`a`",
    message: "tagged templates are not supported",
  },
  {
    name: "with",
    where: "body",
    src: "with (o) { x = 1; }",
    code: 1010,
    at: "with",
    message: "with statements are not supported",
  },
  {
    name: "debugger",
    where: "body",
    src: "debugger;",
    code: 1010,
    at: "debugger",
    message: "debugger statements are not supported",
  },
  {
    name: "labeled break",
    where: "body",
    src: "for (;;) { break out; }",
    code: 1010,
    at: "out",
    message: "labels are not supported",
  },
  {
    name: "super",
    where: "body",
    src: "super.x();",
    code: 1011,
    at: "super",
    message: "'super' is not supported",
  },
  {
    name: "export assignment",
    where: "top",
    src: "export = f;",
    code: 1010,
    at: "export =",
    message: "export assignments are not supported",
  },
  {
    name: "side-effect import",
    where: "top",
    src: 'import "xdpc";',
    code: 1010,
    at: 'import "xdpc"',
    message: "side-effect imports are not supported",
  },
  {
    name: "readonly field",
    where: "top",
    src: "interface A { readonly a: u8 }",
    code: 1010,
    at: "readonly",
    message: "readonly fields are not supported",
  },
];

const TAIL = "\nexport function after(ctx: XdpContext): XdpAction { return XDP_PASS; }\n";

describe("unsupported constructs: one diagnostic, named, located, then parsing continues", () => {
  for (const c of cases) {
    it(c.name, () => {
      const src = (c.where === "top" ? c.src : `function f(): void {\n  ${c.src}\n}`) + TAIL;
      const r = parse(src, "u.ts");
      checkWellFormed(r.program, src);
      const lines = r.diagnostics.map(
        (d) =>
          `${d.code} ${d.message} @${JSON.stringify(src.slice(d.span.start, d.span.start + d.span.length))}`,
      );
      expect(lines, lines.join("\n")).toHaveLength(1);
      const d = r.diagnostics[0]!;
      expect(d.code).toBe(c.code);
      expect(d.message).toContain(c.message);
      expect(src.slice(d.span.start, d.span.start + d.span.length)).toBe(c.at);
      expect(d.span.start).toBeGreaterThanOrEqual(src.indexOf(c.src));
      // Recovery: the function after the construct is intact.
      const last = r.program.items.at(-1) as FunctionDecl;
      expect(last.kind).toBe("FunctionDecl");
      expect(last.name.name).toBe("after");
      expect(last.body.body.map((s) => s.kind)).toEqual(["ReturnStmt"]);
    });
  }
});

describe("error recovery", () => {
  it("reports every error of a file in one run", () => {
    const src = [
      "class A {}",
      "function f(): void {",
      "  while (x) {}",
      "  let a = ;",
      "  if (a +) { b = 1 }",
      "  const c = [...d];",
      "}",
      "const q: u32 = 1.5;",
      "export function g(ctx: XdpContext): XdpAction { return XDP_PASS; }",
    ].join("\n");
    const r = parse(src, "multi.ts");
    expect(r.diagnostics.map((d) => d.code)).toEqual([1012, 1012, 1001, 1001, 1011, 1010]);
    expect(r.program.items.map((i) => i.kind)).toEqual([
      "Unsupported",
      "FunctionDecl",
      "VarDecl",
      "FunctionDecl",
    ]);
    const f = r.program.items[1] as FunctionDecl;
    expect(f.body.body.map((s) => s.kind)).toEqual([
      "Unsupported",
      "Unsupported",
      "IfStmt",
      "VarDecl",
    ]);
  });

  it("a missing closing brace does not swallow the next exported function", () => {
    const src =
      "function f(): void {\n  if (a) {\n    b = 1;\n}\nexport function g(ctx: XdpContext): XdpAction { return XDP_PASS; }\n";
    const r = parse(src, "brace.ts");
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]!.message).toBe("unexpected 'export'; expected '}'");
    expect(r.program.items.map((i) => i.kind)).toEqual(["FunctionDecl", "FunctionDecl"]);
  });

  it("lexical errors are reported and skipped", () => {
    const src = 'function f(): void {\n  x = 1 ∑ 2;\n  trace("unterminated);\n}\n/* open';
    const r = parse(src, "lex.ts");
    const codes = r.diagnostics.map((d) => d.code);
    expect(codes).toContain(1003);
    expect(codes).toContain(1002);
    expect(codes).toContain(1005);
    checkWellFormed(r.program, src);
  });

  it("invalid numeric literals", () => {
    for (const lit of ["0x", "0b102", "1__0", "1_", "0123", "12abc", "0o8"]) {
      const r = parse(`const x = ${lit};`, "n.ts");
      expect(
        r.diagnostics.map((d) => d.code),
        lit,
      ).toEqual([1004]);
      expect(r.diagnostics[0]!.message).toBe(`invalid numeric literal '${lit}'`);
    }
  });
});
