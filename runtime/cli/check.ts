import { Option, type Command } from "commander";
import { compile } from "../../compiler/driver/index.ts";
import type { CommandImpl } from "./commands.ts";
import { CliError, EXIT } from "./errors.ts";
import { readInput } from "./input.ts";
import { printDiagnostics, summary, type Format } from "./report.ts";

export function readSource(path: string): string {
  return readInput(path).toString("utf8");
}

export const formatOption = () =>
  new Option("--format <format>", "diagnostic output format")
    .choices(["text", "json"])
    .default("text");

export const checkCommand: CommandImpl = {
  configure(cmd: Command) {
    cmd.argument("<files...>", "filter sources (.ts)").addOption(formatOption());
  },
  async run(cmd, args) {
    const files = args[0] as string[];
    const format = cmd.opts().format as Format;
    let errors = 0;
    for (const file of files) {
      const source = readSource(file);
      const out = compile(source, { file, emit: "check" });
      printDiagnostics(out.diagnostics, source, format);
      errors += out.diagnostics.filter((d) => d.severity === "error").length;
    }
    if (format === "text") process.stderr.write(summary(files.length, errors) + "\n");
    return errors ? EXIT.failed : EXIT.ok;
  },
};
