// Helpers shared by the Wasm backend tests.
import { parse } from "../../compiler/syntax/index.ts";
import { check } from "../../compiler/check/index.ts";
import { renderDiagnostic } from "../../compiler/diagnostics/index.ts";
import { compileToWasm, type WasmOutput } from "../../compiler/wasm/compile.ts";
import type { HostMap } from "../../runtime/wasm/maps.ts";
import { hex } from "../../runtime/packets/build.ts";
import type { WasmHost } from "../../runtime/wasm/instance.ts";
import type { XdpObject } from "../support/xdp.ts";
import { dumpMap } from "../differential/diff.ts";
import { koffi } from "../../native/lib.ts";

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

/**
 * Every difference between the kernel's maps and global sections (after a run of the
 * eBPF object) and the Wasm host's, as `map[key]: kernel … wasm …` lines.
 */
export function kernelVsHostDiffs(
  obj: XdpObject,
  host: WasmHost,
  ignoreMaps: readonly string[] = [],
): string[] {
  const diffs: string[] = [];
  for (const m of host.mapNames()) {
    if (ignoreMaps.includes(m)) continue;
    const info = obj.object.map(m);
    if (!DUMPABLE.has(info.type)) continue;
    const kd = dumpMap(info.fd, info.type, info.keySize, info.valueSize);
    const wd = hostMapDump(host.map(m), info.type);
    for (const key of new Set([...kd.keys(), ...wd.keys()]))
      if (kd.get(key) !== wd.get(key))
        diffs.push(`${m}[${key}]: kernel ${kd.get(key)} wasm ${wd.get(key)}`);
  }
  // Global variables: libbpf's internal maps hold each data section at key 0.
  for (const sec of [".bss", ".data"]) {
    const kname = obj.object.mapNames().find((n) => n.endsWith(sec));
    if (!kname) continue;
    const info = obj.object.map(kname);
    const kd = dumpMap(info.fd, info.type, info.keySize, info.valueSize);
    const kernelBytes = kd.get("00000000") ?? "00".repeat(info.valueSize);
    if (kernelBytes !== hex(host.section(sec)))
      diffs.push(`${sec}: kernel ${kernelBytes} wasm ${hex(host.section(sec))}`);
  }
  return diffs;
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

let affinity: {
  get: (pid: number, size: number, mask: Buffer) => number;
  set: (pid: number, size: number, mask: Buffer) => number;
} | null = null;

/**
 * Runs `fn` with the calling thread pinned to one CPU. BPF_PROG_TEST_RUN runs the
 * program on the caller's CPU, so a per-CPU map written (not only added to) on
 * several CPUs sums differently from the host's single lane; pinned, every run
 * writes the same lane.
 */
export function onOneCpu<T>(fn: () => T): T {
  if (!affinity) {
    const libc = koffi().load("libc.so.6");
    affinity = {
      get: libc.func("int sched_getaffinity(int pid, size_t size, _Out_ uint8_t *mask)"),
      set: libc.func("int sched_setaffinity(int pid, size_t size, const uint8_t *mask)"),
    };
  }
  const saved = Buffer.alloc(128);
  if (affinity.get(0, saved.length, saved) !== 0) throw new Error("sched_getaffinity failed");
  const first = saved.findIndex((b) => b !== 0);
  const one = Buffer.alloc(128);
  one[first] = saved[first]! & -saved[first]!; // lowest set bit
  if (affinity.set(0, one.length, one) !== 0) throw new Error("sched_setaffinity failed");
  try {
    return fn();
  } finally {
    affinity.set(0, saved.length, saved);
  }
}
