import type { Command } from "commander";
import { writeFileSync } from "node:fs";
import { slots } from "../../compiler/bpf/insn.ts";
import { compile, compileWasm, hasErrors } from "../../compiler/driver/index.ts";
import { IR_STAGES } from "../../compiler/bpf/compile.ts";
import { formatOption, readSource } from "./shared.ts";
import type { CommandImpl } from "./types.ts";
import { CliError, EXIT } from "./errors.ts";
import { printDiagnostics, summary, type Format } from "./report.ts";

/** filter.ts → filter.o beside it. */
export function defaultOutput(file: string): string {
  return file.replace(/\.[cm]?tsx?$/, "") + ".o";
}

/** filter.o → filter.wasm beside it: the AF_XDP handlers, compiled to WebAssembly. */
export function wasmOutput(object: string): string {
  return object.replace(/\.o$/, "") + ".wasm";
}

export const buildCommand: CommandImpl = {
  configure(cmd: Command) {
    cmd
      // Optional for commander only: `--dump-ir FILE` must not swallow the one file.
      .argument("[files...]", "filter sources (.ts)")
      .option("-o, --output <file>", "output object (only with a single input)")
      .option(
        "--dump-ir [stage]",
        `print each program's optimised IR to stdout, or its IR after each change by one stage (${IR_STAGES.join(", ")})`,
      )
      .option(
        "--verdict-stats",
        "count returned verdicts in a hidden xdpc_verdicts map (for xdpc stats)",
      )
      .addOption(formatOption());
  },
  async run(cmd, args) {
    const files = [...(args[0] as string[])];
    const opts = cmd.opts() as {
      output?: string;
      dumpIr?: boolean | string;
      verdictStats?: boolean;
      format: Format;
    };
    if (opts.output && files.length > 1)
      throw new CliError("-o/--output needs exactly one input file", EXIT.usage);
    let stage = typeof opts.dumpIr === "string" ? opts.dumpIr : undefined;
    // `--dump-ir f.ts`: the value is the first file, not a stage.
    if (stage !== undefined && !IR_STAGES.includes(stage) && /\.[cm]?tsx?$/.test(stage)) {
      files.unshift(stage);
      stage = undefined;
    }
    if (!files.length) throw new CliError("missing filter source (.ts)", EXIT.usage);
    if (stage !== undefined && !IR_STAGES.includes(stage))
      throw new CliError(
        `--dump-ir: unknown stage '${stage}' (one of ${IR_STAGES.join(", ")})`,
        EXIT.usage,
      );
    let errors = 0;
    for (const file of files) {
      const source = readSource(file);
      const out = compile(source, {
        file,
        emit: "object",
        keepIr: !!opts.dumpIr,
        irAfter: stage,
        verdictStats: opts.verdictStats,
      });
      printDiagnostics(out.diagnostics, source, opts.format);
      if (hasErrors(out.diagnostics) || !out.object) {
        errors += Math.max(1, out.diagnostics.filter((d) => d.severity === "error").length);
        continue;
      }
      if (opts.dumpIr) for (const p of out.programs ?? []) process.stdout.write(`${p.ir ?? ""}\n`);
      // Handlers compile before anything is written: a file either builds whole or not at all.
      const wasm = await compileWasm(out, { only: "handler", rxBatch: true });
      if (wasm) {
        printDiagnostics(wasm.diagnostics, source, opts.format);
        if (!wasm.binary) {
          errors += Math.max(1, wasm.diagnostics.length);
          continue;
        }
      }
      const target = opts.output ?? defaultOutput(file);
      try {
        writeFileSync(target, out.object);
      } catch (e) {
        throw new CliError(`cannot write '${target}': ${(e as Error).message}`);
      }
      if (wasm?.binary) {
        try {
          writeFileSync(wasmOutput(target), wasm.binary);
        } catch (e) {
          throw new CliError(`cannot write '${wasmOutput(target)}': ${(e as Error).message}`);
        }
      }
      if (opts.format === "text") {
        const progs = (out.programs ?? [])
          .map((p) => `${p.name} (${p.emitted.insns.reduce((n, i) => n + slots(i), 0)} insns)`)
          .join(", ");
        process.stderr.write(`${file} → ${target}: ${progs}\n`);
        if (wasm?.meta)
          process.stderr.write(
            `${file} → ${wasmOutput(target)}: ${wasm.meta.functions.map((f) => f.name).join(", ")} (${wasm.binary!.length} bytes)\n`,
          );
      }
    }
    if (errors && opts.format === "text")
      process.stderr.write(summary(files.length, errors) + "\n");
    return errors ? EXIT.failed : EXIT.ok;
  },
};
