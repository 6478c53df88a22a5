import { describe, expect, it } from "vitest";
import { buildObject, readObject, BPF_MAP_TYPE } from "../../compiler/elf/object.ts";
import { alignOf, sizeOf, typeDescFromBtf, u32, u64 } from "../../compiler/elf/types.ts";
import { formatBtf } from "../../compiler/btf/reader.ts";
import { counterSpec, flowKey, stats } from "./programs.ts";

describe("the ObjectSpec type language", () => {
  it("computes sizes and alignments", () => {
    expect(sizeOf(flowKey)).toBe(32);
    expect(alignOf(flowKey)).toBe(4);
    expect(alignOf(stats)).toBe(8);
    expect(sizeOf({ kind: "array", elem: stats, length: 3 })).toBe(48);
  });

  it("round-trips map key and value types through BTF", () => {
    const spec = counterSpec();
    spec.maps = [
      { name: "counters", type: BPF_MAP_TYPE.HASH, key: flowKey, value: stats, maxEntries: 16 },
    ];
    const info = readObject(buildObject(spec));
    const m = info.maps[0]!;
    expect(m).toMatchObject({ keySize: 32, valueSize: 16 });
    expect(typeDescFromBtf(info.btf!, m.keyType!)).toEqual(flowKey);
    expect(typeDescFromBtf(info.btf!, m.valueType!)).toEqual(stats);
  });

  it("interns structurally equal types once", () => {
    const spec = counterSpec();
    spec.maps = [
      { name: "counters", type: BPF_MAP_TYPE.ARRAY, key: u32, value: stats, maxEntries: 4 },
      { name: "other", type: BPF_MAP_TYPE.ARRAY, key: u32, value: stats, maxEntries: 4 },
    ];
    const text = formatBtf(readObject(buildObject(spec)).btf!);
    expect(text.match(/STRUCT 'Stats'/g)).toHaveLength(1);
    expect(text.match(/INT 'u32'/g)).toHaveLength(1);
  });

  it("rejects a member that does not fit its struct", () => {
    const spec = counterSpec();
    spec.maps = [
      {
        name: "counters",
        type: BPF_MAP_TYPE.ARRAY,
        key: u32,
        value: {
          kind: "struct",
          name: "Bad",
          size: 4,
          members: [{ name: "x", type: u64, offset: 0 }],
        },
        maxEntries: 1,
      },
    ];
    expect(() => buildObject(spec)).toThrow(/member x extends past size 4/);
  });
});
