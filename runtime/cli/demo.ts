// `xdpc demo`: build an example filter, run it in a lab against generated legit and
// attack traffic, show what passes and drops per rule, clean up.
import { Option, type Command } from "commander";
import { compile, compileWasm, hasErrors } from "../../compiler/driver/index.ts";
import { renderDiagnostic } from "../../compiler/diagnostics/render.ts";
import { runDemo } from "../lab/demo.ts";
import { runAfxdpDemo } from "../lab/demo-afxdp.ts";
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
      .option(
        "--afxdp",
        "demo filters/afxdp/udp_echo.ts: attacks dropped in the kernel, echo answered by an AF_XDP handler",
      )
      .option(
        "--pps <n>",
        "offered load in frames per second (default 1000000, with --afxdp 200000)",
      )
      .option("--name <lab>", "lab (network namespace) name", DEMO_LAB)
      .option("--no-live", "print one line per update instead of redrawing in place")
      // Tests give their lab its own addresses.
      .addOption(new Option("--lab-index <n>").hideHelp());
  },
  async run(cmd) {
    const o = cmd.opts() as {
      duration: string;
      pps?: string;
      name: string;
      live: boolean;
      afxdp?: boolean;
      labIndex?: string;
    };
    const durationMs = positive("duration", o.duration, 3600) * 1000;
    const pps = Math.floor(positive("pps", o.pps ?? (o.afxdp ? "200000" : "1000000"), 100_000_000));
    if (!validLabName(o.name)) throw new CliError(`invalid lab name '${o.name}'`, EXIT.usage);
    const live = o.live && !!process.stdout.isTTY;
    if (o.afxdp)
      try {
        const s = await runAfxdpDemo({
          durationMs,
          pps,
          labName: o.name,
          labIndex: o.labIndex === undefined ? undefined : positive("lab-index", o.labIndex, 63),
          live,
          compile: async (source, file, handler) => {
            const out = compile(source, { file, emit: "object", verdictStats: handler });
            const errors = out.diagnostics.map((d) => renderDiagnostic(d, source));
            if (hasErrors(out.diagnostics) || !out.object) return { errors };
            if (!handler) return { object: out.object, errors: [] };
            const wasm = await compileWasm(out, { only: "handler", rxBatch: true });
            return wasm?.binary
              ? { object: out.object, wasm: wasm.binary, errors: [] }
              : { errors: (wasm?.diagnostics ?? []).map((d) => renderDiagnostic(d, source)) };
          },
        });
        return s.accounted ? EXIT.ok : EXIT.failed;
      } catch (e) {
        demoFailure(e);
      }
    try {
      const s = await runDemo({
        durationMs,
        pps,
        labName: o.name,
        live,
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
