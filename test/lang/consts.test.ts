// Named constants, enum members and verdict constants are untyped (§3.2, §3.7, §2.4);
// FibLookupParams' MACs verify on the stack and work in a map value (bugs found porting C
// programs and by the fuzzer), and the messages name the types the user wrote.
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/driver/index.ts";
import { describeKernel } from "../support/kernel.ts";
import { loadXdpObject } from "../support/xdp.ts";
import { build, diagnose, lookup, lookupU64, run, u32le } from "./harness.ts";

describeKernel("untyped constants and FibLookupParams (fixture consts)", () => {
  it("folds named constants exactly and takes XdpAction as u32", () => {
    const obj = loadXdpObject(build("consts"));
    try {
      const p = new Uint8Array(65); // len & 3 = 1: XDP_DROP
      expect(run(obj, "consts", p).retval).toBe(1);
      expect(run(obj, "consts", new Uint8Array(66)).retval).toBe(2);
      expect(lookupU64(obj, "out", u32le(0))).toBe(0x100000000n);
      expect(lookupU64(obj, "out", u32le(1))).toBe(BigInt.asUintN(64, -5n));
      expect(lookupU64(obj, "out", u32le(2))).toBe(BigInt.asUintN(64, -6n));
      expect(lookupU64(obj, "out", u32le(3))).toBe(BigInt.asUintN(64, -84n));
      expect(lookupU64(obj, "out", u32le(4))).toBe(4n);
      expect(lookupU64(obj, "out", u32le(5))).toBe(BigInt.asUintN(64, -3n));
    } finally {
      obj.close();
    }
  });

  it("reads and writes FibLookupParams.smac/dmac on the stack and in a map value", () => {
    const obj = loadXdpObject(build("consts"));
    try {
      expect(run(obj, "macs", new Uint8Array(64)).retval).toBe(2);
      expect(lookupU64(obj, "out", u32le(6))).toBe(0x0a0b0c0d0e0fn);
      expect(lookupU64(obj, "out", u32le(7))).toBe(0x112233445566n);
      const v = lookup(obj, "fibs", u32le(0))!;
      expect(Buffer.from(v.subarray(52, 64)).toString("hex")).toBe("0a0b0c0d0e10112233445566");
    } finally {
      obj.close();
    }
  });

  it("loads an object with maps and no program", () => {
    const out = compile(
      `import type { u32 } from "xdpc";\nimport { ArrayMap } from "xdpc";\nconst m = new ArrayMap<u32>({ maxEntries: 1 });\n`,
      { file: "maps.ts", emit: "object" },
    );
    expect(out.diagnostics).toEqual([]);
    const obj = loadXdpObject(out.object!);
    try {
      expect(obj.object.mapNames()).toContain("m");
    } finally {
      obj.close();
    }
  });
});

const HEAD = `import type { XdpContext, XdpAction, u8, u32, i32 } from "xdpc";
import { XDP_PASS, XDP_TX } from "xdpc";
`;
const prog = (body: string) =>
  `${HEAD}export function f(ctx: XdpContext): XdpAction {\n  ${body}\n  return XDP_PASS;\n}\n`;
const messages = (src: string) =>
  compile(src, { file: "m.ts", emit: "check" }).diagnostics.map((d) => d.message);

describe("constant and verdict diagnostics", () => {
  it("accepts what tsc accepts about verdicts and constants", () => {
    for (const body of [
      "const a: XdpAction = XDP_PASS; if (a >= 4) return XDP_TX;",
      "const r: u32 = ctx.len & 3; return r;",
      "const M = XDP_TX + 1; if (ctx.len === M) return XDP_TX;",
      "const N = 28; const n: i32 = -N; const m: i32 = 0 - N; if (n < m) return XDP_TX;",
    ])
      expect(diagnose(prog(body)), body).toEqual([]);
    const top = prog("if (ctx.len === P) return XDP_TX;").replace(
      "export",
      "const M = XDP_TX + 1;\nconst N = -28;\nconst P = M - N;\nexport",
    );
    expect(diagnose(top)).toEqual([]);
  });

  it("names the declared type of a typed constant, not an adapted one", () => {
    const m = messages(
      prog("const a: i32 = -1; const b: u32 = ctx.len; if (a < b) return XDP_TX;"),
    );
    expect(m).toEqual([expect.stringContaining("i32 and u32")]);
  });

  it("says 'may be null' for an un-narrowed nullable operand", () => {
    const m = messages(prog("const l = ctx.load8(0); if (l < 3) return XDP_TX;"));
    expect(m).toEqual([expect.stringContaining("may be null")]);
    expect(messages(prog("const l = ctx.load8(0); const x = -l;"))).toEqual([
      expect.stringContaining("may be null"),
    ]);
  });

  it("reports an invalid constant once, without 'cannot find name' after it", () => {
    const src = prog("if (ctx.len === Q) return XDP_TX;").replace(
      "export",
      "const Q = 1 << 64;\nexport",
    );
    expect(messages(src)).toEqual([expect.stringContaining("shift count")]);
  });
});
