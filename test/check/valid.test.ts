// Valid programs: every example filter and every valid fixture checks with zero
// diagnostics, and the result tables are complete (the backend's contract).
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type * as ast from "../../compiler/ast/nodes.ts";
import { walk } from "../../compiler/check/walk.ts";
import { checkOk, type Checked } from "./helpers.ts";

function sources(dir: URL): { name: string; text: string }[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
    .sort()
    .map((name) => ({ name, text: readFileSync(new URL(name, dir), "utf8") }));
}

const filters = sources(new URL("../../filters/", import.meta.url));
const fixtures = sources(new URL("./fixtures/valid/", import.meta.url));

/** Every fact result.ts promises for an error-free program. */
function expectComplete(r: Checked): void {
  const m = r.module;
  const missing: string[] = [];
  for (const fn of m.functions) {
    walk(fn.decl.body, (n) => {
      const at = `${n.kind}@${n.span.start}`;
      switch (n.kind) {
        case "Name":
          if (!m.names.has(n)) missing.push(`name ${n.name} ${at}`);
          break;
        case "Call":
          if (!m.calls.has(n)) missing.push(`call ${at}`);
          // A method callee is described by the call target, not by members.
          if (n.callee.kind === "Member") {
            walk(n.callee.object, (x) => void checkExpr(x));
            n.args.forEach((a) => walk(a, (x) => void checkExpr(x)));
            if (!m.types.has(n)) missing.push(`type ${at}`);
            return false;
          }
          break;
        case "Member":
          if (!m.members.has(n)) missing.push(`member .${n.property.name} ${at}`);
          break;
        case "ForStmt":
          if (!m.loops.has(n)) missing.push(`loop ${at}`);
          break;
        case "VarDecl":
          if (!m.locals.has(n)) missing.push(`local ${n.name.name}`);
          break;
      }
      checkExpr(n);
    });
  }
  function checkExpr(n: ast.Node): void {
    const exprKinds = [
      "NumberLit",
      "BoolLit",
      "NullLit",
      "Name",
      "Member",
      "Index",
      "Call",
      "Unary",
      "Binary",
      "Assign",
      "Update",
      "Conditional",
      "As",
      "Paren",
      "ObjectLit",
    ];
    // Names of maps, functions and enums are not values and carry no type (result.ts).
    const sym = n.kind === "Name" ? m.names.get(n) : undefined;
    if (sym && ["map", "function", "builtinFn", "enum"].includes(sym.kind)) return;
    if (exprKinds.includes(n.kind) && !m.types.has(n as ast.Expr))
      missing.push(`type ${n.kind}@${n.span.start}`);
  }
  expect(missing).toEqual([]);
}

describe("checker: valid programs", () => {
  it("finds the example filters", () => {
    expect(filters.length).toBeGreaterThan(0);
  });
  for (const f of [
    ...filters.map((x) => ({ ...x, name: `filters/${x.name}` })),
    ...fixtures.map((x) => ({ ...x, name: `valid/${x.name}` })),
  ]) {
    it(`${f.name} checks with zero diagnostics and complete tables`, () => {
      const r = checkOk(f.text, f.name);
      expect(r.module.functions.some((fn) => fn.kind === "xdp" || fn.kind === "handler")).toBe(
        true,
      );
      expectComplete(r);
    });
  }
});
