// Golden output of the backend for every example filter: the optimised IR and the
// eBPF listing with source lines and relocations. `npx vitest run -u` regenerates
// them; review the diff like code (instruction count changes show up here first).
import { expect, it, describe } from "vitest";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { formatListing } from "../../compiler/bpf/disasm.ts";
import { LineMap } from "../../compiler/diagnostics/span.ts";
import { build } from "./harness.ts";
import { EXAMPLE_FILTERS } from "../support/filters.ts";

const repo = resolve(import.meta.dirname, "../..");

describe("backend golden output", () => {
  for (const name of EXAMPLE_FILTERS) {
    it(name, async () => {
      const file = `filters/${name}.ts`;
      const source = readFileSync(resolve(repo, file), "utf8");
      const built = build(source, file);
      const lines = new LineMap(source);
      for (const p of built.programs) {
        await expect(p.ir).toMatchFileSnapshot(`__snapshots__/${name}.${p.name}.ir.txt`);
        const src = new Map(
          p.emitted.lines.map((l) => {
            const lc = lines.lineCol(l.span.start);
            return [l.slot, `${file}:${lc.line}: ${lines.lineText(lc.line).trim()}`] as const;
          }),
        );
        const relocations = new Map(
          p.emitted.relocations.map(
            (r) => [r.slot, { type: "R_BPF_64_64", symbol: r.symbol }] as const,
          ),
        );
        const listing = formatListing(p.emitted.insns, {
          symbols: new Map([[0, p.name]]),
          source: src,
          relocations,
        });
        await expect(
          `${p.emitted.insns.length} instructions\n${listing.join("\n")}\n`,
        ).toMatchFileSnapshot(`__snapshots__/${name}.${p.name}.bpf.txt`);
      }
    });
  }
});
