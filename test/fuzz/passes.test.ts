// A fixed-seed slice of the optimizer's differential test (passes.ts): each generated
// program, built without each IR pass in turn and without any, must do in the kernel
// (and, without any pass, in the Wasm host) exactly what its full build does.
import { expect, it } from "vitest";
import { describeKernel } from "../support/kernel.ts";
import { PASSES } from "../../compiler/ir/passes/index.ts";
import { PASS_VARIANTS, runPassCase } from "./passes.ts";

const SEEDS = Array.from({ length: 24 }, (_, i) => 201 + i);

describeKernel(
  "optimizer differential slice (with and without each IR pass, in the kernel)",
  () => {
    it(`seeds ${SEEDS[0]}..${SEEDS[SEEDS.length - 1]}: no pass changes what a program does`, () => {
      expect(PASS_VARIANTS).toHaveLength(PASSES.length + 1);
      const findings: string[] = [];
      let compared = 0;
      for (const seed of SEEDS) {
        const r = runPassCase(seed);
        if (r.skipped) continue;
        compared++;
        findings.push(...r.findings.map((f) => `seed ${seed}: ${f}`));
      }
      expect(findings).toEqual([]);
      expect(compared).toBeGreaterThanOrEqual(SEEDS.length * 0.85);
    }, 300_000);
  },
);
