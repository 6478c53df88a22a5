// npm run fuzz -- --seeds A:B [--size N] [--out DIR] [--reduce] [--no-wasm] [--pin-root DIR]
// Runs the seeds' programs three ways (campaign.ts), prints each finding as it comes
// and the per-class counts at the end; with --reduce, shrinks each finding (reduce.ts)
// and writes the original and reduced sources to DIR (default fuzz-out/).
import { CLASSES, runCase, saveCase, skipKind, type FuzzClass } from "./campaign.ts";
import { generate, render } from "./gen.ts";
import { reduce } from "./reduce.ts";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const seeds = arg("--seeds") ?? "1:100";
const [a, b] = seeds.split(":").map(Number) as [number, number];
if (!Number.isInteger(a) || !Number.isInteger(b) || b < a) {
  console.error("usage: npm run fuzz -- --seeds A:B [--size N] [--out DIR] [--reduce] [--no-wasm]");
  process.exit(2);
}
const size = arg("--size") ? Number(arg("--size")) : undefined;
const out = arg("--out") ?? "fuzz-out";
const doReduce = process.argv.includes("--reduce");
// Generated maps are never pinned, so this directory is never created: a campaign
// leaves nothing in bpffs that another test's hygiene check would see.
const opts = {
  noWasm: process.argv.includes("--no-wasm"),
  pinRoot: arg("--pin-root") ?? "/sys/fs/bpf/xdpc-fuzz",
};

const counts = new Map<FuzzClass, number>(CLASSES.map((c) => [c, 0]));
const skips = new Map<string, number>();
let maxMs = 0;
const t0 = Date.now();
for (let seed = a; seed <= b; seed++) {
  const p = generate(seed, { size });
  const r = runCase(p, opts);
  counts.set(r.cls, counts.get(r.cls)! + 1);
  maxMs = Math.max(maxMs, r.ms);
  if (r.cls === "ok") continue;
  console.log(`seed ${seed}: ${r.cls}: ${r.detail.slice(0, 400)}`);
  if (r.cls === "skip") {
    const k = skipKind(r.detail);
    skips.set(k, (skips.get(k) ?? 0) + 1);
    continue;
  }
  const { ts, c } = render(p);
  const base = saveCase(out, seed, ts, c);
  if (doReduce) {
    const red = reduce(p, r.cls, opts, 400, r.detail);
    const s = render(red.program);
    saveCase(out, seed, s.ts, s.c, ".min");
    console.log(
      `  reduced to ${s.ts.split("\n").length} lines: ${base}.min.ts (${red.detail.slice(0, 200)})`,
    );
  }
}
const total = b - a + 1;
console.log(
  `\n${total} programs in ${((Date.now() - t0) / 1000).toFixed(0)} s; slowest compile ${Math.round(maxMs)} ms`,
);
for (const [c, n] of counts) console.log(`  ${c.padEnd(9)} ${n}`);
// Why the skipped programs had no reference (see docs/fuzz.md).
for (const [k, n] of [...skips].sort((x, y) => y[1] - x[1])) console.log(`  skip ${n}: ${k}`);
