// The IR pass pipeline, run to a fixpoint (bounded): each pass exposes work for
// the others (folding decides branches, simplification merges blocks, guard
// merging empties blocks, dead code elimination drops what became unused).
import type { Func } from "../ir.ts";
import { foldConstants } from "./fold.ts";
import { eliminateDeadCode } from "./dce.ts";
import { simplifyCfg } from "./simplify.ts";
import { mergeGuards } from "./guards.ts";
import { peephole } from "./peephole.ts";

export { foldConstants, eliminateDeadCode, simplifyCfg, mergeGuards, peephole };

export function optimize(f: Func): void {
  for (let round = 0; round < 20; round++) {
    let changed = foldConstants(f);
    changed = simplifyCfg(f) || changed;
    changed = mergeGuards(f) || changed;
    changed = peephole(f) || changed;
    changed = eliminateDeadCode(f) || changed;
    if (!changed) return;
  }
}
