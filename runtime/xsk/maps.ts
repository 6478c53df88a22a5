// The maps AF_XDP handlers use, in the shared memory: their layout and descriptors
// (written once, before any worker starts), and the control plane's view of them.
// Every worker runs the module's own map code over the descriptors
// (compiler/wasm/maps.ts); the control plane calls the same code through an instance
// of its own (the handler module, or the standalone map module in tests), so
// `xdpc map` and the handlers take the same bucket locks.
import {
  ELEM,
  hashBuckets,
  hashElemSize,
  isLruKind,
  isPerCpuKind,
  KIND_LPM_TRIE,
  KIND_PERCPU_ARRAY,
  MAP_DESC,
  MAP_FN,
  mapBaseImport,
  mapDescImport,
  SHARED_MAP_KINDS,
  sharedMapBytes,
  valueStride,
  type WasmMapMeta,
  type WasmMeta,
} from "../../compiler/wasm/abi.ts";

const align = (n: number, a: number) => Math.ceil(n / a) * a;

export interface SharedMapLayout {
  id: number;
  name: string;
  /** Source kind (HashMap, PerCpuArray, ...). */
  kind: string;
  bpfType: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** Values per entry: the workers for per-CPU maps, else 1. */
  lanes: number;
  /** Address of the descriptor; the region follows it. */
  desc: number;
  /** Arrays: address of value 0 of lane 0 (lanes follow each other). */
  values: number;
  bytes: number;
}

/** The map ids a module reaches in the shared memory (its `map<id>` and `mapdesc<id>` imports). */
export function usedMapIds(mod: WebAssembly.Module): Set<number> {
  const ids = new Set<number>();
  for (const i of WebAssembly.Module.imports(mod)) {
    const m = /^map(?:desc)?(\d+)$/.exec(i.name);
    if (m && i.kind === "global") ids.add(Number(m[1]));
  }
  return ids;
}

/** Lays out the maps `ids` of `meta` from `at` on, for `lanes` workers. */
export function layoutSharedMaps(
  meta: Pick<WasmMeta, "maps">,
  ids: Iterable<number>,
  lanes: number,
  at: number,
): { maps: SharedMapLayout[]; end: number } {
  const maps: SharedMapLayout[] = [];
  for (const id of [...ids].sort((a, b) => a - b)) {
    const m: WasmMapMeta = meta.maps[id]!;
    if (!(m.kind in SHARED_MAP_KINDS)) continue;
    at = align(at, 64);
    const bytes = sharedMapBytes(m, lanes);
    const code = SHARED_MAP_KINDS[m.kind]!;
    maps.push({
      id,
      name: m.name,
      kind: m.kind,
      bpfType: m.bpfType,
      keySize: m.keySize,
      valueSize: m.valueSize,
      maxEntries: m.maxEntries,
      lanes: isPerCpuKind(code) ? lanes : 1,
      desc: at,
      values: at + MAP_DESC.size,
      bytes,
    });
    at += bytes;
  }
  return { maps, end: at };
}

/** Writes each map's descriptor and free list (the memory is zero there, as it is fresh). */
export function initSharedMaps(memory: WebAssembly.Memory, maps: SharedMapLayout[]): void {
  const v = new DataView(memory.buffer);
  const put = (at: number, x: number) => v.setUint32(at, x >>> 0, true);
  for (const m of maps) {
    const kind = SHARED_MAP_KINDS[m.kind]!;
    const d = m.desc;
    new Uint8Array(memory.buffer, d, m.bytes).fill(0);
    put(d + MAP_DESC.kind, kind);
    put(d + MAP_DESC.keySize, m.keySize);
    put(d + MAP_DESC.valueSize, m.valueSize);
    put(d + MAP_DESC.maxEntries, m.maxEntries);
    put(d + MAP_DESC.stride, valueStride(m.valueSize));
    put(d + MAP_DESC.lanes, m.lanes);
    put(d + MAP_DESC.keyStride, valueStride(m.keySize));
    if (kind <= KIND_PERCPU_ARRAY) {
      put(d + MAP_DESC.elems, m.values);
      continue;
    }
    if (kind === KIND_LPM_TRIE) {
      // A flat table of elements (in use: word 0 non-zero) under the free lock.
      put(d + MAP_DESC.elems, d + MAP_DESC.size);
      put(d + MAP_DESC.elemSize, hashElemSize(m.keySize, m.valueSize, 1));
      continue;
    }
    const nb = hashBuckets(m.maxEntries);
    const buckets = d + MAP_DESC.size;
    const elems = buckets + nb * 8;
    const size = hashElemSize(m.keySize, m.valueSize, m.lanes);
    put(d + MAP_DESC.mask, nb - 1);
    put(d + MAP_DESC.buckets, buckets);
    put(d + MAP_DESC.elems, elems);
    put(d + MAP_DESC.elemSize, size);
    for (let i = 0; i < m.maxEntries; i++)
      put(elems + i * size + ELEM.next, i + 1 < m.maxEntries ? elems + (i + 1) * size : 0);
    put(d + MAP_DESC.freeHead, m.maxEntries ? elems : 0);
  }
}

/** The global imports that give a worker's instance its maps (its own lane of per-CPU arrays). */
export function mapImports(
  mod: WebAssembly.Module,
  maps: SharedMapLayout[],
  lane: number,
): Record<string, WebAssembly.Global> {
  const wanted = new Set(
    WebAssembly.Module.imports(mod)
      .filter((i) => i.kind === "global")
      .map((i) => i.name),
  );
  const out: Record<string, WebAssembly.Global> = {};
  const global = (v: number) => new WebAssembly.Global({ value: "i32" }, v);
  for (const m of maps) {
    const stride = valueStride(m.valueSize);
    const base = m.values + (m.lanes > 1 ? lane * m.maxEntries * stride : 0);
    if (wanted.has(mapBaseImport(m.id))) out[mapBaseImport(m.id)] = global(base);
    if (wanted.has(mapDescImport(m.id))) out[mapDescImport(m.id)] = global(m.desc);
  }
  return out;
}

interface MapFns {
  [MAP_FN.lookup]: (d: number, key: number, lane: number) => number;
  [MAP_FN.update]: (
    d: number,
    key: number,
    value: number,
    flags: bigint,
    lane: number,
    all: number,
  ) => bigint;
  [MAP_FN.delete]: (d: number, key: number) => bigint;
  [MAP_FN.nextKey]: (d: number, key: number, out: number) => bigint;
  [MAP_FN.lookupCopy]: (d: number, key: number, out: number) => bigint;
}

/** Scratch bytes the control plane needs to pass keys and values (see SharedMaps). */
export function scratchBytes(maps: SharedMapLayout[]): number {
  let n = 64;
  for (const m of maps)
    n = Math.max(n, 2 * valueStride(m.keySize) + m.lanes * valueStride(m.valueSize) + 64);
  return align(n, 64);
}

/**
 * The control plane's handle on one map in the shared memory. Values are as the
 * kernel's syscalls give them: one `valueSize` value, or for a per-CPU map one
 * round8(valueSize) slot per lane (worker). Results are 0 or −errno.
 */
export class SharedMap {
  readonly lanes: number;
  readonly stride: number;
  constructor(
    readonly layout: SharedMapLayout,
    private readonly memory: WebAssembly.Memory,
    private readonly fns: MapFns,
    private readonly scratch: number,
  ) {
    this.lanes = layout.lanes;
    this.stride = valueStride(layout.valueSize);
  }
  get name() {
    return this.layout.name;
  }
  get perCpu() {
    return isPerCpuKind(SHARED_MAP_KINDS[this.layout.kind]!);
  }
  get lru() {
    return isLruKind(SHARED_MAP_KINDS[this.layout.kind]!);
  }
  /** Bytes of a value as the syscalls pass it. */
  get valueBytes() {
    return this.perCpu ? this.lanes * this.stride : this.layout.valueSize;
  }
  private bytes() {
    return new Uint8Array(this.memory.buffer);
  }
  private put(key: Uint8Array, value?: Uint8Array): { k: number; v: number } {
    if (key.length !== this.layout.keySize)
      throw new RangeError(
        `map '${this.name}': key of ${key.length} bytes, expected ${this.layout.keySize}`,
      );
    const k = this.scratch;
    const v = this.scratch + align(this.layout.keySize, 8) * 2;
    const b = this.bytes();
    b.set(key, k);
    if (value) {
      if (value.length !== this.valueBytes)
        throw new RangeError(
          `map '${this.name}': value of ${value.length} bytes, expected ${this.valueBytes}`,
        );
      b.fill(0, v, v + this.lanes * this.stride);
      if (this.perCpu)
        for (let l = 0; l < this.lanes; l++)
          b.set(
            value.subarray(l * this.stride, l * this.stride + this.layout.valueSize),
            v + l * this.stride,
          );
      else b.set(value, v);
    }
    return { k, v };
  }
  /** The value (every lane of a per-CPU map), or null when absent. */
  lookup(key: Uint8Array): Uint8Array | null {
    const { k, v } = this.put(key);
    const r = this.fns[MAP_FN.lookupCopy](this.layout.desc, k, v);
    if (r < 0n) return null;
    const b = this.bytes();
    if (!this.perCpu) return b.slice(v, v + this.layout.valueSize);
    const out = new Uint8Array(this.valueBytes);
    for (let l = 0; l < this.lanes; l++)
      out.set(
        b.subarray(v + l * this.stride, v + l * this.stride + this.layout.valueSize),
        l * this.stride,
      );
    return out;
  }
  update(key: Uint8Array, value: Uint8Array, flags = 0): number {
    const { k, v } = this.put(key, value);
    return Number(this.fns[MAP_FN.update](this.layout.desc, k, v, BigInt(flags), 0, 1));
  }
  delete(key: Uint8Array): number {
    const { k } = this.put(key);
    return Number(this.fns[MAP_FN.delete](this.layout.desc, k));
  }
  /** The key after `key` (the first for null), or null at the end. */
  nextKey(key: Uint8Array | null): Uint8Array | null {
    const k = this.scratch;
    const out = this.scratch + align(this.layout.keySize, 8);
    if (key) this.put(key);
    const r = this.fns[MAP_FN.nextKey](this.layout.desc, key ? k : 0, out);
    if (r < 0n) return null;
    return this.bytes().slice(out, out + this.layout.keySize);
  }
  keys(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let k = this.nextKey(null); k && out.length <= this.layout.maxEntries; k = this.nextKey(k))
      out.push(k);
    return out;
  }
  entries(): [Uint8Array, Uint8Array][] {
    return this.keys().flatMap((k) => {
      const v = this.lookup(k);
      return v ? [[k, v] as [Uint8Array, Uint8Array]] : [];
    });
  }
}

/** Every shared map of a run, by name, through `exports` (an instance with the map code). */
export class SharedMaps {
  private readonly byName = new Map<string, SharedMap>();
  constructor(
    readonly layouts: SharedMapLayout[],
    memory: WebAssembly.Memory,
    exports: WebAssembly.Instance["exports"],
    scratch: number,
  ) {
    const fns = exports as unknown as MapFns;
    if (layouts.length && typeof fns[MAP_FN.lookup] !== "function")
      throw new Error("the module has no map code (compile it with rxBatch)");
    for (const l of layouts) this.byName.set(l.name, new SharedMap(l, memory, fns, scratch));
  }
  get(name: string): SharedMap | undefined {
    return this.byName.get(name);
  }
  names(): string[] {
    return [...this.byName.keys()];
  }
}
