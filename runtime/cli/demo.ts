// `xdpc demo`: build an example filter, run it in a lab against generated legit and
// attack traffic, show what passes and drops per rule, clean up.
import type { Command } from "commander";
import { compile, hasErrors } from "../../compiler/driver/index.ts";
import { renderDiagnostic } from "../../compiler/diagnostics/render.ts";
import { runDemo } from "../lab/demo.ts";
import { validLabName } from "../lab/netns.ts";
import { DEMO_LAB } from "../lab/demo.ts";
import type { CommandImpl } from "./types.ts";
import { CliError, EXIT } from "./errors.ts";
import { demoFailure } from "./failure.ts";

function positive(name: string, text: string, max: number): number {
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0 || v > max)
    throw new CliError(`--${name} must be a number in (0, ${max}], got '${text}'`, EXIT.usage);
  return v;
}

export const demoCommand: CommandImpl = {
  configure(cmd: Command) {
    cmd
      .option("--duration <seconds>", "how long to send traffic", "5")
      .option("--pps <n>", "offered load in frames per second", "1000000")
      .option("--name <lab>", "lab (network namespace) name", DEMO_LAB)
      .option("--no-live", "print one line per update instead of redrawing in place");
  },
  async run(cmd) {
    const o = cmd.opts() as { duration: string; pps: string; name: string; live: boolean };
    const durationMs = positive("duration", o.duration, 3600) * 1000;
    const pps = Math.floor(positive("pps", o.pps, 100_000_000));
    if (!validLabName(o.name)) throw new CliError(`invalid lab name '${o.name}'`, EXIT.usage);
    try {
      const s = await runDemo({
        durationMs,
        pps,
        labName: o.name,
        live: o.live && !!process.stdout.isTTY,
        compile: (source, file) => {
          const out = compile(source, { file, emit: "object", verdictStats: true });
          return hasErrors(out.diagnostics) || !out.object
            ? { errors: out.diagnostics.map((d) => renderDiagnostic(d, source)) }
            : { object: out.object, errors: [] };
        },
      });
      return s.accounted ? EXIT.ok : EXIT.failed;
    } catch (e) {
      demoFailure(e);
    }
  },
};
