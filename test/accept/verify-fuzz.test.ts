// Every object xdpc emits verifies: mutated filters that still compile are loaded through
// the real verifier. A rejection for packet bounds, pointer arithmetic, uninitialised
// registers, division by zero, … is a compiler bug (this found two). Only the budget
// rejections of programs whose loops are absurdly long after mutation (a `for` up to
// 0xffffffff) are tolerated: the checker does not yet bound a loop's verifier cost.
import { afterAll, beforeAll, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describeKernel } from "../support/kernel.ts";
import { compile, hasErrors } from "../../compiler/driver/index.ts";
import { applyMutation, arbMutation, type Mutation } from "../cli/mutate.ts";
import { acceptanceSources, privatePinRoot, repo, verify } from "./objects.ts";

const BUDGET = /too large|too complex|sequence of \d+ jumps is too complex/;

describeKernel("every object xdpc emits verifies (mutated filters)", () => {
  let pins: ReturnType<typeof privatePinRoot>;
  beforeAll(() => {
    pins = privatePinRoot();
  });
  afterAll(() => pins.remove());

  it("no verifier rejection other than the loop budget", () => {
    const corpus = acceptanceSources().map((f) => ({
      file: f,
      source: readFileSync(join(repo, f), "utf8"),
    }));
    const samples = fc.sample(
      fc.tuple(fc.nat(), fc.array(arbMutation, { minLength: 1, maxLength: 3 })),
      { numRuns: 500, seed: 11 },
    );
    let loaded = 0;
    let budget = 0;
    const bugs: string[] = [];
    for (const [doc, ms] of samples as [number, Mutation[]][]) {
      const { file, source } = corpus[doc % corpus.length]!;
      const src = ms.reduce(applyMutation, source);
      const out = compile(src, { file, emit: "object" });
      if (hasErrors(out.diagnostics) || !out.object) continue;
      loaded++;
      for (const [prog, s] of Object.entries(verify(out.object, pins.dir))) {
        if (s.accepted) continue;
        if (BUDGET.test(s.tail)) budget++;
        else bugs.push(`${file} ${prog} ${JSON.stringify(ms)}:\n${s.tail}`);
      }
    }
    console.log(
      `[verify-fuzz] ${loaded} mutant objects loaded, ${budget} over the verifier budget, ${bugs.length} rejected`,
    );
    expect(loaded).toBeGreaterThan(100);
    expect(bugs).toEqual([]);
  });
});
