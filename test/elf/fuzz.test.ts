import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { buildObject, readObject } from "../../compiler/elf/object.ts";
import { summarizeObject } from "../../compiler/elf/summary.ts";
import { callSpec, counterSpec, paramSpec } from "./programs.ts";

const seeds = [buildObject(counterSpec()), buildObject(paramSpec()), buildObject(callSpec())];

/** readObject on damaged input either succeeds or throws an Error; it never hangs or crashes otherwise. */
function readOrThrow(bytes: Uint8Array): void {
  try {
    summarizeObject(readObject(bytes));
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
  }
}

describe("readObject on corrupt input", () => {
  it("survives byte flips anywhere in the object", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: seeds.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        (which, flips) => {
          const b = seeds[which]!.slice();
          for (const [at, v] of flips) b[at % b.length] = v;
          readOrThrow(b);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("rejects a data symbol whose size overruns its section (found by this fuzzer: gigabyte allocation)", () => {
    const b = seeds[1]!.slice();
    for (const [at, v] of [
      [1326, 59],
      [1330, 201],
      [686, 186],
    ] as const)
      b[at] = v;
    const before = process.memoryUsage().heapUsed;
    readOrThrow(b);
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(50e6);
  });

  it("survives truncation at every length", () => {
    const b = seeds[0]!;
    for (let n = 0; n < b.length; n += 7) readOrThrow(b.subarray(0, n));
  });
});
