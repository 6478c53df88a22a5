import { describe, expect, it } from "vitest";
import type {
  EnumDecl,
  ForStmt,
  FunctionDecl,
  IfStmt,
  ImportDecl,
  InterfaceDecl,
  SwitchStmt,
  TypeAliasDecl,
  VarDecl,
} from "../../compiler/ast/nodes.ts";
import { parse } from "../../compiler/syntax/index.ts";
import { parseOk, sexpr, stmts, stripSpans } from "./helpers.ts";

describe("top-level items", () => {
  it("imports: named, type-only, aliases", () => {
    const p = parseOk(`import { A, type B, C as D } from "xdpc";\nimport type { E } from 'xdpc'`);
    const [a, b] = p.items as ImportDecl[];
    expect(a!.specifiers.map((s) => [s.imported.name, s.local.name, s.typeOnly])).toEqual([
      ["A", "A", false],
      ["B", "B", true],
      ["C", "D", false],
    ]);
    expect(a!.specifiers[0]!.local).toBe(a!.specifiers[0]!.imported);
    expect(a!.source.value).toBe("xdpc");
    expect(b!.typeOnly).toBe(true);
  });

  it("interfaces and type aliases with nested, optional and generic fields", () => {
    const p = parseOk(`
      export interface S { a: u32; b?: u16, c: FixedArray<u8, 16>
        d: { x: u8 } }
      type T = { k: Map<K, FixedArray<u8, 4>> };
      type N = Ipv4Header | null;
      type L = | A | B`);
    const s = p.items[0] as InterfaceDecl;
    expect(s.exported).toBe(true);
    expect(s.fields.map((f) => [f.name.name, f.optional, f.type.kind])).toEqual([
      ["a", false, "TypeRef"],
      ["b", true, "TypeRef"],
      ["c", false, "TypeRef"],
      ["d", false, "TypeLiteral"],
    ]);
    expect(stripSpans(s.fields[2]!.type)).toEqual({
      kind: "TypeRef",
      name: { kind: "Ident", name: "FixedArray" },
      args: [
        { kind: "TypeRef", name: { kind: "Ident", name: "u8" }, args: [] },
        { kind: "LiteralType", value: "16n" },
      ],
    });
    const t = p.items[1] as TypeAliasDecl;
    expect(
      t.type.kind === "TypeLiteral" &&
        t.type.fields[0]!.type.kind === "TypeRef" &&
        t.type.fields[0]!.type.args[1],
    ).toMatchObject({
      kind: "TypeRef",
      name: { name: "FixedArray" },
    });
    expect(stripSpans((p.items[2] as TypeAliasDecl).type)).toEqual({
      kind: "UnionType",
      types: [
        { kind: "TypeRef", name: { kind: "Ident", name: "Ipv4Header" }, args: [] },
        { kind: "NullType" },
      ],
    });
    expect((p.items[3] as TypeAliasDecl).type.kind).toBe("UnionType");
  });

  it("enums, const and plain", () => {
    const p = parseOk(`export const enum E { A = 1, B, C = A | 4, }`);
    const [e] = p.items as EnumDecl[];
    expect([e!.isConst, e!.exported, e!.members.map((m) => m.name.name)]).toEqual([
      true,
      true,
      ["A", "B", "C"],
    ]);
    expect(e!.members[1]!.init).toBeNull();
    expect(sexpr(e!.members[2]!.init!)).toBe("(| A 4)");
    // A plain enum is reported (only `const enum` folds) and still parsed.
    const plain = parse(`enum F { X }`, "f.ts");
    expect(plain.diagnostics.map((d) => [d.code, d.span.start, d.span.length])).toEqual([
      [1012, 0, 4],
    ]);
    const f = plain.program.items[0] as EnumDecl;
    expect([f.isConst, f.exported]).toEqual([false, false]);
  });

  it("constants, params, globals and maps", () => {
    const p = parseOk(
      `const N = 4;\nexport let dropped: u64 = 0;\nconst PORT = param<u16>("port", 53)\nlet g: u32`,
    );
    const [n, d, port, g] = p.items as VarDecl[];
    expect([n!.declKind, n!.type, n!.exported]).toEqual(["const", null, false]);
    expect([d!.declKind, d!.exported, d!.type?.kind]).toEqual(["let", true, "TypeRef"]);
    expect(sexpr(port!.init!)).toBe('(call param<1> "port" 53)');
    expect(g!.init).toBeNull();
  });

  it("several declarators become several VarDecls", () => {
    const p = parseOk(`let a = 1, b: u8 = 2;`);
    expect(p.items.map((i) => (i as VarDecl).name.name)).toEqual(["a", "b"]);
  });

  it("functions with typed params and return types", () => {
    const p = parseOk(
      `function h(a: u32, b: Ipv4Header | null,): u32 { return a; }\nexport function prog(ctx: XdpContext): XdpAction { return XDP_PASS }\nfunction v() {}`,
    );
    const [h, prog, v] = p.items as FunctionDecl[];
    expect(h!.params.map((x) => [x.name.name, x.type?.kind])).toEqual([
      ["a", "TypeRef"],
      ["b", "UnionType"],
    ]);
    expect(prog!.exported).toBe(true);
    expect(v!.returnType).toBeNull();
    expect(v!.body.body).toEqual([]);
  });
});

describe("statements", () => {
  it("if / else if / else", () => {
    const [s] = stmts(`if (a) x = 1; else if (b) { y = 2 } else z = 3;`) as IfStmt[];
    expect(s!.then.kind).toBe("ExprStmt");
    expect(s!.else?.kind).toBe("IfStmt");
    const inner = s!.else as IfStmt;
    expect(inner.then.kind).toBe("Block");
    expect(inner.else?.kind).toBe("ExprStmt");
  });

  it("switch with cases, empty cases and default", () => {
    const [s] = stmts(
      `switch (p) { case 6: case 17: n++; break; case TCP_SYN | 1: { return 1; } default: return 0 }`,
    ) as SwitchStmt[];
    expect(
      s!.cases.map((c) => [c.test === null ? "default" : sexpr(c.test), c.body.map((b) => b.kind)]),
    ).toEqual([
      ["6", []],
      ["17", ["ExprStmt", "BreakStmt"]],
      ["(| TCP_SYN 1)", ["Block"]],
      ["default", ["ReturnStmt"]],
    ]);
  });

  it("for loops in all shapes", () => {
    const [a, b, c] = stmts(
      `for (let i = 0; i < 16; i++) { if (i == 3) continue; }\nfor (i = 0; ; i += 2) break;\nfor (;;) ;`,
    ) as ForStmt[];
    expect(a!.init?.kind).toBe("VarDecl");
    expect(sexpr(a!.test!)).toBe("(< i 16)");
    expect(sexpr(a!.update!)).toBe("(++post i)");
    expect(b!.init && b!.init.kind !== "VarDecl" ? sexpr(b!.init) : "").toBe("(= i 0)");
    expect(b!.test).toBeNull();
    expect(b!.body.kind).toBe("BreakStmt");
    expect([c!.init, c!.test, c!.update, c!.body.kind]).toEqual([null, null, null, "EmptyStmt"]);
  });

  it("return, break, continue, blocks, empty statements and expression statements", () => {
    const s = stmts(`{ ; }\nreturn\nx++\nbreak; continue\nreturn a + 1`);
    expect(s.map((x) => x.kind)).toEqual([
      "Block",
      "ReturnStmt",
      "ExprStmt",
      "BreakStmt",
      "ContinueStmt",
      "ReturnStmt",
    ]);
    expect(s[1]!.kind === "ReturnStmt" && s[1]!.value).toBeNull(); // `return` then a new line: ASI
  });

  it("automatic semicolon insertion keeps postfix ++ on its own line", () => {
    const s = stmts(`a\n++b`);
    expect(s.map((x) => (x.kind === "ExprStmt" ? sexpr(x.expr) : x.kind))).toEqual([
      "a",
      "(++pre b)",
    ]);
  });

  it("const and let in blocks, nested functions are parsed for the checker", () => {
    const s = stmts(`const a: u16 = 1;\nlet b = a;\nfunction inner(): void {}`);
    expect(s.map((x) => x.kind)).toEqual(["VarDecl", "VarDecl", "FunctionDecl"]);
  });

  it("reports missing semicolons between statements on one line", () => {
    const r = parse(`function f() { a = 1 b = 2; c = 3; }`, "t.ts");
    expect(r.diagnostics.map((d) => [d.code, d.message])).toEqual([
      [1001, "unexpected 'b'; expected ';'"],
    ]);
  });
});
