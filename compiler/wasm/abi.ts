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
