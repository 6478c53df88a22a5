// Runtime errors → what the command line prints and exits with.
import { NativeError } from "../../native/lib.ts";
import { LoaderError } from "../loader.ts";
import { ValueError } from "../values.ts";
import { CliError, EXIT } from "./errors.ts";
import { printDiagnostics, summary } from "./report.ts";

/** NativeError/ValueError → a one-line CliError (usage errors for bad values). */
export function cliFailure(e: unknown): never {
  if (e instanceof ValueError) throw new CliError(e.message, EXIT.usage);
  if (e instanceof NativeError) throw new CliError(e.message, EXIT.failed);
  throw e;
}

/** A LoaderError → diagnostics on stderr (compile, verifier) and a CliError with its one line. */
export function loaderFailure(e: unknown): never {
  if (!(e instanceof LoaderError)) throw e;
  if (e.diagnostics.length) printDiagnostics(e.diagnostics, e.source, "text");
  if (e.kind === "compile") {
    process.stderr.write(
      summary(1, e.diagnostics.filter((d) => d.severity === "error").length) + "\n",
    );
  }
  throw new CliError(e.message, e.kind === "usage" ? EXIT.usage : EXIT.failed);
}
