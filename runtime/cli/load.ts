import { Option, type Command } from "commander";
import { loadFilter, type ModeOption } from "../load/loader.ts";
import { loadTc, tcxOnly, type TcDirection } from "../load/tc.ts";
import { splitAssignment } from "../load/params.ts";
import type { CommandImpl } from "./types.ts";
import { CliError, EXIT } from "./errors.ts";
import { loaderFailure } from "./failure.ts";
import { filterInput } from "./filter.ts";
import { note } from "./shared.ts";

const collect = (v: string, prev: string[]) => [...prev, v];

export const loadCommand: CommandImpl = {
  configure(cmd: Command) {
    cmd
      .argument("<file>", "filter source (.ts) or eBPF object (.o)")
      .requiredOption("-i, --iface <name>", "network interface")
      .addOption(
        new Option(
          "-m, --mode <mode>",
          "XDP mode: native (driver), generic (skb), auto = native, else generic",
        )
          .choices(["native", "generic", "auto"])
          .default("auto"),
      )
      .option(
        "-s, --set <name=value>",
        "set a load-time parameter (repeatable)",
        collect,
        [] as string[],
      )
      .addOption(
        new Option(
          "--tc <direction>",
          "attach a tc program at the interface's ingress or egress (tcx link, or clsact on kernels before 6.6); a tcx program (section tcx/ingress|egress) attaches at its own hook without it",
        ).choices(["ingress", "egress"]),
      )
      .option("-p, --program <name>", "the program to attach when the object has several")
      .option("--pin-root <dir>", "bpffs directory for pins (default /sys/fs/bpf/xdpc)")
      .option("--force", "replace an XDP program that xdpc did not load")
      .option(
        "--multi",
        "attach through libxdp's dispatcher beside other XDP programs, in run-config priority order",
      )
      .option(
        "--no-verdict-stats",
        "do not count verdicts in the hidden xdpc_verdicts map (.ts inputs)",
      )
      .option("--json", "print the result as JSON");
  },
  async run(cmd, args) {
    const file = args[0] as string;
    const o = cmd.opts() as {
      iface: string;
      mode: ModeOption;
      set: string[];
      program?: string;
      pinRoot?: string;
      force?: boolean;
      verdictStats: boolean;
      json?: boolean;
      tc?: TcDirection;
      multi?: boolean;
    };
    const params: Record<string, string> = {};
    for (const s of o.set) {
      const kv = splitAssignment(s);
      if (!kv) throw new CliError(`--set expects name=value, got '${s}'`, EXIT.usage);
      params[kv[0]] = kv[1];
    }
    if (o.multi) {
      if (o.tc || o.force || o.pinRoot)
        throw new CliError(
          `--multi attaches through libxdp's dispatcher; it does not combine with ${o.tc ? "--tc" : o.force ? "--force" : "--pin-root"}`,
          EXIT.usage,
        );
      return runMulti(file, o, params);
    }
    const modeGiven = cmd.getOptionValueSource("mode") === "cli";
    if (o.tc) return runTc(file, o.tc, o, params, modeGiven);
    // A tcx program (section tcx/ingress or tcx/egress) attaches at its own hook.
    const peek = tcxOnly(filterInput(file, { verdictStats: o.verdictStats }));
    if (peek.tcx) return runTc(file, undefined, o, params, modeGiven);
    let r;
    try {
      r = loadFilter({
        iface: o.iface,
        input: peek.input,
        mode: o.mode,
        params,
        program: o.program,
        pinRoot: o.pinRoot,
        force: o.force,
      });
    } catch (e) {
      loaderFailure(e);
    }
    for (const n of r.notices) note(n);
    if (o.json) {
      const { record, ...rest } = r;
      process.stdout.write(
        JSON.stringify({ iface: o.iface, ...rest, pinDir: record.pinDir }) + "\n",
      );
    } else {
      const maps = r.maps
        .map((m) => `${m.name} (id ${m.id}${m.pinned ? `, pinned ${m.pinned}` : ""})`)
        .join(", ");
      process.stdout.write(
        `${o.iface}: ${r.progName} (id ${r.progId}) attached in ${r.mode} mode` +
          (maps ? `; maps: ${maps}` : "") +
          "\n",
      );
    }
    return EXIT.ok;
  },
};

function runTc(
  file: string,
  direction: TcDirection | undefined,
  o: { iface: string; program?: string; pinRoot?: string; force?: boolean; json?: boolean },
  params: Record<string, string>,
  modeGiven: boolean,
): number {
  if (modeGiven || o.force)
    throw new CliError(
      `${modeGiven ? "--mode" : "--force"} applies to XDP programs; a tc program attaches by tcx (or clsact) beside the others at its hook`,
      EXIT.usage,
    );
  let r;
  try {
    r = loadTc({
      iface: o.iface,
      direction,
      input: filterInput(file, { verdictStats: false }),
      params,
      program: o.program,
      pinRoot: o.pinRoot,
    });
  } catch (e) {
    loaderFailure(e);
  }
  for (const n of r.notices) note(n);
  if (o.json) {
    const { record, ...rest } = r;
    process.stdout.write(JSON.stringify({ iface: o.iface, ...rest, pinDir: record.pinDir }) + "\n");
  } else {
    const maps = r.maps
      .map((m) => `${m.name} (id ${m.id}${m.pinned ? `, pinned ${m.pinned}` : ""})`)
      .join(", ");
    process.stdout.write(
      `${o.iface} ${r.direction}: ${r.progName} (id ${r.progId}) attached by ${r.mode}` +
        (maps ? `; maps: ${maps}` : "") +
        "\n",
    );
  }
  return EXIT.ok;
}

async function runMulti(
  file: string,
  o: { iface: string; mode: ModeOption; program?: string; json?: boolean; verdictStats: boolean },
  params: Record<string, string>,
): Promise<number> {
  const { loadMulti, actionList } = await import("../load/multi.ts");
  let r;
  try {
    r = loadMulti({
      iface: o.iface,
      input: filterInput(file, { verdictStats: o.verdictStats }),
      mode: o.mode,
      params,
      program: o.program,
    });
  } catch (e) {
    loaderFailure(e);
  }
  if (o.json) {
    process.stdout.write(JSON.stringify(r) + "\n");
    return EXIT.ok;
  }
  const progs = r.dispatcher.programs
    .map((p) => `${p.name} (id ${p.id}, priority ${p.priority}, chain ${actionList(p) || "none"})`)
    .join(", ");
  process.stdout.write(
    `${o.iface}: ${r.program} attached through libxdp's dispatcher (id ${r.dispatcher.dispatcherId}); programs in order: ${progs}\n`,
  );
  return EXIT.ok;
}
