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
import { mapUpdate } from "../../native/object.ts";
import { describeKernel } from "../support/kernel.ts";
import { loadCorpus, MAX_XDP_TEST_PACKET, samplePackets } from "../support/corpus.ts";
import { hex } from "../../runtime/packets/build.ts";
import { loadXdpObject, runXdp, type XdpObject } from "../support/xdp.ts";
import { kernelVsHostDiffs, onOneCpu } from "../wasm/support.ts";
import { compileBpfC, clangUnavailableReason } from "../differential/clang.ts";
import { diffObjects, formatDiff } from "../differential/diff.ts";
import { craftedFrames } from "./frames.ts";

const dir = import.meta.dirname;
const LINEAR = MAX_XDP_TEST_PACKET - 17 * 4096;
const le32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);

interface Port {
  name: string;
  programs: string[];
  setup?: (o: XdpObject) => void;
}

const ports: Port[] = [
  { name: "xdp1", programs: ["xdp_prog1"] },
  { name: "xdp2", programs: ["xdp_prog1"] },
  {
    name: "packet02",
    programs: ["xdp_patch_ports_func", "xdp_vlan_swap_func", "xdp_pass_func"],
  },
  {
    name: "packet03",
    programs: [
      "xdp_icmp_echo_func",
      "xdp_redirect_func",
      "xdp_redirect_map_func",
      "xdp_router_func",
      "xdp_pass_func",
    ],
    // The crafted frames' source MAC maps to a new destination; slot 0 of tx_port is lo.
    setup: (o) => {
      const src = Uint8Array.of(2, 0, 0, 0, 0, 1);
      mapUpdate(o.mapFd("redirect_params"), src, Uint8Array.of(2, 0xaa, 0xbb, 0xcc, 0xdd, 0xee));
      mapUpdate(o.mapFd("tx_port"), le32(0), le32(1));
    },
  },
  { name: "xdp_adjust_tail", programs: ["xdp_icmp"] },
  {
    name: "xdp_fwd",
    programs: ["xdp_fwd", "xdp_fwd_direct"],
    // Every egress index configured, to lo: the "is it a TX port" lookup then succeeds.
    setup: (o) => {
      for (let i = 0; i < 64; i++) mapUpdate(o.mapFd("xdp_tx_ports"), le32(i), le32(1));
    },
  },
];

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
        const r = diffObjects(built.object!, twin, packets, {
          programA: prog,
          programB: prog,
          setup: port.setup,
        });
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
          port.setup?.(obj);
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
