// Prints diagnostics the way tsc does, or as JSON lines for tools.
import type { Diagnostic } from "../../compiler/diagnostics/diagnostic.ts";
import { diagnosticToJson, renderDiagnostic } from "../../compiler/diagnostics/render.ts";
import { LineMap } from "../../compiler/diagnostics/span.ts";

export type Format = "text" | "json";

export function printDiagnostics(
  diags: readonly Diagnostic[],
  source: string | undefined,
  format: Format,
): void {
  if (diags.length === 0) return;
  const lines = source !== undefined ? new LineMap(source) : undefined;
  const sorted = [...diags].sort((a, b) => a.span.start - b.span.start);
  for (const d of sorted) {
    if (format === "json") process.stdout.write(JSON.stringify(diagnosticToJson(d, source)) + "\n");
    else process.stderr.write(renderDiagnostic(d, source, lines) + "\n");
  }
}

export function summary(files: number, errors: number): string {
  return errors === 0
    ? `${files} file${files === 1 ? "" : "s"} checked, no errors`
    : `Found ${errors} error${errors === 1 ? "" : "s"} in ${files} file${files === 1 ? "" : "s"}.`;
}
