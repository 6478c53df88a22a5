// The loader's one error class, apart from loader.ts so that verifier.ts (which turns a
// verifier log into one) and loader.ts share it without an import cycle.
import type { Diagnostic } from "../../compiler/diagnostics/diagnostic.ts";

/**
 * A load or unload that failed for a reason the user can act on. `kind` picks the
 * CLI exit code (usage → 2, others → 1); compile and verifier failures carry
 * diagnostics (and the text to render them against).
 */
export class LoaderError extends Error {
  constructor(
    message: string,
    readonly kind: "usage" | "compile" | "verifier" | "failed" = "failed",
    readonly diagnostics: Diagnostic[] = [],
    readonly source?: string,
  ) {
    super(message);
    this.name = "LoaderError";
  }
}
