// `xdpc test FILE.ts|FILE.o|FILE.wasm --pcap IN [--engine kernel|wasm|both] [--maps SETUP.json]
// [--maps-out OUT.json] [--routes ROUTES.json] [--ifindex N] [--out OUT] [--verbose] [--json] [--program NAME] [--set k=v]…`:
// every packet of a capture through the program, on the kernel (BPF_PROG_TEST_RUN) or
// the Wasm engine (no privilege), or on both, reporting every packet where they differ.
import type { Command } from "commander";
import { Option } from "commander";
import { writeFileSync } from "node:fs";
import { compile, compileWasm, hasErrors } from "../../compiler/driver/index.ts";
import { LINKTYPE_ETHERNET, packetsOfLinkType, readPcap, writePcap } from "../packets/pcap.ts";
import {
  formatOutcome,
  formatSummary,
  leavesProgram,
  summarize,
  verdictName,
} from "../packets/testrun.ts";
import {
  fillMaps,
  formatMaps,
  kernelUnavailable,
  mapsOf,
  openEngine,
  runEngines,
  type Engine,
  type EngineName,
  type FilterBuild,
} from "../testing/engines.ts";
import { parseJson, stringifyJson } from "../observe/values.ts";
import { splitAssignment } from "../load/params.ts";
import type { CommandImpl } from "./types.ts";
import { readObjectFile, readSource, note } from "./shared.ts";
import { CliError, EXIT } from "./errors.ts";
import { engineFailure, pcapFailure, testLoadFailure } from "./failure.ts";
import { FibTable } from "../wasm/fib.ts";
import { readInput } from "./input.ts";
import { printDiagnostics } from "./report.ts";

interface TestOpts {
  pcap: string;
  engine?: EngineName | "both";
  maps?: string;
  routes?: string;
  ifindex?: string;
  mapsOut?: string;
  out?: string;
  verbose?: boolean;
  program?: string;
  set: string[];
  json?: boolean;
}

const isSource = (file: string) => /\.[cm]?tsx?$/.test(file);

/**
 * What the engines need of FILE: a .ts is compiled to the eBPF object, and to Wasm when
 * the wasm engine runs; a .o is the object, a .wasm the module. Undefined after compile
 * errors (printed).
 */
async function buildOf(file: string, wasm: boolean): Promise<FilterBuild | undefined> {
  if (isSource(file)) {
    const source = readSource(file);
    const out = compile(source, { file, emit: "object" });
    printDiagnostics(out.diagnostics, source, "text");
    if (hasErrors(out.diagnostics) || !out.object) return undefined;
    const build: FilterBuild = { file, object: out.object, source };
    if (wasm) {
      const w = await compileWasm(out, { only: ["xdp", "tc"] });
      if (!w) throw new CliError(`${file}: the filter has no XDP or tc program`);
      printDiagnostics(w.diagnostics, source, "text");
      if (!w.binary) return undefined;
      build.wasm = w.binary;
    }
    return build;
  }
  if (file.endsWith(".wasm")) return { file, wasm: new Uint8Array(readInput(file)) };
  return { file, object: readObjectFile(file).bytes };
}

export function parseSets(list: readonly string[]): Record<string, string> {
  const sets: Record<string, string> = {};
  for (const s of list) {
    const kv = splitAssignment(s);
    if (!kv) throw new CliError(`--set expects name=value, got '${s}'`, EXIT.usage);
    sets[kv[0]] = kv[1];
  }
  return sets;
}

function readCapture(path: string) {
  const bytes = readInput(path);
  try {
    const file = readPcap(bytes);
    return { file, packets: packetsOfLinkType(file, LINKTYPE_ETHERNET) };
  } catch (e) {
    pcapFailure(e, path);
  }
}

function readRoutes(path: string): FibTable {
  const table = readSetup(path);
  try {
    return new FibTable(table, path);
  } catch (e) {
    return engineFailure(e) as never;
  }
}

function parseIfindex(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 0xffffffff)
    throw new CliError(`--ifindex: '${v}' is not an interface index (a positive integer)`);
  return n;
}

function readSetup(path: string): unknown {
  const text = readInput(path).toString("utf8");
  try {
    return parseJson(text);
  } catch (e) {
    throw new CliError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * The engines to run. Without --engine: the kernel when this process can load BPF
 * programs and the filter has an object, else wasm when there is source, saying which
 * on stderr. An explicit kernel engine without privilege is a one-line error.
 */
function chooseEngines(file: string, given: TestOpts["engine"]): EngineName[] {
  if (given === "both") return ["kernel", "wasm"];
  const canKernel = !file.endsWith(".wasm");
  const canWasm = isSource(file) || file.endsWith(".wasm");
  if (given === "kernel" || given === "wasm") {
    if (given === "kernel" && !canKernel)
      throw new CliError(`${file}: the kernel engine runs eBPF: give the .ts source or its .o`);
    if (given === "wasm" && !canWasm)
      throw new CliError(
        `${file}: the wasm engine runs a filter compiled from its source: give the .ts file`,
      );
    return [given];
  }
  const why = canKernel ? kernelUnavailable() : "a .wasm module runs on the wasm engine only";
  if (why === null) {
    note("engine: kernel (BPF_PROG_TEST_RUN; --engine wasm runs without privilege)");
    return ["kernel"];
  }
  if (!canWasm)
    throw new CliError(
      `${file}: ${why}, and the wasm engine needs the filter's .ts source (give it, or run as root)`,
    );
  note(`engine: wasm (${why})`);
  return ["wasm"];
}

export const testCommand: CommandImpl = {
  configure(cmd: Command) {
    cmd
      .argument("<file>", "filter source (.ts), eBPF object (.o) or xdpc Wasm module (.wasm)")
      .requiredOption("--pcap <file>", "capture to run (pcap or pcapng, Ethernet)")
      .addOption(
        new Option(
          "--engine <engine>",
          "kernel (BPF_PROG_TEST_RUN), wasm (no privilege) or both (report every difference); default: kernel when this process can load BPF, else wasm",
        ).choices(["kernel", "wasm", "both"]),
      )
      .option(
        "--maps <setup.json>",
        'fill maps before the run: {"map": [{"key": K, "value": V}, …]} or {"map": {"K": V}}, values as for xdpc map set',
      )
      .option("--maps-out <file>", "write the maps after the run as JSON (- for stdout)")
      .option(
        "--routes <routes.json>",
        "the route table the wasm engine's fibLookup looks up in: {interfaces, routes, neighbours} as ip -j prints them (docs/wasm.md)",
      )
      .option(
        "--ifindex <n>",
        "the interface index the packets arrive on (ctx.ifindex; the kernel engine's ingress device)",
      )
      .option(
        "--out <file>",
        "write the packets that leave the program (PASS, TX, REDIRECT), as rewritten, to this pcap",
      )
      .option("--verbose", "one line per packet: index, length, verdict, changes")
      .option("--program <name>", "program to run when the object has several")
      .option("--json", "print the summary (and with --verbose every packet) as one JSON object")
      .option(
        "--set <name=value>",
        "set a load-time parameter (repeatable)",
        (v: string, acc: string[]) => [...acc, v],
        [] as string[],
      );
  },
  async run(cmd, args) {
    const file = args[0] as string;
    const opts = cmd.opts() as TestOpts;
    const sets = parseSets(opts.set);
    const { packets } = readCapture(opts.pcap);
    const setup = opts.maps !== undefined ? readSetup(opts.maps) : undefined;
    const routes = opts.routes !== undefined ? readRoutes(opts.routes) : undefined;
    const ifindex = opts.ifindex !== undefined ? parseIfindex(opts.ifindex) : undefined;
    const names = chooseEngines(file, opts.engine);
    if (names.includes("kernel")) {
      const why = kernelUnavailable();
      if (why)
        throw new CliError(
          `${file}: the kernel engine cannot run here: ${why}; --engine wasm runs without privilege`,
        );
    }
    const build = await buildOf(file, names.includes("wasm"));
    if (!build) return EXIT.failed;

    const engines: Engine[] = [];
    try {
      for (const name of names) {
        try {
          engines.push(openEngine(name, build, { program: opts.program, sets, routes, ifindex }));
        } catch (e) {
          return testLoadFailure(e, file);
        }
        if (setup !== undefined) {
          try {
            fillMaps(engines.at(-1)!, setup, opts.maps);
          } catch (e) {
            engineFailure(e);
          }
        }
      }
      return report(file, opts, packets, engines);
    } finally {
      for (const e of engines) e.close();
    }
  },
};

function report(
  file: string,
  opts: TestOpts,
  packets: ReturnType<typeof readCapture>["packets"],
  engines: Engine[],
): number {
  const [main, other] = engines as [Engine, Engine | undefined];
  const { outcomes, differences } = runEngines(engines, packets);
  const summary = summarize(outcomes);
  const width = String(outcomes.length).length;
  const maps = mapsOf(main);

  let written: number | undefined;
  if (opts.out) {
    const kept = outcomes.filter(leavesProgram);
    try {
      writeFileSync(opts.out, writePcap(kept.map((o) => ({ data: o.data!, ts: o.ts }))));
    } catch (e) {
      throw new CliError(`cannot write '${opts.out}': ${(e as Error).message}`);
    }
    written = kept.length;
  }
  if (opts.mapsOut && opts.mapsOut !== "-") {
    try {
      writeFileSync(opts.mapsOut, formatMaps(maps));
    } catch (e) {
      throw new CliError(`cannot write '${opts.mapsOut}': ${(e as Error).message}`);
    }
  }
  const status = differences.length ? EXIT.failed : EXIT.ok;
  if (opts.json) {
    const doc = {
      file,
      program: main.program,
      engine: engines.map((e) => e.name).join("+"),
      pcap: opts.pcap,
      packets: summary.total,
      verdicts: Object.fromEntries(summary.verdicts),
      notRun: summary.refused,
      rewritten: summary.rewritten,
      ...(summary.marks
        ? {
            marks: Object.fromEntries(summary.marks),
            priorities: Object.fromEntries(summary.priorities ?? []),
          }
        : {}),
      maps,
      ...(other ? { differences } : {}),
      ...(opts.out ? { out: { path: opts.out, packets: written } } : {}),
      ...(opts.verbose
        ? {
            results: outcomes.map((o) => ({
              index: o.index,
              length: o.length,
              origLen: o.origLen,
              ...(o.verdict !== undefined
                ? {
                    verdict: verdictName(o.verdict, o.hook),
                    outLength: o.data!.length,
                    changedBytes: o.changedBytes,
                    ...(o.hook ? { mark: o.mark ?? 0, priority: o.priority ?? 0 } : {}),
                  }
                : { error: o.error }),
            })),
          }
        : {}),
    };
    process.stdout.write(stringifyJson(doc) + "\n");
    return status;
  }
  if (opts.verbose) for (const o of outcomes) process.stdout.write(formatOutcome(o, width) + "\n");
  process.stdout.write(
    `${file} (program ${main.program}) over ${opts.pcap}: ${outcomes.length} packet${outcomes.length === 1 ? "" : "s"}\n`,
  );
  process.stdout.write(formatSummary(summary) + "\n");
  if (opts.out)
    process.stdout.write(`wrote ${written} packet${written === 1 ? "" : "s"} to ${opts.out}\n`);
  if (other) {
    if (!differences.length)
      process.stdout.write(
        `kernel and wasm agree on all ${outcomes.length} packets: verdicts, bytes and maps\n`,
      );
    else {
      process.stdout.write(
        `kernel and wasm differ on ${differences.length} of ${outcomes.length} packets:\n`,
      );
      for (const d of differences)
        for (const w of d.what) process.stdout.write(`  #${d.index}: ${w}\n`);
    }
  }
  if (opts.mapsOut === "-") process.stdout.write(formatMaps(maps));
  return status;
}
