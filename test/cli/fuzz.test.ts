// The whole compiler never throws on user input: mutated example filters and fixtures go
// through compile(…, { emit: "object" }) — parser, checker, IR, backend, ELF writer — and
// come back with an object or with diagnostics. Any exception is a bug. The mutations
// mostly keep programs well-typed, so a large share reaches the backend (asserted).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compile, hasErrors } from "../../compiler/driver/index.ts";
import { acceptanceSources, repo } from "../accept/objects.ts";
import { applyMutation, arbMutation } from "./mutate.ts";

const corpus = acceptanceSources().map((f) => ({
  file: f,
  source: readFileSync(join(repo, f), "utf8"),
}));

describe("compiler robustness: mutated filters through to objects", () => {
  // A hang shows as the test's own timeout; time is never asserted (the machine is shared).
  it("never throws, ends in an object or diagnostics", () => {
    let objects = 0;
    let runs = 0;
    fc.assert(
      fc.property(fc.nat(), fc.array(arbMutation, { minLength: 1, maxLength: 3 }), (doc, ms) => {
        const { file, source } = corpus[doc % corpus.length]!;
        let src = source;
        for (const m of ms) src = applyMutation(src, m);
        const out = compile(src, { file, emit: "object" });
        runs++;
        if (hasErrors(out.diagnostics)) {
          expect(out.object).toBeUndefined();
          for (const d of out.diagnostics) {
            expect(d.span.start).toBeGreaterThanOrEqual(0);
            expect(d.span.start + d.span.length).toBeLessThanOrEqual(src.length);
          }
        } else {
          expect(out.object, "no errors but no object").toBeInstanceOf(Uint8Array);
          objects++;
        }
      }),
      { numRuns: 1500, seed: 7 },
    );
    // The mutations are meant to reach the backend; if they stop doing so this test is vacuous.
    expect(objects / runs).toBeGreaterThan(0.2);
    console.log(`[fuzz] ${runs} mutants: ${objects} built objects, ${runs - objects} diagnosed`);
  });
});
