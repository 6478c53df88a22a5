// Compile and check times. Cold figures are whole processes (node bin/xdpc.js …,
// the bundled CLI users run; clang as a process), timed from spawn to exit, run
// interleaved with their counterpart so drift hits both. Warm figures are the
// in-process compiler driver after warm-up runs (what an editor or watch mode sees).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { compile } from "../compiler/driver/index.ts";
import { clangUnavailableReason } from "../test/differential/clang.ts";
import { median, notMeasured, timeRuns, type Maybe } from "./stats.ts";
import { REPO, TWINS_DIR, type Pair } from "./twins.ts";

const CLI = join(REPO, "bin/xdpc.js");
const DIST = join(REPO, "dist/xdpc.js");

/** Median wall time (ms) of a process; NotMeasured when it fails or cannot start. */
function processMs(cmd: string, args: string[]): Maybe<number> {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"], cwd: REPO });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.error) return notMeasured(`${cmd}: ${r.error.message}`);
  if (r.status !== 0)
    return notMeasured(
      `${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr.toString().split("\n")[0]}`,
    );
  return ms;
}

/** Runs each command `runs` times, interleaved, and returns each one's median ms. */
export function interleaved(
  runs: number,
  cmds: Record<string, [string, string[]]>,
): Record<string, Maybe<number>> {
  const times: Record<string, number[]> = {};
  const failed: Record<string, Maybe<number>> = {};
  for (let i = 0; i < runs; i++) {
    for (const [k, [cmd, args]] of Object.entries(cmds)) {
      if (k in failed) continue;
      const ms = processMs(cmd, args);
      if (typeof ms !== "number") failed[k] = ms;
      else (times[k] ??= []).push(ms);
    }
  }
  return Object.fromEntries(Object.keys(cmds).map((k) => [k, failed[k] ?? median(times[k]!)]));
}

export function cliUnavailableReason(): string | null {
  return existsSync(DIST) ? null : "dist/xdpc.js is missing (run npm run build)";
}

function multiarch(): string[] {
  const r = spawnSync("gcc", ["-print-multiarch"], { encoding: "utf8" });
  const t = r.status === 0 ? r.stdout.trim() : "x86_64-linux-gnu";
  return t ? [`-I/usr/include/${t}`] : [];
}

export interface CompileRow {
  name: string;
  /** `node bin/xdpc.js build F -o O` as a fresh process. */
  xdpcColdMs: Maybe<number>;
  /** compile(source, { emit: "object" }) in-process, warm. */
  xdpcWarmMs: Maybe<number>;
  /** `clang -O2 -target bpf -c twin.c` (the baseline). */
  clangMs: Maybe<number>;
  /** The same with -g: the debug info (BTF, line info) xdpc always emits. */
  clangGMs: Maybe<number>;
}

export function measureCompile(
  pair: Pair,
  outDir: string,
  runs: { cold: number; warm: number },
): CompileRow {
  const source = readFileSync(pair.filter, "utf8");
  const file = `filters/${pair.name}.ts`;
  let xdpcWarmMs: Maybe<number>;
  try {
    const probe = compile(source, { file, emit: "object" });
    xdpcWarmMs = probe.object
      ? median(timeRuns(runs.warm, () => compile(source, { file, emit: "object" }), 3))
      : notMeasured("xdpc produces no object for this filter");
  } catch (e) {
    xdpcWarmMs = notMeasured(`xdpc internal error: ${(e as Error).message.split("\n")[0]}`);
  }
  const noCli = cliUnavailableReason();
  const noClang = clangUnavailableReason();
  const cmds: Record<string, [string, string[]]> = {};
  if (!noCli)
    cmds.xdpc = [
      process.execPath,
      [CLI, "build", pair.filter, "-o", join(outDir, `${pair.name}.xdpc.o`)],
    ];
  const clangArgs = [
    "-O2",
    "-target",
    "bpf",
    ...multiarch(),
    "-I",
    TWINS_DIR,
    "-c",
    pair.twin,
    "-o",
    join(outDir, `${pair.name}.clang.o`),
  ];
  if (!noClang) {
    cmds.clang = ["clang", clangArgs];
    cmds.clangG = ["clang", ["-g", ...clangArgs]];
  }
  const t = interleaved(runs.cold, cmds);
  return {
    name: pair.name,
    xdpcColdMs: noCli ? notMeasured(noCli) : t.xdpc!,
    xdpcWarmMs,
    clangMs: noClang ? notMeasured(noClang) : t.clang!,
    clangGMs: noClang ? notMeasured(noClang) : t.clangG!,
  };
}

export interface CheckRow {
  name: string;
  lines: number;
  /** compile(source, { emit: "check" }) in-process, warm. */
  warmMs: Maybe<number>;
  /** `node bin/xdpc.js check F` as a fresh process. */
  coldMs: Maybe<number>;
}

export function measureCheck(
  name: string,
  path: string,
  runs: { cold: number; warm: number },
): CheckRow {
  const source = readFileSync(path, "utf8");
  let warmMs: Maybe<number>;
  const probe = compile(source, { file: path, emit: "check" });
  const err = probe.diagnostics.find((d) => d.severity === "error");
  if (err) warmMs = notMeasured(`does not check: ${err.code} ${err.message}`);
  else
    warmMs = median(timeRuns(runs.warm, () => compile(source, { file: path, emit: "check" }), 3));
  const noCli = cliUnavailableReason();
  const coldMs = noCli
    ? notMeasured(noCli)
    : interleaved(runs.cold, { c: [process.execPath, [CLI, "check", path]] }).c!;
  return { name, lines: source.split("\n").length, warmMs, coldMs };
}

export interface StartupRow {
  /** `node bin/xdpc.js --help` as a fresh process. */
  helpColdMs: Maybe<number>;
  /** `node -e 0`: the floor every cold figure above stands on. */
  nodeStartMs: Maybe<number>;
}

export function measureStartup(runs: number): StartupRow {
  const noCli = cliUnavailableReason();
  const cmds: Record<string, [string, string[]]> = { node: [process.execPath, ["-e", "0"]] };
  if (!noCli) cmds.help = [process.execPath, [CLI, "--help"]];
  const t = interleaved(runs, cmds);
  return { helpColdMs: noCli ? notMeasured(noCli) : t.help!, nodeStartMs: t.node! };
}
