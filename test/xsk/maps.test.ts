// The maps of AF_XDP handlers (compiler/wasm/maps.ts over runtime/xsk/maps.ts layouts):
// the same sequence of operations on a kernel map (BPF syscalls) and on the Wasm map
// gives the same results and errnos, and the same entries; per-CPU maps with as many
// lanes as the kernel has possible CPUs. Then workers in threads insert and increment
// concurrently in one shared memory, and the totals are exact.
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { BPF_MAP_TYPE } from "../../compiler/uapi/bpf.ts";
import { WASM_FEATURES } from "../../compiler/wasm/compile.ts";
import { mapRuntimeModule } from "../../compiler/wasm/maps.ts";
import { MAP_FN, type WasmMapMeta } from "../../compiler/wasm/abi.ts";
import { closeFd } from "../../native/bpf.ts";
import { NativeError } from "../../native/lib.ts";
import {
  mapCreate,
  mapDelete,
  mapLookup,
  mapNextKey,
  mapUpdate,
  possibleCpus,
} from "../../native/object.ts";
import {
  initSharedMaps,
  layoutSharedMaps,
  scratchBytes,
  SharedMap,
  SharedMaps,
} from "../../runtime/xsk/maps.ts";
import { describeKernel } from "../support/kernel.ts";

const BPF_TYPE: Record<string, number> = {
  ArrayMap: BPF_MAP_TYPE.ARRAY,
  PerCpuArray: BPF_MAP_TYPE.PERCPU_ARRAY,
  HashMap: BPF_MAP_TYPE.HASH,
  PerCpuHash: BPF_MAP_TYPE.PERCPU_HASH,
  LruHash: BPF_MAP_TYPE.LRU_HASH,
  LruPerCpuHash: BPF_MAP_TYPE.LRU_PERCPU_HASH,
  LpmTrie: BPF_MAP_TYPE.LPM_TRIE,
};
/** BPF_F_NO_PREALLOC: the kernel creates LPM tries only with it. */
const MAP_FLAGS: Record<string, number> = { LpmTrie: 1 };

type Spec = Pick<WasmMapMeta, "kind" | "keySize" | "valueSize" | "maxEntries">;

/** One Wasm map (or several) in a fresh shared memory, through the standalone map module. */
function wasmMaps(specs: Spec[], lanes: number) {
  const meta = {
    maps: specs.map((s, i) => ({ ...s, name: `m${i}`, bpfType: BPF_TYPE[s.kind]! })),
  };
  const { maps, end } = layoutSharedMaps(
    meta,
    specs.map((_, i) => i),
    lanes,
    64,
  );
  const scratch = Math.ceil(end / 64) * 64;
  const pages = Math.ceil((scratch + scratchBytes(maps)) / 65536) + 1;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  initSharedMaps(memory, maps);
  const bytes = mapRuntimeModule(WASM_FEATURES);
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  return { all: new SharedMaps(maps, memory, inst.exports, scratch), memory, maps, bytes };
}
const wasmMap = (s: Spec, lanes = 1) => wasmMaps([s], lanes).all.get("m0")!;

const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const u64 = (n: number | bigint) => new Uint8Array(new BigUint64Array([BigInt(n)]).buffer);
const key8 = (a: number, b: number) => new Uint8Array([a, b, 0, 0, 7, 0, a ^ b, 1]);
const hex = (b: Uint8Array | null) => (b ? Buffer.from(b).toString("hex") : null);

/** The same interface over a kernel map: results 0 or −errno. */
class KernelMap {
  readonly fd: number;
  constructor(
    readonly spec: Spec,
    readonly valueBytes: number,
  ) {
    this.fd = mapCreate(
      BPF_TYPE[spec.kind]!,
      spec.keySize,
      spec.valueSize,
      spec.maxEntries,
      MAP_FLAGS[spec.kind] ?? 0,
    );
  }
  lookup(k: Uint8Array) {
    return mapLookup(this.fd, k, this.valueBytes);
  }
  update(k: Uint8Array, v: Uint8Array, flags = 0) {
    try {
      mapUpdate(this.fd, k, v, flags);
      return 0;
    } catch (e) {
      if (e instanceof NativeError) return -e.errno;
      throw e;
    }
  }
  delete(k: Uint8Array) {
    try {
      return mapDelete(this.fd, k) ? 0 : -2;
    } catch (e) {
      if (e instanceof NativeError) return -e.errno;
      throw e;
    }
  }
  entries(): [Uint8Array, Uint8Array][] {
    const out: [Uint8Array, Uint8Array][] = [];
    for (let k = mapNextKey(this.fd, null, this.spec.keySize); k;) {
      out.push([k, this.lookup(k)!]);
      k = mapNextKey(this.fd, k, this.spec.keySize);
    }
    return out;
  }
  close() {
    closeFd(this.fd);
  }
}

type Op =
  ["update", Uint8Array, Uint8Array, number?] | ["delete", Uint8Array] | ["lookup", Uint8Array];

function run(
  map: { update: SharedMap["update"]; delete: SharedMap["delete"]; lookup: SharedMap["lookup"] },
  ops: Op[],
) {
  return ops.map((op) => {
    if (op[0] === "update") return map.update(op[1], op[2], op[3] ?? 0);
    if (op[0] === "delete") return map.delete(op[1]);
    return hex(map.lookup(op[1]));
  });
}
const sorted = (e: [Uint8Array, Uint8Array][]) => e.map(([k, v]) => `${hex(k)}=${hex(v)}`).sort();

// Sequences of operations, by map shape, with the value builder for `lanes` lanes.
function arrayOps(v: (n: number) => Uint8Array): Op[] {
  return [
    ["update", u32(0), v(5)],
    ["update", u32(3), v(6), 2],
    ["update", u32(1), v(7), 1], // NOEXIST on an array: EEXIST
    ["update", u32(4), v(8)], // out of range: E2BIG
    ["update", u32(2), v(9), 3], // bad flags: EINVAL
    ["update", u32(9), v(9), 4],
    ["delete", u32(0)], // EINVAL
    ["lookup", u32(3)],
    ["lookup", u32(4)],
    ["lookup", u32(0)],
  ];
}
function hashOps(v: (n: number) => Uint8Array, k: (n: number) => Uint8Array): Op[] {
  return [
    ["update", k(1), v(10)],
    ["update", k(2), v(20), 1],
    ["update", k(2), v(21), 1], // EEXIST
    ["update", k(3), v(30), 2], // ENOENT
    ["update", k(3), v(30), 0],
    ["update", k(4), v(40), 0],
    ["update", k(5), v(50), 0], // full: E2BIG
    ["update", k(5), v(50), 2], // ENOENT before E2BIG
    ["update", k(5), v(50), 1], // E2BIG
    ["update", k(4), v(41), 2], // replacing works on a full map
    ["update", k(4), v(42), 0],
    ["update", k(1), v(11), 5], // EINVAL
    ["lookup", k(4)],
    ["lookup", k(5)],
    ["delete", k(5)], // ENOENT
    ["delete", k(2)],
    ["delete", k(2)],
    ["update", k(5), v(51), 1], // room again
    ["lookup", k(2)],
    ["lookup", k(5)],
    ["delete", k(1)],
    ["delete", k(3)],
    ["delete", k(4)],
    ["delete", k(5)],
    ["update", k(6), v(60), 1],
    ["update", k(7), v(70)],
    ["update", k(8), v(80)],
    ["update", k(9), v(90)],
    ["update", k(10), v(100)], // full again
  ];
}

describe("Wasm maps without a kernel", () => {
  it("hash: flags, E2BIG when full, delete frees a slot, iteration visits every key once", () => {
    const m = wasmMap({ kind: "HashMap", keySize: 8, valueSize: 4, maxEntries: 4 });
    const ops = hashOps(
      (n) => u32(n),
      (n) => key8(n, n + 1),
    );
    const r = run(m, ops);
    expect(r.slice(0, 12)).toEqual([0, 0, -17, -2, 0, 0, -7, -2, -7, 0, 0, -22]);
    expect(r.at(-1)).toBe(-7);
    expect(m.keys().map(hex).sort()).toEqual([6, 7, 8, 9].map((n) => hex(key8(n, n + 1))).sort());
  });

  it("LRU hash: never E2BIG; evicts entries not looked up since they were last passed over", () => {
    const m = wasmMap({ kind: "LruHash", keySize: 4, valueSize: 8, maxEntries: 64 });
    for (let i = 0; i < 64; i++) expect(m.update(u32(i), u64(i), 1)).toBe(0);
    // Keys 0..31 are used (an LRU lookup from a handler marks them); 32..63 are not.
    const d = m.layout.desc;
    void d;
    const used = wasmUse(m, 32);
    expect(used).toBe(32);
    for (let i = 100; i < 132; i++) expect(m.update(u32(i), u64(i))).toBe(0);
    const keys = new Set(m.keys().map((k) => new Uint32Array(k.slice().buffer)[0]!));
    expect(keys.size).toBe(64);
    for (let i = 0; i < 32; i++) expect(keys.has(i)).toBe(true);
    for (let i = 100; i < 132; i++) expect(keys.has(i)).toBe(true);
  });
});

/** Marks keys 0..n-1 used, as a handler's lookup does (the map code's lookup, not the syscall one). */
function wasmUse(m: SharedMap, n: number): number {
  const fns = (m as unknown as { fns: Record<string, (...a: number[]) => number> }).fns;
  const scratch = (m as unknown as { scratch: number }).scratch;
  const mem = (m as unknown as { memory: WebAssembly.Memory }).memory;
  let hits = 0;
  for (let i = 0; i < n; i++) {
    new DataView(mem.buffer).setUint32(scratch, i, true);
    if (fns[MAP_FN.lookup]!(m.layout.desc, scratch, 0)) hits++;
  }
  return hits;
}

describeKernel("Wasm maps against the kernel's", () => {
  const cpus = possibleCpus();
  const shapes: { spec: Spec; ops: (v: (n: number) => Uint8Array) => Op[] }[] = [
    { spec: { kind: "ArrayMap", keySize: 4, valueSize: 12, maxEntries: 4 }, ops: arrayOps },
    { spec: { kind: "PerCpuArray", keySize: 4, valueSize: 12, maxEntries: 4 }, ops: arrayOps },
    {
      spec: { kind: "HashMap", keySize: 8, valueSize: 12, maxEntries: 4 },
      ops: (v) => hashOps(v, (n) => key8(n, 3)),
    },
    {
      spec: { kind: "PerCpuHash", keySize: 8, valueSize: 4, maxEntries: 4 },
      ops: (v) => hashOps(v, (n) => key8(n, 3)),
    },
    {
      spec: { kind: "HashMap", keySize: 3, valueSize: 8, maxEntries: 5 },
      ops: (v) => hashOps(v, (n) => new Uint8Array([n, 0, n])),
    },
  ];
  for (const { spec, ops } of shapes)
    it(`${spec.kind} key ${spec.keySize} value ${spec.valueSize} × ${spec.maxEntries}: same results, errnos and entries`, () => {
      const w = wasmMap(spec, cpus);
      const k = new KernelMap(spec, w.valueBytes);
      try {
        // Values: a distinct pattern in every lane (the syscall layout: round8 per CPU).
        const v = (n: number) => {
          const out = new Uint8Array(w.valueBytes);
          for (let l = 0; l < w.lanes; l++)
            for (let b = 0; b < spec.valueSize; b++) out[l * w.stride + b] = (n + l * 7 + b) & 0xff;
          return out;
        };
        const seq = ops(v);
        const kr = run(k, seq);
        const wr = run(w, seq);
        expect(wr).toEqual(kr);
        expect(sorted(w.entries())).toEqual(sorted(k.entries()));
        // An absent key restarts iteration at the first key, as the kernel's does.
        const absent = new Uint8Array(spec.keySize).fill(0xee);
        const first = hex(mapNextKey(k.fd, absent, spec.keySize));
        if (spec.kind.includes("Array")) expect(hex(w.nextKey(absent))).toBe(first);
        else expect(w.nextKey(absent) !== null).toBe(first !== null);
      } finally {
        k.close();
      }
    });

  it("LpmTrie: longest prefix match, exact replace and delete, EINVAL/ENOENT/EEXIST/ENOSPC, the kernel's iteration order", () => {
    const spec: Spec = { kind: "LpmTrie", keySize: 8, valueSize: 8, maxEntries: 5 };
    const w = wasmMap(spec, cpus);
    const k = new KernelMap(spec, 8);
    // struct { prefixlen: u32; data: u8[4] }: "10.1.2.0/24".
    const p = (cidr: string) => {
      const [a, len] = cidr.split("/");
      return new Uint8Array([...u32(Number(len)), ...a!.split(".").map(Number)]);
    };
    try {
      const seq: Op[] = [
        ["update", p("10.0.0.0/8"), u64(1)],
        ["update", p("10.1.0.0/16"), u64(2)],
        ["update", p("10.1.2.0/24"), u64(3), 1],
        ["update", p("10.1.2.0/24"), u64(4), 1], // EEXIST
        ["update", p("10.1.2.7/24"), u64(5)], // the same prefix: replaced (bits past it kept)
        ["update", p("192.168.0.0/33"), u64(9)], // EINVAL
        ["update", p("11.0.0.0/8"), u64(9), 2], // ENOENT
        ["update", p("11.0.0.0/8"), u64(9), 4], // EINVAL
        ["update", p("0.0.0.0/0"), u64(6)],
        ["update", p("10.128.0.0/9"), u64(8)],
        ["update", p("172.16.0.0/12"), u64(9)], // full: ENOSPC
        ["update", p("172.16.0.0/12"), u64(9), 2], // ENOENT
        ["update", p("10.1.0.0/16"), u64(7), 2], // replacing works on a full trie
        ["lookup", p("10.1.2.3/32")],
        ["lookup", p("10.1.9.9/32")],
        ["lookup", p("10.9.9.9/32")],
        ["lookup", p("10.200.9.9/32")],
        ["lookup", p("8.8.8.8/32")],
        ["lookup", p("10.1.2.3/20")], // the key's prefixlen caps the match: the /16
        ["lookup", p("10.1.2.3/7")], // only /0
        ["lookup", p("10.1.2.3/33")], // nothing
        ["lookup", p("10.1.2.0/24")],
        ["delete", p("10.1.0.0/15")], // no exact entry: ENOENT
        ["delete", p("10.1.0.0/33")], // EINVAL
        ["delete", p("10.1.0.0/16")],
        ["lookup", p("10.1.9.9/32")],
        ["update", p("172.16.0.0/12"), u64(10)],
        ["update", p("172.31.255.255/32"), u64(11)], // ENOSPC
      ];
      const kr = run(k, seq);
      expect(run(w, seq)).toEqual(kr);
      expect(kr.filter((r) => typeof r === "number" && r < 0)).toEqual([
        -17, -22, -2, -22, -28, -2, -2, -22, -28,
      ]);
      // Iteration in the kernel's order (its trie's postorder), entry for entry.
      expect(w.entries().map(([a, b]) => `${hex(a)}=${hex(b)}`)).toEqual(
        k.entries().map(([a, b]) => `${hex(a)}=${hex(b)}`),
      );
      for (const absent of [p("10.1.0.0/16"), p("1.2.3.4/40"), p("10.1.2.0/25")])
        expect(hex(w.nextKey(absent))).toBe(hex(mapNextKey(k.fd, absent, 8)));
      expect(hex(w.nextKey(null))).toBe(hex(mapNextKey(k.fd, null, 8)));
    } finally {
      k.close();
    }
  });

  it("LruHash: no E2BIG, flags as the kernel's, looked-up entries survive a wave of inserts", () => {
    const spec: Spec = { kind: "LruHash", keySize: 4, valueSize: 8, maxEntries: 512 };
    const w = wasmMap(spec, cpus);
    const k = new KernelMap(spec, 8);
    try {
      const seq: Op[] = [
        ["update", u32(1), u64(1), 1],
        ["update", u32(1), u64(2), 1],
        ["update", u32(2), u64(2), 2],
        ["update", u32(1), u64(3), 2],
        ["update", u32(1), u64(3), 9],
        ["delete", u32(1)],
        ["delete", u32(1)],
        ["lookup", u32(1)],
      ];
      expect(run(w, seq)).toEqual(run(k, seq));
      for (let i = 0; i < 2000; i++) {
        expect(w.update(u32(1000 + i), u64(i))).toBe(0);
        expect(k.update(u32(1000 + i), u64(i))).toBe(0);
      }
      expect(w.keys().length).toBeLessThanOrEqual(512);
      expect(k.entries().length).toBeLessThanOrEqual(512);
      // The newest key is there on both.
      expect(hex(w.lookup(u32(2999)))).toBe(hex(u64(1999)));
      expect(hex(k.lookup(u32(2999)))).toBe(hex(u64(1999)));
    } finally {
      k.close();
    }
  });
});

describe("Wasm maps shared by threads", () => {
  it("4 threads insert and atomically increment 64 keys of one hash map: exact totals", async () => {
    const { memory, maps, bytes, all } = wasmMaps(
      [{ kind: "HashMap", keySize: 8, valueSize: 8, maxEntries: 64 }],
      1,
    );
    const m = all.get("m0")!;
    const THREADS = 4;
    const ROUNDS = 20000;
    // Each thread: for i in 0..ROUNDS: key = i % 64; lookup, insert 0 with NOEXIST when
    // absent (EEXIST when another thread won), lookup again, Atomics.add 1.
    const src = `
      const { workerData, parentPort } = require("node:worker_threads");
      const { memory, bytes, desc, scratch, rounds } = workerData;
      const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
      const e = inst.exports;
      const dv = new DataView(memory.buffer);
      const big = new BigInt64Array(memory.buffer);
      let inserted = 0, raced = 0;
      for (let i = 0; i < rounds; i++) {
        const k = i % 64;
        dv.setUint32(scratch, k, true); dv.setUint32(scratch + 4, 0xabcd, true);
        let p = e.${MAP_FN.lookup}(desc, scratch, 0);
        if (!p) {
          dv.setBigUint64(scratch + 8, 0n, true);
          const r = e.${MAP_FN.update}(desc, scratch, scratch + 8, 1n, 0, 0);
          if (r === 0n) inserted++; else if (r === -17n) raced++; else throw new Error("update " + r);
          p = e.${MAP_FN.lookup}(desc, scratch, 0);
        }
        Atomics.add(big, p >> 3, 1n);
      }
      parentPort.postMessage({ inserted, raced });`;
    const scratchBase = memory.buffer.byteLength - THREADS * 64;
    const results = await Promise.all(
      Array.from(
        { length: THREADS },
        (_, t) =>
          new Promise<{ inserted: number; raced: number }>((resolve, reject) => {
            const w = new Worker(src, {
              eval: true,
              workerData: {
                memory,
                bytes,
                desc: maps[0]!.desc,
                scratch: scratchBase + t * 64,
                rounds: ROUNDS,
              },
            });
            w.once("message", resolve);
            w.once("error", reject);
          }),
      ),
    );
    expect(results.reduce((a, r) => a + r.inserted, 0)).toBe(64);
    const entries = m.entries();
    expect(entries.length).toBe(64);
    const total = entries.reduce((a, [, v]) => a + new BigUint64Array(v.slice().buffer)[0]!, 0n);
    expect(total).toBe(BigInt(THREADS * ROUNDS));
    for (const [k, v] of entries) {
      const key = new Uint32Array(k.slice().buffer)[0]!;
      expect(new BigUint64Array(v.slice().buffer)[0]).toBe(
        BigInt(THREADS * Math.floor(ROUNDS / 64) + (key < ROUNDS % 64 ? THREADS : 0)),
      );
    }
  });
});
