// libxdp run configs (`export const runConfig = …` → XDP_RUN_CONFIG BTF): the object's
// `.xdp_run_config` section, its symbols and its BTF have the shape clang gives the C
// twin written with libxdp's XDP_RUN_CONFIG macro; libxdp itself
// (xdp_program__open_file, as xdp-loader opens a file) reads the same priority and
// chain-call actions from both; the kernel keeps the metadata in the loaded program's
// BTF; wrong shapes are diagnostics with their location.
import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { compile } from "../../compiler/driver/index.ts";
import { Kind } from "../../compiler/btf/kinds.ts";
import { btfResolve, parseBtf, type Btf } from "../../compiler/btf/reader.ts";
import { readObject, readRunConfigs, RUN_CONFIG_SECTION } from "../../compiler/elf/object.ts";
import { STT_OBJECT, STB_GLOBAL, SHF_ALLOC, SHF_WRITE } from "../../compiler/elf/constants.ts";
import { compileBpfC, clangUnavailableReason } from "../differential/clang.ts";
import { libxdpOpenFile } from "../../native/libxdp.ts";
import { describeKernel } from "../support/kernel.ts";
import { loadXdpObject } from "../support/xdp.ts";
import { progInfo } from "../../native/info.ts";
import { kernelBtfBytes } from "../../native/btf.ts";

const tmp = mkdtempSync(join(tmpdir(), "xdpct-runconfig-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const header = `import { XdpContext, XdpAction, XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT } from "xdpc";\n`;
const prog = (name: string) =>
  `export function ${name}(ctx: XdpContext): XdpAction {\n  return XDP_PASS;\n}\n`;
const cProg = (name: string) =>
  `SEC("xdp")\nint ${name}(struct xdp_md *ctx)\n{\n\treturn XDP_PASS;\n}\n`;

interface Case {
  name: string;
  programs: string[];
  runConfig: string;
  /** The C twin's XDP_RUN_CONFIG structs, per program: `__uint(member, value)` lines. */
  twin: Record<string, [string, number][]>;
  /** What libxdp reads, per program. */
  expected: Record<string, { priority: number; chainCallActions: number[] }>;
}

const cases: Case[] = [
  {
    name: "priority and two actions",
    programs: ["my_filter"],
    runConfig: "{ priority: 10, chainCallActions: [XDP_PASS, XDP_DROP] }",
    twin: {
      my_filter: [
        ["priority", 10],
        ["XDP_PASS", 1],
        ["XDP_DROP", 1],
      ],
    },
    expected: { my_filter: { priority: 10, chainCallActions: [1, 2] } },
  },
  {
    name: "priority only (chain on XDP_PASS, libxdp's default)",
    programs: ["first_in_line"],
    runConfig: "{ priority: 0 }",
    twin: { first_in_line: [["priority", 0]] },
    expected: { first_in_line: { priority: 0, chainCallActions: [2] } },
  },
  {
    name: "actions without XDP_PASS (XDP_PASS: 0 turns libxdp's default off)",
    programs: ["chainer"],
    runConfig: "{ chainCallActions: [XDP_DROP, XDP_TX] }",
    twin: {
      chainer: [
        ["XDP_DROP", 1],
        ["XDP_TX", 1],
        ["XDP_PASS", 0],
      ],
    },
    expected: { chainer: { priority: 50, chainCallActions: [1, 3] } },
  },
  {
    name: "no chaining at all, the last priority",
    programs: ["terminal"],
    runConfig: "{ priority: 1000, chainCallActions: [] }",
    twin: {
      terminal: [
        ["priority", 1000],
        ["XDP_PASS", 0],
      ],
    },
    expected: { terminal: { priority: 1000, chainCallActions: [] } },
  },
  {
    name: "keyed by program, two XDP programs",
    programs: ["first", "second"],
    runConfig:
      "{\n  first: { priority: 5 },\n  second: { priority: 7, chainCallActions: [XDP_ABORTED, XDP_REDIRECT, XDP_PASS] },\n}",
    twin: {
      first: [["priority", 5]],
      second: [
        ["priority", 7],
        ["XDP_ABORTED", 1],
        ["XDP_REDIRECT", 1],
        ["XDP_PASS", 1],
      ],
    },
    expected: {
      first: { priority: 5, chainCallActions: [2] },
      second: { priority: 7, chainCallActions: [0, 2, 4] },
    },
  },
];

function tsSource(c: Case): string {
  return `${header}\nexport const runConfig = ${c.runConfig};\n\n${c.programs.map(prog).join("\n")}`;
}

function cSource(c: Case): string {
  const structs = Object.entries(c.twin)
    .map(
      ([p, members]) =>
        `struct {\n${members.map(([m, v]) => `\t__uint(${m}, ${v});\n`).join("")}} XDP_RUN_CONFIG(${p});\n`,
    )
    .join("\n");
  return `#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n#include <xdp/xdp_helpers.h>\n\n${structs}\n${c.programs.map(cProg).join("\n")}\nchar _license[] SEC("license") = "GPL";\n`;
}

function buildTs(source: string, file = "runconfig.ts"): Uint8Array {
  const out = compile(source, { file, emit: "object" });
  expect(out.diagnostics.map((d) => d.message)).toEqual([]);
  return out.object!;
}

/** A BTF type as a tree, without ids (which differ: clang adds a struct before its members). */
function shape(btf: Btf, id: number): unknown {
  const t = btf.byId(id);
  if (!t) return "void";
  switch (t.kind) {
    case Kind.INT:
      return { int: t.name, size: t.size, encoding: t.encoding, bits: t.bits };
    case Kind.PTR:
      return { ptr: shape(btf, t.type) };
    case Kind.ARRAY:
      return { array: shape(btf, t.type), index: shape(btf, t.indexType), nelems: t.nelems };
    case Kind.STRUCT:
      return {
        struct: t.name,
        size: t.size,
        members: t.members.map((m) => ({
          name: m.name,
          bitOffset: m.bitOffset,
          bitSize: m.bitSize,
          type: shape(btf, m.type),
        })),
      };
    default:
      return { kind: t.kind, name: t.name };
  }
}

/**
 * Everything about the run configs an ELF reader sees: the section (flags, alignment,
 * size, zero bytes), each variable's symbol and BTF VAR (linkage) and the type tree.
 * DATASEC size and offsets are left out: clang writes 0 for libbpf to fill in, we write
 * the final values (as the static linker does), which the symbols show anyway.
 */
function runConfigShape(bytes: Uint8Array) {
  const info = readObject(bytes);
  const sec = info.elf.section(RUN_CONFIG_SECTION)!;
  expect(sec, "no .xdp_run_config section").toBeDefined();
  const btf = info.btf!;
  const ds = btf.types.find((t) => t.kind === Kind.DATASEC && t.name === RUN_CONFIG_SECTION);
  if (!ds || ds.kind !== Kind.DATASEC) throw new Error("no .xdp_run_config DATASEC");
  return {
    section: {
      type: sec.type,
      flags: sec.flags,
      align: sec.align,
      size: sec.data.length,
      zero: sec.data.every((b) => b === 0),
    },
    vars: ds.vars.map((vi) => {
      const v = btf.byId(vi.type)!;
      if (v.kind !== Kind.VAR) throw new Error("not a VAR");
      const sym = info.elf.symbols.find((s) => s.name === v.name)!;
      return {
        name: v.name,
        linkage: v.linkage,
        secinfoSize: vi.size,
        symbol: {
          value: sym.value,
          size: sym.size,
          type: sym.type,
          bind: sym.bind,
          section: sym.section,
        },
        type: shape(btf, v.type),
      };
    }),
  };
}

const clangMissing = clangUnavailableReason();

describe("runConfig → XDP_RUN_CONFIG, as clang writes it and libxdp reads it", () => {
  for (const c of cases) {
    it.skipIf(!!clangMissing)(
      `${c.name}${clangMissing ? ` [skipped: ${clangMissing}]` : ""}`,
      () => {
        const ours = buildTs(tsSource(c));
        const twin = compileBpfC({ source: cSource(c), name: "runconfig" });
        const shapeOurs = runConfigShape(ours);
        expect(shapeOurs).toEqual(runConfigShape(twin));
        expect(shapeOurs.section).toMatchObject({ flags: SHF_ALLOC | SHF_WRITE, align: 8 });
        for (const v of shapeOurs.vars)
          expect(v.symbol).toMatchObject({ type: STT_OBJECT, bind: STB_GLOBAL });

        // libxdp (xdp-loader's way of opening a file) reads the same from both objects.
        const files = { ours, twin };
        for (const [who, bytes] of Object.entries(files)) {
          const path = join(tmp, `${who}-${c.programs[0]}.o`);
          writeFileSync(path, bytes);
          for (const p of c.programs) {
            const got = libxdpOpenFile(path, p);
            expect({ who, ...got }).toEqual({ who, name: p, id: 0, ...c.expected[p] });
          }
        }
        // And so does xdpc's own reader (xdpc manifest, xdpc status).
        const read = readObject(ours).runConfigs;
        expect(read).toEqual(c.programs.map((p) => ({ program: p, ...c.expected[p] })));
        expect(readObject(twin).runConfigs).toEqual(read);
      },
    );
  }

  it("a program without runConfig: no section, libxdp's defaults (priority 50, chain on XDP_PASS)", () => {
    const bytes = buildTs(`${header}\n${prog("plain")}`);
    const info = readObject(bytes);
    expect(info.elf.section(RUN_CONFIG_SECTION)).toBeUndefined();
    expect(info.runConfigs).toEqual([]);
    const path = join(tmp, "plain.o");
    writeFileSync(path, bytes);
    expect(libxdpOpenFile(path)).toEqual({
      name: "plain",
      id: 0,
      priority: 50,
      chainCallActions: [2],
    });
  });

  it("`runConfig = {}` declares nothing; constants and parentheses are folded", () => {
    expect(
      readObject(buildTs(`${header}\nconst runConfig = {};\n${prog("a")}`)).runConfigs,
    ).toEqual([]);
    const src = `${header}\nconst BASE = 20;\nexport const runConfig = { priority: (BASE * 2 + 1), chainCallActions: [(XDP_DROP)] };\n${prog("a")}`;
    expect(readObject(buildTs(src)).runConfigs).toEqual([
      { program: "a", priority: 41, chainCallActions: [1] },
    ]);
  });

  it("the file name does not change the object beyond the FILE symbol", () => {
    const src = tsSource(cases[0]!);
    expect(runConfigShape(buildTs(src, "a.ts"))).toEqual(runConfigShape(buildTs(src, "dir/b.ts")));
  });
});

describe("runConfig diagnostics", () => {
  const bad: [string, string, number, RegExp][] = [
    // [what, runConfig text (+ programs), code, message]
    [
      "non-constant priority",
      `let p: u32 = 3;\nexport const runConfig = { priority: p };\n${prog("a")}`,
      3044,
      /priority must be a constant integer from 0 to 1000, not a value known at compile time/,
    ],
    [
      "priority out of range",
      `export const runConfig = { priority: 1001 };\n${prog("a")}`,
      3044,
      /from 0 to 1000, got 1001/,
    ],
    [
      "negative priority",
      `export const runConfig = { priority: -1 };\n${prog("a")}`,
      3044,
      /got -1/,
    ],
    [
      "priority of a non-integer type",
      `export const runConfig = { priority: XDP_DROP };\n${prog("a")}`,
      3044,
      /not XdpAction/,
    ],
    [
      "unknown action (a number)",
      `export const runConfig = { chainCallActions: [XDP_PASS, 7] };\n${prog("a")}`,
      3045,
      /chainCallActions must be an array of XDP actions .*got '7'/,
    ],
    [
      "unknown action (a tc verdict)",
      `import { TC_ACT_OK } from "xdpc";\nexport const runConfig = { chainCallActions: [TC_ACT_OK] };\n${prog("a")}`,
      3045,
      /got 'TC_ACT_OK'/,
    ],
    [
      "chainCallActions not an array",
      `export const runConfig = { chainCallActions: XDP_PASS };\n${prog("a")}`,
      3045,
      /got 'XDP_PASS'/,
    ],
    [
      "duplicate action",
      `export const runConfig = { chainCallActions: [XDP_DROP, XDP_PASS, XDP_DROP] };\n${prog("a")}`,
      3046,
      /action XDP_DROP appears twice in runConfig/,
    ],
    [
      "duplicate field",
      `export const runConfig = { priority: 1, priority: 2 };\n${prog("a")}`,
      3046,
      /field 'priority' appears twice/,
    ],
    [
      "duplicate program",
      `export const runConfig = { a: { priority: 1 }, a: { priority: 2 } };\n${prog("a")}`,
      3046,
      /program 'a' appears twice/,
    ],
    [
      "unknown field",
      `export const runConfig = { prio: 1 };\n${prog("a")}`,
      3043,
      /unknown runConfig field 'prio'/,
    ],
    [
      "runConfig naming no program",
      `export const runConfig = { a: { priority: 1 }, b: { priority: 2 } };\n${prog("a")}`,
      3047,
      /runConfig names 'b', which is not an XDP program of this file \(its XDP programs: a\)/,
    ],
    [
      "runConfig naming a helper",
      `function b(): u32 { return 1; }\nexport const runConfig = { b: { priority: 2 } };\n${prog("a")}`,
      3047,
      /names 'b'/,
    ],
    [
      "runConfig naming a tc program",
      `import { TcContext, TcAction, TC_ACT_OK as OK } from "xdpc";\nexport function t(ctx: TcContext): TcAction { return OK; }\nexport const runConfig = { t: { priority: 2 } };\n${prog("a")}`,
      3047,
      /it is a tc program/,
    ],
    [
      "unkeyed runConfig with two programs",
      `export const runConfig = { priority: 3 };\n${prog("a")}\n${prog("b")}`,
      3048,
      /applies to one XDP program, and this file has 2 \(a, b\): key it by program/,
    ],
    [
      "runConfig without any program",
      `export const runConfig = { priority: 3 };\n`,
      3048,
      /this file has none/,
    ],
    [
      "keyed entry that is not an object",
      `export const runConfig = { a: { priority: 1 }, b: 3 };\n${prog("a")}\n${prog("b")}`,
      3048,
      /for 'b' must be an object/,
    ],
    [
      "let runConfig",
      `export let runConfig = { priority: 1 };\n${prog("a")}`,
      3048,
      /must be a const/,
    ],
  ];
  for (const [what, body, code, message] of bad) {
    it(`${what}: XDP${code}`, () => {
      const src = `${header.replace(" } from", ", u32 } from")}\n${body}`;
      const out = compile(src, { file: "bad.ts", emit: "object" });
      const errors = out.diagnostics.filter((d) => d.severity === "error");
      expect(
        errors.map((d) => `${d.code} ${d.message}`),
        src,
      ).toEqual([expect.stringMatching(new RegExp(`^${code} .*${message.source}`))]);
      // The location is the offending part of runConfig.
      const d = errors[0]!;
      expect(d.span.start).toBeGreaterThan(src.indexOf("runConfig") - 1);
      expect(out.object).toBeUndefined();
    });
  }
});

describeKernel("runConfig in the kernel", () => {
  it("the kernel accepts the BTF (zero-length arrays included) and keeps the run config in the program's BTF", () => {
    const bytes = buildTs(tsSource(cases[3]!)); // priority 1000, XDP_PASS: 0
    const obj = loadXdpObject(bytes);
    try {
      const info = progInfo(obj.programFd());
      expect(info.btfId).toBeGreaterThan(0);
      const kbtf = parseBtf(kernelBtfBytes(info.btfId));
      // What bpftool, xdp-loader status and bpfman read for a loaded program.
      expect(readRunConfigs(kbtf)).toEqual([
        { program: "terminal", priority: 1000, chainCallActions: [] },
      ]);
      const ds = kbtf.types.find((t) => t.kind === Kind.DATASEC && t.name === RUN_CONFIG_SECTION);
      expect(ds && ds.kind === Kind.DATASEC && ds.size).toBe(16);
      void btfResolve;
    } finally {
      obj.close();
    }
  });
});
