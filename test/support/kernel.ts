// Gate for tests that need the kernel (CAP_BPF, libbpf) or a lab (CAP_NET_ADMIN,
// iproute2). Without them the tests skip with a visible reason; under
// XDPC_REQUIRE_KERNEL=1 (set by .ci/run) the missing privilege fails the run instead.
import { describe } from "vitest";
import { existsSync } from "node:fs";
import { execFileSync } from "node:child_process";

let cached: string | null | undefined;

/** Why kernel tests cannot run here, or null when they can. */
export function kernelUnavailableReason(): string | null {
  if (cached !== undefined) return cached;
  cached = probe();
  return cached;
}

function probe(): string | null {
  if (process.platform !== "linux") return "not Linux";
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    // Non-root may still hold CAP_BPF; the load attempt below decides.
  }
  if (!existsSync("/usr/lib/x86_64-linux-gnu/libbpf.so.1") && !existsSync("/usr/lib/libbpf.so.1")) {
    const found = (() => {
      try {
        return execFileSync("ldconfig", ["-p"], { encoding: "utf8" }).includes("libbpf.so.1");
      } catch {
        return false;
      }
    })();
    if (!found) return "libbpf.so.1 is not installed (apt-get install libbpf1)";
  }
  return null;
}

/** Probe once that a trivial XDP program loads; returns a reason when it does not. */
export async function kernelLoadReason(): Promise<string | null> {
  const r = kernelUnavailableReason();
  if (r) return r;
  try {
    const { loadRawProgram, closeFd } = await import("../../native/bpf.ts");
    const { fd } = loadRawProgram(
      new Uint8Array([0xb7, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]),
    );
    closeFd(fd);
    return null;
  } catch (e) {
    return `cannot load BPF programs: ${(e as Error).message.split("\n")[0]}`;
  }
}

export const requireKernel = process.env.XDPC_REQUIRE_KERNEL === "1";

const reason = await kernelLoadReason();
if (reason && !requireKernel) {
  process.stderr.write(`[xdpc] kernel tests skipped: ${reason}\n`);
}

/**
 * `describe` for kernel tests: runs when the kernel is usable, skips with the reason
 * in the test name otherwise, and fails when XDPC_REQUIRE_KERNEL=1.
 */
export function describeKernel(name: string, fn: () => void): void {
  if (!reason) {
    describe(name, fn);
  } else if (requireKernel) {
    describe(name, () => {
      throw new Error(`XDPC_REQUIRE_KERNEL=1 but kernel tests cannot run: ${reason}`);
    });
  } else {
    describe.skip(`${name} [skipped: ${reason}]`, fn);
  }
}

/** Same gate for tests that need a file outside the project, such as ../shared/corpus. */
export function describeWithPath(name: string, path: string, fn: () => void): void {
  if (existsSync(path)) describe(name, fn);
  else if (requireKernel) {
    describe(name, () => {
      throw new Error(`XDPC_REQUIRE_KERNEL=1 but ${path} is missing`);
    });
  } else describe.skip(`${name} [skipped: ${path} is absent]`, fn);
}
