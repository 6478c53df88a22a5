// Where the command line joins compiler and runtime: a filter source (.ts) is compiled
// to an eBPF object here, an object file is read as it is; the loader only sees bytes.
import { readFileSync } from "node:fs";
import { compile, hasErrors } from "../../compiler/driver/index.ts";
import { LoaderError, type FilterInput, type FilterObject } from "../load/loader.ts";

export interface FilterInputOptions {
  /**
   * .ts inputs: count every returned verdict in the hidden `xdpc_verdicts` map, so that
   * `xdpc stats` can show pps per verdict (default true; costs ~1 ns per packet).
   */
  verdictStats?: boolean;
}

/** `input` (a filter source, or an eBPF ELF object for any other name) for loadFilter. */
export function filterInput(input: string, opts: FilterInputOptions = {}): FilterInput {
  return { file: input, read: () => readFilter(input, opts.verdictStats ?? true) };
}

function readFilter(input: string, verdictStats: boolean): FilterObject {
  let data: Buffer;
  try {
    data = readFileSync(input);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new LoaderError(
      `cannot read '${input}': ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (e as Error).message}`,
    );
  }
  if (!/\.[cm]?ts$/.test(input)) return { bytes: new Uint8Array(data), file: input };
  const source = data.toString("utf8");
  const out = compile(source, { file: input, emit: "object", verdictStats });
  if (hasErrors(out.diagnostics) || !out.object) {
    const n = out.diagnostics.filter((d) => d.severity === "error").length;
    throw new LoaderError(
      `${input}: ${n} compile error${n === 1 ? "" : "s"}; nothing was loaded`,
      "compile",
      out.diagnostics,
      source,
    );
  }
  return { bytes: out.object, source, file: input };
}
