// encode/decode: wire layout, lddw split, field validation, and a property round trip.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decode } from "../../compiler/bpf/decode.ts";
import { encode, InsnError } from "../../compiler/bpf/encode.ts";
import type { Insn } from "../../compiler/bpf/insn.ts";

const bytes = (s: string) =>
  Uint8Array.from(
    s
      .trim()
      .split(/\s+/)
      .map((b) => parseInt(b, 16)),
  );

describe("encode", () => {
  it("lays out one slot little-endian with dst in the low nibble", () => {
    expect(encode([{ code: 0x61, dst: 1, src: 10, off: -4, imm: 0x01020304 }])).toEqual(
      bytes("61 a1 fc ff 04 03 02 01"),
    );
  });

  it("splits lddw's 64-bit immediate over two slots", () => {
    const insn: Insn = { code: 0x18, dst: 0, src: 0, off: 0, imm: 0, imm64: 0x1122334455667788n };
    // The bytes of the conformance suite's lddw.data `-- raw` block.
    expect(encode([insn, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }])).toEqual(
      bytes("18 00 00 00 88 77 66 55 00 00 00 00 44 33 22 11 95 00 00 00 00 00 00 00"),
    );
  });

  it("takes lddw's value from imm when imm64 is absent, sign-extended", () => {
    expect(encode([{ code: 0x18, dst: 2, src: 1, off: 0, imm: -1 }])).toEqual(
      bytes("18 12 00 00 ff ff ff ff 00 00 00 00 ff ff ff ff"),
    );
  });

  it.each([
    [{ code: 0x100, dst: 0, src: 0, off: 0, imm: 0 }, /opcode/],
    [{ code: 0xb7, dst: 16, src: 0, off: 0, imm: 0 }, /dst/],
    [{ code: 0xb7, dst: 0, src: -1, off: 0, imm: 0 }, /src/],
    [{ code: 0xb7, dst: 0, src: 0, off: 0x8000, imm: 0 }, /offset/],
    [{ code: 0xb7, dst: 0, src: 0, off: 0, imm: 0x80000000 }, /imm/],
    [{ code: 0xb7, dst: 0, src: 0, off: 0, imm: 1.5 }, /imm/],
    [{ code: 0xb7, dst: 0, src: 0, off: 0, imm: 0, imm64: 1n }, /not lddw/],
    [{ code: 0x18, dst: 0, src: 0, off: 0, imm: 0, imm64: 1n << 64n }, /imm64/],
  ] as [Insn, RegExp][])("rejects an out-of-range field: %o", (insn, msg) => {
    expect(() => encode([insn])).toThrow(InsnError);
    expect(() => encode([insn])).toThrow(msg);
  });
});

describe("decode", () => {
  it("merges lddw and exposes the unsigned 64-bit value", () => {
    const [i] = decode(bytes("18 01 00 00 ff ff ff ff 00 00 00 00 ff ff ff ff"));
    expect(i).toEqual({ code: 0x18, dst: 1, src: 0, off: 0, imm: -1, imm64: 0xffffffffffffffffn });
  });

  it("rejects truncated input and a malformed lddw second slot", () => {
    expect(() => decode(bytes("b7 00 00 00"))).toThrow(InsnError);
    expect(() => decode(bytes("18 01 00 00 00 00 00 00"))).toThrow(/second slot/);
    expect(() => decode(bytes("18 01 00 00 00 00 00 00 95 00 00 00 00 00 00 00"))).toThrow(
      /second slot/,
    );
  });

  const insn = fc.oneof(
    fc.record({
      code: fc.integer({ min: 0, max: 255 }).filter((c) => c !== 0x18),
      dst: fc.integer({ min: 0, max: 15 }),
      src: fc.integer({ min: 0, max: 15 }),
      off: fc.integer({ min: -0x8000, max: 0x7fff }),
      imm: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
    }),
    fc
      .record({
        code: fc.constant(0x18),
        dst: fc.integer({ min: 0, max: 15 }),
        src: fc.integer({ min: 0, max: 15 }),
        off: fc.integer({ min: -0x8000, max: 0x7fff }),
        imm64: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      })
      .map((r) => ({ ...r, imm: Number(BigInt.asIntN(32, r.imm64)) })),
  );

  it("decode(encode(x)) == x for canonical instructions", () => {
    fc.assert(
      fc.property(fc.array(insn, { maxLength: 40 }), (xs: Insn[]) => {
        const b = encode(xs);
        expect(decode(b)).toEqual(xs);
        expect(encode(decode(b))).toEqual(b);
      }),
      { numRuns: 300 },
    );
  });
});
