// `npm run bench`: every example filter against its clang -O2 twin, check and
// compile times, CLI start-up, `xdpc load` and replace times, and the veth end-to-end run; prints the tables and
// writes BENCHMARKS.md. `--smoke` runs one filter with tiny repeats and no lab
// (what test/bench/smoke.test.ts runs) and writes nothing unless --out is given.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { FULL, SMOKE, measureXsk, runBench, type BenchOptions, type BenchResult } from "./bench.ts";
import { benchEnv } from "./env.ts";
import {
  extractAnalysis,
  renderMarkdown,
  renderTerminal,
  ROUTER_END,
  ROUTER_START,
  routerSection,
  spliceSection,
  spliceXsk,
  xskSection,
} from "./report.ts";
import { measureRouter } from "./router.ts";
import { notMeasured } from "./stats.ts";
import { verdicts } from "./verdicts.ts";
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
  --no-xsk            skip the AF_XDP lab section (Wasm handler against the C consumer)
  --only-xsk          measure only the AF_XDP section and replace it in the existing report
  --no-router         skip the router lab section (XDP forwarding against the kernel stack)
  --only-router       measure only the router section and replace it in the existing report
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
      "no-xsk": { type: "boolean" },
      "only-xsk": { type: "boolean" },
      "no-router": { type: "boolean" },
      "only-router": { type: "boolean" },
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
    xsk: base.xsk && !values["no-xsk"] && !values["no-lab"],
    router: base.router && !values["no-router"] && !values["no-lab"],
  };
  const command =
    process.env.npm_lifecycle_event === "bench"
      ? `npm run bench${argv.length ? " -- " + argv.join(" ") : ""}`
      : `node --import tsx bench/run.ts${argv.length ? " " + argv.join(" ") : ""}`;

  if (values["only-xsk"]) return onlyXsk(opts, command, values.out, values.json);
  if (values["only-router"]) return onlyRouter(opts, command, values.out, values.json);
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

/** Measures the AF_XDP section alone and puts it into the existing report in place of the old one. */
async function onlyXsk(
  opts: BenchOptions,
  command: string,
  outArg: string | undefined,
  json: string | undefined,
): Promise<number> {
  const work = mkdtempSync(join(tmpdir(), "xdpc-bench-xsk-"));
  try {
    const xsk = await measureXsk(opts, work, (m) => process.stderr.write(`[bench] ${m}\n`));
    const r = { xsk } as Pick<BenchResult, "xsk">;
    const v = verdicts({ ...(emptyResult() as Omit<BenchResult, "verdicts">), ...r }).filter((x) =>
      x.target.startsWith("AF_XDP"),
    );
    const env = benchEnv(command);
    const stamp = `_This section was measured on its own (${env.date}, ${env.kernel}, ${env.cpu}, node ${env.node}): \`${env.command}\`._`;
    const section = xskSection(xsk, v, stamp);
    process.stdout.write(section.join("\n") + "\n");
    const out = outArg ?? join(REPO, "BENCHMARKS.md");
    writeFileSync(out, spliceXsk(existsSync(out) ? readFileSync(out, "utf8") : "", section));
    process.stderr.write(`[bench] wrote the AF_XDP section of ${out}\n`);
    if (json) writeFileSync(json, JSON.stringify(xsk, null, 2) + "\n");
    return 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Measures the router section alone and puts it into the existing report in place of the old one. */
async function onlyRouter(
  opts: BenchOptions,
  command: string,
  outArg: string | undefined,
  json: string | undefined,
): Promise<number> {
  const r = await measureRouter({ rounds: opts.routerRounds, durationMs: opts.routerMs });
  const env = benchEnv(command);
  const stamp = `_This section was measured on its own (${env.date}, ${env.kernel}, ${env.cpu}, node ${env.node}): \`${env.command}\`._`;
  const section = routerSection(r, stamp);
  process.stdout.write(section.join("\n") + "\n");
  const out = outArg ?? join(REPO, "BENCHMARKS.md");
  writeFileSync(
    out,
    spliceSection(
      existsSync(out) ? readFileSync(out, "utf8") : "",
      ROUTER_START,
      ROUTER_END,
      section,
    ),
  );
  process.stderr.write(`[bench] wrote the router section of ${out}\n`);
  if (json) writeFileSync(json, JSON.stringify(r, null, 2) + "\n");
  return 0;
}

/** A result with nothing measured but the AF_XDP section (verdicts() reads only that part then). */
function emptyResult(): Omit<BenchResult, "verdicts" | "xsk" | "env" | "options"> {
  const nm = notMeasured("not measured in an --only-xsk run");
  return {
    corpus: { packets: 0, pool: 0, tcpdump: false },
    withoutTwin: [],
    code: [],
    realworld: [],
    speed: [],
    compile: [],
    check: [],
    startup: { helpColdMs: nm, nodeStartMs: nm },
    e2e: nm,
    load: nm,
  };
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`bench: ${(e as Error).message}\n`);
  process.exitCode = 2;
}
