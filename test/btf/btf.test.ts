import { describe, expect, it } from "vitest";
import { BtfBuilder } from "../../compiler/btf/writer.ts";
import { BtfExtBuilder, lineCol } from "../../compiler/btf/ext.ts";
import { BTF_INT_BOOL, BTF_INT_SIGNED, Kind } from "../../compiler/btf/kinds.ts";
import { btfSizeOf, formatBtf, parseBtf, parseBtfExt } from "../../compiler/btf/reader.ts";
import { StringTable } from "../../compiler/btf/strings.ts";
import { readObject } from "../../compiler/elf/object.ts";
import { describeWithPath } from "../support/kernel.ts";
import { clangBpf, run, withTemp, writeTemp } from "../elf/tools.ts";

/** One of every kind the compiler emits, including bitfields and signed enums. */
function sample(): BtfBuilder {
  const b = new BtfBuilder();
  const int = b.addInt("int", 4, BTF_INT_SIGNED);
  const u8 = b.addInt("u8", 1);
  const bool = b.addInt("bool", 1, BTF_INT_BOOL);
  const u64 = b.addInt("u64", 8);
  const idx = b.addInt("__ARRAY_SIZE_TYPE__", 4);
  const arr = b.addArray(u8, idx, 16);
  const td = b.addTypedef("Ipv6Addr", arr);
  const un = b.addUnion("", 8, [
    { name: "x", type: u64, bitOffset: 0 },
    { name: "b", type: u8, bitOffset: 0 },
  ]);
  const st = b.addStruct("Flow", 40, [
    { name: "src", type: td, bitOffset: 0 },
    { name: "flags", type: u8, bitOffset: 128, bitSize: 3 },
    { name: "kind", type: u8, bitOffset: 131, bitSize: 5 },
    { name: "ok", type: bool, bitOffset: 136 },
    { name: "u", type: un, bitOffset: 192 },
    { name: "n", type: u64, bitOffset: 256 },
  ]);
  b.addEnum(
    "Color",
    4,
    [
      { name: "RED", value: 1 },
      { name: "NEG", value: -2 },
    ],
    true,
  );
  b.addEnum("Big", 8, [{ name: "HUGE", value: 1n << 40n }]);
  const cv = b.addConst(b.addVolatile(u64));
  const ptr = b.addPtr(st);
  const proto = b.addFuncProto(int, [
    { name: "ctx", type: ptr },
    { name: "n", type: u64 },
  ]);
  b.addFunc("prog", proto, "global");
  b.addFunc("helper", b.addFuncProto(0, []), "static");
  const v1 = b.addVar("limit", cv, "global");
  const v2 = b.addVar("hidden", int, "static");
  b.addDatasec(".rodata", 16, [
    { type: v2, offset: 8, size: 4 },
    { type: v1, offset: 0, size: 8 },
  ]);
  b.addFwd("later", true);
  return b;
}

describe("BTF writer and reader", () => {
  it("round-trips every kind through encode and parse", () => {
    const b = sample();
    const btf = parseBtf(b.encode());
    expect(btf.types).toEqual(b.types());
    const flow = btf.find("Flow", Kind.STRUCT);
    expect(flow && flow.kind === Kind.STRUCT && flow.kindFlag).toBe(true);
    expect(btfSizeOf(btf, btf.find("Ipv6Addr")!.id)).toBe(16);
    const ds = btf.find(".rodata", Kind.DATASEC);
    expect(ds?.kind === Kind.DATASEC && ds.vars.map((v) => v.offset)).toEqual([0, 8]); // sorted by offset
  });

  it("stores each distinct string once", () => {
    const t = new StringTable();
    expect(t.add("")).toBe(0);
    const a = t.add("count");
    expect(t.add("x")).toBe(a + 6);
    expect(t.add("count")).toBe(a);
    expect(t.size).toBe(1 + 6 + 2);
    expect(() => t.add("a\0b")).toThrow(/NUL/);
    const b = new BtfBuilder();
    const u32 = b.addInt("u32", 4);
    b.addTypedef("u32", u32);
    expect(
      new TextDecoder()
        .decode(b.strings.bytes())
        .split("\0")
        .filter((s) => s === "u32"),
    ).toHaveLength(1);
  });

  it("rejects references to types that do not exist", () => {
    const b = new BtfBuilder();
    expect(() => b.addPtr(3)).toThrow(/unknown type id 3/);
    const i = b.addInt("int", 4, BTF_INT_SIGNED);
    expect(() => b.addFunc("f", i)).toThrow(/not a FUNC_PROTO/);
    expect(() => b.addDatasec(".data", 4, [{ type: i, offset: 0, size: 4 }])).toThrow(/not a VAR/);
  });

  it("writes and parses .BTF.ext func_info and line_info with strings in .BTF", () => {
    const b = new BtfBuilder();
    const f = b.addFunc("p", b.addFuncProto(0, []));
    const ext = new BtfExtBuilder(b.strings);
    ext.addFuncInfo("xdp", { insnOff: 0, typeId: f });
    ext.addLineInfo("xdp", {
      insnOff: 16,
      file: "f.ts",
      lineText: "  return XDP_PASS;",
      line: 12,
      col: 3,
    });
    ext.addLineInfo("xdp", {
      insnOff: 0,
      file: "f.ts",
      lineText: "const x = 1;",
      line: 11,
      col: 1,
    });
    const extBytes = ext.encode();
    const btf = parseBtf(b.encode());
    const parsed = parseBtfExt(extBytes, btf);
    expect(parsed.funcInfo).toEqual([{ section: "xdp", records: [{ insnOff: 0, typeId: f }] }]);
    expect(parsed.lineInfo).toEqual([
      {
        section: "xdp",
        records: [
          { insnOff: 0, file: "f.ts", lineText: "const x = 1;", line: 11, col: 1 },
          { insnOff: 16, file: "f.ts", lineText: "  return XDP_PASS;", line: 12, col: 3 },
        ],
      },
    ]);
    expect(lineCol(12, 3)).toBe((12 << 10) | 3);
    expect(new DataView(extBytes.buffer).getUint32(4, true)).toBe(32); // hdr_len as clang writes it
  });
});

describeWithPath("BTF text matches bpftool btf dump", "/usr/sbin/bpftool", () => {
  it("formats our own BTF exactly as bpftool prints it", () => {
    const bytes = sample().encode();
    const text = withTemp((dir) =>
      run("bpftool", ["btf", "dump", "file", writeTemp(dir, "raw.btf", bytes)]),
    );
    expect(formatBtf(parseBtf(bytes))).toBe(text);
  });

  describeWithPath("clang-built objects", "/usr/bin/clang", () => {
    it("parses and formats clang's BTF exactly as bpftool does, and reads its line info", () => {
      withTemp((dir) => {
        const obj = clangBpf(dir, "kinds", CLANG_SOURCE);
        const info = readObject(obj);
        const text = run("bpftool", ["btf", "dump", "file", `${dir}/kinds.o`]);
        expect(formatBtf(info.btf!)).toBe(text);
        const prog = info.programs.find((p) => p.name === "p")!;
        expect(prog.lineInfo.length).toBeGreaterThan(2);
        expect(prog.lineInfo[0]!.file).toMatch(/kinds\.c$/);
        expect(prog.lineInfo.some((l) => l.lineText.includes("bpf_map_lookup_elem(&fm, &f)"))).toBe(
          true,
        );
      });
    });
  });
});

const CLANG_SOURCE = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
enum color { RED = 1, GREEN = -2 };
struct flags { unsigned a:3, b:5; unsigned char c; union { int x; short y; } u; _Bool ok; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, struct flags); __type(value, enum color); __uint(map_flags, 1); } fm SEC(".maps");
static int s_var = 3;
const volatile unsigned char arr[4] = {1,2,3,4};
SEC("xdp") int p(struct xdp_md *ctx) {
  struct flags f = {};
  f.ok = arr[1];
  void *v = bpf_map_lookup_elem(&fm, &f);
  s_var++;
  return v ? XDP_DROP : XDP_PASS + s_var;
}
char LICENSE[] SEC("license") = "GPL";
`;
