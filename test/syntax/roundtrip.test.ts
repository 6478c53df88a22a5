// parse → print → parse yields the same AST (spans aside), and printing is a fixed point.
import { describe, expect, it } from "vitest";
import { parse } from "../../compiler/syntax/index.ts";
import { printExpr, printProgram } from "../../compiler/ast/print.ts";
import type { Expr } from "../../compiler/ast/nodes.ts";
import { expr, filterSources, fixtureSources, stripSpans } from "./helpers.ts";

const sources = [
  ...fixtureSources(),
  ...filterSources().map(([n, s]) => [`filters/${n}`, s] as [string, string]),
];

describe("round trip over fixtures and filters/", () => {
  it("has fixtures", () => expect(sources.length).toBeGreaterThanOrEqual(3));
  for (const [name, src] of sources) {
    it(name, () => {
      const first = parse(src, name);
      expect(first.diagnostics).toEqual([]);
      const printed = printProgram(first.program);
      const second = parse(printed, name);
      expect(second.diagnostics, printed).toEqual([]);
      expect(stripSpans(second.program.items)).toEqual(stripSpans(first.program.items));
      expect(printProgram(second.program)).toBe(printed);
    });
  }
});

describe("printer parenthesization of hand-built trees", () => {
  const S = { start: 0, length: 0 };
  const n = (name: string): Expr => ({ kind: "Name", span: S, name });
  const bin = (op: "+" | "*" | "-" | "==" | "<", left: Expr, right: Expr): Expr => ({
    kind: "Binary",
    span: S,
    op,
    left,
    right,
  });
  const as = (e: Expr, t: string): Expr => ({
    kind: "As",
    span: S,
    expr: e,
    type: { kind: "TypeRef", span: S, name: { kind: "Ident", span: S, name: t }, args: [] },
  });
  const cases: [string, Expr, string][] = [
    ["left-assoc right operand", bin("-", n("a"), bin("-", n("b"), n("c"))), "a - (b - c)"],
    ["lower-precedence left operand", bin("*", bin("+", n("a"), n("b")), n("c")), "(a + b) * c"],
    ["as on the right of +", bin("+", n("a"), as(n("b"), "u8")), "a + (b as u8)"],
    ["as on the left of +", bin("+", as(n("x"), "u8"), n("y")), "x as u8 + y"],
    [
      "as inside a tighter right operand",
      bin("+", n("a"), bin("*", as(n("x"), "u8"), n("y"))),
      "a + (x as u8) * y",
    ],
    ["as of an equality", as(bin("==", n("a"), n("b")), "u8"), "(a == b) as u8"],
    [
      "unary of a binary",
      { kind: "Unary", span: S, op: "-", operand: bin("+", n("a"), n("b")) },
      "-(a + b)",
    ],
    [
      "double negation",
      {
        kind: "Unary",
        span: S,
        op: "-",
        operand: { kind: "Unary", span: S, op: "-", operand: n("a") },
      },
      "- -a",
    ],
    [
      "member of a binary",
      {
        kind: "Member",
        span: S,
        object: bin("+", n("a"), n("b")),
        property: { kind: "Ident", span: S, name: "c" },
      },
      "(a + b).c",
    ],
  ];
  for (const [name, tree, text] of cases) {
    it(name, () => {
      expect(printExpr(tree, 0)).toBe(text);
      // The printed text parses back to the tree, with Paren nodes where parentheses were added.
      const unparen = (e: unknown): unknown => {
        const j = stripSpans(e) as Record<string, unknown>;
        const strip = (v: unknown): unknown => {
          if (Array.isArray(v)) return v.map(strip);
          if (v && typeof v === "object") {
            const o = v as Record<string, unknown>;
            if (o.kind === "Paren") return strip(o.expr);
            return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, strip(x)]));
          }
          return v;
        };
        return strip(j);
      };
      expect(unparen(expr(text))).toEqual(unparen(tree));
    });
  }
});
