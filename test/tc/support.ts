// What the tc helper tests share: a program built for both backends, its agreement with
// a clang -O2 twin under the skb test run, and the Wasm host's run against the kernel's.
import { expect } from "vitest";
import { compile } from "../../compiler/driver/index.ts";
import { compileToWasm } from "../../compiler/wasm/compile.ts";
import { WasmHost, type SkbFields, type TcRunResult } from "../../runtime/wasm/instance.ts";
import { loadXdpObject } from "../support/xdp.ts";
import { runTc } from "../support/tc.ts";
import { compileBpfC } from "../differential/clang.ts";
import { diffObjects, formatDiff } from "../differential/diff.ts";

export interface Packet {
  data: Uint8Array;
  source: string;
}

/** A tc program's eBPF object and Wasm module, with no diagnostics on either side. */
export function buildTc(source: string, file: string): { object: Uint8Array; wasm: Uint8Array } {
  const out = compile(source, { file, emit: "object" });
  expect(out.diagnostics.map((d) => d.message)).toEqual([]);
  const wasm = compileToWasm(out.checked!, { only: "tc" });
  expect(wasm.diagnostics.map((d) => d.message)).toEqual([]);
  return { object: out.object!, wasm: wasm.binary! };
}

/** xdpc's object and the clang twin at `cPath` give the same verdicts, bytes and maps. */
export function expectTwinAgrees(object: Uint8Array, cPath: string, list: Packet[]): void {
  const twin = compileBpfC({ path: cPath });
  const r = diffObjects(object, twin, list, { run: (fd, data) => runTc(fd, data) });
  expect(r.mismatchCount + r.mapMismatches.length, formatDiff(r)).toBe(0);
  expect(r.packets).toBe(list.length);
}

/**
 * Runs program `name` in the kernel and in the Wasm host over each packet the skb test
 * run takes (it refuses a cut IP header) and expects the same verdict, bytes, mark and
 * priority; returns the host's results.
 */
export function expectWasmAgrees(
  built: { object: Uint8Array; wasm: Uint8Array },
  name: string,
  list: Packet[],
  skb: SkbFields = {},
): TcRunResult[] {
  const host = new WasmHost(built.wasm);
  const obj = loadXdpObject(built.object);
  const out: TcRunResult[] = [];
  try {
    for (const p of list) {
      const k = runTc(obj.programFd(name), p.data);
      if (k.error) continue;
      const w = host.runTc(name, p.data, skb);
      const ctx = new DataView(k.ctx!.buffer);
      expect(
        [w.verdict, Buffer.from(w.data).toString("hex"), w.mark, w.priority],
        p.source,
      ).toEqual([
        k.verdict,
        Buffer.from(k.data).toString("hex"),
        ctx.getUint32(0, true),
        ctx.getUint32(4, true),
      ]);
      out.push(w);
    }
  } finally {
    obj.close();
  }
  return out;
}
