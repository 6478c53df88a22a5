// Compiler bugs found by the language fixtures, each pinned by the smallest filter.
import { afterEach, expect, it } from "vitest";
import { describeKernel } from "../support/kernel.ts";
import type { XdpObject } from "../support/xdp.ts";
import { diagnose, loadSource, lookup, lookupU64, run, u32le } from "./harness.ts";

let open: XdpObject[] = [];
afterEach(() => {
  for (const o of open) o.close();
  open = [];
});

/** Runs `body` (statements over `v: u16|u32` narrowed from a checked load) and returns out[0]. */
function result(load: "load16" | "load32", body: string, pkt: number[]): bigint | null {
  const o = loadSource(`import type { XdpContext, XdpAction, u8, u16, u32, u64 } from "xdpc";
import { XDP_PASS, ArrayMap } from "xdpc";
const out = new ArrayMap<u64>({ maxEntries: 1 });
export function f(ctx: XdpContext): XdpAction {
  const v = ctx.${load}(0);
  if (v === null) return XDP_PASS;
  ${body}
  return XDP_PASS;
}`);
  open.push(o);
  const p = new Uint8Array(64);
  p.set(pkt);
  expect(run(o, "f", p).retval).toBe(2);
  return lookupU64(o, "out", u32le(0));
}

describeKernel("lowering regressions", () => {
  it("`as` truncates a narrowed nullable", () => {
    expect(result("load32", "out.update(0, v as u16);", [0x12, 0x34, 0x56, 0x78])).toBe(0x5678n);
    expect(result("load32", "out.update(0, v as u8);", [0x12, 0x34, 0x56, 0x78])).toBe(0x78n);
  });

  it("an integer assigned to a nullable local makes it present with that value (was dropped)", () => {
    // `let p = ctx.loadN(…)` infers u16 | null; tsc accepts `p = x` and `p = 5` after it.
    const body =
      "let p = ctx.load16(100);\n  const z: u16 = 0x1234;\n  p = z;\n  let q = ctx.load8(100);\n  q = 9;\n  let r = ctx.load8(0);\n  r = null;\n  out.update(0, ((p === null ? 1 : p) << 16) | ((q === null ? 1 : q) << 8) | (r === null ? 7 : r));";
    expect(result("load16", body, [0xab, 0xcd])).toBe(0x12340907n);
  });

  it("a local initialised from a narrowed nullable can be reassigned", () => {
    const body = "let t: u32 = v;\n  t = t + 5;\n  t++;\n  out.update(0, t);";
    expect(result("load32", body, [0, 0, 1, 0])).toBe(0x106n);
  });

  it("compound assignment wraps at the target's width", () => {
    const body =
      "let z: u8 = v as u8;\n  z += 10;\n  let h: u16 = v;\n  h -= 0x100;\n  out.update(0, (h << 8) | z);";
    expect(result("load16", body, [0x00, 0xfa])).toBe(0xfffa04n);
  });

  it("a ?: arm constant wider than the other arm widens to the promoted type", () => {
    const body = "const c = v as u8;\n  out.update(0, c > 1 ? 0x100 : c);";
    expect(result("load16", body, [0, 5])).toBe(0x100n);
    expect(result("load16", body, [0, 1])).toBe(1n);
    const narrow = "const c = v as u8;\n  const w: u8 = c > 1 ? 7 : c;\n  out.update(0, w);";
    expect(result("load16", narrow, [0, 1])).toBe(1n);
  });

  it("const enum initializers name earlier members bare, as in TypeScript", () => {
    const o = loadSource(`import type { XdpContext, XdpAction, u64 } from "xdpc";
import { XDP_PASS, ArrayMap } from "xdpc";
const enum E { A = 3, B, C = A << 2, D = B | C }
const out = new ArrayMap<u64>({ maxEntries: 1 });
export function f(ctx: XdpContext): XdpAction {
  out.update(0, E.D);
  return XDP_PASS;
}`);
    open.push(o);
    run(o, "f", new Uint8Array(64));
    expect(lookupU64(o, "out", u32le(0))).toBe(BigInt(4 | 12));
  });

  it("map calls reuse their key/value stack slots (40 updates fit the 512-byte frame)", () => {
    const calls = Array.from({ length: 40 }, (_, i) => `out.update(${i}, v + ${i});`).join("\n  ");
    const o = loadSource(`import type { XdpContext, XdpAction, u64 } from "xdpc";
import { XDP_PASS, ArrayMap } from "xdpc";
const out = new ArrayMap<u64>({ maxEntries: 40 });
export function f(ctx: XdpContext): XdpAction {
  const v: u64 = ctx.len;
  ${calls}
  return XDP_PASS;
}`);
    open.push(o);
    run(o, "f", new Uint8Array(64));
    expect(lookupU64(o, "out", u32le(0))).toBe(64n);
    expect(lookupU64(o, "out", u32le(39))).toBe(64n + 39n);
  });

  it("for loops count down with > / >= and i-- / i -= c (unrolled and bounded)", () => {
    const body = `let s: u32 = 0;
  for (let k = 100; k > 0; k--) s += k;
  for (let k = 8; k >= 1; k -= 4) s = s * 10 + k;
  out.update(0, s);`;
    // 5050, then 8 and 4 appended as digits
    expect(result("load16", body, [0, 0])).toBe(BigInt((5050 * 10 + 8) * 10 + 4));
    const bad = diagnose(`import type { XdpContext, XdpAction } from "xdpc";
import { XDP_PASS } from "xdpc";
export function f(ctx: XdpContext): XdpAction {
  for (let k = 3; k >= 0; k--) {}
  return XDP_PASS;
}`);
    expect(bad.map((d) => [d.code, d.line, d.text])).toEqual([[3034, 4, "k >= 0"]]);
  });

  it("an integer condition tests for non-zero (as TypeScript would)", () => {
    const body = `let r: u32 = 0;
  if (v & 2) r += 1;
  if (!(v & 4)) r += 10;
  r += v & 8 ? 100 : 0;
  if ((v & 1) && v) r += 1000;
  out.update(0, r);`;
    expect(result("load16", body, [0, 0b1011])).toBe(1111n);
    expect(result("load16", body, [0, 0b0100])).toBe(0n);
  });

  it("a variable index into a FixedArray of structs: in range a view, out of range 0 / no write", () => {
    const o =
      loadSource(`import type { XdpContext, XdpAction, u8, u32, u64, FixedArray } from "xdpc";
import { XDP_PASS, ArrayMap } from "xdpc";
interface P { x: u32; y: u8 }
interface Poly { pts: FixedArray<P, 3> }
const polys = new ArrayMap<Poly>({ maxEntries: 1 });
const out = new ArrayMap<u64>({ maxEntries: 1 });
export function f(ctx: XdpContext): XdpAction {
  const p = polys.lookup(0);
  const i = ctx.load8(0);
  if (p === null || i === null) return XDP_PASS;
  p.pts[i].y = 7;
  p.pts[i].x += 5;
  out.update(0, p.pts[i].x);
  return XDP_PASS;
}`);
    open.push(o);
    const pkt = new Uint8Array(64);
    for (const i of [1, 1, 3]) {
      pkt[0] = i;
      run(o, "f", pkt);
    }
    const v = lookup(o, "polys", u32le(0))!;
    expect([...v]).toEqual([
      0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    expect(lookupU64(o, "out", u32le(0))).toBe(0n); // index 3: reads 0
  });
});
