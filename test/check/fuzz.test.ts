// The checker never throws on user input: mutated filters (slices deleted, swapped
// or duplicated) go through parse + check without an exception.
import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse } from "../../compiler/syntax/index.ts";
import { check } from "../../compiler/check/index.ts";

const dirs = [
  new URL("../../filters/", import.meta.url),
  new URL("./fixtures/valid/", import.meta.url),
  new URL("./fixtures/invalid/", import.meta.url),
];
const corpus = dirs.flatMap((d) =>
  readdirSync(d)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
    .map((f) => readFileSync(new URL(f, d), "utf8")),
);

const mutation = fc.record({
  doc: fc.nat(),
  at: fc.nat(),
  len: fc.integer({ min: 1, max: 40 }),
  op: fc.constantFrom("delete", "duplicate", "swap", "insert"),
  text: fc.constantFrom(
    "null",
    "!",
    "as u8",
    "(",
    ")",
    "{",
    "}",
    ";",
    "0",
    "-1",
    "x",
    "ctx",
    ".",
    "=",
    "return",
    "i++",
    "for",
    "const",
  ),
});

function mutate(src: string, m: { at: number; len: number; op: string; text: string }): string {
  const at = m.at % (src.length + 1);
  const end = Math.min(src.length, at + m.len);
  switch (m.op) {
    case "delete":
      return src.slice(0, at) + src.slice(end);
    case "duplicate":
      return src.slice(0, end) + src.slice(at, end) + src.slice(end);
    case "swap": {
      const other = (at * 7919) % (src.length + 1);
      return src.slice(0, at) + src.slice(other, other + m.len) + src.slice(end);
    }
    default:
      return src.slice(0, at) + ` ${m.text} ` + src.slice(at);
  }
}

describe("checker: robustness", () => {
  it("never throws on mutated filters", () => {
    expect(corpus.length).toBeGreaterThan(10);
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => {
        let src = corpus[ms[0]!.doc % corpus.length]!;
        for (const m of ms) src = mutate(src, m);
        const p = parse(src, "fuzz.ts");
        const r = check(p.program);
        for (const d of r.diagnostics) expect(d.span.start).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 1500, seed: 42 },
    );
  });
});
