// The real-world ports against their C twins (README.md): xdpc's object and clang -O2's
// run in the kernel over a sample of the corpus plus the crafted frames of frames.ts;
// verdicts, output bytes and maps must be identical. Wasm: each port runs in the Wasm
// host too unless it needs a helper the host lacks (named in the test title).
import { expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { compile } from "../../compiler/driver/index.ts";
import { compileToWasm } from "../../compiler/wasm/compile.ts";
import { missingHelpers, WasmHost } from "../../runtime/wasm/instance.ts";
import { describeKernel } from "../support/kernel.ts";
import { loadCorpus, MAX_XDP_TEST_PACKET, samplePackets } from "../support/corpus.ts";
import { hex } from "../../runtime/packets/build.ts";
import { loadXdpObject, runXdp, type XdpObject } from "../support/xdp.ts";
import { kernelVsHostDiffs, onOneCpu } from "../wasm/support.ts";
import { compileBpfC, clangUnavailableReason } from "../differential/clang.ts";
import { diffObjects, formatDiff } from "../differential/diff.ts";
import { craftedFrames } from "./frames.ts";
import { kernelPut, ports } from "./ports.ts";

const dir = import.meta.dirname;
const LINEAR = MAX_XDP_TEST_PACKET - 17 * 4096;

describeKernel("real-world ports agree with their clang -O2 twins", () => {
  const clang = clangUnavailableReason();
  const packets = [
    ...craftedFrames().map((f) => ({ data: f.data, source: `crafted:${f.name}` })),
    ...samplePackets(loadCorpus().packets, 400, 11),
  ];
  for (const port of ports) {
    const source = readFileSync(join(dir, `${port.name}.ts`), "utf8");
    const built = compile(source, { file: `${port.name}.ts`, emit: "object" });
    for (const prog of port.programs) {
      it.skipIf(clang !== null)(`${port.name} ${prog}${clang ? ` [${clang}]` : ""}`, () => {
        expect(built.diagnostics.map((d) => d.message)).toEqual([]);
        const twin = compileBpfC({ path: join(dir, `${port.name}.c`) });
        // On one CPU: a port that counts per CPU (cpuId) then counts on the same key on both sides.
        const r = onOneCpu(() =>
          diffObjects(built.object!, twin, packets, {
            programA: prog,
            programB: prog,
            setup: port.setup && ((o) => port.setup!(kernelPut(o))),
          }),
        );
        expect(r.mismatchCount + r.mapMismatches.length, formatDiff(r)).toBe(0);
        expect(r.packets).toBe(packets.length);
      });
    }
    const wasm = compileToWasm(built.checked!, { names: port.programs });
    const missing = wasm.binary ? missingHelpers(wasm.binary) : ["(no module)"];
    const title = missing.length ? ` [skipped: host lacks ${missing.join(", ")}]` : "";
    it.skipIf(missing.length > 0)(
      `${port.name}: the Wasm build agrees with the kernel${title}`,
      () => {
        const host = new WasmHost(wasm.binary!);
        const obj = loadXdpObject(built.object!, { name: "rwasm" });
        try {
          port.setup?.(kernelPut(obj));
          port.setup?.((m, k, v) => {
            if (host.map(m).update(k, v, 0) !== 0) throw new Error(`host map ${m}: update failed`);
          });
          const bad: string[] = [];
          onOneCpu(() => {
            for (const p of packets) {
              if (p.data.length > LINEAR) continue; // the kernel adjusts fragments, the host one buffer
              for (const prog of port.programs) {
                const k = runXdp(obj.programFd(prog), [p.data])[0]!;
                const w = host.run(prog, p.data);
                if (k.verdict !== w.verdict || hex(k.data) !== hex(w.data))
                  bad.push(
                    `${p.source} ${prog}: kernel ${k.name} ${hex(k.data).slice(0, 80)} wasm ${w.verdict} ${hex(w.data).slice(0, 80)}`,
                  );
              }
            }
          });
          expect(bad.slice(0, 3).join("\n"), `${bad.length} mismatches`).toBe("");
          expect(kernelVsHostDiffs(obj, host).slice(0, 6).join("\n")).toBe("");
        } finally {
          obj.close();
        }
      },
    );
  }
});
