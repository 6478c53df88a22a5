// A fixed-seed slice of the differential fuzzer (campaign.ts): random programs built by
// xdpc and by clang from their C twins, run in the kernel, and xdpc's Wasm build run in
// the host, must agree three ways. `npm run fuzz -- --seeds A:B` runs longer campaigns;
// a seed that fails here reproduces with `npm run fuzz -- --seeds N:N --reduce`.
import { expect, it } from "vitest";
import { describeKernel } from "../support/kernel.ts";
import { clangUnavailableReason } from "../differential/clang.ts";
import { runCase } from "./campaign.ts";
import { generate, render } from "./gen.ts";

const SEEDS = Array.from({ length: 48 }, (_, i) => i + 1);

describeKernel("differential fuzz slice (xdpc vs clang in the kernel vs the Wasm host)", () => {
  it.skipIf(clangUnavailableReason() !== null)(
    `seeds ${SEEDS[0]}..${SEEDS[SEEDS.length - 1]} agree`,
    () => {
      const findings: string[] = [];
      let ok = 0;
      for (const seed of SEEDS) {
        const r = runCase(generate(seed));
        if (r.cls === "ok") ok++;
        // A reference that cannot build or verify gives no verdict (counted, not failed).
        else if (r.cls !== "skip") findings.push(`seed ${seed}: ${r.cls}: ${r.detail}`);
      }
      expect(findings).toEqual([]);
      expect(ok).toBeGreaterThanOrEqual(SEEDS.length * 0.85);
      // The generator really covers the language: a program of the slice, rendered.
      const { ts, c } = render(generate(SEEDS[0]!));
      expect(ts).toContain("export function prog(ctx: XdpContext): XdpAction");
      expect(c).toContain('SEC("xdp")');
      // … and its newer shapes: AF_XDP handlers (checked against their XDP twin) and
      // load-time parameters set at load.
      const ps = SEEDS.map((s) => generate(s));
      expect(ps.filter((p) => p.handler).length).toBeGreaterThanOrEqual(8);
      expect(ps.filter((p) => Object.keys(p.sets).length).length).toBeGreaterThanOrEqual(8);
      const h = render(ps.find((p) => p.handler)!).handler!;
      expect(h).toContain("export function prog(pkt: XskPacket): XskVerdict");
      expect(h).toContain("new XskMap({ maxEntries: 1, handler: prog })");
      expect(render(ps.find((p) => Object.keys(p.sets).length)!).c).toContain("const volatile");
    },
    240_000,
  );

  // Campaign findings that were the C twin's fault, not xdpc's: each must now agree.
  it.skipIf(clangUnavailableReason() !== null)(
    "the twin's map increment is unsigned (seed 32603: clang made `+= INT64_MIN` an or)",
    () => {
      const p = generate(32603);
      expect(render(p).c).toMatch(/\(__s64\)\(\(__u64\)\*_p \+ \(__u64\)_by\)/);
      expect(runCase(p).cls).toBe("ok");
    },
    60_000,
  );
});
