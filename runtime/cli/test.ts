// `xdpc test FILE.ts|FILE.o --pcap IN [--out OUT] [--verbose] [--program NAME] [--set k=v]…`:
// every packet of a capture through the program with BPF_PROG_TEST_RUN.
import type { Command } from "commander";
import { writeFileSync } from "node:fs";
import { compile, hasErrors } from "../../compiler/driver/index.ts";
import { LINKTYPE_ETHERNET, packetsOfLinkType, readPcap, writePcap } from "../packets/pcap.ts";
import {
  formatOutcome,
  formatSummary,
  leavesProgram,
  loadForTest,
  runPackets,
  summarize,
  verdictName,
} from "../packets/testrun.ts";
import { splitAssignment } from "../load/params.ts";
import type { CommandImpl } from "./types.ts";
import { readObjectFile, readSource } from "./shared.ts";
import { CliError, EXIT } from "./errors.ts";
import { pcapFailure, testLoadFailure } from "./failure.ts";
import { readInput } from "./input.ts";
import { printDiagnostics } from "./report.ts";

interface TestOpts {
  pcap: string;
  out?: string;
  verbose?: boolean;
  program?: string;
  set: string[];
  json?: boolean;
}

/** Object bytes of a .ts (compiled here, diagnostics printed) or a .o; undefined after compile errors. */
export function objectOf(file: string): { bytes: Uint8Array; source?: string } | undefined {
  if (/\.[cm]?tsx?$/.test(file)) {
    const source = readSource(file);
    const out = compile(source, { file, emit: "object" });
    printDiagnostics(out.diagnostics, source, "text");
    if (hasErrors(out.diagnostics) || !out.object) return undefined;
    return { bytes: out.object, source };
  }
  return { bytes: readObjectFile(file).bytes };
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

export const testCommand: CommandImpl = {
  configure(cmd: Command) {
    cmd
      .argument("<file>", "filter source (.ts) or eBPF object (.o)")
      .requiredOption("--pcap <file>", "capture to run (pcap or pcapng, Ethernet)")
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
    const obj = objectOf(file);
    if (!obj) return EXIT.failed;

    let prog;
    try {
      prog = loadForTest(obj.bytes, { program: opts.program, sets, file, source: obj.source });
    } catch (e) {
      return testLoadFailure(e, file);
    }

    try {
      const outcomes = runPackets(prog.fd, packets);
      const summary = summarize(outcomes);
      const width = String(outcomes.length).length;
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
      if (opts.json) {
        const doc = {
          file,
          program: prog.program,
          pcap: opts.pcap,
          packets: summary.total,
          verdicts: Object.fromEntries(summary.verdicts),
          notRun: summary.refused,
          rewritten: summary.rewritten,
          ...(opts.out ? { out: { path: opts.out, packets: written } } : {}),
          ...(opts.verbose
            ? {
                results: outcomes.map((o) => ({
                  index: o.index,
                  length: o.length,
                  origLen: o.origLen,
                  ...(o.verdict !== undefined
                    ? {
                        verdict: verdictName(o.verdict),
                        outLength: o.data!.length,
                        changedBytes: o.changedBytes,
                      }
                    : { error: o.error }),
                })),
              }
            : {}),
        };
        process.stdout.write(JSON.stringify(doc) + "\n");
        return EXIT.ok;
      }
      if (opts.verbose)
        for (const o of outcomes) process.stdout.write(formatOutcome(o, width) + "\n");
      process.stdout.write(
        `${file} (program ${prog.program}) over ${opts.pcap}: ${outcomes.length} packet${outcomes.length === 1 ? "" : "s"}\n`,
      );
      process.stdout.write(formatSummary(summary) + "\n");
      if (opts.out)
        process.stdout.write(`wrote ${written} packet${written === 1 ? "" : "s"} to ${opts.out}\n`);
      return EXIT.ok;
    } finally {
      prog.close();
    }
  },
};
