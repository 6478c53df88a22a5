// Struct values in PerCpuHash and LpmTrie; LpmTrie prefixes that reach into a u16 field.
import { expect, it } from "vitest";
import { describeKernel } from "../support/kernel.ts";
import { loadFixture, lookup, lookupU64, run, u32le } from "./harness.ts";

describeKernel("struct values in per-CPU hashes and LPM tries (fixture values)", () => {
  it("writes through a per-CPU view and matches a 40-bit prefix over address and port", () => {
    const obj = loadFixture("values");
    try {
      expect(run(obj, "w", new Uint8Array(64)).retval).toBe(2);
      expect(lookupU64(obj, "out", u32le(0))).toBe(11n);
      expect(lookupU64(obj, "out", u32le(1))).toBe(5n);
      expect(lookupU64(obj, "out", u32le(2))).toBe(99n);
      // The key as stored: prefixlen, then net and port big-endian.
      const key = Uint8Array.of(40, 0, 0, 0, 0x0a, 0, 0, 0, 0x12, 0, 0, 0);
      const v = lookup(obj, "lt", key)!;
      expect(new DataView(v.buffer, v.byteOffset).getBigUint64(0, true)).toBe(5n);
    } finally {
      obj.close();
    }
  });
});
