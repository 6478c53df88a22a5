// Compiles C programs with clang -O2 -g -target bpf, the reference side of
// differential tests and benchmarks.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";

/** Why clang cannot build BPF objects here, or null when it can. */
export function clangUnavailableReason(): string | null {
  try {
    execFileSync("clang", ["--version"], { stdio: "ignore" });
    return null;
  } catch {
    return "clang is not installed (apt-get install clang)";
  }
}

/** Debian keeps asm/types.h under the multiarch directory, which -target bpf does not search. */
function multiarchInclude(): string[] {
  try {
    const triple = execFileSync("gcc", ["-print-multiarch"], { encoding: "utf8" }).trim();
    return triple ? [`-I/usr/include/${triple}`] : [];
  } catch {
    return ["-I/usr/include/x86_64-linux-gnu"];
  }
}

/**
 * Compiles a C file (or, with `source`, C text written next to nothing) into a BPF
 * object in a temporary directory and returns its bytes. Throws with clang's
 * diagnostics on failure.
 */
export function compileBpfC(
  input: { path: string } | { source: string; name?: string },
  extraArgs: string[] = [],
): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "xdpc-clang-"));
  try {
    let src: string;
    const includes: string[] = [];
    if ("path" in input) {
      src = input.path;
      includes.push(`-I${dirname(input.path)}`);
    } else {
      src = join(dir, `${input.name ?? "prog"}.c`);
      writeFileSync(src, input.source);
    }
    const out = join(dir, `${basename(src, ".c")}.o`);
    try {
      execFileSync(
        "clang",
        [
          "-O2",
          "-g",
          "-target",
          "bpf",
          ...multiarchInclude(),
          ...includes,
          ...extraArgs,
          "-c",
          src,
          "-o",
          out,
        ],
        {
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
    } catch (e) {
      const err = e as { stderr?: Buffer };
      throw new Error(`clang failed on ${src}:\n${err.stderr?.toString() ?? String(e)}`);
    }
    return new Uint8Array(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
