// Running xdpc as an unprivileged user (nobody, uid 65534) in tests. The checkout may sit
// where that user cannot read it (CI clones under /root), so `stagePackage` lays out the
// package as npm installs it — bin/, dist/, stdlib/, package.json and the production
// dependencies — under a fresh world-readable temp dir, with hard links (a copy across
// file systems), and `asNobody` runs a command there with setpriv: no capabilities, no
// supplementary groups.
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const repo = resolve(import.meta.dirname, "../..");
export const NOBODY = 65534;

/** Hard-links (or copies) a tree; directories are created world-readable. */
function linkTree(from: string, to: string): void {
  const st = statSync(from);
  if (st.isDirectory()) {
    mkdirSync(to, { recursive: true, mode: 0o755 });
    chmodSync(to, 0o755);
    for (const n of readdirSync(from)) linkTree(join(from, n), join(to, n));
    return;
  }
  try {
    linkSync(from, to);
  } catch {
    cpSync(from, to);
  }
  // Hard links share the mode with the checkout's file: only ever add read bits.
  if ((st.mode & 0o444) !== 0o444) chmodSync(to, st.mode | 0o444);
}

/** The production dependencies of the package, transitively, as node_modules names. */
function productionDeps(): string[] {
  const seen = new Set<string>();
  const visit = (pkgDir: string) => {
    const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    for (const d of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
      if (seen.has(d)) continue;
      const dir = join(repo, "node_modules", d);
      if (!existsSync(dir)) continue; // an optional dependency not installed here
      seen.add(d);
      visit(dir);
    }
  };
  visit(repo);
  return [...seen].sort();
}

export interface StagedPackage {
  /** World-readable root: `node_modules/xdpc` is the package, beside its dependencies. */
  root: string;
  /** The package directory (`root/node_modules/xdpc`). */
  pkg: string;
  /** `bin/xdpc.js` of the staged package. */
  bin: string;
}

/** Stages the built package (run `npm run build` first) under a new world-readable temp dir. */
export function stagePackage(): StagedPackage {
  if (!existsSync(join(repo, "dist/xdpc.js"))) throw new Error("run `npm run build` first");
  const root = mkdtempSync(join(tmpdir(), "xdpc-staged-"));
  chmodSync(root, 0o755);
  const pkg = join(root, "node_modules/xdpc");
  for (const part of ["package.json", "bin", "dist", "stdlib"])
    linkTree(join(repo, part), join(pkg, part));
  for (const d of productionDeps())
    linkTree(join(repo, "node_modules", d), join(root, "node_modules", d));
  return { root, pkg, bin: join(pkg, "bin/xdpc.js") };
}

/** Makes `dir` and everything under it readable (and its directories enterable) by anyone. */
export function openUp(dir: string): void {
  chmodSync(dir, 0o755);
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    const st = statSync(p);
    if (st.isDirectory()) openUp(p);
    else chmodSync(p, st.mode | 0o444);
  }
}

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args` as nobody (setpriv: uid/gid 65534, no groups, no capabilities). */
export function asNobody(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; timeout?: number } = {},
): Run {
  const r = spawnSync(
    "setpriv",
    ["--reuid", String(NOBODY), "--regid", String(NOBODY), "--clear-groups", "--", cmd, ...args],
    {
      cwd: opts.cwd,
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: opts.cwd ?? "/tmp", ...opts.env },
      timeout: opts.timeout ?? 120_000,
    },
  );
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
