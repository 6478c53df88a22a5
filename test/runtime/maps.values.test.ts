// The key/value codec without a kernel: round trips over random C struct layouts,
// byte-exact encodings, addresses, CIDR keys and command-line parsing.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { alignOf, sizeOf, type MemberDesc, type TypeDesc } from "../../compiler/elf/types.ts";
import {
  ValueCodec,
  parseJson,
  stringifyJson,
  sumValues,
  bytesToIpv6,
  ipv6ToBytes,
  type JsValue,
} from "../../runtime/observe/values.ts";

const INT_BITS = [8, 16, 32, 64] as const;

/** A random type with C layout (natural alignment, tail padding), nesting bounded. */
function arbType(depth: number): fc.Arbitrary<TypeDesc> {
  const int = fc
    .record({ bits: fc.constantFrom(...INT_BITS), signed: fc.boolean() })
    .map((x): TypeDesc => ({ kind: "int", ...x }));
  const leaf = fc.oneof(int, int, fc.constant<TypeDesc>({ kind: "bool" }));
  if (depth === 0) return leaf;
  const sub = arbType(depth - 1);
  return fc.oneof(
    leaf,
    fc
      .record({ elem: sub, length: fc.integer({ min: 1, max: 4 }) })
      .map((x): TypeDesc => ({ kind: "array", ...x })),
    fc
      .array(fc.tuple(sub, fc.boolean()), { minLength: 1, maxLength: 5 })
      .map((ms) => layout(ms.map(([t]) => t))),
  );
}

function layout(types: TypeDesc[]): TypeDesc {
  let off = 0;
  const members: MemberDesc[] = types.map((t, i) => {
    off = Math.ceil(off / alignOf(t)) * alignOf(t);
    const m = { name: `f${i}`, type: t, offset: off };
    off += sizeOf(t);
    return m;
  });
  const align = Math.max(1, ...types.map(alignOf));
  return { kind: "struct", size: Math.ceil(off / align) * align, members };
}

/** A random JS value of a type, in the codec's output convention. */
function arbValue(t: TypeDesc): fc.Arbitrary<JsValue> {
  switch (t.kind) {
    case "int":
      if (t.bits === 64)
        return t.signed
          ? fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n })
          : fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
      return t.signed
        ? fc.integer({ min: -(2 ** (t.bits - 1)), max: 2 ** (t.bits - 1) - 1 })
        : fc.integer({ min: 0, max: 2 ** t.bits - 1 });
    case "bool":
      return fc.boolean();
    case "array":
      return fc.array(arbValue(t.elem), { minLength: t.length, maxLength: t.length });
    case "struct":
      return fc.record(Object.fromEntries(t.members.map((m) => [m.name, arbValue(m.type)])));
    default:
      throw new Error(`no values for ${t.kind}`);
  }
}

const typeAndValue = arbType(3).chain((t) => arbValue(t).map((v) => ({ t, v })));

describe("ValueCodec round trips", () => {
  it("decode(encode(v)) = v for random layouts and values", () => {
    fc.assert(
      fc.property(typeAndValue, ({ t, v }) => {
        const c = new ValueCodec(t);
        const bytes = c.encode(v);
        expect(bytes.length).toBe(sizeOf(t));
        expect(c.decode(bytes)).toEqual(v);
      }),
      { numRuns: 400 },
    );
  });

  it("encode(decode(b)) = b for random bytes of types without padding", () => {
    // Structs of one repeated int type have no padding and no bools, so every byte string is a value.
    const packed = fc
      .record({
        bits: fc.constantFrom(...INT_BITS),
        signed: fc.boolean(),
        n: fc.integer({ min: 1, max: 6 }),
      })
      .map(({ bits, signed, n }) =>
        layout(Array.from({ length: n }, (): TypeDesc => ({ kind: "int", bits, signed }))),
      );
    fc.assert(
      fc.property(
        packed.chain((t) =>
          fc.uint8Array({ minLength: sizeOf(t), maxLength: sizeOf(t) }).map((b) => ({ t, b })),
        ),
        ({ t, b }) => {
          const c = new ValueCodec(t);
          expect(c.encode(c.decode(b))).toEqual(b);
        },
      ),
    );
  });

  it("JSON text with bigints survives stringify → parse", () => {
    fc.assert(
      fc.property(typeAndValue, ({ t, v }) => {
        const c = new ValueCodec(t);
        // JSON has no booleans-vs-number confusion here; bigints that fit 2^53 come back as numbers, which encode the same.
        expect(c.encode(parseJson(stringifyJson(v)))).toEqual(c.encode(v));
      }),
      { numRuns: 200 },
    );
  });
});

describe("ValueCodec layouts and rules", () => {
  const flow: TypeDesc = {
    kind: "struct",
    name: "Flow",
    size: 12,
    members: [
      { name: "src", type: { kind: "int", bits: 32, signed: false }, offset: 0 },
      { name: "dstPort", type: { kind: "int", bits: 16, signed: false }, offset: 4 },
      { name: "hits", type: { kind: "int", bits: 32, signed: true }, offset: 8 },
    ],
  };

  it("writes little-endian C layout with zeroed padding and dotted addresses", () => {
    const c = new ValueCodec(flow);
    const b = c.encode({ src: "198.18.0.1", dstPort: 53, hits: -2 });
    expect(Buffer.from(b).toString("hex")).toBe("010012c6" + "3500" + "0000" + "feffffff");
    expect(c.decode(b)).toEqual({ src: "198.18.0.1", dstPort: 53, hits: -2 });
    // Missing fields are zero; unknown fields and out-of-range values are errors with a path.
    expect(c.decode(c.encode({ dstPort: 1 }))).toEqual({ src: "0.0.0.0", dstPort: 1, hits: 0 });
    expect(() => c.encode({ dport: 1 })).toThrow(/no field 'dport'/);
    expect(() => c.encode({ hits: 2 ** 31 })).toThrow(/\.hits: 2147483648 does not fit i32/);
    expect(() => c.encode({ src: "300.1.1.1" })).toThrow(/\.src/);
    expect(() => c.encode(5)).toThrow(/expected an object/);
  });

  it("64-bit integers are bigints, 32-bit numbers; u32 accepts dotted input anywhere", () => {
    const c64 = new ValueCodec({ kind: "int", bits: 64, signed: false });
    expect(c64.decode(c64.encode(2n ** 64n - 1n))).toBe(2n ** 64n - 1n);
    expect(c64.decode(c64.encode(5))).toBe(5n);
    const c32 = new ValueCodec({ kind: "int", bits: 32, signed: false });
    expect(c32.decode(c32.encode("10.0.0.1"))).toBe(0x0a000001);
    expect(
      new ValueCodec({ kind: "int", bits: 32, signed: false }, { address: true }).decode(
        c32.encode(0x0a000001),
      ),
    ).toBe("10.0.0.1");
  });

  it("LpmTrie keys: big-endian after prefixlen, CIDR text both ways", () => {
    const key: TypeDesc = {
      kind: "struct",
      size: 8,
      members: [
        { name: "prefixlen", type: { kind: "int", bits: 32, signed: false }, offset: 0 },
        { name: "addr", type: { kind: "int", bits: 32, signed: false }, offset: 4 },
      ],
    };
    const c = new ValueCodec(key, { lpmKey: true });
    expect(Buffer.from(c.encode("198.18.0.0/15")).toString("hex")).toBe("0f000000c6120000");
    expect(Buffer.from(c.encode({ prefixlen: 24, addr: 0xc6120700 })).toString("hex")).toBe(
      "18000000c6120700",
    );
    expect(c.decode(c.encode("198.18.7.0/24"))).toBe("198.18.7.0/24");
    expect(c.decode(c.encode("198.18.7.1"))).toBe("198.18.7.1/32");
    expect(() => c.encode("198.18.0.0/40")).toThrow(/prefix length 40/);
    const v6: TypeDesc = {
      kind: "struct",
      size: 20,
      members: [
        { name: "prefixlen", type: { kind: "int", bits: 32, signed: false }, offset: 0 },
        {
          name: "addr",
          type: { kind: "array", elem: { kind: "int", bits: 8, signed: false }, length: 16 },
          offset: 4,
        },
      ],
    };
    const c6 = new ValueCodec(v6, { lpmKey: true });
    expect(Buffer.from(c6.encode("2001:db8::/32")).toString("hex")).toBe(
      "20000000" + "20010db8" + "00".repeat(12),
    );
    expect(c6.decode(c6.encode("2001:db8:0:1::/64"))).toBe("2001:db8:0:1::/64");
    // More than one field after prefixlen: objects, with the integers still big-endian.
    const wide: TypeDesc = {
      kind: "struct",
      size: 12,
      members: [
        { name: "prefixlen", type: { kind: "int", bits: 32, signed: false }, offset: 0 },
        { name: "port", type: { kind: "int", bits: 16, signed: false }, offset: 4 },
        { name: "addr", type: { kind: "int", bits: 32, signed: false }, offset: 8 },
      ],
    };
    const cw = new ValueCodec(wide, { lpmKey: true });
    expect(cw.cidr).toBeNull();
    expect(
      Buffer.from(cw.encode({ prefixlen: 48, port: 0x1234, addr: "198.18.0.1" })).toString("hex"),
    ).toBe("30000000" + "1234" + "0000" + "c6120001");
  });

  it("bitfields (clang objects) read and write in place", () => {
    const t: TypeDesc = {
      kind: "struct",
      size: 4,
      members: [
        { name: "a", type: { kind: "int", bits: 32, signed: false }, bitOffset: 0, bitSize: 3 },
        { name: "b", type: { kind: "int", bits: 32, signed: true }, bitOffset: 3, bitSize: 9 },
        { name: "c", type: { kind: "int", bits: 32, signed: false }, bitOffset: 12, bitSize: 20 },
      ],
    };
    const c = new ValueCodec(t);
    const b = c.encode({ a: 5, b: -100, c: 0xabcde });
    expect(new DataView(b.buffer).getUint32(0, true)).toBe(
      (5 | ((-100 & 0x1ff) << 3) | (0xabcde << 12)) >>> 0,
    );
    expect(c.decode(b)).toEqual({ a: 5, b: -100, c: 0xabcde });
    expect(() => c.encode({ a: 8 })).toThrow(/\.a: 8 does not fit u3/);
  });

  it("parses command-line text", () => {
    const c = new ValueCodec({ kind: "int", bits: 64, signed: false });
    expect(c.parse("18446744073709551615")).toBe(18446744073709551615n);
    expect(c.parse("0x10")).toBe(16);
    expect(c.parse('{"a": 123456789012345678901}')).toEqual({ a: 123456789012345678901n });
    expect(c.parse("198.18.0.1")).toBe("198.18.0.1");
    expect(() => c.parse("{nope")).toThrow(/cannot parse/);
  });

  it("IPv6 text and per-CPU sums", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        expect(ipv6ToBytes(bytesToIpv6(b))).toEqual(Array.from(b));
      }),
    );
    expect(bytesToIpv6(ipv6ToBytes("::ffff:198.18.0.1"))).toBe("::ffff:c612:1");
    expect(
      sumValues([
        { p: 1n, s: [1, 2], ok: false },
        { p: 2n, s: [3, 4], ok: true },
      ]),
    ).toEqual({ p: 3n, s: [4, 6], ok: true });
  });
});
