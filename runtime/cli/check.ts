import type { Command } from "commander";
import { compile } from "../../compiler/driver/index.ts";
import type { CommandImpl } from "./types.ts";
import { EXIT } from "./errors.ts";
import { formatOption, readSource } from "./shared.ts";
import { printDiagnostics, summary, type Format } from "./report.ts";

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
