// The object bytes a packaging command works on: a filter source compiled exactly as
// `xdpc build` compiles it (diagnostics printed), or an eBPF object read as it is.
import { compile, hasErrors } from "../../compiler/driver/index.ts";
import { readInput } from "./input.ts";
import { printDiagnostics, type Format } from "./report.ts";
import { readSource } from "./shared.ts";

/** undefined when the source has errors (they have been printed). */
export function objectOf(
  file: string,
  opts: { verdictStats?: boolean; format: Format },
): Uint8Array | undefined {
  if (!/\.[cm]?ts$/.test(file)) return readInput(file);
  const source = readSource(file);
  const out = compile(source, { file, emit: "object", verdictStats: opts.verdictStats });
  printDiagnostics(out.diagnostics, source, opts.format);
  if (hasErrors(out.diagnostics) || !out.object) return undefined;
  return out.object;
}
