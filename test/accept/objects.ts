// The acceptance set: every example filter, every valid checker fixture and every
// verifier-friendliness fixture, compiled by xdpc into ELF objects.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { compile, hasErrors } from "../../compiler/driver/index.ts";
import { renderDiagnostic } from "../../compiler/diagnostics/render.ts";
import { openObject, LoadError } from "../../native/object.ts";

export const repo = resolve(import.meta.dirname, "../..");

const tsIn = (dir: string) =>
  readdirSync(join(repo, dir))
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
    .sort()
    .map((f) => `${dir}/${f}`);

/** Repo-relative paths of every filter source xdpc must build into an accepted object. */
export function acceptanceSources(): string[] {
  return [
    ...tsIn("filters"),
    ...tsIn("test/check/fixtures/valid"),
    ...tsIn("test/accept/fixtures"),
  ];
}

export interface BuiltObject {
  file: string;
  object: Uint8Array;
  programs: string[];
}

/** Compiles a repo-relative filter; throws with the rendered diagnostics when it does not build. */
export function buildFilter(file: string): BuiltObject {
  const source = readFileSync(join(repo, file), "utf8");
  const out = compile(source, { file, emit: "object" });
  if (hasErrors(out.diagnostics) || !out.object) {
    throw new Error(
      `${file} does not build:\n${out.diagnostics.map((d) => renderDiagnostic(d, source)).join("\n")}`,
    );
  }
  return { file, object: out.object, programs: (out.programs ?? []).map((p) => p.name) };
}

export const rel = (p: string) => relative(repo, p);

/** Verifier statistics of one program, from the log at BPF_LOG_STATS. */
export interface VerifyStats {
  accepted: boolean;
  processed: number;
  /** The tail of the verifier log (the rejection reason when not accepted). */
  tail: string;
}

const processedIn = (log: string) => Number(/processed (\d+) insns/.exec(log)?.[1] ?? NaN);

/**
 * A private directory on bpffs for pins (maps declared `pinned` included: libbpf's
 * default pin root is /sys/fs/bpf itself). `remove()` deletes it and everything in it.
 */
export function privatePinRoot(): { dir: string; remove(): void } {
  const dir = mkdtempSync("/sys/fs/bpf/xdpct-");
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Loads every program of an object through libbpf with verifier statistics, then unloads it. */
export function verify(object: Uint8Array, pinRoot: string): Record<string, VerifyStats> {
  const obj = openObject(object, { name: "xdpct", logLevel: 4, pinRoot });
  try {
    obj.load();
    const out: Record<string, VerifyStats> = {};
    for (const n of obj.programNames()) {
      const log = obj.programLog(n);
      out[n] = {
        accepted: true,
        processed: processedIn(log),
        tail: log.trim().split("\n").slice(-3).join("\n"),
      };
    }
    return out;
  } catch (e) {
    if (!(e instanceof LoadError)) throw e;
    const out: Record<string, VerifyStats> = {};
    for (const [n, log] of Object.entries(e.logs)) {
      out[n] = {
        accepted: false,
        processed: processedIn(log),
        tail: log.trim().split("\n").slice(-6).join("\n"),
      };
    }
    return out;
  } finally {
    obj.close();
  }
}
