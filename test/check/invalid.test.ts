// Golden diagnostics: one invalid program per rule, rendered as the CLI prints them.
// Regenerate with `npx vitest run test/check/invalid.test.ts -u`, then review each
// snapshot by eye (the caret spans must point at the offending construct).
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { checkSource, render } from "./helpers.ts";

const dir = new URL("./fixtures/invalid/", import.meta.url);
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".ts"))
  .sort();

describe("checker: invalid programs", () => {
  it("has at least 30 fixtures", () => {
    expect(files.length).toBeGreaterThanOrEqual(30);
  });
  for (const f of files) {
    it(f, async () => {
      const source = readFileSync(new URL(f, dir), "utf8");
      const r = checkSource(source, `invalid/${f}`);
      // Fixtures are syntactically valid: every diagnostic comes from the checker.
      expect(render(r.parseDiagnostics, source)).toBe("");
      expect(r.diagnostics.length).toBeGreaterThan(0);
      for (const d of r.diagnostics)
        (expect(d.code).toBeGreaterThanOrEqual(2000), expect(d.code).toBeLessThan(4000));
      await expect(render(r.diagnostics, source)).toMatchFileSnapshot(
        `./__snapshots__/invalid/${f.replace(/\.ts$/, ".txt")}`,
      );
    });
  }
});
