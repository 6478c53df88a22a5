// `xdpc stats --iface IF`: live packets per second per verdict and per counter,
// redrawn in place on a terminal, one JSON line per interval otherwise; optionally
// also a Prometheus endpoint for the same interface. While `xdpc run` runs there, its
// handler's verdict counters per queue and worker come over its control socket.
import type { Command } from "commander";
import { closeFd } from "../../native/bpf.ts";
import { enableRunTimeStats } from "../../native/info.ts";
import { VERDICT_MAP } from "../../compiler/uapi/bpf.ts";
import { programMaps, type ProgramMaps } from "../observe/maps.ts";
import { filterRegistry, serveMetrics, type MetricsServer } from "../observe/metrics.ts";
import {
  formatStatsJson,
  formatStatsTable,
  rates,
  sample,
  type Snapshot,
} from "../observe/stats.ts";
import { ControlClient } from "../xsk/control.ts";
import { handlerJson, handlerRates, handlerTable, type HandlerSample } from "../xsk/stats.ts";
import type { CommandImpl } from "./types.ts";
import { CliError, EXIT } from "./errors.ts";
import { cliFailure } from "./failure.ts";
import type { TcDirection } from "../../native/tc.ts";
import { openInterface, resolveIface, targetProgramId, tcOption } from "./shared.ts";

interface StatsOpts {
  iface?: string;
  tc?: TcDirection;
  interval: string;
  json?: boolean;
  prometheus?: string;
  count?: string;
}

export const statsCommand: CommandImpl = {
  configure(cmd: Command) {
    cmd
      .option("-i, --iface <name>", "network interface (default: the only one with XDP attached)")
      .addOption(tcOption("counters of"))
      .option("--interval <ms>", "refresh interval in milliseconds", "1000")
      .option("--json", "one JSON line per interval (the default when stdout is not a terminal)")
      .option(
        "--prometheus <addr>",
        "also serve Prometheus metrics at [HOST:]PORT (host defaults to 127.0.0.1)",
      )
      .option("-n, --count <n>", "stop after n intervals");
  },
  async run(cmd) {
    const opts = cmd.opts() as StatsOpts;
    const o = { ...opts, iface: resolveIface(opts.iface, opts.tc) };
    const interval = Number(o.interval);
    if (!Number.isFinite(interval) || interval < 10)
      throw new CliError(`--interval expects milliseconds ≥ 10, got '${o.interval}'`, EXIT.usage);
    const count = o.count === undefined ? Infinity : Number(o.count);
    if (!(count >= 1))
      throw new CliError(`--count expects a positive number, got '${o.count}'`, EXIT.usage);
    const tty = process.stdout.isTTY && !o.json;

    let pm: ProgramMaps = openInterface(o.iface, o.tc);
    let server: MetricsServer | undefined;
    let statsFd = -1;
    // The run on the interface, if any (reached again after the program changed).
    const run: { control: ControlClient | null; handler: string } = { control: null, handler: "" };
    const reach = async () => {
      run.control?.close();
      run.control = o.tc ? null : await ControlClient.connect(o.iface);
      run.handler = run.control ? (await run.control.hello()).handler : "";
    };
    try {
      await reach();
      if (o.prometheus) {
        try {
          server = await serveMetrics(
            filterRegistry([{ iface: o.iface, open: () => openInterface(o.iface, o.tc) }]),
            o.prometheus,
          );
        } catch (e) {
          throw new CliError(`cannot serve metrics on ${o.prometheus}: ${(e as Error).message}`);
        }
        process.stderr.write(`xdpc: Prometheus metrics at ${server.url}\n`);
      } else {
        try {
          statsFd = enableRunTimeStats();
        } catch {
          // Without kernel stats the run rate is just not shown.
        }
      }
      let prev: Snapshot | undefined;
      let hprev: HandlerSample | undefined;
      let stop = false;
      const onSignal = () => (stop = true);
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      try {
        for (let n = 0; n <= count && !stop; n++) {
          // A replaced filter has a new program and maps: follow it.
          const id = targetProgramId(o.iface, o.tc);
          if (!id)
            throw new CliError(
              `no ${o.tc ? `tc program is attached at ${o.iface} ${o.tc}` : `XDP program is attached to ${o.iface}`} any more`,
            );
          if (id !== pm.progId) {
            pm.close();
            pm = programMaps(id);
            prev = undefined;
            hprev = undefined;
            await reach();
          }
          const cur = sample(pm);
          let hcur: HandlerSample | undefined;
          if (run.control)
            try {
              hcur = { timeNs: process.hrtime.bigint(), stats: await run.control.stats() };
            } catch {
              // The run stopped: its program goes too, which the next round reports.
              run.control = null;
            }
          const hline = hcur && handlerRates(run.handler, hprev, hcur);
          // The first sample is the baseline; lines start with the first interval.
          if (prev) {
            const line = rates(prev, cur, o.iface);
            if (tty) {
              const hasVerdicts = pm.maps.some((m) => m.name === VERDICT_MAP);
              process.stdout.write(
                `\x1b[H\x1b[2J${formatStatsTable(line, { verdictStats: hasVerdicts })}\n` +
                  (hline ? `\n${handlerTable(hline)}\n` : ""),
              );
            } else
              process.stdout.write(
                formatStatsJson(line, hline ? { handler: handlerJson(hline) } : {}) + "\n",
              );
          }
          prev = cur;
          hprev = hcur;
          if (n < count) await sleepUnless(interval, () => stop);
        }
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
      return EXIT.ok;
    } catch (e) {
      if (e instanceof CliError) throw e;
      cliFailure(e);
    } finally {
      pm.close();
      run.control?.close();
      await server?.close();
      if (statsFd >= 0) closeFd(statsFd);
    }
  },
};

async function sleepUnless(ms: number, stopped: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!stopped() && Date.now() < end)
    await new Promise((r) => setTimeout(r, Math.min(100, end - Date.now())));
}
