// Helpers that run the real toolchain (clang, llvm-readelf, llvm-objdump, bpftool)
// on objects written to a temporary directory.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

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

/** Compiles C with clang 14 as the BPF target (the differential oracle for layout). */
export function clangBpf(dir: string, name: string, source: string): Uint8Array {
  const c = join(dir, `${name}.c`);
  const o = join(dir, `${name}.o`);
  writeFileSync(c, source);
  run("clang", [
    "-O2",
    "-g",
    "-target",
    "bpf",
    "-I/usr/include/x86_64-linux-gnu",
    "-c",
    c,
    "-o",
    o,
  ]);
  return new Uint8Array(readFileSync(o));
}
