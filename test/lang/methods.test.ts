// §7 methods on every map kind, with every update flag, in the kernel.
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeKernel } from "../support/kernel.ts";
import type { XdpObject } from "../support/xdp.ts";
import { loadFixture, lookup, run, u32le } from "./harness.ts";

// Bits: NOEXIST insert, NOEXIST again, EXIST/ANY update, value read back, delete, delete again, gone.
const LIFE = 0b1011101;

describeKernel("§7 methods (fixture methods)", () => {
  let obj: XdpObject;
  beforeAll(() => {
    obj = loadFixture("methods");
  });
  afterAll(() => obj?.close());
  const out = (i: number) => new DataView(lookup(obj, "out", u32le(i))!.buffer).getUint32(0, true);

  it("follows the kernel's flag semantics on every map kind", () => {
    expect(run(obj, "methods", new Uint8Array(64)).retval).toBe(2);
    expect(out(0)).toBe(LIFE); // HashMap, struct value
    expect(out(1)).toBe(0b10); // EXIST on a missing key fails, ANY inserts
    expect(out(2)).toBe(LIFE); // PerCpuHash
    expect(out(3)).toBe(LIFE); // LruHash
    expect(out(4)).toBe(LIFE); // LruPerCpuHash, written through its view
    expect(out(5)).toBe(LIFE); // LpmTrie: longest prefix, then the shorter after delete
    // Arrays: NOEXIST fails, EXIST works, out of range fails, increment by 2, lookup
    // out of range is null, per-CPU view write, ANY works.
    expect(out(6)).toBe(0b1111010);
    expect(new DataView(lookup(obj, "arr", u32le(1))!.buffer).getUint32(0, true)).toBe(43);
  });
});
