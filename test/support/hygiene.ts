// vitest globalSetup: the whole run must leave bpffs, network namespaces and links as
// it found them. Individual tests clean up after themselves; this catches the ones
// that forget (or a helper that leaks on an error path) and fails the run.
import { existsSync, readdirSync } from "node:fs";
import { execFileSync } from "node:child_process";

function snapshot(): Set<string> {
  const out = new Set<string>();
  if (existsSync("/sys/fs/bpf"))
    for (const n of readdirSync("/sys/fs/bpf")) out.add(`bpffs:/sys/fs/bpf/${n}`);
  if (existsSync("/run/netns")) for (const n of readdirSync("/run/netns")) out.add(`netns:${n}`);
  try {
    for (const l of execFileSync("ip", ["-o", "link", "show"], { encoding: "utf8" }).split("\n")) {
      const m = /^\d+: ([^:@]+)/.exec(l);
      if (m) out.add(`link:${m[1]}`);
    }
  } catch {
    // no iproute2: the link check is skipped, the others still run
  }
  return out;
}

let before: Set<string>;

export function setup(): void {
  before = snapshot();
}

export function teardown(): void {
  const leaked = [...snapshot()].filter((x) => !before.has(x));
  if (leaked.length) {
    // vitest reports a throw from teardown but still exits 0, so set the code too.
    process.stderr.write(`\n[xdpc] FAIL: the test run leaked: ${leaked.join(", ")}\n`);
    process.exitCode = 1;
    throw new Error(`the test run leaked: ${leaked.join(", ")}`);
  }
}
