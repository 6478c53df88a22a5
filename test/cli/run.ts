// Runs the built CLI (dist/ through bin/xdpc.js) as a user would, in a child process.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";

export const repo = resolve(import.meta.dirname, "../..");
export const BIN = resolve(repo, "bin/xdpc.js");

export interface CliRun {
  status: number;
  stdout: string;
  stderr: string;
}

/** `node bin/xdpc.js ...args`; the bundle must exist (`npm run build`, which `npm test` runs first). */
export function xdpc(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): CliRun {
  if (!existsSync(resolve(repo, "dist/xdpc.js")))
    throw new Error("dist/xdpc.js is missing: run `npm run build` first");
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? repo,
    encoding: "utf8",
    env: { ...process.env, ...opts.env },
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
