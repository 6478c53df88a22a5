// §3 arithmetic in the kernel: every result stored in a map and compared with the rules.
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeKernel } from "../support/kernel.ts";
import type { XdpObject } from "../support/xdp.ts";
import { loadFixture, lookupI64, lookupU64, run, u32le } from "./harness.ts";

describeKernel("§3 arithmetic (fixture arith)", () => {
  let obj: XdpObject;
  beforeAll(() => {
    obj = loadFixture("arith");
  });
  afterAll(() => obj?.close());

  it("computes every §3 rule as specified", () => {
    // a = 0xfffffff9, b = 0, shift = 33, x = 0xf9, w = 0xff80
    const pkt = new Uint8Array(64);
    pkt.set([0xff, 0xff, 0xff, 0xf9, 0, 0, 0, 0, 33, 0xf9, 0xff, 0x80]);
    expect(run(obj, "arith", pkt).retval).toBe(2);
    const u = (i: number) => lookupU64(obj, "uo", u32le(i));
    const s = (i: number) => lookupI64(obj, "so", u32le(i));
    const a = 0xfffffff9n;
    expect(u(0)).toBe(0n);
    expect(u(1)).toBe(a);
    expect(u(2)).toBe((a << 1n) & 0xffffffffn);
    expect(u(3)).toBe(a >> 1n);
    expect(u(4)).toBe(255n + 10n + 1_000_000n);
    expect(u(5)).toBe(0xf8n);
    expect(u(6)).toBe(0xff80n + 0x100n);
    expect(u(7)).toBe(0x007fn);
    expect(u(8)).toBe(0xfff9n);
    expect(u(9)).toBe(a << 32n);
    expect(u(10)).toBe(7n);
    expect(u(11)).toBe(0xff81n);
    expect(u(12)).toBe(0xfan);
    expect(u(13)).toBe((a << 32n) >> 60n);
    expect(s(0)).toBe(-3n);
    expect(s(1)).toBe(-1n);
    expect(s(2)).toBe(-4n);
    expect(s(3)).toBe(a >> 1n);
    expect(s(4)).toBe(1n);
    expect(s(5)).toBe(-14n);
    expect(s(6)).toBe(-128n);
    expect(s(7)).toBe(-7000n);
    expect(s(8)).toBe(-2n);
    expect(s(9)).toBe(-4n);
  });

  it("wraps u8 at 8 bits and divides by non-zero", () => {
    const pkt = new Uint8Array(64);
    pkt.set([0, 0, 0, 100, 0, 0, 0, 7, 2, 0, 0xff, 0xff]);
    expect(run(obj, "arith", pkt).retval).toBe(2);
    const u = (i: number) => lookupU64(obj, "uo", u32le(i));
    expect(u(0)).toBe(14n);
    expect(u(1)).toBe(2n);
    expect(u(2)).toBe(400n);
    expect(u(5)).toBe(0xffn);
    expect(u(6)).toBe(0x100ffn);
    expect(u(11)).toBe(0n);
    expect(u(12)).toBe(1n);
  });
});
