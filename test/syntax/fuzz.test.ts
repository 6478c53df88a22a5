// The parser must never throw or hang, whatever the input, and always return a
// well-formed Program. Random token soups and mutations of valid filters.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { parse } from "../../compiler/syntax/index.ts";
import { checkWellFormed, filterSources, fixtureSources } from "./helpers.ts";

const VOCAB = [
  // keywords and contextual words
  "import",
  "export",
  "from",
  "type",
  "interface",
  "enum",
  "const",
  "let",
  "var",
  "function",
  "return",
  "if",
  "else",
  "for",
  "while",
  "do",
  "switch",
  "case",
  "default",
  "break",
  "continue",
  "new",
  "class",
  "as",
  "async",
  "await",
  "yield",
  "try",
  "catch",
  "throw",
  "typeof",
  "in",
  "of",
  "null",
  "true",
  "this",
  "declare",
  "namespace",
  "abstract",
  "readonly",
  "satisfies",
  "extends",
  "get",
  // names, literals
  "x",
  "ctx",
  "u32",
  "FixedArray",
  "HashMap",
  "param",
  "0",
  "42",
  "0x1F",
  "0b1_0",
  "1.5",
  "7n",
  "1e3",
  '"s"',
  "'t'",
  "`a${x}b`",
  "/re/g",
  '"open',
  "`open",
  // punctuation
  "{",
  "}",
  "(",
  ")",
  "[",
  "]",
  ";",
  ",",
  ".",
  "...",
  "?",
  "?.",
  ":",
  "=",
  "==",
  "===",
  "!==",
  "=>",
  "<",
  ">",
  ">>",
  ">>>=",
  "<=",
  "+",
  "-",
  "*",
  "**",
  "/",
  "%",
  "&",
  "|",
  "^",
  "!",
  "~",
  "++",
  "--",
  "&&",
  "||",
  "??",
  "+=",
  "@",
  "#",
  "\\",
  "∑",
  "/*",
  "*/",
  "//",
];
const SEP = [" ", "", "\n", "\t", " /* c */ ", "// c\n"];

function runOnce(src: string): void {
  // A hang shows as the test's own timeout; time is never asserted (the machine is shared).
  const r = parse(src, "fuzz.ts");
  checkWellFormed(r.program, src);
  expect(r.diagnostics.filter((d) => d.code === 1009)).toEqual([]);
  for (const d of r.diagnostics) {
    expect(d.span.start).toBeGreaterThanOrEqual(0);
    expect(d.span.start + d.span.length).toBeLessThanOrEqual(src.length);
  }
}

const tokenSoup = fc
  .array(fc.tuple(fc.constantFrom(...VOCAB), fc.constantFrom(...SEP)), { maxLength: 120 })
  .map((parts) => parts.map(([t, s]) => t + s).join(""));

describe("fuzz: parse never throws and returns a well-formed Program", () => {
  it("random token streams", () => {
    fc.assert(
      fc.property(tokenSoup, (src) => runOnce(src)),
      { numRuns: 1500 },
    );
  });

  it("random strings", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200, unit: "binary" }), (src) => runOnce(src)),
      { numRuns: 500 },
    );
  });

  const bases = [...fixtureSources(), ...filterSources()].map(([, s]) => s);

  // A mutation edits the source at a position: delete, insert, or duplicate a span of characters.
  const mutation = fc.oneof(
    fc.record({
      op: fc.constant("delete" as const),
      at: fc.nat(),
      len: fc.integer({ min: 1, max: 12 }),
    }),
    fc.record({
      op: fc.constant("insert" as const),
      at: fc.nat(),
      text: fc.constantFrom(...VOCAB, ...SEP),
    }),
    fc.record({
      op: fc.constant("duplicate" as const),
      at: fc.nat(),
      len: fc.integer({ min: 1, max: 40 }),
    }),
    fc.record({ op: fc.constant("swapTokens" as const), at: fc.nat(), len: fc.nat() }),
  );

  function mutate(
    src: string,
    ms: { op: string; at: number; len?: number; text?: string }[],
  ): string {
    let s = src;
    for (const m of ms) {
      const at = s.length === 0 ? 0 : m.at % s.length;
      if (m.op === "delete") s = s.slice(0, at) + s.slice(at + m.len!);
      else if (m.op === "insert") s = s.slice(0, at) + m.text! + s.slice(at);
      else if (m.op === "duplicate")
        s = s.slice(0, at + m.len!) + s.slice(at, at + m.len!) + s.slice(at + m.len!);
      else {
        // Swap two whitespace-separated tokens.
        const words = s.split(/(\s+)/);
        const i = (at % Math.max(1, words.length)) & ~1;
        const j = (m.len! % Math.max(1, words.length)) & ~1;
        [words[i], words[j]] = [words[j]!, words[i]!];
        s = words.join("");
      }
    }
    return s;
  }

  it("mutations of valid filters", () => {
    expect(bases.length).toBeGreaterThan(0);
    fc.assert(
      fc.property(
        fc.constantFrom(...bases),
        fc.array(mutation, { minLength: 1, maxLength: 8 }),
        (base, ms) => runOnce(mutate(base, ms)),
      ),
      { numRuns: 1500 },
    );
  });

  it("pathological nesting and lengths", () => {
    for (const src of [
      "(".repeat(20000),
      "function f() {" + "{".repeat(20000),
      "const x = " + "-".repeat(50000) + "1;",
      "const x = " + "a".repeat(100000) + ";",
      "type T = " + "FixedArray<".repeat(5000),
      "function f() { x = " + "a ? ".repeat(5000) + "b; }",
      "function f() { if (a) ".repeat(3000),
      "/*".repeat(1000),
      "`${".repeat(2000),
      "'".repeat(3001),
    ]) {
      runOnce(src);
    }
  });
});
