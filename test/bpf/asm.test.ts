// The conformance-syntax assembler: encodings, labels, ranges, errors, printer round trip.
import { describe, expect, it } from "vitest";
import { assemble, AsmError, toAsm } from "../../compiler/bpf/asm.ts";
import { encode } from "../../compiler/bpf/encode.ts";
import { disassemble } from "../../compiler/bpf/disasm.ts";

const hex = (text: string) =>
  Buffer.from(encode(assemble(text)))
    .toString("hex")
    .match(/.{16}/g);

describe("assemble", () => {
  it.each([
    ["mov32 %r0, -3", "b4000000fdffffff", "w0 = -3"],
    ["add %r1, %r2", "0f21000000000000", "r1 += r2"],
    ["sdiv32 %r1, 7", "3401010007000000", "w1 s/= 7"],
    ["smod %r1, %r2", "9f21010000000000", "r1 s%= r2"],
    ["movsx1664 %r8, %r7", "bf78100000000000", "r8 = (s16)r7"],
    ["movsx832 %r2, %r1", "bc12080000000000", "w2 = (s8)w1"],
    ["neg32 %r3", "8403000000000000", "w3 = -w3"],
    ["be16 %r0", "dc00000010000000", "r0 = be16 r0"],
    ["le64 %r0", "d400000040000000", "r0 = le64 r0"],
    ["swap32 %r0", "d700000020000000", "r0 = bswap32 r0"],
    ["bswap16 %r0", "d700000010000000", "r0 = bswap16 r0"],
    ["ldxw %r0, [%r1+0x4]", "6110040000000000", "r0 = *(u32 *)(r1 + 4)"],
    ["ldxsh %r0, [%r10-2]", "89a0feff00000000", "r0 = *(s16 *)(r10 - 2)"],
    ["stxdw [%r10-8], %r1", "7b1af8ff00000000", "*(u64 *)(r10 - 8) = r1"],
    ["stb [%r10-1], 0x80", "720affff80000000", "*(u8 *)(r10 - 1) = 128"],
    ["stw [%r1], 0xffffffff", "62010000ffffffff", "*(u32 *)(r1 + 0) = -1"],
    ["jsge32 %r1, -1, +3", "76010300ffffffff", "if w1 s>= -1 goto +3"],
    ["jset %r1, %r2, -1", "4d21ffff00000000", "if r1 & r2 goto -1"],
    ["ja32 +5", "0600000005000000", "gotol +5"],
    ["call 5", "8500000005000000", "call 5"],
    ["call %r2", "8d02000000000000", "callx r2"],
    [
      "lock fetch add32 [%r10-4], %r1",
      "c31afcff01000000",
      "w1 = atomic_fetch_add((u32 *)(r10 - 4), w1)",
    ],
    ["lock xor [%r10-8], %r1", "db1af8ffa0000000", "lock *(u64 *)(r10 - 8) ^= r1"],
    ["lock cmpxchg [%r10-8], %r1", "db1af8fff1000000", "r0 = cmpxchg_64(r10 - 8, r0, r1)"],
    ["lock xchg32 [%r10-8], %r1", "c31af8ffe1000000", "w1 = xchg32_32(r10 - 8, w1)"],
  ])("%s", (text, bytes, dis) => {
    expect(hex(text)).toEqual([bytes]);
    expect(disassemble(assemble(text))).toEqual([dis]);
  });

  it("resolves labels (including the implicit `exit` label) in slots, counting lddw as two", () => {
    const insns = assemble(`
      # comment line
      jeq %r1, 0, done   # trailing comment
      lddw %r0, 0x100000000
      ja exit
      call local fn
      done: mov %r0, 1
      exit
      fn:
      exit`);
    expect(insns.map((i) => [i.off, i.imm])).toEqual([
      [4, 0],
      [0, 0],
      [2, 0],
      [0, 2],
      [0, 1],
      [0, 0],
      [0, 0],
    ]);
    expect(insns[1]!.imm64).toBe(0x100000000n);
  });

  it.each([
    ["mov32 %r0, 2147483648", /32-bit range/],
    ["mov32 %r0, 0x100000000", /32-bit range/],
    ["ldxb %r0, [%r1+0x10000]", /16-bit range/],
    ["ldxb %r0, [%r1-32769]", /16-bit range/],
    ["ldxb %r0, %r1", /memory operand/],
    ["or %r0, %r11", /Invalid register/],
    ["ldxq %r0, [%r1]", /Invalid mnemonic/],
    ["constructor %r0, 1", /Invalid mnemonic/],
    ["lddw %r0", /number of operands/],
    ["lock", /number of operands for lock/],
    ["lock or [%r10-8]", /number of operands for lock/],
    ["ja NOWHERE", /Invalid label: NOWHERE/],
    ["a:\na:\nexit", /Duplicate label/],
    ["call bogus 3", /Invalid call mode/],
  ])("rejects %j", (text, msg) => {
    expect(() => assemble(text)).toThrow(AsmError);
    expect(() => assemble(text)).toThrow(msg);
  });

  it("prints back to text that assembles to the same instructions", () => {
    const insns = assemble(
      "mov %r1, 5\nlddw %r2, 0xffffffffffffffff\njslt32 %r1, %r2, +1\nlock fetch or [%r10-8], %r3\nexit",
    );
    expect(toAsm(insns)).toBe(
      "mov %r1, 5\nlddw %r2, 0xffffffffffffffff\njslt32 %r1, %r2, +1\nlock fetch or [%r10-8], %r3\nexit",
    );
    expect(assemble(toAsm(insns))).toEqual(insns);
  });
});
