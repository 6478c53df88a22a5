// Runtime errors → what the command line prints and exits with: the one mapping from
// the runtime's error fields to CLI messages. Errors are told apart by `name` (each
// class sets it), so a command does not load every runtime module to catch its errors.
import type { NativeError } from "../../native/lib.ts";
import type { LoadError } from "../../native/object.ts";
import type { LoaderError } from "../load/loader.ts";
import { CliError, EXIT } from "./errors.ts";
import { printDiagnostics, summary } from "./report.ts";

type Named =
  | "ValueError"
  | "DemoError"
  | "LabError"
  | "TestRunError"
  | "XskError"
  | "PcapError"
  | "EngineError"
  | "RouteTableError";
const is = (e: unknown, ...names: string[]): e is Error =>
  e instanceof Error && names.includes(e.name);
const isNamed = (e: unknown, name: Named): e is Error => is(e, name);
const isLoadError = (e: unknown): e is LoadError => is(e, "LoadError");
/** NativeError or its subclass LoadError. */
const isNative = (e: unknown): e is NativeError => is(e, "NativeError", "LoadError");

/** NativeError/ValueError → a one-line CliError (usage errors for bad values). */
export function cliFailure(e: unknown): never {
  if (isNamed(e, "ValueError")) throw new CliError(e.message, EXIT.usage);
  if (isNative(e)) throw new CliError(e.message, EXIT.failed);
  throw e;
}

/** A LoaderError → diagnostics on stderr (compile, verifier) and a CliError with its one line. */
export function loaderFailure(e: unknown): never {
  if (!is(e, "LoaderError")) throw e;
  const l = e as LoaderError;
  if (l.diagnostics.length) printDiagnostics(l.diagnostics, l.source, "text");
  if (l.kind === "compile") {
    process.stderr.write(
      summary(1, l.diagnostics.filter((d) => d.severity === "error").length) + "\n",
    );
  }
  throw new CliError(l.message, l.kind === "usage" ? EXIT.usage : EXIT.failed);
}

/** `xdpc demo`'s failures → one line. */
export function demoFailure(e: unknown): never {
  if (isNamed(e, "DemoError") || isNamed(e, "LabError") || isNamed(e, "XskError"))
    throw new CliError(e.message);
  if (isLoadError(e)) throw new CliError(`the kernel rejected the demo filter: ${e.headline}`);
  if (isNative(e)) throw new CliError(e.headline);
  throw e;
}

/** `xdpc run`'s AF_XDP socket failures → one line. */
export function xskFailure(e: unknown): never {
  if (isNamed(e, "XskError")) throw new CliError(e.message);
  throw e;
}

/** A capture file that does not parse → one line naming it. */
export function pcapFailure(e: unknown, path: string): never {
  if (isNamed(e, "PcapError")) throw new CliError(`${path}: ${e.message}`);
  throw e;
}

/**
 * `xdpc test`'s engine, map-setup and route-table failures (runtime/testing,
 * runtime/wasm/fib.ts): the message, which names the file, is the line. With `rethrow`
 * false, anything else is left to the caller.
 */
export function engineFailure(e: unknown, rethrow = true): void {
  if (isNamed(e, "EngineError") || isNamed(e, "RouteTableError")) throw new CliError(e.message);
  if (rethrow) throw e;
}

/** `xdpc lab`'s failures → one line. */
export function labFailure(e: unknown): never {
  if (isNamed(e, "LabError")) throw new CliError(e.message, EXIT.failed);
  throw e;
}

/**
 * `xdpc test` could not load FILE: a verifier rejection (runtime/load made it a
 * diagnostic at the filter line it refers to) is printed as that diagnostic (exit 1),
 * everything else becomes one line.
 */
export function testLoadFailure(e: unknown, file: string): number {
  if (isNamed(e, "TestRunError")) throw new CliError(`${file}: ${e.message}`);
  engineFailure(e, false);
  if (is(e, "LoaderError") && (e as LoaderError).kind === "verifier") {
    const l = e as LoaderError;
    printDiagnostics(l.diagnostics, l.source || undefined, "text");
    return EXIT.failed;
  }
  if (isLoadError(e)) throw new CliError(`${file}: the kernel refused the object: ${e.detailLine}`);
  if (isNative(e)) throw new CliError(`${file}: ${e.headline}`);
  throw e;
}
