import { describe, expect, it } from "vitest";
import { DiagnosticBag } from "../../compiler/diagnostics/diagnostic.ts";
import { lex, T } from "../../compiler/syntax/lexer.ts";
import { classifyNumber, decodeString } from "../../compiler/syntax/literals.ts";

function images(src: string): string[] {
  return lex(src, new DiagnosticBag("l.ts"))
    .filter((t) => t.t !== T.EOF)
    .map((t) => t.image);
}

describe("lexer", () => {
  it("splits punctuators longest first, `>` always alone", () => {
    expect(images("a===b!==c>>>=d=>e...f**g?.h")).toEqual([
      "a",
      "===",
      "b",
      "!==",
      "c",
      ">",
      ">",
      ">",
      "=",
      "d",
      "=>",
      "e",
      "...",
      "f",
      "**",
      "g",
      "?.",
      "h",
    ]);
    expect(images("Map<K, FixedArray<u8, 4>>")).toEqual([
      "Map",
      "<",
      "K",
      ",",
      "FixedArray",
      "<",
      "u8",
      ",",
      "4",
      ">",
      ">",
    ]);
    expect(images("a?.5:1")).toEqual(["a", "?", ".5", ":", "1"]);
  });

  it("skips comments and records line breaks before tokens", () => {
    const toks = lex("a // x\n/* y\n */ b /* z */ c", new DiagnosticBag("l.ts"));
    expect(toks.map((t) => [t.image, t.nl])).toEqual([
      ["a", false],
      ["b", true],
      ["c", false],
      ["", false],
    ]);
  });

  it("tells regular expressions from division by the previous token", () => {
    expect(images("a / b / c")).toEqual(["a", "/", "b", "/", "c"]);
    expect(images("x = /a[/]b/gi.test(y)")).toEqual([
      "x",
      "=",
      "/a[/]b/gi",
      ".",
      "test",
      "(",
      "y",
      ")",
    ]);
    expect(images("return /re/")).toEqual(["return", "/re/"]);
    expect(images("(a) / 2")).toEqual(["(", "a", ")", "/", "2"]);
  });

  it("reads template literals with nested substitutions as one token", () => {
    expect(images("`a${ {b: `c${d}`}.b }e` + 1")).toEqual(["`a${ {b: `c${d}`}.b }e`", "+", "1"]);
  });

  it("numbers: greedy so that invalid literals are one token; exponent only after decimals", () => {
    expect(images("0xe+1")).toEqual(["0xe", "+", "1"]);
    expect(images("1e+5 1.5e-3 12abc 1_000n .5 1..x")).toEqual([
      "1e+5",
      "1.5e-3",
      "12abc",
      "1_000n",
      ".5",
      "1.",
      ".",
      "x",
    ]);
  });

  it("reports invalid characters, unterminated strings, templates and comments", () => {
    const bag = new DiagnosticBag("l.ts");
    const src = "a ∑∑ b 'open\n`tpl /* c";
    lex(src, bag);
    expect(
      [...bag.items]
        .sort((a, b) => a.span.start - b.span.start)
        .map((d) => [d.code, src.slice(d.span.start, d.span.start + d.span.length)]),
    ).toEqual([
      [1003, "∑∑"],
      [1002, "'open"],
      [1006, "`tpl /* c"],
    ]);
    const bag2 = new DiagnosticBag("l.ts");
    lex("x /* never closed", bag2);
    expect(bag2.items.map((d) => d.code)).toEqual([1005]);
  });
});

describe("literals", () => {
  it("classifies numbers", () => {
    expect(classifyNumber("0x_1")).toEqual({ kind: "invalid" });
    expect(classifyNumber("0XFF")).toEqual({ kind: "int", value: 255n });
    expect(classifyNumber("0B1_1")).toEqual({ kind: "int", value: 3n });
    expect(classifyNumber("0o1_7")).toEqual({ kind: "int", value: 15n });
    expect(classifyNumber("0")).toEqual({ kind: "int", value: 0n });
    expect(classifyNumber("1_000_000")).toEqual({ kind: "int", value: 1000000n });
    expect(classifyNumber("1.")).toEqual({ kind: "float" });
    expect(classifyNumber(".5")).toEqual({ kind: "float" });
    expect(classifyNumber("1e10")).toEqual({ kind: "float" });
    expect(classifyNumber("0x10n")).toEqual({ kind: "bigint" });
    expect(classifyNumber("10n")).toEqual({ kind: "bigint" });
    expect(classifyNumber("1.5n")).toEqual({ kind: "invalid" });
    expect(classifyNumber("1__2")).toEqual({ kind: "invalid" });
    expect(classifyNumber("09")).toEqual({ kind: "invalid" });
  });

  it("decodes escapes, line continuations and malformed escapes", () => {
    expect(decodeString(String.raw`"a\x41\u00e9\u{1F600}\0\r\n\v\f\b"`)).toBe(
      "aAé\u{1F600}\0\r\n\v\f\b",
    );
    expect(decodeString('"a\\\nb"')).toBe("ab");
    expect(decodeString(String.raw`"\q\xZZ"`)).toBe("qxZZ");
    expect(decodeString(`"unterminated`)).toBe("unterminated");
  });
});
