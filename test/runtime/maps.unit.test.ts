// TypedMap and the program/interface map lookups against the fake kernel of
// test/support/fakesys.ts: typed get/set/delete, iteration by batch, the fallback to
// key-by-key iteration when a map type has no batch lookup, the ENOSPC retry, per-CPU
// sums, BTF types read from the kernel's BTF object, and every fd closed again.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { compile } from "../../compiler/driver/index.ts";
import { parseElf } from "../../compiler/elf/reader.ts";
import { readObject } from "../../compiler/elf/object.ts";
import { BPF_MAP_TYPE } from "../../compiler/uapi/bpf.ts";
import { NativeError } from "../../native/lib.ts";
import {
  batchlessMapTypes,
  interfaceMaps,
  programMaps,
  TypedMap,
} from "../../runtime/observe/maps.ts";
import { u32 as u32Type } from "../../compiler/elf/types.ts";
import { FakeKernel } from "../support/fakesys.ts";

let k: FakeKernel;
let uninstall: () => void;
beforeEach(() => {
  k = new FakeKernel();
  uninstall = k.install();
});
afterEach(() => {
  uninstall();
  expect(k.openFds()).toEqual([]);
});

const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const u64 = (n: bigint) => new Uint8Array(new BigUint64Array([n]).buffer);

describe("TypedMap without BTF", () => {
  it("keys and values are numbers of the map's widths; set, get, delete", () => {
    const m = k.addMap({ type: BPF_MAP_TYPE.HASH, keySize: 4, valueSize: 8, name: "hits" });
    const t = TypedMap.fromId(m.info.id);
    expect([t.name, t.typeName, t.isArray, t.perCpu]).toEqual(["hits", "hash", false, false]);
    t.set(7, 70n);
    t.set(8, 80n);
    expect(t.get(7)).toBe(70n);
    expect(t.get(9)).toBeNull();
    expect(t.delete(8)).toBe(true);
    expect(t.delete(8)).toBe(false);
    expect([...t.entries()]).toEqual([{ key: 7, value: 70n }]);
    t.close();
  });

  it("iterates by batch, in chunks of batchSize", () => {
    const m = k.addMap({ type: BPF_MAP_TYPE.HASH, keySize: 4, valueSize: 4 });
    for (let i = 1; i <= 5; i++) m.entries.set(Buffer.from(u32(i)).toString("hex"), u32(i * 10));
    const t = TypedMap.fromId(m.info.id);
    const got = [...t.entries({ batchSize: 2 })].map((e) => [e.key, e.value]);
    expect(got).toEqual([1, 2, 3, 4, 5].map((i) => [i, i * 10]));
    expect(k.batchCalls).toBe(3);
    t.close();
  });

  it("a bucket larger than the chunk (ENOSPC) is retried with a bigger chunk", () => {
    k.bucketSize = 4;
    const m = k.addMap({ type: BPF_MAP_TYPE.HASH, keySize: 4, valueSize: 4 });
    for (let i = 1; i <= 3; i++) m.entries.set(Buffer.from(u32(i)).toString("hex"), u32(i));
    const t = TypedMap.fromId(m.info.id);
    expect([...t.keys()]).toEqual([1, 2, 3]);
    expect([...t.entries({ batchSize: 1 })].map((e) => e.key)).toEqual([1, 2, 3]);
    // chunk 1 → ENOSPC, 2 → ENOSPC, 4 → all three
    expect(k.batchCalls).toBe(3);
    t.close();
  });

  it("a map type without batch lookups falls back to key-by-key iteration, and is remembered", () => {
    k.noBatch.add(BPF_MAP_TYPE.LRU_HASH);
    const m = k.addMap({ type: BPF_MAP_TYPE.LRU_HASH, keySize: 4, valueSize: 4 });
    m.entries.set(Buffer.from(u32(3)).toString("hex"), u32(33));
    const t = TypedMap.fromId(m.info.id);
    expect([...t.entries()].map((e) => [e.key, e.value])).toEqual([[3, 33]]);
    expect([...t.entries()].map((e) => [e.key, e.value])).toEqual([[3, 33]]);
    expect(k.batchCalls).toBe(1);
    expect(batchlessMapTypes()).toContain(BPF_MAP_TYPE.LRU_HASH);
    t.close();
  });

  it("per-CPU values are given per CPU and summed", () => {
    k.cpus = 3;
    const m = k.addMap({
      type: BPF_MAP_TYPE.PERCPU_ARRAY,
      keySize: 4,
      valueSize: 8,
      maxEntries: 2,
    });
    m.entries.set(
      Buffer.from(u32(1)).toString("hex"),
      new Uint8Array([...u64(1n), ...u64(2n), ...u64(4n)]),
    );
    const t = TypedMap.fromId(m.info.id);
    expect(t.cpus).toBe(3);
    expect(t.get(1)).toBe(7n);
    expect(t.getPerCpu(1)).toEqual([1n, 2n, 4n]);
    expect([...t.entries()]).toEqual([
      { key: 0, value: 0n, perCpu: [0n, 0n, 0n] },
      { key: 1, value: 7n, perCpu: [1n, 2n, 4n] },
    ]);
    t.close();
  });

  it("BTF sizes that disagree with the kernel map are refused", () => {
    const m = k.addMap({ type: BPF_MAP_TYPE.HASH, keySize: 4, valueSize: 8 });
    expect(
      () =>
        new TypedMap(0, {
          ...m.info,
          valueSize: 8,
          value: u32Type,
        }),
    ).toThrow(/BTF types are 4\/4 bytes, the kernel map 4\/8/);
  });
});

describe("maps of a program, typed from the kernel's BTF", () => {
  const source = `import { XdpContext, XdpAction, XDP_PASS, HashMap, u32, u64 } from "xdpc";
interface Key { port: u32; proto: u32; }
interface Count { packets: u64; bytes: u64; }
const flows = new HashMap<Key, Count>({ maxEntries: 8 });
export function f(ctx: XdpContext): XdpAction {
  return XDP_PASS;
}
`;

  function loadFake() {
    const out = compile(source, { file: "flows.ts", emit: "object" });
    const info = readObject(out.object!);
    const spec = info.maps.find((m) => m.name === "flows")!;
    const btfId = k.addBtf(parseElf(out.object!).section(".BTF")!.data);
    const map = k.addMap({
      type: BPF_MAP_TYPE.HASH,
      keySize: 8,
      valueSize: 16,
      name: "flows",
      btfId,
      btfKeyTypeId: spec.keyType!,
      btfValueTypeId: spec.valueType!,
    });
    const prog = k.addProg({ name: "f", mapIds: [map.info.id], btfId });
    return { map, prog };
  }

  it("programMaps opens every map with its struct types, and close() closes every fd", () => {
    const { prog } = loadFake();
    const pm = programMaps(prog.id);
    expect(pm.progName).toBe("f");
    const [flows] = pm.maps;
    flows!.set({ port: 53, proto: 17 }, { packets: 2n, bytes: 120n });
    expect([...flows!.entries()]).toEqual([
      { key: { port: 53, proto: 17 }, value: { packets: 2n, bytes: 120n } },
    ]);
    pm.close();
  });

  it("interfaceMaps: the attached program's maps; ENOENT with nothing attached, ENODEV for no interface", () => {
    const { prog } = loadFake();
    k.links.set("hrt0", 5);
    k.links.set("hrt1", 6);
    k.attached.set(5, prog.id);
    const pm = interfaceMaps("hrt0");
    expect(pm.maps.map((m) => m.name)).toEqual(["flows"]);
    pm.close();
    const none = () => interfaceMaps("hrt1");
    expect(none).toThrow(NativeError);
    expect(none).toThrow("no XDP program is attached to hrt1: no such object [ENOENT]");
    expect(() => interfaceMaps("hrt9")).toThrow(/no network interface named 'hrt9'.*\[ENODEV\]/);
  });
});
