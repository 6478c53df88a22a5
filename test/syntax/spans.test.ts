import { describe, expect, it } from "vitest";
import { parse } from "../../compiler/syntax/index.ts";
import { allNodes, checkWellFormed, filterSources, spanText } from "./helpers.ts";

const SRC = `import { A, type B as C } from "xdpc";
export interface S { a: u32; b?: FixedArray<u8, 4> }
type U = S | null;
const enum E { X = 1, Y }
export const m = new HashMap<u32, FixedArray<u8, 4>>({ maxEntries: 16 });
let g: u64 = 0;
export function f(ctx: XdpContext, n: u32): XdpAction {
  const ip = ctx.ipv4();
  if (ip === null) return XDP_PASS;
  else { g += 1; }
  switch (n) {
    case 1:
      break;
    default:
      n = (n + 1) as u16;
  }
  for (let i = 0; i < 4; i++) continue;
  ip!.ttl--;
  ++g;
  ;
  return n > 1 ? -n : { a: 1, b }.a;
}
`;

/** [node kind, exact source text] pairs that must all be present. */
const expected: [string, string][] = [
  ["ImportDecl", `import { A, type B as C } from "xdpc";`],
  ["ImportSpecifier", "type B as C"],
  ["StringLit", `"xdpc"`],
  ["InterfaceDecl", "export interface S { a: u32; b?: FixedArray<u8, 4> }"],
  ["FieldDecl", "b?: FixedArray<u8, 4>"],
  ["TypeRef", "FixedArray<u8, 4>"],
  ["LiteralType", "4"],
  ["TypeAliasDecl", "type U = S | null;"],
  ["UnionType", "S | null"],
  ["NullType", "null"],
  ["EnumDecl", "const enum E { X = 1, Y }"],
  ["EnumMember", "X = 1"],
  ["EnumMember", "Y"],
  ["VarDecl", "export const m = new HashMap<u32, FixedArray<u8, 4>>({ maxEntries: 16 });"],
  ["New", "new HashMap<u32, FixedArray<u8, 4>>({ maxEntries: 16 })"],
  ["ObjectLit", "{ maxEntries: 16 }"],
  ["ObjectProp", "maxEntries: 16"],
  ["VarDecl", "let g: u64 = 0;"],
  ["Param", "ctx: XdpContext"],
  ["VarDecl", "const ip = ctx.ipv4();"],
  ["Call", "ctx.ipv4()"],
  ["Member", "ctx.ipv4"],
  ["Ident", "ipv4"],
  ["IfStmt", "if (ip === null) return XDP_PASS;\n  else { g += 1; }"],
  ["Binary", "ip === null"],
  ["ReturnStmt", "return XDP_PASS;"],
  ["Block", "{ g += 1; }"],
  ["ExprStmt", "g += 1;"],
  ["Assign", "g += 1"],
  ["SwitchCase", "case 1:\n      break;"],
  ["BreakStmt", "break;"],
  ["SwitchCase", "default:\n      n = (n + 1) as u16;"],
  ["As", "(n + 1) as u16"],
  ["Paren", "(n + 1)"],
  ["ForStmt", "for (let i = 0; i < 4; i++) continue;"],
  ["VarDecl", "let i = 0"],
  ["Update", "i++"],
  ["ContinueStmt", "continue;"],
  ["Update", "ip!.ttl--"],
  ["NonNull", "ip!"],
  ["Update", "++g"],
  ["EmptyStmt", ";"],
  ["Conditional", "n > 1 ? -n : { a: 1, b }.a"],
  ["Unary", "-n"],
  ["ObjectProp", "b"],
  ["Name", "b"],
  ["NumberLit", "1"],
];

describe("spans", () => {
  const r = parse(SRC, "spans.ts");
  const nodes = allNodes(r.program).map(({ node }) => [node.kind, spanText(SRC, node)] as const);

  it("parses the span fixture cleanly", () => expect(r.diagnostics).toEqual([]));
  for (const [kind, text] of expected) {
    it(`${kind}: ${JSON.stringify(text).slice(0, 60)}`, () => {
      expect(
        nodes.some(([k, t]) => k === kind && t === text),
        `no ${kind} spanning ${JSON.stringify(text)}`,
      ).toBe(true);
    });
  }

  it("covers the whole function declaration, export included", () => {
    const fn = r.program.items.at(-1)!;
    expect(spanText(SRC, fn)).toBe(
      SRC.slice(SRC.indexOf("export function f"), SRC.lastIndexOf("}") + 1),
    );
  });

  it("nests every span inside its parent and never starts or ends in whitespace", () => {
    checkWellFormed(r.program, SRC);
    for (const { node } of allNodes(r.program)) {
      if (node.kind === "Program") continue;
      const t = spanText(SRC, node);
      expect(t.length, node.kind).toBeGreaterThan(0);
      expect(t, node.kind).toBe(t.trim());
    }
  });

  it("holds the same invariants on the filters in filters/", () => {
    for (const [f, src] of filterSources()) {
      const pr = parse(src, f);
      checkWellFormed(pr.program, src);
      for (const { node } of allNodes(pr.program))
        if (node.kind !== "Program") expect(spanText(src, node)).toBe(spanText(src, node).trim());
    }
  });
});
