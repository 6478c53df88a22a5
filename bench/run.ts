// `npm run bench`: every example filter against its clang -O2 twin, check and
// compile times, CLI start-up, `xdpc load` and replace times, and the veth end-to-end run; prints the tables and
// writes BENCHMARKS.md. `--smoke` runs one filter with tiny repeats and no lab
// (what test/bench/smoke.test.ts runs) and writes nothing unless --out is given.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { FULL, SMOKE, runBench, type BenchOptions } from "./bench.ts";
import { extractAnalysis, renderMarkdown, renderTerminal } from "./report.ts";
import { REPO } from "./twins.ts";

const USAGE = `usage: npm run bench -- [options]
  --smoke             one filter, tiny repeat, single runs, no lab; writes nothing by default
  --filter NAME       only this filter (repeatable)
  --repeat N          BPF_PROG_TEST_RUN repeat per call (default ${FULL.repeat})
  --rounds N          A/B rounds (default ${FULL.rounds})
  --samples N         packets sampled per filter (default ${FULL.samples})
  --cold-runs N       runs of each cold process (default ${FULL.coldRuns})
  --warm-runs N       timed in-process compiles (default ${FULL.warmRuns})
  --no-lab            skip both lab sections (veth end to end, and load)
  --no-load           skip the \`xdpc load\` / replace section (a lab veth too)
  --no-build          do not run \`npm run build\` first (cold CLI figures use dist/ as it is)
  --out FILE          markdown output (default BENCHMARKS.md; none with --smoke)
  --json FILE         also write the raw result as JSON`;

function int(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`--${name} needs a positive integer, not '${v}'`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      smoke: { type: "boolean" },
      filter: { type: "string", multiple: true },
      repeat: { type: "string" },
      rounds: { type: "string" },
      samples: { type: "string" },
      "cold-runs": { type: "string" },
      "warm-runs": { type: "string" },
      "no-lab": { type: "boolean" },
      "no-load": { type: "boolean" },
      "no-build": { type: "boolean" },
      out: { type: "string" },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const base = values.smoke ? SMOKE : FULL;
  const opts: BenchOptions = {
    ...base,
    filters: values.filter ?? base.filters,
    repeat: int(values.repeat, "repeat", base.repeat),
    rounds: int(values.rounds, "rounds", base.rounds),
    samples: int(values.samples, "samples", base.samples),
    coldRuns: int(values["cold-runs"], "cold-runs", base.coldRuns),
    warmRuns: int(values["warm-runs"], "warm-runs", base.warmRuns),
    lab: base.lab && !values["no-lab"],
    load: base.load && !values["no-load"] && !values["no-lab"],
  };
  const command =
    process.env.npm_lifecycle_event === "bench"
      ? `npm run bench${argv.length ? " -- " + argv.join(" ") : ""}`
      : `node --import tsx bench/run.ts${argv.length ? " " + argv.join(" ") : ""}`;

  if (!values.smoke && !values["no-build"]) {
    process.stderr.write("[bench] npm run build (the cold CLI figures time dist/xdpc.js)\n");
    const b = spawnSync(process.execPath, [join(REPO, "bin/build.mjs")], {
      cwd: REPO,
      stdio: "inherit",
    });
    if (b.status !== 0) throw new Error("npm run build failed");
  }
  const result = await runBench(opts, command, (m) => process.stderr.write(`[bench] ${m}\n`));
  process.stdout.write(renderTerminal(result));
  const out = values.out ?? (values.smoke ? undefined : join(REPO, "BENCHMARKS.md"));
  if (out) {
    const previous = existsSync(out) ? extractAnalysis(readFileSync(out, "utf8")) : undefined;
    writeFileSync(out, renderMarkdown(result, previous));
    process.stderr.write(`[bench] wrote ${out}\n`);
  }
  if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2) + "\n");
  return 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`bench: ${(e as Error).message}\n`);
  process.exitCode = 2;
}
