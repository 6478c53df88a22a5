// AST snapshots (span-free JSON) of realistic filters; regenerate with `vitest -u`.
import { describe, expect, it } from "vitest";
import { parse } from "../../compiler/syntax/index.ts";
import { renderDiagnostic } from "../../compiler/diagnostics/render.ts";
import { filterSources, fixtureSources, stripSpans } from "./helpers.ts";

const snap = (name: string): string => `./__snapshots__/${name.replace(/[^\w.-]+/g, "_")}.ast.json`;

describe("AST snapshots", () => {
  for (const [name, src] of [
    ...fixtureSources(),
    ...filterSources().map(([n, s]) => [`filters_${n}`, s] as [string, string]),
  ]) {
    it(name, async () => {
      const r = parse(src, name);
      expect(r.diagnostics).toEqual([]);
      await expect(JSON.stringify(stripSpans(r.program), null, 2) + "\n").toMatchFileSnapshot(
        snap(name),
      );
    });
  }
});

describe("diagnostic snapshot", () => {
  it("renders every error of a broken filter", async () => {
    const src = [
      'import xdpc, { XdpContext, XdpAction, XDP_PASS } from "xdpc";',
      "class Counter { n = 0 }",
      "export function f(ctx: XdpContext): XdpAction {",
      "  const ip = ctx.ipv4();",
      "  while (ip !== null) { }",
      "  const t = ip?.ttl ?? 64;",
      "  let x = 1.5 + `s`;",
      "  if (x >) return XDP_PASS;",
      "  return XDP_PASS;",
      "}",
    ].join("\n");
    const r = parse(src, "broken.ts");
    const text = r.diagnostics.map((d) => renderDiagnostic(d, src)).join("\n");
    await expect(text).toMatchFileSnapshot("./__snapshots__/broken.diagnostics.txt");
  });
});
