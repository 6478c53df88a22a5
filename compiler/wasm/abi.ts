// The ABI contract between a compiled module and its host, as pure data: import names,
// the metadata section, and how map values sit in memory. The compiler writes modules
// to it and runtime/wasm runs them by it (docs/wasm.md); nothing here imports the
// compiler, so the runtime may import this file.

/** Module of the helper and base imports. */
export const IMPORT_MODULE = "xdpc";
/** Where the module finds its memory: `env.memory`, shared. */
export const MEMORY_MODULE = "env";
export const MEMORY_NAME = "memory";

export const META_SECTION = "xdpc.meta";

export interface WasmFunctionMeta {
  /** Export name (the source function's name). */
  name: string;
  /**
   * `xdp`: returns an XDP action; `handler`: returns XSK_DROP (0) / XSK_TX (1); `tc`:
   * returns a tc action (an int: TC_ACT_UNSPEC is -1) and takes (frame, len, skb), `skb`
   * the address of a struct __sk_buff image (SKB_IMAGE_SIZE bytes) it reads and writes.
   */
  kind: "xdp" | "handler" | "tc";
  /** A tc program's ELF section when it is a tcx one (its verdicts are TCX_* names); absent for `tc`. */
  section?: "tcx/ingress" | "tcx/egress";
  /** Calls adjustHead/adjustTail: the frame's final bounds are in the exported globals xdpc_data / xdpc_end. */
  adjusts?: boolean;
}

export interface WasmMapMeta {
  name: string;
  /** Source map kind (ArrayMap, HashMap, LpmTrie, ...). */
  kind: string;
  /** enum bpf_map_type, as in the eBPF object. */
  bpfType: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

export interface WasmGlobalMeta {
  name: string;
  section: ".rodata" | ".bss" | ".data";
  /** Byte offset from the start of the data area (not of its section). */
  offset: number;
  size: number;
  /** Little-endian initial bytes, as hex. */
  init: string;
}

export interface WasmSectionMeta {
  name: ".rodata" | ".bss" | ".data";
  /** Byte offset from the start of the data area; sections are laid out as in the ELF object. */
  offset: number;
  size: number;
}

export interface WasmMeta {
  version: 1;
  functions: WasmFunctionMeta[];
  /** Index in this list = the map id that helper imports receive. */
  maps: WasmMapMeta[];
  sections: WasmSectionMeta[];
  globals: WasmGlobalMeta[];
  /** Bytes of the data area (all sections, 8-aligned). */
  dataSize: number;
  /** Bytes of stack one instance needs (the largest frame of its functions, 8-aligned). */
  stackSize: number;
}

/** sizeof(struct __sk_buff): the image a tc program's third parameter points at. */
export const SKB_IMAGE_SIZE = 192;

/** Bytes between consecutive values of a map in memory (8-aligned, as the kernel's arrays). */
export const valueStride = (valueSize: number) => Math.ceil(valueSize / 8) * 8;

/**
 * Array maps (ArrayMap, PerCpuArray) are looked up inside the module: the host lays
 * their values out contiguously at the address it passes as global import `xdpc.map<id>`.
 */
export const INLINE_ARRAY_KINDS = new Set(["ArrayMap", "PerCpuArray"]);
export const mapBaseImport = (id: number) => `map${id}`;

export function encodeMeta(meta: WasmMeta): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(meta));
}

/** The metadata of a compiled module, or null when the binary carries none (not ours). */
export function readMeta(binary: Uint8Array | WebAssembly.Module): WasmMeta | null {
  const mod =
    binary instanceof WebAssembly.Module
      ? binary
      : new WebAssembly.Module(binary as Uint8Array<ArrayBuffer>);
  const [sec] = WebAssembly.Module.customSections(mod, META_SECTION);
  if (!sec) return null;
  return JSON.parse(new TextDecoder().decode(sec)) as WasmMeta;
}

// ------------------------------------------------------------------ shared maps
//
// In AF_XDP workers (modules compiled with `rxBatch`) the maps a handler uses live in
// the shared memory, laid out for concurrent use by every worker, and the module's own
// code (compiler/wasm/maps.ts) runs lookups, updates and deletes with the kernel's
// semantics and errnos. Each map has a descriptor (MAP_DESC); the runtime lays the
// maps out and writes the descriptors (runtime/xsk/maps.ts), the module imports their
// addresses as globals.

/** Map kinds that live in the shared memory, and the kind code their descriptor holds. */
export const SHARED_MAP_KINDS: Record<string, number> = {
  ArrayMap: 1,
  PerCpuArray: 2,
  HashMap: 3,
  PerCpuHash: 4,
  LruHash: 5,
  LruPerCpuHash: 6,
  LpmTrie: 7,
};
export const KIND_ARRAY = 1;
export const KIND_PERCPU_ARRAY = 2;
export const KIND_HASH = 3;
export const KIND_PERCPU_HASH = 4;
export const KIND_LRU_HASH = 5;
export const KIND_LRU_PERCPU_HASH = 6;
/** Entries in one flat table under one lock (compiler/wasm/lpm.ts): count in freeHead. */
export const KIND_LPM_TRIE = 7;
export const isPerCpuKind = (k: number) =>
  k === KIND_PERCPU_ARRAY || k === KIND_PERCPU_HASH || k === KIND_LRU_PERCPU_HASH;
export const isLruKind = (k: number) => k === KIND_LRU_HASH || k === KIND_LRU_PERCPU_HASH;

/** A map's descriptor (u32 fields, byte offsets). */
export const MAP_DESC = {
  kind: 0,
  keySize: 4,
  valueSize: 8,
  maxEntries: 12,
  /** round8(valueSize): bytes between lanes and between array values. */
  stride: 16,
  /** Values per element: the workers for per-CPU maps, else 1. */
  lanes: 20,
  /** Buckets − 1 (a power of two less one). */
  mask: 24,
  /** Address of the buckets (8 bytes each: lock, first element). */
  buckets: 28,
  /** Address of the elements (hash maps) or of value 0 of lane 0 (arrays, lane-major). */
  elems: 32,
  elemSize: 36,
  /** Spinlock and head of the free elements. */
  freeLock: 40,
  freeHead: 44,
  /** LRU maps: spinlock, most and least recently used element. */
  lruLock: 48,
  lruHead: 52,
  lruTail: 56,
  /** round8(keySize). */
  keyStride: 60,
  size: 64,
} as const;

/** A hash element: header, key (keyStride bytes), then `lanes` values of `stride` bytes. */
export const ELEM = { next: 0, hash: 4, lruPrev: 8, lruNext: 12, ref: 16, key: 24 } as const;

/** Bytes of a shared map's region (descriptor included) for `lanes` lanes. */
export function sharedMapBytes(
  m: Pick<WasmMapMeta, "kind" | "keySize" | "valueSize" | "maxEntries">,
  lanes: number,
): number {
  const kind = SHARED_MAP_KINDS[m.kind]!;
  const l = isPerCpuKind(kind) ? lanes : 1;
  const stride = valueStride(m.valueSize);
  if (kind <= KIND_PERCPU_ARRAY) return MAP_DESC.size + l * m.maxEntries * stride;
  if (kind === KIND_LPM_TRIE)
    return MAP_DESC.size + m.maxEntries * hashElemSize(m.keySize, m.valueSize, 1);
  return (
    MAP_DESC.size +
    hashBuckets(m.maxEntries) * 8 +
    m.maxEntries * hashElemSize(m.keySize, m.valueSize, l)
  );
}
/** The kernel's bucket count: max_entries rounded up to a power of two. */
export const hashBuckets = (maxEntries: number) =>
  2 ** Math.ceil(Math.log2(Math.max(1, maxEntries)));
export const hashElemSize = (keySize: number, valueSize: number, lanes: number) =>
  ELEM.key + valueStride(keySize) + lanes * valueStride(valueSize);

/** Global imports of a module with shared maps: the descriptor of map `id`, and the worker's lane. */
export const mapDescImport = (id: number) => `mapdesc${id}`;
export const LANE_IMPORT = "lane";

/** Exports of the map code (in handler modules and in the standalone map module). */
export const MAP_FN = {
  /** (desc, key, lane) → value address or 0 (an LRU lookup marks the element used). */
  lookup: "xdpc_map_lookup",
  /** (desc, key, value, flags: i64, lane, all) → 0 or −errno (i64); `all`: value holds every lane (syscall layout). */
  update: "xdpc_map_update",
  /** (desc, key) → 0 or −errno (i64). */
  delete: "xdpc_map_delete",
  /** (desc, key or 0, out) → 0 or −ENOENT (i64): the key after `key` (the first for 0 or an absent key). */
  nextKey: "xdpc_map_next_key",
  /** (desc, key, out) → 0 or −ENOENT (i64): copies every lane's value under the bucket lock (syscall lookup). */
  lookupCopy: "xdpc_map_lookup_copy",
} as const;
