// The optimizer's differential test: a generated program built with every IR pass and
// built again without one pass (each in turn) and without any, all run in the kernel
// over the same frames; without any pass it also runs in the Wasm host. Every build
// must give the full build's verdicts, bytes and final maps: a pass that changes what a
// program does is a miscompile, whatever clang says.
import { compile } from "../../compiler/driver/index.ts";
import { compileToWasm } from "../../compiler/wasm/compile.ts";
import { PASSES } from "../../compiler/ir/passes/index.ts";
import { framesFor } from "./campaign.ts";
import { differ, runKernel, runWasm } from "./engines.ts";
import { generate, render } from "./gen.ts";

/** Each pass alone left out, then all of them. */
export const PASS_VARIANTS: { name: string; skip: string[] }[] = [
  ...PASSES.map((p) => ({ name: `without ${p.name}`, skip: [p.name] })),
  { name: "without any pass", skip: PASSES.map((p) => p.name) },
];

export interface PassCase {
  seed: number;
  /** No finding possible: the full build did not compile or load (the main fuzzer's business). */
  skipped?: string;
  /** One line per build that differs from the full build, or that failed where it built. */
  findings: string[];
}

export function runPassCase(seed: number): PassCase {
  const { ts } = render(generate(seed));
  const frames = framesFor(seed);
  const build = (skip: string[]) =>
    compile(ts, { file: "fuzz.ts", emit: "object", skipPasses: skip });
  const full = build([]);
  if (!full.object) return { seed, skipped: "the full build has errors", findings: [] };
  const ref = runKernel(full.object, frames);
  if (!ref.outcome) return { seed, skipped: "the full build does not load", findings: [] };
  const findings: string[] = [];
  for (const v of PASS_VARIANTS) {
    const out = build(v.skip);
    if (!out.object) {
      findings.push(`${v.name}: no object (${out.diagnostics[0]?.message ?? "?"})`);
      continue;
    }
    const run = runKernel(out.object, frames);
    if (!run.outcome) {
      findings.push(
        `${v.name}: rejected: ${(run.loadError ?? "").split("\n").slice(-2).join(" | ")}`,
      );
      continue;
    }
    const d = differ(run.outcome, ref.outcome);
    if (d) findings.push(`${v.name}: differs from the full build: ${d}`);
    if (v.skip.length === PASSES.length && out.checked) {
      const w = compileToWasm(out.checked, { only: "xdp", skipPasses: v.skip });
      if (!w.binary) continue; // the Wasm backend's coverage is the main fuzzer's
      const dw = differ(
        runWasm(w.binary, w.meta!.functions[0]!.name, out.object, frames),
        ref.outcome,
      );
      if (dw) findings.push(`${v.name}, Wasm: differs from the full kernel build: ${dw}`);
    }
  }
  return { seed, findings };
}

// `node --import tsx test/fuzz/passes.ts A:B` runs seeds A..B and prints the findings.
if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const m = /^(\d+):(\d+)$/.exec(process.argv[2] ?? "");
  if (!m) {
    process.stderr.write("usage: node --import tsx test/fuzz/passes.ts A:B\n");
    process.exit(2);
  }
  let compared = 0;
  let bad = 0;
  for (let seed = Number(m[1]); seed <= Number(m[2]); seed++) {
    const r = runPassCase(seed);
    if (r.skipped) continue;
    compared++;
    if (r.findings.length) bad++;
    for (const f of r.findings) process.stdout.write(`seed ${seed}: ${f}\n`);
  }
  process.stdout.write(`${compared} programs compared, ${bad} with findings\n`);
  process.exitCode = bad ? 1 : 0;
}
