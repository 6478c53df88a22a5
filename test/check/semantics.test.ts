// What the checker records for the backend: types, conversions, folded constants,
// call and member targets, loop bounds, narrowing and flow rules.
import { describe, expect, it } from "vitest";
import type * as ast from "../../compiler/ast/nodes.ts";
import { walk } from "../../compiler/check/walk.ts";
import { typeToString } from "../../compiler/check/types.ts";
import { checkOk, checkSource, codes, inProgram, prelude, type Checked } from "./helpers.ts";

/** The first node of a kind whose source text is `text`. */
function find<K extends ast.Node["kind"]>(
  r: Checked,
  kind: K,
  text: string,
): Extract<ast.Node, { kind: K }> {
  let found: ast.Node | undefined;
  walk(r.program, (n) => {
    if (
      !found &&
      n.kind === kind &&
      r.source.slice(n.span.start, n.span.start + n.span.length) === text
    )
      found = n;
  });
  if (!found) throw new Error(`no ${kind} '${text}'`);
  return found as Extract<ast.Node, { kind: K }>;
}
const typeOf = (r: Checked, e: ast.Expr) => typeToString(r.module.types.get(e)!);

describe("integer typing", () => {
  it("bare literals are u32, u64 when they do not fit; a for counter takes its bound's type", () => {
    const r = checkOk(
      inProgram(
        "  const a = 5;\n  const b = 0x1_0000_0000;\n  const c = -1;\n  for (let i = 0; i < N; i++) {}",
        "const N: u8 = 4;",
      ),
    );
    const local = (n: string) => [...r.module.locals.values()].find((s) => s.name === n)!;
    expect(typeToString(local("a").type)).toBe("u32");
    expect(typeToString(local("b").type)).toBe("u64");
    expect(typeToString(local("c").type)).toBe("i32");
    expect(typeToString(local("i").type)).toBe("u8");
  });

  it("promotes narrow operands to 32 bits and truncates narrow arithmetic on store", () => {
    const r = checkOk(
      inProgram(
        "  const ip = ctx.ipv4();\n  if (ip === null) return XDP_PASS;\n  ip.ttl = ip.ttl - 1;\n  let s: u32 = ip.checksum + 0x0100;",
      ),
    );
    const sub = find(r, "Binary", "ip.ttl - 1");
    expect(typeOf(r, sub)).toBe("u32");
    expect(r.module.conversions.get(sub.left)).toMatchObject({
      kind: "widen",
      to: { name: "u32" },
    });
    expect(r.module.conversions.get(sub.right)).toMatchObject({
      kind: "literal",
      to: { name: "u32" },
    });
    expect(r.module.conversions.get(sub)).toMatchObject({
      kind: "truncate",
      from: { name: "u32" },
      to: { name: "u8" },
    });
    expect(typeOf(r, find(r, "Binary", "ip.checksum + 0x0100"))).toBe("u32");
  });

  it("64-bit operands make the operation 64-bit; literals adapt to the other side", () => {
    const r = checkOk(
      inProgram("  const t = ktimeNs();\n  const x = t & 0xff;\n  const y = ctx.len + t;"),
    );
    expect(typeOf(r, find(r, "Binary", "t & 0xff"))).toBe("u64");
    const y = find(r, "Binary", "ctx.len + t");
    expect(typeOf(r, y)).toBe("u64");
    expect(r.module.conversions.get(y.left)).toMatchObject({ kind: "widen", to: { name: "u64" } });
  });

  it("rejects implicit narrowing, mixed signedness and constants that do not fit", () => {
    expect(codes(inProgram("  const x: u16 = ctx.len;"))).toEqual([2014]);
    expect(codes(inProgram("  let a: i32 = 1;\n  const b = a + ctx.len;"))).toEqual([2016]);
    expect(codes(inProgram("  const x: u8 = 256;"))).toEqual([2015]);
    expect(codes(inProgram("  const x = ctx.len > -1;"))).toEqual([2015]);
    // Narrow arithmetic with a wider operand is still narrowing.
    expect(codes(inProgram("  let a: u8 = 1;\n  a = a + ctx.len;"))).toEqual([2014]);
    // Widening is implicit, including unsigned into a wider signed type.
    checkOk(
      inProgram(
        "  let a: u8 = 1;\n  const b: u64 = a;\n  const c: i64 = ctx.len;\n  const d: i16 = a;",
      ),
    );
  });

  it("folds constants exactly, then wraps in a typed context; x / 0 is 0", () => {
    const r = checkOk(
      inProgram(
        "",
        "const A = 1 << 4;\nconst B = A * 2 + 1;\nconst C = 5 / 0;\nconst D: u8 = 0xff;\nconst E = (D + 1) as u8;\nconst F = ~0 as u16;\nconst enum K { X = 3, Y, Z = K.X * 10 }",
      ),
    );
    const v = Object.fromEntries(r.module.consts.map((c) => [c.name, c.value]));
    expect(v).toEqual({
      A: 16n,
      B: 33n,
      C: 0n,
      D: 255n,
      E: 0n,
      F: 0xffffn,
      "K.X": 3n,
      "K.Y": 4n,
      "K.Z": 30n,
    });
  });

  it("explicit casts truncate; verdicts convert to integers, bool only through ?: (§3.5)", () => {
    const r = checkOk(
      inProgram(
        "  const a = ctx.len as u8;\n  const b = (true ? 1 : 0) as u32;\n  const c = XDP_DROP as u64;",
      ),
    );
    expect(typeOf(r, find(r, "As", "ctx.len as u8"))).toBe("u8");
    expect(r.module.constValues.get(find(r, "As", "XDP_DROP as u64"))).toBe(1n);
  });
});

describe("null narrowing", () => {
  it("narrows by early return, else branches, && and ||, and ?:", () => {
    checkOk(
      inProgram(`  const ip = ctx.ipv4();
  const udp = ctx.udp();
  if (ip === null || udp === null) return XDP_PASS;
  const a = ip.ttl + udp.srcPort;
  const t = ctx.tcp();
  if (t !== null && t.flags > 0) { t.window = 1; }
  const u = ctx.udp();
  if (u === null) { return XDP_DROP; } else { u.checksum = 0; }
  u.length = 8;
  const e = ctx.eth();
  const p: u16 = e !== null ? e.proto : 0;
  const w = ctx.ipv6();
  if (!(w === null)) w.hopLimit = 1;
  const v = ctx.vlan();
  if (v) v.vid = 2;`),
    );
  });

  it("does not narrow across branches that may fall through or after reassignment", () => {
    expect(
      codes(
        inProgram('  const ip = ctx.ipv4();\n  if (ip === null) { trace("x"); }\n  ip.ttl = 1;'),
      ),
    ).toEqual([2020]);
    expect(
      codes(
        inProgram(
          "  const a = ctx.ipv4();\n  const b = ctx.ipv4();\n  if (a !== null || b !== null) a.ttl = 1;",
        ),
      ),
    ).toEqual([2020]);
    expect(
      codes(
        inProgram(
          "  let a = ctx.ipv4();\n  if (a === null) return XDP_PASS;\n  for (let i = 0; i < 2; i++) { a.ttl = 1; a = ctx.ipv4(); }",
        ),
      ),
    ).toEqual([2020]);
  });

  it("records the null test as a comparison at the nullable type", () => {
    const r = checkOk(inProgram("  const ip = ctx.ipv4();\n  if (ip === null) return XDP_PASS;"));
    expect(typeToString(r.module.compareTypes.get(find(r, "Binary", "ip === null"))!)).toBe(
      "Ipv4Header | null",
    );
  });
});

describe("calls, members and maps", () => {
  const top =
    "interface K { a: u32; b: u16 }\ninterface V { n: u64; m: u32 }\nconst h = new HashMap<K, V>({ maxEntries: 16, pinned: true });\nconst c = new PerCpuArray<u64>({ maxEntries: 2 });";
  it("resolves accessors, header fields, map methods and struct fields", () => {
    const r = checkOk(
      inProgram(
        "  const ip = ctx.ipv4();\n  if (ip === null) return XDP_PASS;\n  const v = h.lookup({ a: ip.src, b: 1 });\n  if (v !== null) { v.n += 1; atomicAdd(v.m, 1); }\n  c.increment(1, 5);\n  const x = ctx.load16(12);",
        top,
      ),
    );
    expect(r.module.calls.get(find(r, "Call", "ctx.ipv4()"))).toEqual({
      kind: "header",
      header: "ipv4",
      on: "ctx",
      vlanTags: 2,
    });
    expect(r.module.calls.get(find(r, "Call", "ctx.load16(12)"))).toEqual({
      kind: "load",
      width: 2,
      on: "ctx",
    });
    const lookup = r.module.calls.get(find(r, "Call", "h.lookup({ a: ip.src, b: 1 })"));
    expect(lookup).toMatchObject({
      kind: "map",
      method: "lookup",
      map: { name: "h", keySize: 8, valueSize: 16, pinned: true, bpfType: 1 },
    });
    expect(r.module.members.get(find(r, "Member", "ip.src"))).toMatchObject({
      kind: "headerField",
      field: { offset: 12, width: 4 },
    });
    expect(r.module.members.get(find(r, "Member", "v.m"))).toMatchObject({
      kind: "structField",
      field: { offset: 8, size: 4 },
    });
    expect(typeOf(r, find(r, "Call", "h.lookup({ a: ip.src, b: 1 })"))).toBe("V | null");
  });

  it("describes sub-byte header fields with shift and mask", () => {
    const r = checkOk(
      inProgram(
        "  const ip = ctx.ipv4();\n  if (ip === null) return XDP_PASS;\n  const f = ip.flags + ip.fragmentOffset + ip.ihl;",
      ),
    );
    expect(r.module.members.get(find(r, "Member", "ip.flags"))).toMatchObject({
      field: { offset: 6, width: 2, shift: 13, mask: 7n },
    });
    expect(r.module.members.get(find(r, "Member", "ip.ihl"))).toMatchObject({
      field: { offset: 0, width: 1, shift: 0, mask: 0xfn },
    });
  });

  it("records the call graph and rejects only real cycles", () => {
    const r = checkOk(
      inProgram(
        "  return g(1) > 0 ? XDP_DROP : XDP_PASS;",
        "function h(x: u32): u32 { return x + 1; }\nfunction g(x: u32): u32 { return h(x) + h(2); }",
      ),
    );
    const g = r.module.functions.find((f) => f.name === "g")!;
    expect(g.callees.map((f) => f.name)).toEqual(["h"]);
    expect(
      codes(
        prelude +
          "function a(): u32 { return b(); }\nfunction b(): u32 { return c(); }\nfunction c(): u32 { return a(); }",
      ),
    ).toEqual([3017]);
  });

  it("binds XskMap handlers and records map flags", () => {
    const r = checkOk(
      prelude +
        "interface P { prefixlen: u32; addr: u32 }\nconst t = new LpmTrie<P, u32>({ maxEntries: 8 });\nconst s = new XskMap({ maxEntries: 4, handler: h });\nexport function h(pkt: XskPacket): XskVerdict { return XSK_TX; }",
    );
    expect(r.module.maps.find((m) => m.name === "s")!.handler!.name).toBe("h");
    expect(r.module.maps.find((m) => m.name === "t")!.flags).toBe(1);
    expect(r.module.functions[0]!.kind).toBe("handler");
  });

  it("records params and globals", () => {
    const r = checkOk(
      prelude +
        'const port = param<u16>("port", 53);\nconst on = param<bool>("on", true);\nlet hits: u64 = 7;\nlet flag = false;',
    );
    expect(r.module.params.map((p) => [p.name, p.key, typeToString(p.type), p.default])).toEqual([
      ["port", "port", "u16", 53n],
      ["on", "on", "bool", 1n],
    ]);
    expect(r.module.globals.map((g) => [g.name, typeToString(g.type), g.init])).toEqual([
      ["hits", "u64", 7n],
      ["flag", "bool", 0n],
    ]);
  });
});

describe("loops, switches and packet views", () => {
  it("records loop bounds (exclusive end, step, trip count)", () => {
    const r = checkOk(
      inProgram("  let s: u32 = 0;\n  for (let i = 2; i <= 10; i += 3) { s += i; }"),
    );
    expect([...r.module.loops.values()][0]).toMatchObject({
      start: 2n,
      end: 11n,
      step: 3n,
      tripCount: 3,
    });
  });

  it("records case values and allows empty-case fall-through", () => {
    const r = checkOk(
      inProgram(
        "  switch (ctx.len) {\n    case 1:\n    case 2:\n      return XDP_DROP;\n    default:\n      break;\n  }",
      ),
    );
    expect([...r.module.caseValues.values()]).toEqual([1n, 2n]);
  });

  it("accepts views fetched again after adjustHead and rejects stale ones, also through helpers", () => {
    checkOk(
      inProgram(
        "  let e = ctx.eth();\n  if (!ctx.adjustHead(-4)) return XDP_DROP;\n  e = ctx.eth();\n  if (e === null) return XDP_DROP;\n  e.proto = 1;",
      ),
    );
    const helper = "function grow(ctx: XdpContext): bool { return ctx.adjustTail(4); }";
    expect(
      codes(
        inProgram(
          "  const e = ctx.eth();\n  if (e === null) return XDP_PASS;\n  grow(ctx);\n  e.proto = 1;",
          helper,
        ),
      ),
    ).toEqual([3020]);
    expect(
      codes(
        inProgram(
          "  const ip6 = ctx.ipv6();\n  if (ip6 === null) return XDP_PASS;\n  const a = ip6.src;\n  ctx.adjustHead(4);\n  const b = a[0];",
        ),
      ),
    ).toEqual([3020]);
  });

  it("requires a return on every path of a non-void function", () => {
    expect(
      codes(
        prelude + "function f(x: u32): u32 { switch (x) { case 1: return 1; default: return 2; } }",
      ),
    ).toEqual([]);
    expect(
      codes(prelude + "function f(x: u32): u32 { for (let i = 0; i < 2; i++) { return 1; } }"),
    ).toEqual([3019]);
    expect(
      codes(prelude + "function f(x: u32): u32 { if (x > 1) { return 1; } else { return 2; } }"),
    ).toEqual([]);
  });

  it("reports every error of a file in one run and never throws", () => {
    const r = checkSource(
      inProgram(
        "  const a: u8 = 300;\n  b = 1;\n  const c = ctx.ipv4();\n  c.ttl = 1;\n  for (;;) {}\n  x!;",
      ),
    );
    expect(r.diagnostics.map((d) => d.code)).toEqual([2015, 2001, 2020, 3015, 2021, 2001]);
  });
});
