// The IR pass pipeline, run to a fixpoint (bounded): each pass exposes work for
// the others (folding decides branches, simplification merges blocks, guard
// merging empties blocks, dead code elimination drops what became unused; common
// subexpressions become copies that folding propagates).
import type { Func } from "../ir.ts";
import { removeUnreachable } from "../cfg.ts";
import { foldConstants } from "./fold.ts";
import { eliminateDeadCode } from "./dce.ts";
import { simplifyCfg } from "./simplify.ts";
import { mergeGuards } from "./guards.ts";
import { peephole } from "./peephole.ts";
import { eliminateCommonSubexpressions, numberValues } from "./cse.ts";
import { foldRanges } from "./ranges.ts";
import { coverLoads } from "./bounds.ts";
import { forwardStores } from "./slots.ts";
import { mergeTails } from "./tails.ts";
import { widenCopies } from "./widen.ts";
import { forwardBytes } from "./bytes.ts";
import { foldAddresses } from "./addrs.ts";
import { optimizeLoops } from "./loops.ts";
import { returnDirectly } from "./returns.ts";
import { dropIdleHides } from "./hides.ts";

export {
  foldConstants,
  eliminateDeadCode,
  simplifyCfg,
  mergeGuards,
  peephole,
  eliminateCommonSubexpressions,
  numberValues,
  foldRanges,
  coverLoads,
  forwardStores,
  mergeTails,
  widenCopies,
  forwardBytes,
  foldAddresses,
  optimizeLoops,
  returnDirectly,
  dropIdleHides,
};

/**
 * The passes of one round, in order, by the names `--dump-ir=PASS` and `skipPasses` take.
 * A late pass runs once the rounds reach their fixpoint, and the rounds again after it
 * if it changed something.
 */
export const PASSES: readonly { name: string; run: (f: Func) => boolean; late?: true }[] = [
  { name: "cse", run: eliminateCommonSubexpressions },
  { name: "slots", run: forwardStores },
  { name: "fold", run: foldConstants },
  { name: "ranges", run: foldRanges },
  { name: "simplify", run: simplifyCfg },
  { name: "bounds", run: coverLoads },
  { name: "guards", run: mergeGuards },
  { name: "peephole", run: peephole },
  { name: "bytes", run: forwardBytes },
  { name: "widen", run: widenCopies },
  { name: "addrs", run: foldAddresses },
  { name: "dce", run: eliminateDeadCode },
  { name: "gvn", run: numberValues },
  { name: "loops", run: optimizeLoops },
  { name: "tails", run: mergeTails },
  { name: "returns", run: returnDirectly, late: true },
  { name: "hides", run: dropIdleHides, late: true },
];

/** Called after each pass that changed the function, with the round it ran in (from 1). */
export type PassObserver = (pass: string, round: number, f: Func) => void;

export interface OptimizeOptions {
  /** Passes to leave out, by name: the optimizer's differential test builds without each. */
  skip?: readonly string[];
  observe?: PassObserver;
}

export function optimize(f: Func, opts: OptimizeOptions = {}): void {
  const passes = PASSES.filter((p) => !opts.skip?.includes(p.name));
  let round = 1;
  const rounds = (last: number) => {
    for (; round <= last; round++) {
      let changed = false;
      for (const p of passes) {
        if (p.late || !p.run(f)) continue;
        changed = true;
        opts.observe?.(p.name, round, f);
      }
      if (!changed) break;
    }
    round++;
  };
  rounds(20);
  for (const p of passes) {
    if (!p.late || !p.run(f)) continue;
    opts.observe?.(p.name, round, f);
    rounds(round + 4);
  }
  // Not an optimization: the verifier rejects unreachable instructions, so even a build
  // without simplify and dce emits only reachable blocks.
  removeUnreachable(f);
}
