// Token-level mutations of valid filters that mostly keep them well-typed, so that the
// whole front end *and* the backend see them (character-level noise rarely gets past
// the parser): literals, operators, verdicts, conditions, and whole lines.
import fc from "fast-check";

export type Mutation =
  | { kind: "literal"; nth: number; value: string }
  | { kind: "compare"; nth: number; op: string }
  | { kind: "arith"; nth: number; op: string }
  | { kind: "verdict"; nth: number; value: string }
  | { kind: "negate"; nth: number }
  | { kind: "dropLine"; nth: number }
  | { kind: "dupLine"; nth: number }
  | { kind: "swapLines"; nth: number };

const LITERALS = [
  "0",
  "1",
  "2",
  "7",
  "255",
  "256",
  "0xffff",
  "65536",
  "0xffffffff",
  "0x1_0000_0000",
  "64",
  "1500",
  "(0 - 1)",
];
const COMPARE = ["===", "!==", "<", "<=", ">", ">="];
const ARITH = ["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"];
const VERDICTS = ["XDP_PASS", "XDP_DROP", "XDP_TX", "XDP_ABORTED", "XDP_REDIRECT"];

export const arbMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant("literal" as const),
    nth: fc.nat(),
    value: fc.constantFrom(...LITERALS),
  }),
  fc.record({
    kind: fc.constant("compare" as const),
    nth: fc.nat(),
    op: fc.constantFrom(...COMPARE),
  }),
  fc.record({ kind: fc.constant("arith" as const), nth: fc.nat(), op: fc.constantFrom(...ARITH) }),
  fc.record({
    kind: fc.constant("verdict" as const),
    nth: fc.nat(),
    value: fc.constantFrom(...VERDICTS),
  }),
  fc.record({ kind: fc.constant("negate" as const), nth: fc.nat() }),
  fc.record({ kind: fc.constant("dropLine" as const), nth: fc.nat() }),
  fc.record({ kind: fc.constant("dupLine" as const), nth: fc.nat() }),
  fc.record({ kind: fc.constant("swapLines" as const), nth: fc.nat() }),
);

/** Replaces the (nth mod count)-th match of `re` in the code part of `src` (after the imports). */
function replaceNth(
  src: string,
  re: RegExp,
  nth: number,
  by: (m: RegExpExecArray) => string,
): string {
  const body = src.indexOf('from "xdpc";');
  const from = body < 0 ? 0 : body + 12;
  const ms = [...src.slice(from).matchAll(new RegExp(re.source, "g"))];
  if (!ms.length) return src;
  const m = ms[nth % ms.length]! as RegExpExecArray;
  const at = from + m.index;
  return src.slice(0, at) + by(m) + src.slice(at + m[0].length);
}

function lines(src: string, nth: number, f: (ls: string[], i: number) => void): string {
  const ls = src.split("\n");
  const code = ls
    .map((l, i) => [l, i] as const)
    .filter(([l]) => /;\s*$/.test(l) && !/^\s*import|from "xdpc"/.test(l));
  if (!code.length) return src;
  f(ls, code[nth % code.length]![1]);
  return ls.join("\n");
}

export function applyMutation(src: string, m: Mutation): string {
  switch (m.kind) {
    case "literal":
      return replaceNth(src, /(?<![\w.])(0x[0-9a-fA-F_]+|\d[\d_]*)(?![\w.])/, m.nth, () => m.value);
    case "compare":
      return replaceNth(
        src,
        /(===|!==|<=|>=|(?<![<=])<(?![<=])|(?<![>=])>(?![>=]))/,
        m.nth,
        () => m.op,
      );
    case "arith":
      return replaceNth(src, / (\+|-|\*|\/|%|&|\||\^|<<|>>) /, m.nth, () => ` ${m.op} `);
    case "verdict":
      return replaceNth(src, /\bXDP_(PASS|DROP|TX|ABORTED)\b/, m.nth, () => m.value);
    case "negate":
      return replaceNth(src, /\bif \(/, m.nth, () => "if (!");
    case "dropLine":
      return lines(src, m.nth, (ls, i) => void ls.splice(i, 1));
    case "dupLine":
      return lines(src, m.nth, (ls, i) => void ls.splice(i, 0, ls[i]!));
    case "swapLines":
      return lines(src, m.nth, (ls, i) => {
        const j = Math.min(ls.length - 1, i + 1);
        [ls[i], ls[j]] = [ls[j]!, ls[i]!];
      });
  }
}
