// The `xdpc` command: the one place that joins the compiler and the runtime.
// Exit codes: 0 success, 1 diagnostics (or a failed operation), 2 usage, 3 internal error.
import { Command, CommanderError, Option } from "commander";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { commands } from "./commands.ts";
import { CliError, EXIT } from "./errors.ts";

function version(): string {
  try {
    const pkg = JSON.parse(
      readFileSync(fileURLToPath(new URL("../package.json", import.meta.url)), "utf8"),
    );
    return pkg.version as string;
  } catch {
    return "0.0.0";
  }
}

/** The subcommand named on the command line: the first word that is not an option. */
function selectedCommand(argv: readonly string[]): string | undefined {
  const words = argv.filter((a) => !a.startsWith("-"));
  return words[0] === "help" ? words[1] : words[0];
}

export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes("--debug");
  const program = new Command("xdpc")
    .description("TypeScript XDP filters compiled to eBPF, without LLVM")
    .version(version(), "-v, --version")
    .addOption(new Option("--debug", "print stack traces for internal errors"))
    .showHelpAfterError("(run `xdpc --help` for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: (s) => process.stderr.write(s),
    });
  let code: number = EXIT.ok;
  // Only the command being run (or asked about with `help NAME`) is imported and
  // configured; the others are registered by name and description for --help.
  const wanted = selectedCommand(argv);
  for (const entry of commands) {
    const cmd = program.command(entry.name).description(entry.description).exitOverride();
    if (entry.name !== wanted) continue;
    const impl = await entry.load();
    impl.configure(cmd);
    cmd.action(async (...args: unknown[]) => {
      code = await impl.run(cmd, args);
    });
  }
  try {
    await program.parseAsync(argv, { from: "user" });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with exit code 0.
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (e instanceof CliError) {
      // A user error is one line, with or without --debug: its stack would only point at us.
      process.stderr.write(`xdpc: error: ${e.message}\n`);
      return e.exitCode;
    }
    const err = e as Error;
    process.stderr.write(`xdpc: internal compiler error: ${err?.message ?? String(e)}\n`);
    if (debug) process.stderr.write(`${err?.stack ?? ""}\n`);
    else process.stderr.write("(run with --debug for a stack trace, and please report it)\n");
    return EXIT.internal;
  }
}
