// Helpers shared by the Wasm backend tests.
import { parse } from "../../compiler/syntax/index.ts";
import { check } from "../../compiler/check/index.ts";
import { renderDiagnostic } from "../../compiler/diagnostics/index.ts";
import { compileToWasm, type WasmOutput } from "../../compiler/wasm/compile.ts";
import type { HostMap } from "../../compiler/wasm/maps.ts";
import { hex } from "../support/packets.ts";

const ARRAY = 2;
const PERCPU_ARRAY = 6;

/** Map types whose contents both sides can dump (not DevMap/CpuMap/XskMap, RingBuf). */
export const DUMPABLE = new Set([1, 2, 5, 6, 9, 10, 11]);

/** A host map in dumpMap's format (differential/diff.ts): hex key → hex value, zero array entries left out. */
export function hostMapDump(m: HostMap, bpfType: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of m.entries()) {
    if ((bpfType === ARRAY || bpfType === PERCPU_ARRAY) && v.every((x) => x === 0)) continue;
    out.set(hex(k), hex(v));
  }
  return out;
}

/** Compiles a fixture source to Wasm; throws with rendered diagnostics on any error. */
export function wasmOf(source: string, file = "fixture.ts"): WasmOutput & { binary: Uint8Array } {
  const parsed = parse(source, file);
  const checked = check(parsed.program);
  const diags = [...parsed.diagnostics, ...checked.diagnostics];
  if (diags.some((d) => d.severity === "error"))
    throw new Error(diags.map((d) => renderDiagnostic(d, source)).join("\n"));
  const out = compileToWasm(checked);
  if (!out.binary)
    throw new Error(out.diagnostics.map((d) => renderDiagnostic(d, source)).join("\n"));
  return out as WasmOutput & { binary: Uint8Array };
}
