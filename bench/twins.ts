// The pairs the benchmarks compare: each example filter (filters/<name>.ts) built by
// xdpc in-process, and its C twin (test/twins/<name>.c) built by clang -O2 in the
// run, loaded through libbpf with the same map contents and parameters as the
// differential test (test/support/twin-setups.ts), so both sides run the same paths.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { compile } from "../compiler/driver/index.ts";
import { clangUnavailableReason, compileBpfC } from "../test/differential/clang.ts";
import { twinBeforeLoad, twinSetups } from "../test/support/twin-setups.ts";
import { loadXdpObject, type XdpObject } from "../test/support/xdp.ts";
import { notMeasured, type Maybe } from "./stats.ts";

export const REPO = resolve(import.meta.dirname, "..");
export const FILTERS_DIR = join(REPO, "filters");
export const TWINS_DIR = join(REPO, "test/twins");

export interface Pair {
  name: string;
  /** filters/<name>.ts */
  filter: string;
  /** test/twins/<name>.c */
  twin: string;
}

/** Example filters with no C twin: nothing to compare them against, so the bench names and skips them. */
export function filtersWithoutTwin(): string[] {
  return readdirSync(FILTERS_DIR)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && !f.endsWith(".d.ts"))
    .map((f) => f.slice(0, -3))
    .filter((n) => !existsSync(join(TWINS_DIR, `${n}.c`)))
    .sort();
}

/** Every example filter that has a C twin, by name; `only` restricts to those names. */
export function findPairs(only?: readonly string[]): Pair[] {
  const names = readdirSync(FILTERS_DIR)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && !f.endsWith(".d.ts"))
    .map((f) => f.slice(0, -3))
    .filter((n) => existsSync(join(TWINS_DIR, `${n}.c`)))
    .sort();
  const unknown = (only ?? []).filter((n) => !names.includes(n));
  if (unknown.length)
    throw new Error(
      `no filter with a C twin named ${unknown.join(", ")} (have: ${names.join(", ")})`,
    );
  return names
    .filter((n) => !only || only.includes(n))
    .map((name) => ({
      name,
      filter: join(FILTERS_DIR, `${name}.ts`),
      twin: join(TWINS_DIR, `${name}.c`),
    }));
}

/** xdpc's object for the filter, or why there is none. */
export function buildXdpc(pair: Pair): Maybe<Uint8Array> {
  try {
    const out = compile(readFileSync(pair.filter, "utf8"), {
      file: `filters/${pair.name}.ts`,
      emit: "object",
    });
    if (out.object) return out.object;
    const err = out.diagnostics.find((d) => d.severity === "error");
    return notMeasured(
      err ? `xdpc reports ${err.code}: ${err.message}` : "xdpc produced no object",
    );
  } catch (e) {
    return notMeasured(`xdpc internal error: ${(e as Error).message.split("\n")[0]}`);
  }
}

/** clang -O2 -g -target bpf's object for the twin (the flags of the differential tests), or why there is none. */
export function buildClang(pair: Pair): Maybe<Uint8Array> {
  const why = clangUnavailableReason();
  if (why) return notMeasured(why);
  try {
    return compileBpfC({ path: pair.twin });
  } catch (e) {
    return notMeasured((e as Error).message.split("\n").slice(0, 2).join(" "));
  }
}

/**
 * Loads one side with the filter's parameters and map contents. Both sides get the
 * same libbpf object name so internal maps (.rodata, .bss) are named alike.
 */
export function loadSide(pair: Pair, bytes: Uint8Array): XdpObject {
  const obj = loadXdpObject(bytes, { name: "bench", beforeLoad: twinBeforeLoad[pair.name] });
  try {
    twinSetups[pair.name]?.(obj);
  } catch (e) {
    obj.close();
    throw e;
  }
  return obj;
}

/** What the timing code runs: a name, how to load one side's object, and which program to run. */
export interface Subject {
  name: string;
  load(bytes: Uint8Array): XdpObject;
  programFd(obj: XdpObject): number;
}

/** An example filter and its twin as a timing subject. */
export function pairSubject(pair: Pair): Subject {
  return {
    name: pair.name,
    load: (bytes) => loadSide(pair, bytes),
    programFd: (obj) => filterProgramFd(pair, obj),
  };
}

/** The program that implements the filter: the only one, or the one named after the filter. */
export function filterProgramFd(pair: Pair, obj: XdpObject): number {
  return obj.programFd(obj.programs.length === 1 ? undefined : pair.name);
}
