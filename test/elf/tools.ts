// Helpers that run the real toolchain (clang, llvm-readelf, llvm-objdump, bpftool)
// on objects written to a temporary directory.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileBpfC } from "../differential/clang.ts";

export function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

export function withTemp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "xdpc-elf-"));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function writeTemp(dir: string, name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/**
 * Compiles C with clang 14 as the BPF target (the differential oracle for layout);
 * the object is also left in `dir` as `<name>.o` for the other tools.
 */
export function clangBpf(dir: string, name: string, source: string): Uint8Array {
  const bytes = compileBpfC({ source, name });
  writeTemp(dir, `${name}.o`, bytes);
  return bytes;
}
