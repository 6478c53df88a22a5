// The disassembler against llvm-objdump 14: clang-built objects (full -d -r -S listings,
// symbols and relocations included) and every conformance program wrapped in an ELF.
import { describe, expect, it } from "vitest";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { decode } from "../../compiler/bpf/decode.ts";
import { encode } from "../../compiler/bpf/encode.ts";
import { disassemble, formatInsn, formatListing } from "../../compiler/bpf/disasm.ts";
import { assemble } from "../../compiler/bpf/asm.ts";
import { parseElf } from "../../compiler/elf/index.ts";
import { describeWithPath } from "../support/kernel.ts";
import { loadConformanceDir } from "./conformance-data.ts";
import {
  objdump,
  objectFor,
  OBJDUMP,
  sectionAnnotations,
  sectionBlock,
  stripTargetLabel,
} from "./objdump.ts";
import { compileBpfC } from "../differential/clang.ts";
import { withTemp } from "../elf/tools.ts";

const C_DIR = join(import.meta.dirname, "c");
const CONFORMANCE = join(import.meta.dirname, "../../../shared/corpus/bpf_conformance/tests");
/** CPU versions each C program compiles for (32-bit atomics need v3). */
const CPUS: Record<string, string[]> = { "maps.c": ["v3"] };

const hex = (s: string) =>
  Uint8Array.from(
    s
      .trim()
      .split(/\s+/)
      .map((b) => parseInt(b, 16)),
  );
const one = (bytes: string) => formatInsn(decode(hex(bytes))[0]!);

describe("disassembler syntax", () => {
  // Expected strings are llvm-mc/llvm-objdump 14 output for the same bytes.
  it.each([
    ["b4 01 00 00 ff ff ff ff", "w1 = -1"],
    ["bc 21 00 00 00 00 00 00", "w1 = w2"],
    ["84 01 00 00 00 00 00 00", "w1 = -w1"],
    ["87 01 00 00 00 00 00 00", "r1 = -r1"],
    ["c7 01 00 00 03 00 00 00", "r1 s>>= 3"],
    ["cc 21 00 00 00 00 00 00", "w1 s>>= w2"],
    ["dc 01 00 00 10 00 00 00", "r1 = be16 r1"],
    ["d4 01 00 00 20 00 00 00", "r1 = le32 r1"],
    ["30 00 00 00 04 00 00 00", "r0 = *(u8 *)skb[4]"],
    ["48 10 00 00 00 00 00 00", "r0 = *(u16 *)skb[r1]"],
    ["61 21 f0 ff 00 00 00 00", "r1 = *(u32 *)(r2 - 16)"],
    ["7b 21 08 00 00 00 00 00", "*(u64 *)(r1 + 8) = r2"],
    ["db 21 00 00 00 00 00 00", "lock *(u64 *)(r1 + 0) += r2"],
    ["db 21 00 00 01 00 00 00", "r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)"],
    ["c3 21 00 00 51 00 00 00", "w2 = atomic_fetch_and((u32 *)(r1 + 0), w2)"],
    ["db 21 00 00 a0 00 00 00", "lock *(u64 *)(r1 + 0) ^= r2"],
    ["db 21 00 00 e1 00 00 00", "r2 = xchg_64(r1 + 0, r2)"],
    ["c3 21 00 00 e1 00 00 00", "w2 = xchg32_32(r1 + 0, w2)"],
    ["db 21 00 00 f1 00 00 00", "r0 = cmpxchg_64(r1 + 0, r0, r2)"],
    ["c3 21 00 00 f1 00 00 00", "w0 = cmpxchg32_32(r1 + 0, w0, w2)"],
    ["85 10 00 00 ff ff ff ff", "call -1"],
    ["85 00 00 00 01 00 00 00", "call 1"],
    ["95 00 00 00 00 00 00 00", "exit"],
    ["05 00 02 00 00 00 00 00", "goto +2"],
    ["16 01 fc ff 05 00 00 00", "if w1 == 5 goto -4"],
    ["6d 21 03 00 00 00 00 00", "if r1 s> r2 goto +3"],
    ["55 01 03 00 ff ff ff ff", "if r1 != -1 goto +3"],
    ["a6 01 03 00 ff ff ff ff", "if w1 < -1 goto +3"],
    ["18 01 00 00 34 12 00 00 00 00 00 00 00 00 00 00", "r1 = 4660 ll"],
    ["18 01 00 00 ff ff ff ff 00 00 00 00 ff ff ff ff", "r1 = -1 ll"],
    ["18 11 00 00 03 00 00 00 00 00 00 00 00 00 00 00", "ld_pseudo\tr1, 1, 3"],
    // Newer than LLVM 14: printed as LLVM 18 prints them.
    ["3f 21 01 00 00 00 00 00", "r1 s/= r2"],
    ["94 01 01 00 07 00 00 00", "w1 s%= 7"],
    ["97 01 00 00 07 00 00 00", "r1 %= 7"],
    ["bf 21 08 00 00 00 00 00", "r1 = (s8)r2"],
    ["bc 21 10 00 00 00 00 00", "w1 = (s16)w2"],
    ["bf 21 20 00 00 00 00 00", "r1 = (s32)r2"],
    ["91 21 fe ff 00 00 00 00", "r1 = *(s8 *)(r2 - 2)"],
    ["81 21 00 00 00 00 00 00", "r1 = *(s32 *)(r2 + 0)"],
    ["d7 01 00 00 40 00 00 00", "r1 = bswap64 r1"],
    ["06 00 00 00 02 00 00 00", "gotol +2"],
    ["62 0a f8 ff 05 00 00 00", "*(u32 *)(r10 - 8) = 5"],
    ["45 01 03 00 10 00 00 00", "if r1 & 16 goto +3"],
    ["8d 02 00 00 00 00 00 00", "callx r2"],
    ["e7 00 00 00 00 00 00 00", "<unknown>"],
  ])("%s → %s", (bytes, text) => {
    expect(one(bytes)).toBe(text);
  });

  it("formats a listing with symbols, relocations and source lines like llvm-objdump -dr -S", () => {
    const insns = decode(
      hex(
        "bf 16 00 00 00 00 00 00  18 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00  15 06 01 00 00 00 00 00  b7 00 00 00 02 00 00 00  95 00 00 00 00 00 00 00",
      ),
    );
    const listing = formatListing(insns, {
      symbols: new Map([
        [0, "f"],
        [5, "LBB0_2"],
      ]),
      relocations: new Map([[1, { type: "R_BPF_64_64", symbol: "m" }]]),
      source: new Map([[1, "  long *v = lookup(&m, &k);"]]),
    });
    expect(listing).toEqual([
      "0000000000000000 <f>:",
      "       0:\tr6 = r1",
      ";   long *v = lookup(&m, &k);",
      "       1:\tr1 = 0 ll",
      "\t\t0000000000000008:  R_BPF_64_64\tm",
      "       3:\tif r6 == 0 goto +1 <LBB0_2>",
      "       4:\tr0 = 2",
      "",
      "0000000000000028 <LBB0_2>:",
      "       5:\texit",
    ]);
  });
});

describeWithPath("disassembler agrees with llvm-objdump 14 on clang objects", OBJDUMP, () => {
  const programs = readdirSync(C_DIR).filter((f) => f.endsWith(".c"));
  const cases = programs.flatMap((f) => (CPUS[f] ?? ["v2", "v3"]).map((cpu) => [f, cpu] as const));

  it.each(cases)("%s -mcpu=%s", (file, cpu) => {
    withTemp((dir) => {
      const obj = compileBpfC({ path: join(C_DIR, file) }, [`-mcpu=${cpu}`]);
      const elf = parseElf(obj);
      const dump = objdump(dir, obj, ["-d", "-r", "-S"]);
      const code = elf.sections.filter((s) => (s.flags & 0x4) !== 0 && s.size > 0);
      expect(code.length).toBeGreaterThan(0);
      let compared = 0;
      for (const sec of code) {
        const theirs = sectionBlock(dump, sec.name);
        // Source lines come from DWARF, which we do not read: take them from the oracle
        // (by the slot they precede) and check that we place and print them the same way.
        const source = new Map<number, string>();
        theirs.forEach((l, k) => {
          if (!l.startsWith("; ")) return;
          const next = theirs.slice(k + 1).find((x) => /^\s+\d+:\t/.test(x));
          if (next) source.set(Number(next.trim().split(":")[0]), l.slice(2));
        });
        const ours = formatListing(decode(sec.data), {
          ...sectionAnnotations(elf, sec.name),
          source,
        });
        expect(ours.length).toBe(theirs.length);
        ours.forEach((line, k) => {
          if (theirs[k]!.endsWith("<unknown>")) return; // LLVM 14 cannot decode it (e.g. 32-bit atomic fetch)
          expect(line, `${sec.name} line ${k}`).toBe(theirs[k]);
          compared++;
        });
      }
      expect(compared).toBeGreaterThan(20);
    });
  });
});

describeWithPath(
  "disassembler agrees with llvm-objdump 14 on the conformance programs",
  CONFORMANCE,
  () => {
    it("every instruction LLVM 14 can decode prints identically", () => {
      const cases = loadConformanceDir(CONFORMANCE);
      const all = cases.map((c) => (c.raw ? decode(c.raw) : assemble(c.asm!)));
      // One object, one function per program, laid out back to back.
      const code = encode(all.flat());
      const ours = disassemble(all.flat());
      const theirs = withTemp((dir) => sectionBlock(objdump(dir, objectFor(code), ["-d"]), ".text"))
        .filter((l) => /^\s+\d+:\t/.test(l))
        .map((l) => stripTargetLabel(l.replace(/^\s+\d+:\t/, "")));
      expect(theirs.length).toBe(ours.length);
      let compared = 0;
      let newer = 0;
      ours.forEach((line, k) => {
        if (theirs[k] === "<unknown>") {
          expect(line, `insn ${k}`).not.toBe("<unknown>");
          newer++;
          return;
        }
        if (line !== theirs[k] && knownLlvm14Misprint(all.flat()[k]!)) {
          newer++;
          return;
        }
        expect(line, `insn ${k}`).toBe(theirs[k]);
        compared++;
      });
      console.log(
        `conformance disassembly: ${compared} identical to llvm-objdump 14, ${newer} newer than LLVM 14`,
      );
      expect(compared).toBeGreaterThanOrEqual(2457);
      expect(newer).toBeGreaterThan(0);
    });
  },
);

/**
 * Encodings LLVM 14 decodes with an older meaning: v4 sdiv/smod/movsx as their base form
 * (it ignores the offset field), callx with its register read from imm (now dst), and
 * 32-bit atomics other than add, which it decodes as the plain add (ignoring imm).
 */
function knownLlvm14Misprint(i: { code: number; off: number; imm: number }): boolean {
  const op = i.code & 0xf0;
  const alu = (i.code & 7) === 4 || (i.code & 7) === 7;
  if (i.code === 0x8d) return true;
  if (i.code === 0xc3 && i.imm !== 0) return true;
  return alu && i.off !== 0 && (op === 0x30 || op === 0x90 || op === 0xb0);
}
