// The metadata of a checked module, for abi.ts: where each global variable sits in the
// data area, and the maps (helpers name them by index).
import { sizeAlign } from "../check/types.ts";
import type { CheckedModule } from "../check/result.ts";
import { paramSymbol } from "../ir/lower.ts";
import type { WasmGlobalMeta, WasmMapMeta, WasmSectionMeta } from "./abi.ts";

const align = (n: number, a: number) => Math.ceil(n / a) * a;

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
