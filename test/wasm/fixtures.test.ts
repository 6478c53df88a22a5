// Differential over the language and acceptance fixtures: each XDP program, compiled
// on its own to WebAssembly, must agree with the kernel running the eBPF object of the
// same source — verdicts, output bytes, final maps and globals — over a sample of the
// packet corpus, starting from empty maps. Programs that call a helper the host lacks,
// or one whose result differs between runs (time, randomness, CPU number), are skipped
// with the reason in the test name.
import { expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { compile } from "../../compiler/driver/index.ts";
import { compileToWasm } from "../../compiler/wasm/compile.ts";
import { missingHelpers, WasmHost } from "../../runtime/wasm/instance.ts";
import { describeKernel } from "../support/kernel.ts";
import { loadCorpus, MAX_XDP_TEST_PACKET, samplePackets } from "../support/corpus.ts";
import { concat, hex } from "../../runtime/packets/build.ts";
import { loadXdpObject, runXdp, verdictName } from "../support/xdp.ts";
import { kernelVsHostDiffs, onOneCpu } from "./support.ts";

const repo = resolve(import.meta.dirname, "../..");
const DIRS = ["test/lang/fixtures", "test/accept/fixtures"];
const NONDETERMINISTIC = ["ktime_get_ns", "get_prandom_u32", "get_smp_processor_id"];
const LINEAR = MAX_XDP_TEST_PACKET - 17 * 4096;

interface Case {
  file: string;
  program: string;
  object: Uint8Array;
  wasm: Uint8Array;
  skip: string | null;
  /** Adjusts the packet: only linear packets compare (on fragments the kernel adjusts those). */
  adjusts: boolean;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const dir of DIRS)
    for (const f of readdirSync(resolve(repo, dir))
      .filter((n) => n.endsWith(".ts"))
      .sort()) {
      const path = join(dir, f);
      const source = readFileSync(resolve(repo, path), "utf8");
      const built = compile(source, { file: path, emit: "object" });
      if (!built.object || !built.checked)
        throw new Error(`${path}: ${built.diagnostics.map((d) => d.message).join("; ")}`);
      for (const fn of built.checked.module.functions.filter((x) => x.kind === "xdp")) {
        const w = compileToWasm(built.checked, { names: [fn.name] });
        if (!w.binary)
          throw new Error(`${path} ${fn.name}: ${w.diagnostics.map((d) => d.message).join("; ")}`);
        const missing = missingHelpers(w.binary);
        const nondet = w.imports!.map((i) => i.name).filter((n) => NONDETERMINISTIC.includes(n));
        const skip = missing.length
          ? `host lacks ${missing.join(", ")}`
          : nondet.length
            ? `nondeterministic ${nondet.join(", ")}`
            : null;
        out.push({
          file: path,
          program: fn.name,
          object: built.object,
          wasm: w.binary,
          skip,
          adjusts: !!w.meta!.functions[0]!.adjusts,
        });
      }
    }
  return out;
}

describeKernel("Wasm backend agrees with the kernel on the language fixtures", () => {
  const packets = samplePackets(loadCorpus().packets, 2000, 7);
  const all = cases();
  it("covers most fixture programs", () => {
    expect(all.length).toBeGreaterThan(15);
    expect(all.filter((c) => !c.skip).length).toBeGreaterThan(all.length / 2);
  });
  for (const c of all) {
    const title = `${c.file} ${c.program}${c.skip ? ` [skipped: ${c.skip}]` : ""}`;
    it.skipIf(c.skip !== null)(title, () => {
      const host = new WasmHost(c.wasm);
      const obj = loadXdpObject(c.object, { name: "wfix" });
      try {
        const fd = obj.programFd(c.program);
        const mismatches: string[] = [];
        onOneCpu(() => {
          for (const p of packets) {
            if (c.adjusts && p.data.length > LINEAR) continue;
            const k = runXdp(fd, [p.data])[0]!;
            const w = host.run(c.program, p.data.subarray(0, LINEAR));
            if (p.data.length > LINEAR) w.data = concat(w.data, p.data.subarray(LINEAR));
            if (k.verdict !== w.verdict || hex(k.data) !== hex(w.data))
              mismatches.push(
                `${p.source}: kernel ${k.name} ${hex(k.data)}\n    wasm ${verdictName(w.verdict)} ${hex(w.data)}`,
              );
          }
        });
        expect(mismatches.slice(0, 3).join("\n"), `${mismatches.length} mismatches`).toBe("");
        const diffs = kernelVsHostDiffs(obj, host);
        expect(diffs.slice(0, 6).join("\n")).toBe("");
      } finally {
        obj.close();
      }
    });
  }
});
