// One benchmark run: every example filter against its clang twin (code size,
// ns/packet, compile time), the front end's check times, CLI start-up, and the
// veth end-to-end figures, gathered into one result that report.ts renders.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCorpus } from "../test/support/corpus.ts";
import { codeSize, type CodeRow } from "./code.ts";
import {
  measureCheck,
  measureCompile,
  measureStartup,
  type CheckRow,
  type CompileRow,
  type StartupRow,
} from "./compile.ts";
import { measureE2e, type E2eInput, type E2eResult } from "./e2e.ts";
import { measureLoad, type LoadResult } from "./load.ts";
import { benchEnv, type BenchEnv } from "./env.ts";
import { generateFilter } from "./generate.ts";
import { measureSpeed, trafficPool, type SpeedRow } from "./speed.ts";
import { notMeasured, type Maybe } from "./stats.ts";
import { buildClang, buildXdpc, filtersWithoutTwin, findPairs, pairSubject } from "./twins.ts";
import { buildPorts, realworldCode, realworldSpeed as realworldTimes } from "./realworld.ts";
import { verdicts, type Verdict } from "./verdicts.ts";
import { measureXskFake, type XskFakeResult } from "./xsk.ts";
import { measureXskLive, type XskLiveResult } from "./xsk_live.ts";
import { measureRouter, type RouterBenchResult } from "./router.ts";

export interface BenchOptions {
  /** One filter, tiny repeat, single runs, no lab: proves the harness works, times nothing reliably. */
  smoke: boolean;
  filters?: string[];
  repeat: number;
  rounds: number;
  samples: number;
  seed: number;
  /** Runs of each cold process (median). */
  coldRuns: number;
  /** Timed runs of each in-process compile (median, after warm-up). */
  warmRuns: number;
  /** Size of the generated filter for the check-time target. */
  generatedLines: number;
  lab: boolean;
  /** Seconds of traffic per veth measurement, and filter/bare rounds. */
  e2eSeconds: number;
  e2eRounds: number;
  /** The `xdpc load` section (lab veth; cold runs = coldRuns, API runs = warmRuns). */
  load: boolean;
  /** Its filter: one without pinned maps (iproute2 and xdp-loader would pin those on the host's bpffs). */
  loadFilter: string;
  /** Timed swap syscalls. */
  swaps: number;
  /** Real-world ports in the code-size table (test/realworld; all when undefined). */
  realworld?: string[];
  /** The AF_XDP lab section (Wasm handler against the C consumer on a veth; needs the lab). */
  xsk: boolean;
  xskRounds: number;
  /** Frames per AF_XDP round. */
  xskFrames: number;
  /** Batches of 64 per timed run of the AF_XDP fake-ring microbenchmark. */
  xskLaps: number;
  /** The router section (three-namespace lab): rounds each way, and ms of traffic per run. */
  router: boolean;
  routerRounds: number;
  routerMs: number;
}

export const FULL: BenchOptions = {
  smoke: false,
  repeat: 200_000,
  rounds: 7,
  samples: 6,
  seed: 1,
  coldRuns: 9,
  warmRuns: 25,
  generatedLines: 2000,
  lab: true,
  e2eSeconds: 0.5,
  e2eRounds: 8,
  load: true,
  loadFilter: "vlan_filter",
  swaps: 200,
  realworld: undefined,
  xsk: true,
  xskRounds: 7,
  xskFrames: 1 << 20,
  xskLaps: 20_000,
  router: true,
  routerRounds: 5,
  routerMs: 2000,
};

export const SMOKE: BenchOptions = {
  ...FULL,
  smoke: true,
  filters: ["vlan_filter"],
  repeat: 100,
  rounds: 2,
  samples: 2,
  coldRuns: 1,
  warmRuns: 2,
  lab: false,
  load: false,
  realworld: ["xdp1"],
  xsk: false,
  xskLaps: 200,
  router: false,
};

export interface BenchResult {
  env: BenchEnv;
  options: BenchOptions;
  corpus: { packets: number; pool: number; tcpdump: boolean };
  /** Example filters without a C twin (not benchmarked). */
  withoutTwin: string[];
  code: CodeRow[];
  /** The real-world corpus, one row per program (`port/program`). */
  realworld: CodeRow[];
  /** Its ns/packet per program (absent in reports written before it was timed). */
  realworldSpeed?: { name: string; row: Maybe<SpeedRow> }[];
  speed: { name: string; row: Maybe<SpeedRow> }[];
  compile: CompileRow[];
  check: CheckRow[];
  startup: StartupRow;
  e2e: Maybe<E2eResult>;
  load: Maybe<LoadResult>;
  xsk: XskResult;
  /** Absent in reports written before the router section existed. */
  router?: Maybe<RouterBenchResult>;
  verdicts: Verdict[];
}

/** The AF_XDP section: live frames through a handler and the C consumer, and the fake-ring microbenchmark. */
export interface XskResult {
  live: Maybe<XskLiveResult>;
  fake: Maybe<XskFakeResult>;
}

/** Measures the AF_XDP section alone (also what `npm run bench -- --only-xsk` runs). */
export async function measureXsk(
  opts: Pick<BenchOptions, "xsk" | "xskRounds" | "xskFrames" | "xskLaps" | "smoke" | "lab">,
  work: string,
  log: (msg: string) => void = () => {},
): Promise<XskResult> {
  log("AF_XDP fake-ring microbenchmark");
  let fake: Maybe<XskFakeResult>;
  try {
    fake = await measureXskFake(opts.xskLaps, opts.smoke ? 1 : 7, work);
  } catch (e) {
    fake = notMeasured(`failed: ${(e as Error).message.split("\n")[0]}`);
  }
  let live: Maybe<XskLiveResult>;
  if (!opts.xsk || !opts.lab)
    live = notMeasured(opts.smoke ? "smoke mode runs no lab" : "--no-xsk or --no-lab");
  else {
    log(
      `AF_XDP on veth: Wasm handler and C consumer (${opts.xskRounds} rounds × ${opts.xskFrames} frames)`,
    );
    try {
      live = await measureXskLive({ rounds: opts.xskRounds, frames: opts.xskFrames, work });
    } catch (e) {
      live = notMeasured(`lab failed: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  return { live, fake };
}

export async function runBench(
  opts: BenchOptions,
  command: string,
  log: (msg: string) => void = () => {},
): Promise<BenchResult> {
  const env = benchEnv(command);
  const pairs = findPairs(opts.filters);
  const corpus = loadCorpus();
  const pool = trafficPool(corpus.packets);
  const work = mkdtempSync(join(tmpdir(), "xdpc-bench-"));
  try {
    const code: CodeRow[] = [];
    const speed: BenchResult["speed"] = [];
    const compile: CompileRow[] = [];
    const check: CheckRow[] = [];
    const e2eInputs: E2eInput[] = [];
    for (const pair of pairs) {
      log(`${pair.name}: building both sides`);
      const xdpc = buildXdpc(pair);
      const clang = buildClang(pair);
      e2eInputs.push({ pair, xdpc, clang });
      log(`${pair.name}: code size`);
      code.push({ name: pair.name, xdpc: codeSize(pair, xdpc), clang: codeSize(pair, clang) });
      log(
        `${pair.name}: ns/packet (${opts.samples} packets × ${opts.rounds} rounds × repeat ${opts.repeat})`,
      );
      let row: Maybe<SpeedRow>;
      try {
        row = measureSpeed(pairSubject(pair), xdpc, clang, pool, opts);
      } catch (e) {
        row = notMeasured(`test run failed: ${(e as Error).message.split("\n")[0]}`);
      }
      speed.push({ name: pair.name, row });
      log(`${pair.name}: compile and check time`);
      compile.push(measureCompile(pair, work, { cold: opts.coldRuns, warm: opts.warmRuns }));
      check.push(
        measureCheck(pair.name, pair.filter, { cold: opts.coldRuns, warm: opts.warmRuns }),
      );
    }
    log("real-world corpus: building both sides, code size");
    const ports = buildPorts(opts.realworld);
    const realworld = realworldCode(ports);
    const realworldSpeed = realworldTimes(ports, pool, opts, log);
    const genPath = join(work, `generated_${opts.generatedLines}.ts`);
    writeFileSync(genPath, generateFilter(opts.generatedLines));
    log(`generated ${opts.generatedLines}-line filter: check time`);
    check.push(
      measureCheck(`generated (${opts.generatedLines} lines)`, genPath, {
        cold: opts.coldRuns,
        warm: opts.warmRuns,
      }),
    );
    log("CLI start-up");
    const startup = measureStartup(opts.coldRuns);
    let load: Maybe<LoadResult>;
    if (!opts.load)
      load = notMeasured(opts.smoke ? "smoke mode runs no lab" : "--no-load or --no-lab");
    else {
      log(`xdpc load and replace against ip link and xdp-loader (${opts.coldRuns} rounds)`);
      load = await measureLoad({
        filter: opts.loadFilter,
        runs: opts.coldRuns,
        apiRuns: opts.warmRuns,
        swaps: opts.swaps,
      });
    }
    let e2e: Maybe<E2eResult>;
    if (!opts.lab) e2e = notMeasured(opts.smoke ? "smoke mode runs no lab" : "--no-lab");
    else {
      log("end to end on veth");
      try {
        e2e = await measureE2e(e2eInputs, pool, {
          seconds: opts.e2eSeconds,
          rounds: opts.e2eRounds,
          samples: opts.samples,
          seed: opts.seed,
        });
      } catch (e) {
        e2e = notMeasured(`lab failed: ${(e as Error).message.split("\n")[0]}`);
      }
    }
    const xsk = await measureXsk(opts, work, log);
    let router: Maybe<RouterBenchResult>;
    if (!opts.router || !opts.lab)
      router = notMeasured(opts.smoke ? "smoke mode runs no lab" : "--no-router or --no-lab");
    else {
      log(`router lab: XDP forwarding against the kernel stack (${opts.routerRounds} rounds)`);
      try {
        router = await measureRouter({ rounds: opts.routerRounds, durationMs: opts.routerMs });
      } catch (e) {
        router = notMeasured(`lab failed: ${(e as Error).message.split("\n")[0]}`);
      }
    }
    const partial = {
      env,
      options: opts,
      corpus: { packets: corpus.packets.length, pool: pool.length, tcpdump: corpus.tcpdump },
      withoutTwin: filtersWithoutTwin(),
      code,
      realworld,
      realworldSpeed,
      speed,
      compile,
      check,
      startup,
      e2e,
      load,
      xsk,
      router,
    };
    return { ...partial, verdicts: verdicts(partial) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
