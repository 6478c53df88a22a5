import { describe, expect, it } from "vitest";
import { buildObject, readObject, type ObjectSpec } from "../../compiler/elf/object.ts";
import { summarizeObject } from "../../compiler/elf/summary.ts";
import {
  EM_BPF,
  ET_REL,
  R_BPF_64_32,
  R_BPF_64_64,
  SHT_NOBITS,
} from "../../compiler/elf/constants.ts";
import { u32 } from "../../compiler/elf/types.ts";
import { describeWithPath } from "../support/kernel.ts";
import { callSpec, counterSpec, encode, exit, lddw, movImm, paramSpec } from "./programs.ts";
import { clangBpf, run, withTemp, writeTemp } from "./tools.ts";
import { CLANG_MULTI } from "./clang-sources.ts";

describe("buildObject / readObject", () => {
  it("round-trips programs, relocations, maps and line info", () => {
    const spec = counterSpec();
    const info = readObject(buildObject(spec));
    expect(info.elf.type).toBe(ET_REL);
    expect(info.elf.machine).toBe(EM_BPF);
    expect(info.license).toBe("GPL");
    expect(info.programs).toHaveLength(1);
    const p = info.programs[0]!;
    expect(p).toMatchObject({ name: "count", section: "xdp", offset: 0, global: true });
    expect([...p.insns]).toEqual([...spec.programs[0]!.insns]);
    expect(p.relocations).toEqual([
      { insnIndex: 4, kind: "map", symbol: "counters", target: "counters" },
    ]);
    expect(p.lineInfo.map((l) => [l.insnIndex, l.file, l.line, l.col, l.lineText])).toEqual([
      [0, "filters/count.ts", 2, 3, "  counters.increment(0);"],
      [10, "filters/count.ts", 3, 3, "  return XDP_PASS;"],
    ]);
    expect(info.maps).toEqual([
      {
        name: "counters",
        type: 2,
        keySize: 4,
        valueSize: 8,
        maxEntries: 4,
        flags: 0,
        pinning: 0,
        keyType: expect.any(Number),
        valueType: expect.any(Number),
      },
    ]);
  });

  it("lays out globals by alignment and relocates data references against their symbols", () => {
    const info = readObject(buildObject(paramSpec(1)));
    expect(info.globals.map((g) => [g.name, g.section, g.offset, g.size, [...g.bytes]])).toEqual([
      ["pad", ".rodata", 0, 1, [7]],
      ["verdict", ".rodata", 2, 2, [1, 0]],
      ["seen", ".bss", 0, 8, [0, 0, 0, 0, 0, 0, 0, 0]],
    ]);
    expect(info.elf.section(".bss")!.type).toBe(SHT_NOBITS);
    expect(info.programs[0]!.relocations).toEqual([
      {
        insnIndex: 0,
        kind: "data",
        symbol: "verdict",
        target: "verdict",
        offset: 2,
        section: ".rodata",
      },
      { insnIndex: 3, kind: "data", symbol: "seen", target: "seen", offset: 0, section: ".bss" },
    ]);
  });

  it("emits BPF-to-BPF calls against .text with the callee's slot in imm, as clang does", () => {
    const bytes = buildObject(callSpec());
    const info = readObject(bytes);
    const caller = info.programs.find((p) => p.name === "caller")!;
    const half = info.programs.find((p) => p.name === "half")!;
    expect(half).toMatchObject({ section: ".text", global: false });
    expect(caller.relocations).toEqual([
      { insnIndex: 2, kind: "call", symbol: ".text", target: "half" },
    ]);
    const callInsn = caller.insns.subarray(16, 24);
    expect(callInsn[1]! >> 4).toBe(1); // BPF_PSEUDO_CALL
    expect(new DataView(callInsn.buffer, callInsn.byteOffset).getInt32(4, true)).toBe(-1);
    const rel = info.elf.relocations.find((r) => r.target === "xdp")!;
    expect(rel.entries.map((e) => e.type)).toEqual([R_BPF_64_32]);
    // func_info covers both functions so the kernel accepts the subprogram.
    expect(info.btfExt!.funcInfo.map((f) => f.section).sort()).toEqual([".text", "xdp"]);
  });

  it("puts several programs into one xdp section as separate FUNC symbols", () => {
    const a = counterSpec().programs[0]!;
    const spec: ObjectSpec = {
      ...counterSpec(),
      programs: [a, { ...a, name: "count2", lineInfo: a.lineInfo }],
    };
    const info = readObject(buildObject(spec));
    expect(info.programs.map((p) => [p.name, p.section, p.offset])).toEqual([
      ["count", "xdp", 0],
      ["count2", "xdp", 96],
    ]);
    expect(info.programs[1]!.relocations[0]!.insnIndex).toBe(4);
    expect(info.programs[1]!.lineInfo[0]!.insnIndex).toBe(0);
    const relocs = info.elf.relocations.find((r) => r.target === "xdp")!.entries;
    expect(relocs.map((e) => [e.offset, e.type])).toEqual([
      [32, R_BPF_64_64],
      [128, R_BPF_64_64],
    ]);
  });

  it("rejects inconsistent specs (compiler bugs) with a clear message", () => {
    const bad = (f: (s: ObjectSpec) => void) => {
      const s = counterSpec();
      f(s);
      return () => buildObject(s);
    };
    expect(
      bad(
        (s) => (s.programs[0]!.relocations = [{ insnIndex: 3, symbol: "counters", kind: "map" }]),
      ),
    ).toThrow(/not a lddw/);
    expect(
      bad((s) => (s.programs[0]!.relocations = [{ insnIndex: 4, symbol: "nope", kind: "map" }])),
    ).toThrow(/unknown map nope/);
    expect(
      bad((s) => (s.programs[0]!.relocations = [{ insnIndex: 6, symbol: "f", kind: "call" }])),
    ).toThrow(/unknown subprogram f/);
    expect(
      bad((s) => (s.programs[0]!.lineInfo = [{ insnIndex: 2, line: 1, col: 1, lineText: "x" }])),
    ).toThrow(/first instruction/);
    expect(
      bad(
        (s) =>
          (s.programs[0]!.lineInfo = [
            { insnIndex: 0, line: 1, col: 1, lineText: "x" },
            { insnIndex: 5, line: 1, col: 1, lineText: "x" },
          ]),
      ),
    ).toThrow(/not an instruction start/);
    expect(() =>
      buildObject({
        license: "GPL",
        programs: [{ name: "p", section: "xdp", insns: encode([movImm(0, 2), exit()]) }],
        globals: [{ name: "g", section: ".bss", type: u32, bytes: new Uint8Array([1, 0, 0, 0]) }],
      }),
    ).toThrow(/start zeroed/);
    expect(() =>
      buildObject({
        license: "GPL",
        programs: [
          {
            name: "p",
            section: "xdp",
            insns: encode([lddw(1), exit()]),
            relocations: [{ insnIndex: 0, symbol: "LICENSE", kind: "data" }],
          },
        ],
      }),
    ).toThrow(/unknown global/);
  });

  it("matches the golden summary", async () => {
    const text = summarizeObject(readObject(buildObject(counterSpec())));
    await expect(text).toMatchFileSnapshot("__snapshots__/counter.summary.txt");
  });
});

/** llvm-readelf's symbol table as [name, value, size, type, bind, ndx]. */
function readelfSymbols(path: string): string[][] {
  const out = run("llvm-readelf", ["-s", path]);
  return out
    .split("\n")
    .filter((l) => /^\s+\d+:/.test(l))
    .map((l) => l.trim().split(/\s+/))
    .map(([, value, size, type, bind, , ndx, name]) => [
      name ?? "",
      String(parseInt(value!, 16)),
      size!,
      type!,
      bind!,
      ndx!,
    ]);
}

function readelfRelocs(path: string): string[][] {
  return run("llvm-readelf", ["-r", path])
    .split("\n")
    .filter((l) => /^[0-9a-f]{16}\s/.test(l))
    .map((l) => l.trim().split(/\s+/))
    .map(([off, , type, , name]) => [String(parseInt(off!, 16)), type!, name!]);
}

const TYPE = ["NOTYPE", "OBJECT", "FUNC", "SECTION", "FILE"];
const BIND = ["LOCAL", "GLOBAL", "WEAK"];
const RTYPE: Record<number, string> = {
  1: "R_BPF_64_64",
  2: "R_BPF_64_ABS64",
  3: "R_BPF_64_ABS32",
  4: "R_BPF_64_NODYLD32",
  10: "R_BPF_64_32",
};

function ourSymbols(bytes: Uint8Array): string[][] {
  return readObject(bytes).elf.symbols.map((s) => [
    s.name,
    String(s.value),
    String(s.size),
    TYPE[s.type]!,
    BIND[s.bind]!,
    s.shndx === 0 ? "UND" : s.shndx === 0xfff1 ? "ABS" : String(s.shndx),
  ]);
}

function ourRelocs(bytes: Uint8Array): string[][] {
  return readObject(bytes).elf.relocations.flatMap((r) =>
    r.entries.map((e) => [String(e.offset), RTYPE[e.type] ?? String(e.type), e.symbolName]),
  );
}

describeWithPath(
  "ELF objects agree with llvm-readelf and llvm-objdump",
  "/usr/bin/llvm-readelf",
  () => {
    it("our objects: symbols, relocations and disassembly as LLVM sees them", () => {
      withTemp((dir) => {
        for (const [name, spec] of [
          ["count", counterSpec()],
          ["param", paramSpec()],
          ["call", callSpec()],
        ] as const) {
          const bytes = buildObject(spec);
          const path = writeTemp(dir, `${name}.o`, bytes);
          expect(readelfSymbols(path)).toEqual(ourSymbols(bytes));
          expect(readelfRelocs(path)).toEqual(ourRelocs(bytes));
        }
        const dis = run("llvm-objdump", ["-dr", "--no-show-raw-insn", `${dir}/call.o`]);
        expect(dis).toMatch(/<half>:\n\s+0:\s+r0 = r1\n\s+1:\s+r0 \/= 2\n\s+2:\s+exit/);
        expect(dis).toMatch(/call -1\n\s+0000000000000010:\s+R_BPF_64_32\s+\.text/);
        const dis2 = run("llvm-objdump", ["-dr", "--no-show-raw-insn", `${dir}/count.o`]);
        expect(dis2).toMatch(/r1 = 0 ll\n\s+0000000000000020:\s+R_BPF_64_64\s+counters/);
        expect(dis2).toMatch(/lock \*\(u64 \*\)\(r0 \+ 0\) \+= r1/);
      });
    });

    describeWithPath("clang-built objects", "/usr/bin/clang", () => {
      it("reads clang's sections, symbols, relocations, programs, maps and globals", () => {
        withTemp((dir) => {
          const bytes = clangBpf(dir, "multi", CLANG_MULTI);
          const path = `${dir}/multi.o`;
          expect(ourSymbols(bytes)).toEqual(readelfSymbols(path));
          expect(ourRelocs(bytes)).toEqual(readelfRelocs(path));
          const sections = run("llvm-readelf", ["-S", path])
            .split("\n")
            .filter((l) => /^\s+\[\s*\d+\]/.test(l))
            .map((l) => l.replace(/^\s+\[\s*\d+\]\s*/, "").split(/\s+/)[0] || "");
          expect(readObject(bytes).elf.sections.map((s) => s.name)).toEqual(
            sections.map((s) => (s === "NULL" ? "" : s)),
          );

          const info = readObject(bytes);
          expect(info.license).toBe("GPL");
          expect(info.programs.map((p) => [p.name, p.section, p.global])).toEqual([
            ["helper", ".text", false],
            ["count", "xdp", true],
            ["second", "xdp", true],
          ]);
          const count = info.programs.find((p) => p.name === "count")!;
          expect(count.relocations.map((r) => [r.kind, r.target])).toEqual([
            ["map", "counters"],
            ["call", "helper"],
            ["data", "seen"],
            ["data", "dropped"],
          ]);
          expect(info.maps).toMatchObject([
            { name: "counters", type: 2, keySize: 4, valueSize: 8, maxEntries: 4, pinning: 0 },
            { name: "pinned_map", type: 1, keySize: 4, valueSize: 8, maxEntries: 1024, pinning: 1 },
          ]);
          expect(info.globals.map((g) => [g.name, g.section, [...g.bytes]])).toEqual(
            expect.arrayContaining([
              ["port", ".rodata", [53, 0]],
              ["seen", ".data", [7, 0, 0, 0]],
              ["dropped", ".bss", [0, 0, 0, 0, 0, 0, 0, 0]],
            ]),
          );
          expect(count.lineInfo[0]!.insnIndex).toBe(0);
          expect(count.lineInfo.some((l) => l.lineText.includes("__sync_fetch_and_add"))).toBe(
            true,
          );
        });
      });
    });
  },
);

describe("section-relative data references", () => {
  it("relocates lddw against a data section symbol with the offset in imm (clang's form for statics)", () => {
    const spec = paramSpec(3);
    const prog = spec.programs[0]!;
    prog.insns = encode([
      lddw(1, 2),
      { code: 0x69, dst: 0, src: 1, off: 0, imm: 0 },
      lddw(1, 0),
      movImm(2, 1),
      { code: 0xdb, dst: 1, src: 2, off: 0, imm: 0 },
      exit(),
    ]);
    prog.relocations = [
      { insnIndex: 0, symbol: ".rodata", kind: "data" },
      { insnIndex: 3, symbol: ".bss", kind: "data" },
    ];
    const info = readObject(buildObject(spec));
    expect(info.programs[0]!.relocations).toEqual([
      {
        insnIndex: 0,
        kind: "data",
        symbol: ".rodata",
        target: "verdict",
        offset: 2,
        section: ".rodata",
      },
      { insnIndex: 3, kind: "data", symbol: ".bss", target: "seen", offset: 0, section: ".bss" },
    ]);
    expect(() =>
      buildObject({
        ...spec,
        programs: [{ ...prog, relocations: [{ insnIndex: 0, symbol: ".maps", kind: "data" }] }],
      }),
    ).toThrow(/unknown global or data section .maps/);
  });
});
