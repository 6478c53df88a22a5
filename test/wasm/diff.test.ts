// Differential: every example filter's XDP program compiled to WebAssembly and run by
// the JS host must return the same verdicts and leave the same bytes as the eBPF object
// of the same source run by the kernel (BPF_PROG_TEST_RUN), over the whole packet
// corpus, with maps and load-time parameters set up the same way on both sides
// (twin-setups.ts fills the kernel's maps; the host gets a copy of their contents).
// Final map contents and global data must agree too.
import { expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { compile } from "../../compiler/driver/index.ts";
import { compileToWasm } from "../../compiler/wasm/compile.ts";
import { missingHelpers, WasmHost } from "../../runtime/wasm/instance.ts";
import type { LoadedObject } from "../../native/object.ts";
import { describeKernel } from "../support/kernel.ts";
import { loadCorpus, MAX_XDP_TEST_PACKET } from "../support/corpus.ts";
import { EXAMPLE_FILTERS } from "../support/filters.ts";
import { concat, fromHex, hex } from "../../runtime/packets/build.ts";
import { twinBeforeLoad, twinSetups } from "../support/twin-setups.ts";
import { loadXdpObject, runXdp, verdictName } from "../support/xdp.ts";
import { dumpMap } from "../differential/diff.ts";
import { DUMPABLE, kernelVsHostDiffs, onOneCpu } from "./support.ts";

const repo = resolve(import.meta.dirname, "../..");

/**
 * BPF_PROG_TEST_RUN puts at most this many bytes of a packet in the linear part and
 * the rest in fragments, which an XDP program does not see (data_end is the linear
 * end): 4096 - 256 headroom - 320 skb_shared_info (corpus.ts). A Wasm frame is always
 * whole, so the host is given the linear part and the rest is carried over unchanged.
 */
const LINEAR = MAX_XDP_TEST_PACKET - 17 * 4096;

/** Maps whose contents legitimately differ: syn_guard's buckets hold ktime stamps. */
const IGNORE_MAPS: Record<string, string[]> = { syn_guard: ["buckets"] };

function buildBoth(name: string) {
  const file = resolve(repo, `filters/${name}.ts`);
  const source = readFileSync(file, "utf8");
  const out = compile(source, { file, emit: "object" });
  if (!out.object || !out.checked)
    throw new Error(out.diagnostics.map((d) => d.message).join("\n"));
  const wasm = compileToWasm(out.checked, { only: "xdp" });
  if (!wasm.binary) throw new Error(wasm.diagnostics.map((d) => d.message).join("\n"));
  const program = wasm.meta!.functions[0]!.name;
  return { object: out.object, wasm: wasm.binary, program };
}

describeKernel("Wasm backend agrees with the kernel on the example filters", () => {
  const corpus = loadCorpus();
  for (const name of EXAMPLE_FILTERS) {
    const built = buildBoth(name);
    const missing = missingHelpers(built.wasm);
    // A helper the host lacks is a visible skip that names it, never a silent pass.
    it.skipIf(missing.length > 0)(
      missing.length ? `${name} [skipped: host lacks ${missing.join(", ")}]` : name,
      () => {
        const host = new WasmHost(built.wasm);
        // twinBeforeLoad sets `.rodata` through a LoadedObject; the host takes the same bytes.
        const sections = {
          mapNames: () => [".rodata", ".data", ".bss"],
          setInitialValue: (map: string, bytes: Uint8Array) => host.setSection(map, bytes),
        } as unknown as LoadedObject;
        twinBeforeLoad[name]?.(sections);
        const obj = loadXdpObject(built.object, {
          name: "wdiff",
          beforeLoad: twinBeforeLoad[name],
        });
        try {
          twinSetups[name]?.(obj);
          // Copy what the setup put into the kernel's maps into the host's.
          for (const m of host.mapNames()) {
            const info = obj.object.map(m);
            if (!DUMPABLE.has(info.type)) continue;
            for (const [k, v] of dumpMap(info.fd, info.type, info.keySize, info.valueSize))
              expect(host.map(m).update(fromHex(k), fromHex(v), 0), `fill ${m}[${k}]`).toBe(0);
          }
          const fd = obj.programFd();
          const mismatches: string[] = [];
          const histogram: Record<string, number> = {};
          onOneCpu(() => {
            for (const p of corpus.packets) {
              const k = runXdp(fd, [p.data])[0]!;
              const w = host.run(built.program, p.data.subarray(0, LINEAR));
              if (p.data.length > LINEAR) w.data = concat(w.data, p.data.subarray(LINEAR));
              histogram[k.name] = (histogram[k.name] ?? 0) + 1;
              if (k.verdict !== w.verdict || hex(k.data) !== hex(w.data))
                mismatches.push(
                  `${p.source}: kernel ${k.name} ${hex(k.data)}\n    wasm ${verdictName(w.verdict)} ${hex(w.data)}`,
                );
            }
          });
          expect(mismatches.slice(0, 5).join("\n"), `${mismatches.length} mismatches`).toBe("");

          const mapDiffs = kernelVsHostDiffs(obj, host, IGNORE_MAPS[name] ?? []);
          expect(mapDiffs.slice(0, 10).join("\n")).toBe("");
          expect(corpus.packets.length).toBeGreaterThan(50);
          if (name !== "tcp_events")
            expect(Object.keys(histogram).length, JSON.stringify(histogram)).toBeGreaterThan(1);
        } finally {
          obj.close();
        }
      },
    );
  }
});
