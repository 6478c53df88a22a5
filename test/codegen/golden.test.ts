// Golden output of the backend for every example filter: the optimised IR. The eBPF
// listing's golden is test/accept's `xdpc disasm` of the built object (one listing per
// filter); here the in-memory program is checked against it: its instructions,
// relocations and the line table the object is written from list exactly as the
// object's disassembly does (ELF, relocations and BTF line info read back).
// `npx vitest run -u` regenerates the IR; review the diff like code.
import { expect, it, describe } from "vitest";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { formatListing } from "../../compiler/bpf/disasm.ts";
import { readObject } from "../../compiler/elf/object.ts";
import { disassembleObject } from "../../runtime/cli/disasm.ts";
import { build } from "./harness.ts";
import { EXAMPLE_FILTERS } from "../support/filters.ts";

const repo = resolve(import.meta.dirname, "../..");

describe("backend golden output", () => {
  for (const name of EXAMPLE_FILTERS) {
    it(name, async () => {
      const file = `filters/${name}.ts`;
      const source = readFileSync(resolve(repo, file), "utf8");
      const built = build(source, file);
      const objectListing = disassembleObject(readObject(built.object), file);
      const listings: string[] = [];
      for (const p of built.programs) {
        await expect(p.ir).toMatchFileSnapshot(`__snapshots__/${name}.${p.name}.ir.txt`);
        const spec = built.spec!.programs.find((s) => s.name === p.name)!;
        const src = new Map(
          spec.lineInfo!.map(
            (l) => [l.insnIndex, `${l.file ?? file}:${l.line}: ${l.lineText.trim()}`] as const,
          ),
        );
        const relocations = new Map(
          p.emitted.relocations.map(
            (r) => [r.slot, { type: "R_BPF_64_64", symbol: r.symbol }] as const,
          ),
        );
        listings.push(
          "",
          ...formatListing(p.emitted.insns, {
            symbols: new Map([[0, p.name]]),
            source: src,
            relocations,
          }),
        );
      }
      expect(objectListing).toBe(`Disassembly of section xdp:\n${listings.join("\n")}\n`);
    });
  }
});
