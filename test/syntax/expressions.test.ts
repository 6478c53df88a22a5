import { describe, expect, it } from "vitest";
import { expr, sexpr } from "./helpers.ts";

const cases: [string, string][] = [
  // arithmetic and associativity
  ["a + b * c", "(+ a (* b c))"],
  ["a * b + c", "(+ (* a b) c)"],
  ["a - b - c", "(- (- a b) c)"],
  ["a / b % c", "(% (/ a b) c)"],
  ["a << 1 + 2", "(<< a (+ 1 2))"],
  ["a >> b >>> c", "(>>> (>> a b) c)"],
  ["a < b == c > d", "(== (< a b) (> c d))"],
  ["a <= b !== c >= d", "(!== (<= a b) (>= c d))"],
  ["a & b ^ c | d", "(| (^ (& a b) c) d)"],
  ["a | b && c || d", "(|| (&& (| a b) c) d)"],
  ["a === b & c", "(& (=== a b) c)"],
  ["a || b && c", "(|| a (&& b c))"],
  // assignment is right-associative and lowest
  ["a = b = c", "(= a (= b c))"],
  ["a += b -= c", "(+= a (-= b c))"],
  ["a >>>= b | c", "(>>>= a (| b c))"],
  ["a >>= 2", "(>>= a 2)"],
  ["a <<= 2", "(<<= a 2)"],
  ["a &= b; ", "(&= a b)"],
  ["x.y[i] ^= 1", "(^= x.y[i] 1)"],
  // conditional
  ["a ? b : c ? d : e", "(? a b (? c d e))"],
  ["a || b ? c = 1 : d", "(? (|| a b) (= c 1) d)"],
  ["x = a ? b : c", "(= x (? a b c))"],
  // unary, update
  ["-a * b", "(* (- a) b)"],
  ["!a && ~b", "(&& (! a) (~ b))"],
  ["- -a", "(- (- a))"],
  ["+a", "(+ a)"],
  ["++a", "(++pre a)"],
  ["a--", "(--post a)"],
  ["-a++", "(- (++post a))"],
  ["!a.b[c]", "(! a.b[c])"],
  // as binds like a relational operator
  ["a + b as u16", "(as (+ a b) u16)"],
  ["x as u16 + 1", "(+ (as x u16) 1)"],
  ["a == b as u8", "(== a (as b u8))"],
  ["a < b as u8", "(as (< a b) u8)"],
  ["x as u32 as u8", "(as (as x u32) u8)"],
  ["(a + b) as u16", "(as [(+ a b)] u16)"],
  // postfix chains, calls, type arguments, non-null
  ["ctx.ipv4()", "(call ctx.ipv4)"],
  ["a.b.c(1, 2)[3]", "(call a.b.c 1 2)[3]"],
  ['param<u16>("port", 53)', '(call param<1> "port" 53)'],
  ["a < b", "(< a b)"],
  ["a < b > c", "(> (< a b) c)"],
  ["f<u8, u16>(x)", "(call f<2> x)"],
  ["x!.y", "(! x).y"],
  ["m.delete(k)", "(call m.delete k)"],
  ["new HashMap<K, V>({ maxEntries: 1024 })", "(new HashMap {maxEntries: 1024})"],
  ["new ArrayMap<FixedArray<u8, 4>>({ maxEntries: 1 })", "(new ArrayMap {maxEntries: 1})"],
  ["new X", "(new X)"],
  // literals
  ["0x1F + 0b1010 + 0o17 + 1_000", "(+ (+ (+ 0x1F 0b1010) 0o17) 1_000)"],
  ["true || false || null", "(|| (|| true false) null)"],
  ["'a\\n' ", '"a\\n"'],
  ["({ a, b: 2 })", "[{a: a, b: 2}]"],
  ["({})", "[{}]"],
  ["({ a: 1, })", "[{a: 1}]"],
];

describe("expression precedence and associativity", () => {
  for (const [src, want] of cases) {
    it(src, () => expect(sexpr(expr(src))).toBe(want));
  }
});

describe("literal values", () => {
  it("decodes integers exactly", () => {
    const e = expr("0xffff_ffff_ffff_ffff");
    expect(e.kind === "NumberLit" && e.value).toBe(0xffff_ffff_ffff_ffffn);
    const b = expr("0b1000_0000");
    expect(b.kind === "NumberLit" && b.value).toBe(128n);
    const o = expr("0o777");
    expect(o.kind === "NumberLit" && o.value).toBe(511n);
    const big = expr("18446744073709551616");
    expect(big.kind === "NumberLit" && big.value).toBe(18446744073709551616n);
  });
  it("decodes string escapes", () => {
    const e = expr(String.raw`"\x41\u0042\u{43}\t\\\"'"`);
    expect(e.kind === "StringLit" && e.value).toBe("ABC\t\\\"'");
    const s = expr(String.raw`'it\'s'`);
    expect(s.kind === "StringLit" && s.value).toBe("it's");
  });
  it("keeps shorthand properties as Names", () => {
    const e = expr("({ prefixlen: 32, addr })");
    expect(e.kind).toBe("Paren");
    const o = e.kind === "Paren" ? e.expr : e;
    expect(o.kind === "ObjectLit" && o.props[1]!.value).toMatchObject({
      kind: "Name",
      name: "addr",
    });
  });
});
