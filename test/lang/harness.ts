// Compiles a language fixture through the driver (zero diagnostics expected), loads it
// through libbpf (the real verifier) and reads its maps, for the §-by-§ language tests.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { compile } from "../../compiler/driver/index.ts";
import { renderDiagnostic } from "../../compiler/diagnostics/render.ts";
import { mapLookup, possibleCpus, type LoadedObject } from "../../native/object.ts";
import { readObject } from "../../compiler/elf/object.ts";
import { testRun } from "../../native/bpf.ts";
import { loadXdpObject, type XdpObject } from "../support/xdp.ts";

export const fixture = (name: string) =>
  readFileSync(join(import.meta.dirname, "fixtures", `${name}.ts`), "utf8");

/** The fixture's object; fails the test with rendered diagnostics when there are any. */
export function build(name: string): Uint8Array {
  return buildSource(fixture(name), `${name}.ts`);
}

export function buildSource(source: string, file = "filter.ts"): Uint8Array {
  const out = compile(source, { file, emit: "object" });
  expect(out.diagnostics.map((d) => renderDiagnostic(d, source))).toEqual([]);
  expect(out.object).toBeDefined();
  return out.object!;
}

export function loadFixture(name: string): XdpObject {
  return loadXdpObject(build(name));
}

export function loadSource(source: string): XdpObject {
  return loadXdpObject(buildSource(source));
}

/** Diagnostics of a source (code and 1-based line:col of each), for invalid variants. */
export function diagnose(
  source: string,
): { code: number; line: number; col: number; text: string }[] {
  const out = compile(source, { file: "bad.ts", emit: "object" });
  return out.diagnostics.map((d) => {
    const before = source.slice(0, d.span.start).split("\n");
    return {
      code: d.code,
      line: before.length,
      col: before[before.length - 1]!.length + 1,
      text: source.slice(d.span.start, d.span.start + d.span.length),
    };
  });
}

export function run(obj: XdpObject, prog: string, pkt: Uint8Array) {
  return testRun(obj.programFd(prog), pkt, { repeat: 1 });
}

export const u32le = (v: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
};

/** An array/hash value as bytes, or null. */
export function lookup(obj: XdpObject, map: string, key: Uint8Array): Uint8Array | null {
  const m = obj.object.map(map);
  return mapLookup(m.fd, key, m.valueSize);
}

export function lookupU64(obj: XdpObject, map: string, key: Uint8Array): bigint | null {
  const v = lookup(obj, map, key);
  return v ? new DataView(v.buffer, v.byteOffset).getBigUint64(0, true) : null;
}
export function lookupI64(obj: XdpObject, map: string, key: Uint8Array): bigint | null {
  const v = lookup(obj, map, key);
  return v ? new DataView(v.buffer, v.byteOffset).getBigInt64(0, true) : null;
}

/** Sum over CPUs of a per-CPU map's u64 at `off` of the value. */
export function perCpuSumU64(obj: XdpObject, map: string, key: Uint8Array, off = 0): bigint | null {
  const m = obj.object.map(map);
  const stride = Math.ceil(m.valueSize / 8) * 8;
  const v = mapLookup(m.fd, key, stride * possibleCpus());
  if (!v) return null;
  const dv = new DataView(v.buffer, v.byteOffset);
  let s = 0n;
  for (let c = 0; c < possibleCpus(); c++) s += dv.getBigUint64(c * stride + off, true);
  return s;
}

/** Bytes of a global variable (`let`/param) of a loaded object, read from its data map. */
export function readGlobal(obj: XdpObject, bytes: Uint8Array, name: string): Uint8Array {
  const g = readObject(bytes).globals.find((x) => x.name === name);
  if (!g) throw new Error(`no global ${name}`);
  const mapName = obj.object.mapNames().find((m) => m.endsWith(g.section));
  const m = obj.object.map(mapName!);
  const v = mapLookup(m.fd, u32le(0), m.valueSize)!;
  return v.subarray(g.offset, g.offset + g.size);
}

/** Sets load-time parameters (name → little-endian bytes) in `.rodata` before load. */
export function setParams(
  obj: LoadedObject,
  bytes: Uint8Array,
  values: Record<string, Uint8Array>,
): void {
  const rodata = obj.mapNames().find((m) => m.endsWith(".rodata"))!;
  const init = obj.initialValue(rodata);
  for (const g of readObject(bytes).globals) {
    const v = values[g.name];
    if (v && g.section === ".rodata") init.set(v.subarray(0, g.size), g.offset);
  }
  obj.setInitialValue(rodata, init);
}
