// What a host needs to know to run a compiled module, besides the Wasm binary: the
// exported entry points, the maps (helpers name them by index), where each global
// variable sits in the data area, and how many bytes of stack one instance needs.
// Carried inside the .wasm as the custom section `xdpc.meta` (JSON), so a .wasm file
// on its own is enough for the runtime.
import { sizeAlign } from "../check/types.ts";
import type { CheckedModule } from "../check/result.ts";
import { paramSymbol } from "../ir/lower.ts";

export const META_SECTION = "xdpc.meta";

export interface WasmFunctionMeta {
  /** Export name (the source function's name). */
  name: string;
  /** `xdp`: returns an XDP action; `handler`: returns XSK_DROP (0) / XSK_TX (1). */
  kind: "xdp" | "handler";
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

const align = (n: number, a: number) => Math.ceil(n / a) * a;

/** Bytes between consecutive values of a map in memory (8-aligned, as the kernel's arrays). */
export const valueStride = (valueSize: number) => align(valueSize, 8);

/**
 * Array maps (ArrayMap, PerCpuArray) are looked up inside the module: the host lays
 * their values out contiguously at the address it passes as global import `xdpc.map<id>`.
 */
export const INLINE_ARRAY_KINDS = new Set(["ArrayMap", "PerCpuArray"]);
export const mapBaseImport = (id: number) => `map${id}`;

function hexOf(value: bigint, size: number): string {
  let v = BigInt.asUintN(size * 8, value);
  let out = "";
  for (let k = 0; k < size; k++) {
    out += Number(v & 0xffn)
      .toString(16)
      .padStart(2, "0");
    v >>= 8n;
  }
  return out;
}

/**
 * Lays out load-time parameters (.rodata), zero-initialised globals (.bss) and the
 * others (.data) in declaration order with natural alignment, section by section —
 * the order the ELF writer uses — so that a section's bytes mean the same on both
 * targets (a loader's `.rodata` image applies to either).
 */
export function layoutData(m: CheckedModule): {
  sections: WasmSectionMeta[];
  globals: WasmGlobalMeta[];
  dataSize: number;
} {
  type Var = { name: string; section: WasmGlobalMeta["section"]; size: number; init: bigint };
  const vars: Var[] = [
    ...m.params.map((p) => ({
      name: paramSymbol(p),
      section: ".rodata" as const,
      size: sizeAlign(p.type).size,
      init: p.default,
    })),
    ...m.globals.map((g) => ({
      name: g.name,
      section: g.init === 0n ? (".bss" as const) : (".data" as const),
      size: sizeAlign(g.type).size,
      init: g.init,
    })),
  ];
  const sections: WasmSectionMeta[] = [];
  const globals: WasmGlobalMeta[] = [];
  let at = 0;
  for (const name of [".rodata", ".bss", ".data"] as const) {
    const own = vars.filter((v) => v.section === name);
    if (!own.length) continue;
    at = align(at, 8);
    const start = at;
    let size = 0;
    for (const v of own) {
      size = align(size, v.size);
      globals.push({
        name: v.name,
        section: name,
        offset: start + size,
        size: v.size,
        init: hexOf(v.init, v.size),
      });
      size += v.size;
    }
    sections.push({ name, offset: start, size });
    at = start + size;
  }
  return { sections, globals, dataSize: align(at, 8) };
}

export function mapMeta(m: CheckedModule): WasmMapMeta[] {
  return m.maps.map((x) => ({
    name: x.name,
    kind: x.kind,
    bpfType: x.bpfType,
    keySize: x.keySize,
    valueSize: x.valueSize,
    maxEntries: x.maxEntries,
  }));
}

export function encodeMeta(meta: WasmMeta): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(meta));
}

/** The metadata of a compiled module, or null when the binary carries none (not ours). */
export function readMeta(binary: Uint8Array | WebAssembly.Module): WasmMeta | null {
  const mod = binary instanceof WebAssembly.Module ? binary : new WebAssembly.Module(binary);
  const [sec] = WebAssembly.Module.customSections(mod, META_SECTION);
  if (!sec) return null;
  return JSON.parse(new TextDecoder().decode(sec)) as WasmMeta;
}
