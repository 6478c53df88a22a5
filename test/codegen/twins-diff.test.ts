// Differential: every example filter compiled by xdpc against its C twin compiled by
// clang -O2, over the crafted packet corpus, with empty maps and default parameters:
// verdicts, output bytes and final map contents must be identical.
import { expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describeKernel } from "../support/kernel.ts";
import { craftedCorpus } from "../support/crafted.ts";
import { clangUnavailableReason, compileBpfC } from "../differential/clang.ts";
import { diffObjects, formatDiff } from "../differential/diff.ts";
import { build } from "./harness.ts";
import { EXAMPLE_FILTERS } from "../support/filters.ts";
import { twinBeforeLoad, twinSetups } from "../support/twin-setups.ts";

const repo = resolve(import.meta.dirname, "../..");

describeKernel("xdpc output agrees with clang -O2 on the C twins", () => {
  const corpus = craftedCorpus({ minLength: 14 }).map((p) => ({ data: p.data, source: p.name }));
  for (const name of EXAMPLE_FILTERS) {
    it.skipIf(clangUnavailableReason() !== null)(name, () => {
      const file = resolve(repo, `filters/${name}.ts`);
      const ours = build(readFileSync(file, "utf8"), file).object;
      const theirs = compileBpfC({ path: resolve(repo, `test/twins/${name}.c`) });
      // syn_guard's buckets hold bpf_ktime_get_ns() stamps, which differ between the sides.
      const r = diffObjects(ours, theirs, corpus, {
        compareMaps: name !== "syn_guard",
        setup: twinSetups[name],
        beforeLoad: twinBeforeLoad[name],
      });
      expect(r.mismatchCount + r.mapMismatches.length, formatDiff(r)).toBe(0);
      expect(r.packets).toBeGreaterThan(50);
      // The corpus must exercise more than one outcome, or the comparison proves little.
      // (tcp_events always passes; its output is ring-buffer records.)
      if (name !== "tcp_events")
        expect(Object.keys(r.histogramA).length, JSON.stringify(r.histogramA)).toBeGreaterThan(1);
    });
  }
});
