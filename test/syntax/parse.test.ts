import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { parse } from "../../compiler/syntax/index.ts";
import type { FunctionDecl, VarDecl } from "../../compiler/ast/nodes.ts";
import { parseOk } from "./helpers.ts";

describe("parse: the LANGUAGE.md example", () => {
  const src = readFileSync(new URL("./fixtures/firewall.ts.txt", import.meta.url), "utf8");
  it("parses without diagnostics into the expected items", () => {
    const r = parse(src, "firewall.ts");
    expect(r.diagnostics).toEqual([]);
    expect(r.program.items.map((i) => i.kind)).toEqual([
      "ImportDecl",
      "InterfaceDecl",
      "VarDecl",
      "VarDecl",
      "VarDecl",
      "FunctionDecl",
    ]);
    const fn = r.program.items[5] as FunctionDecl;
    expect(fn.exported).toBe(true);
    expect(fn.name.name).toBe("firewall");
    expect(fn.body.body.map((s) => s.kind)).toEqual([
      "VarDecl",
      "IfStmt",
      "IfStmt",
      "VarDecl",
      "IfStmt",
      "ReturnStmt",
    ]);
    const blocked = parseOk(src).items[2] as VarDecl;
    expect(blocked.init?.kind).toBe("New");
  });
});
