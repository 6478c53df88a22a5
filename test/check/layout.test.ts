// Struct layouts against clang: the same structs in C with _Static_assert on sizeof,
// _Alignof and every offsetof, compiled with `clang -target bpf -fsyntax-only`.
// A mismatch is a compile error naming the struct and field.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import type { StructType, Type } from "../../compiler/check/types.ts";
import { describeWithPath } from "../support/kernel.ts";
import { checkOk, prelude } from "./helpers.ts";

const clang = process.env.CLANG ?? "/usr/bin/clang";

const cScalar: Record<string, string> = {
  u8: "unsigned char",
  u16: "unsigned short",
  u32: "unsigned int",
  u64: "unsigned long long",
  i8: "signed char",
  i16: "short",
  i32: "int",
  i64: "long long",
};

/** C declarator for a field of type t named name (arrays nest right to left). */
function cField(t: Type, name: string): string {
  let dims = "";
  while (t.kind === "fixedArray") {
    dims += `[${t.length}]`;
    t = t.elem;
  }
  const base =
    t.kind === "int"
      ? cScalar[t.name]!
      : t.kind === "bool"
        ? "_Bool"
        : t.kind === "struct"
          ? `struct ${t.name}`
          : "?";
  return `${base} ${name}${dims};`;
}

function cProgram(structs: readonly StructType[]): string {
  const out: string[] = ["#include <stddef.h>"];
  for (const s of structs) {
    out.push(`struct ${s.name} {`, ...s.fields.map((f) => `  ${cField(f.type, f.name)}`), "};");
    out.push(`_Static_assert(sizeof(struct ${s.name}) == ${s.size}, "sizeof ${s.name}");`);
    out.push(`_Static_assert(_Alignof(struct ${s.name}) == ${s.align}, "alignof ${s.name}");`);
    for (const f of s.fields)
      out.push(
        `_Static_assert(offsetof(struct ${s.name}, ${f.name}) == ${f.offset}, "offsetof ${s.name}.${f.name}");`,
      );
  }
  return out.join("\n") + "\n";
}

function clangAccepts(c: string): string {
  const dir = mkdtempSync(join(tmpdir(), "xdpc-layout-"));
  try {
    const file = join(dir, "layout.c");
    writeFileSync(file, c);
    try {
      execFileSync(clang, ["-target", "bpf", "-fsyntax-only", "-Werror", file], { stdio: "pipe" });
      return "";
    } catch (e) {
      return String((e as { stderr?: Buffer }).stderr ?? e);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const handWritten = `
interface Padded { a: u8; b: u32; c: u16 }
interface Wide { x: u64; y: u8 }
interface Nested { a: u8; inner: Padded; c: u64; d: bool }
interface Addr { addr: FixedArray<u8, 16>; port: u16; flag: bool }
interface Words { a: u16; arr: FixedArray<u32, 3>; b: u8 }
interface OfStructs { p: u32; q: FixedArray<Wide, 2>; r: i8 }
interface Flags { a: bool; b: bool; c: i16 }
interface One { a: u8 }
interface Mixed { a: i64; b: i32; c: u8 }
interface Grid { cells: FixedArray<FixedArray<u16, 3>, 2>; tail: u8 }
type Alias = { first: u8; second: u64; third: u8 }
interface DeepNest { n: Nested; w: FixedArray<Words, 2>; z: bool }
`;

/** A deterministic pseudo-random generator (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomStructs(count: number, seed: number): string {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const scalars = ["u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "bool"];
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = 1 + Math.floor(r() * 6);
    const fields: string[] = [];
    for (let j = 0; j < n; j++) {
      let t = pick(scalars);
      const roll = r();
      if (i > 0 && roll < 0.2) t = `R${Math.floor(r() * i)}`;
      else if (roll < 0.35) t = `FixedArray<${t}, ${1 + Math.floor(r() * 7)}>`;
      else if (i > 0 && roll < 0.4)
        t = `FixedArray<R${Math.floor(r() * i)}, ${1 + Math.floor(r() * 3)}>`;
      fields.push(`f${j}: ${t}`);
    }
    lines.push(`interface R${i} { ${fields.join("; ")} }`);
  }
  return lines.join("\n");
}

describeWithPath("struct layout matches clang -target bpf", clang, () => {
  it("hand-written structs: padding, nesting, FixedArray, bool, u64 alignment", () => {
    const r = checkOk(prelude + handWritten);
    const byName = new Map(r.module.structs.map((s) => [s.name, s]));
    // Spot checks so a broken generator cannot pass vacuously.
    expect(byName.get("Padded")).toMatchObject({ size: 12, align: 4 });
    expect(byName.get("Wide")).toMatchObject({ size: 16, align: 8 });
    expect(byName.get("Nested")!.fields.map((f) => f.offset)).toEqual([0, 4, 16, 24]);
    expect(byName.get("Addr")).toMatchObject({ size: 20, align: 2 });
    expect(byName.get("One")).toMatchObject({ size: 1, align: 1 });
    expect(r.module.structs.length).toBe(12);
    expect(clangAccepts(cProgram(r.module.structs))).toBe("");
  });

  it("200 random structs (seeded)", () => {
    const r = checkOk(prelude + randomStructs(200, 1234));
    expect(r.module.structs.length).toBe(200);
    expect(clangAccepts(cProgram(r.module.structs))).toBe("");
  });

  it("a wrong layout is caught by the oracle", () => {
    const r = checkOk(prelude + "interface P { a: u8; b: u32 }");
    const s = r.module.structs[0]!;
    const bad: StructType = { ...s, fields: [s.fields[0]!, { ...s.fields[1]!, offset: 1 }] };
    expect(clangAccepts(cProgram([bad]))).toMatch(/offsetof P\.b/);
  });
});
