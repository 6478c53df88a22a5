// Rules LANGUAGE.md makes compile errors: each variant gives exactly one diagnostic, on
// the offending line, spanning the offending construct.
import { describe, expect, it } from "vitest";
import { diagnose } from "./harness.ts";

const HEAD = `import type { XdpContext, XdpAction, u8, u16, u32, u64, i32, FixedArray } from "xdpc";
import { XDP_PASS, XDP_DROP, ArrayMap, HashMap, DevMap } from "xdpc";
interface S { a: u32; arr: FixedArray<u8, 4> }
const counts = new ArrayMap<u64>({ maxEntries: 4 });
const recs = new HashMap<u32, S>({ maxEntries: 4 });
const devs = new DevMap({ maxEntries: 4 });
`;
const HEAD_LINES = HEAD.split("\n").length - 1;

/** A program whose body is `body`; the offending line is the one holding `span`. */
function inBody(body: string): string {
  return `${HEAD}export function f(ctx: XdpContext): XdpAction {
  const ip = ctx.ipv4();
  if (ip === null) return XDP_PASS;
  ${body}
  return XDP_PASS;
}
`;
}

// [name, source, expected span text, line (1-based) or undefined for "the line holding the span"]
const bodyCases: [string, string, string][] = [
  ["narrowing without a cast", "const x: u16 = ip.src;", "ip.src"],
  ["a literal that does not fit", "const b: u8 = 256;", "256"],
  ["-1 does not fit u32", "const n: u32 = -1;", "-1"],
  ["mixing signed and unsigned", "const s = ip.ttl as i32; const m = s + ip.src;", "s + ip.src"],
  ["a float literal", "const f = 1.5;", "1.5"],
  ["a string outside trace/param", 'const s = "x";', '"x"'],
  ["an array literal", "const a = [1, 2];", "[1, 2]"],
  ["an arrow function", "const g = (x: u32) => x;", "(x: u32) => x"],
  ["any", "let a: any = 0;", "any"],
  ["a while loop", "while (ip.ttl > 0) { ip.ttl = ip.ttl - 1; }", "while"],
  ["a loop without a constant bound", "for (let i = 0; i < ip.ttl; i++) {}", "ip.ttl"],
  ["a constant index out of range", "const r = recs.lookup(1); if (r !== null) r.arr[4] = 1;", "4"],
  ["an un-narrowed nullable", "const u = ctx.udp(); const p = u.dstPort;", "u.dstPort"],
  ["a view used after adjustHead", "ctx.adjustHead(4); ip.ttl = 1;", "ip"],
  ["increment on a struct-valued map", "recs.increment(1);", "recs.increment(1)"],
  ["update on a DevMap", "devs.update(0, 1);", "update"],
  ["try/throw", "try { } catch { }", "try"],
  ["a class expression", "const k = class {};", "class {}"],
  ["a function expression (closure)", "const k = function (): u32 { return 1; };", "function"],
  ["throw", "throw 1;", "throw"],
  ["unknown", "let a: unknown = 0;", "unknown"],
  ["a verdict constant out of range", "if (ip.ttl === 1) return 7;", "7"],
  ["a const reassigned", "const q: u32 = 1; q = 2;", "q = 2"],
  ["a read-only header field written", "ip.version = 6;", "ip.version"],
  ["a struct literal missing a field", "recs.update(1, { a: 1 });", "{ a: 1 }"],
  ["optional chaining", "const t = ctx.tcp()?.dstPort;", "?."],
  ["a for loop assigning its counter", "for (let i = 0; i < 4; i++) { i = 2; }", "i = 2"],
  ["non-null assertion", "const u = ctx.udp()!;", "ctx.udp()!"],
  ["switch fall-through", "switch (ip.ttl) { case 1: ip.ttl = 2; case 2: break; }", "case 1:"],
];

const topCases: [string, string, string][] = [
  ["a class", "class C {}", "class C {}"],
  ["recursion", "function r(n: u32): u32 { return r(n); }", "r(n)"],
  ["an import from another module", 'import { x } from "other";', '"other"'],
  [
    "an XskMap handler that does not exist",
    "const s = new XskMap({ maxEntries: 4, handler: nope });",
    "nope",
  ],
  [
    "a default export",
    "export default function g(ctx: XdpContext): XdpAction { return XDP_PASS; }",
    "export default",
  ],
  ["async", "async function a(): Promise<void> {}", "async"],
  ["a generator", "function* gen(): Generator<u32> { yield 1; }", "function*"],
  [
    "mutual recursion",
    "function a1(n: u32): u32 { return b1(n); } function b1(n: u32): u32 { return a1(n); }",
    "a1(n); }",
  ],
  ["a map declared with let", "let m2 = new ArrayMap<u32>({ maxEntries: 1 });", "new"],
  ["a plain (non-const) enum", "enum E { A }", "enum"],
];

/** Exactly-located: some diagnostic starts where `span` starts on line `line`. */
function check(source: string, line: number, span: string) {
  const ds = diagnose(source);
  const col = source.split("\n")[line - 1]!.indexOf(span) + 1;
  expect(col, `span ${span} on line ${line}`).toBeGreaterThan(0);
  expect(
    ds.map((d) => [d.line, d.col]),
    JSON.stringify(ds),
  ).toContainEqual([line, col]);
  return ds;
}

describe("invalid filters are one diagnostic at the construct", () => {
  for (const [name, body, span] of bodyCases)
    it(name, () => {
      const ds = check(inBody(body), HEAD_LINES + 4, span);
      expect(ds.length, JSON.stringify(ds)).toBe(1);
    });
  for (const [name, item, span] of topCases)
    it(name, () => {
      const src = `${HEAD.replace("DevMap }", "DevMap, XskMap }")}${item}
export function f(ctx: XdpContext): XdpAction { return XDP_PASS; }
`;
      check(src, HEAD_LINES + 1, span);
    });
  it("keeps HEAD valid", () => {
    expect(HEAD_LINES).toBe(6);
    expect(diagnose(inBody("ip.ttl = ip.ttl - 1;"))).toEqual([]);
  });
});
