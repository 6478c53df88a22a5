// `import { testFilter } from "xdpc/testing"`: run frames or a capture through a filter on
// the kernel or the Wasm engine from a user's own test runner (vitest, node:test) and
// assert on verdicts, bytes and maps. A .ts filter is compiled here; the engines are
// runtime/testing/engines.ts, the same ones `xdpc test` uses. The public types live in
// api.ts (bin/build.mjs makes dist/testing.d.ts of it).
import { readFileSync } from "node:fs";
import { compile, compileWasm, hasErrors } from "../../compiler/driver/index.ts";
import { renderDiagnostic } from "../../compiler/diagnostics/render.ts";
import { LineMap } from "../../compiler/diagnostics/span.ts";
import type { Diagnostic } from "../../compiler/diagnostics/diagnostic.ts";
import { LINKTYPE_ETHERNET, packetsOfLinkType, readPcap } from "../packets/pcap.ts";
import { verdictName, type PacketOutcome, type TestPacket } from "../packets/testrun.ts";
import type { JsValue } from "../observe/values.ts";
import { FibTable } from "../wasm/fib.ts";
import {
  fillMaps,
  kernelUnavailable,
  mapsOf,
  openEngine,
  runEngines,
  type Engine,
  type EngineName,
  type FilterBuild,
} from "./engines.ts";
import {
  EngineMismatchError,
  FilterError,
  type FilterInput,
  type FilterMap,
  type FilterRun,
  type MapsDump,
  type PacketResult,
  type TestFilter,
  type TestFilterOptions,
  type VerdictName,
} from "./api.ts";

export * from "./api.ts";

function rendered(diags: readonly Diagnostic[], source: string): string {
  const lines = new LineMap(source);
  return diags
    .filter((d) => d.severity === "error")
    .map((d) => renderDiagnostic(d, source, lines))
    .join("\n");
}

const isSourcePath = (p: string) => /\.[cm]?tsx?$/.test(p);

async function buildOf(input: FilterInput, wasm: boolean): Promise<FilterBuild> {
  let file: string;
  let source: string | undefined;
  if (typeof input === "string") {
    file = input;
    let bytes: Buffer;
    try {
      bytes = readFileSync(input);
    } catch (e) {
      throw new FilterError(`cannot read '${input}': ${(e as Error).message}`);
    }
    if (input.endsWith(".wasm")) return { file, wasm: new Uint8Array(bytes) };
    if (!isSourcePath(input)) return { file, object: new Uint8Array(bytes) };
    source = bytes.toString("utf8");
  } else if ("source" in input) {
    file = input.file ?? "filter.ts";
    source = input.source;
  } else if ("object" in input) return { file: input.file ?? "filter.o", object: input.object };
  else return { file: input.file ?? "filter.wasm", wasm: input.wasm };

  const out = compile(source, { file, emit: "object" });
  if (hasErrors(out.diagnostics) || !out.object)
    throw new FilterError(`${file} does not compile:\n${rendered(out.diagnostics, source)}`);
  const build: FilterBuild = { file, object: out.object };
  if (wasm) {
    const w = await compileWasm(out, { only: ["xdp", "tc"] });
    if (!w) throw new FilterError(`${file} has no XDP or tc program`);
    if (!w.binary)
      throw new FilterError(
        `${file} cannot run on the wasm engine:\n${rendered(w.diagnostics, source)}`,
      );
    build.wasm = w.binary;
  }
  return build;
}

function enginesFor(input: FilterInput, choice: TestFilterOptions["engine"]): EngineName[] {
  if (choice === "both") return ["kernel", "wasm"];
  if (choice === "kernel" || choice === "wasm") return [choice];
  const isWasm =
    typeof input === "string" ? input.endsWith(".wasm") : "wasm" in input && !!input.wasm;
  if (isWasm) return ["wasm"];
  const isObject =
    typeof input === "string" ? !isSourcePath(input) : "object" in input && !!input.object;
  if (kernelUnavailable() === null || isObject) return ["kernel"];
  return ["wasm"];
}

function resultOf(o: PacketOutcome): PacketResult {
  return {
    index: o.index,
    ...(o.verdict !== undefined
      ? { verdict: verdictName(o.verdict, o.hook) as VerdictName, action: o.verdict }
      : { error: o.error }),
    data: o.data ?? new Uint8Array(0),
    changedBytes: o.changedBytes,
    ...(o.mark !== undefined ? { mark: o.mark, priority: o.priority ?? 0 } : {}),
  };
}

/** Runs frames or captures through a filter on the kernel or the Wasm engine. */
export const testFilter: TestFilter = async (input, options = {}) => {
  const names = enginesFor(input, options.engine);
  if (names.includes("kernel")) {
    const why = kernelUnavailable();
    if (why) throw new FilterError(`the kernel engine cannot run here: ${why}; use engine "wasm"`);
  }
  const build = await buildOf(input, names.includes("wasm"));
  const sets = Object.fromEntries(
    Object.entries(options.params ?? {}).map(([k, v]) => [k, String(v)]),
  );
  const engines: Engine[] = [];
  let routes: FibTable | undefined;
  if (options.routes !== undefined)
    try {
      routes =
        typeof options.routes === "string"
          ? new FibTable(JSON.parse(readFileSync(options.routes, "utf8")), options.routes)
          : new FibTable(options.routes);
    } catch (e) {
      throw new FilterError(`routes: ${(e as Error).message}`);
    }
  const fail = (e: unknown): never => {
    for (const x of engines) x.close();
    if (e instanceof Error && /^(EngineError|TestRunError|LoadError|NativeError)$/.test(e.name))
      throw new FilterError(e.message);
    throw e;
  };
  try {
    for (const n of names) {
      engines.push(
        openEngine(n, build, {
          program: options.program,
          sets,
          ...(routes ? { routes } : {}),
          ...(options.ifindex !== undefined ? { ifindex: options.ifindex } : {}),
        }),
      );
      if (options.maps) fillMaps(engines.at(-1)!, options.maps, "maps");
    }
  } catch (e) {
    fail(e);
  }
  const [main] = engines as [Engine];
  let seen = 0;
  const counts = new Map<string, number>();

  const runPackets = (packets: TestPacket[]): PacketResult[] => {
    // runEngines numbers from 1: renumber after the packets run before.
    const { outcomes, differences } = runEngines(engines, packets);
    const base = seen;
    seen += packets.length;
    if (differences.length)
      throw new EngineMismatchError(differences.map((d) => ({ ...d, index: d.index + base })));
    return outcomes.map((o) => {
      const r = resultOf({ ...o, index: o.index + base });
      const k = r.verdict ?? "not run";
      counts.set(k, (counts.get(k) ?? 0) + 1);
      return r;
    });
  };
  const frame = (data: Uint8Array): TestPacket => ({ data, origLen: data.length, ts: 0n });

  const run: FilterRun = {
    engine: names.length > 1 ? "both" : names[0]!,
    program: main.program,
    run: (data) => runPackets([frame(data)])[0]!,
    runAll: (frames) => runPackets([...frames].map(frame)),
    runPcap(capture) {
      let bytes: Uint8Array;
      try {
        bytes = typeof capture === "string" ? readFileSync(capture) : capture;
      } catch (e) {
        throw new FilterError(`cannot read '${capture}': ${(e as Error).message}`);
      }
      let packets: TestPacket[];
      try {
        packets = packetsOfLinkType(readPcap(bytes), LINKTYPE_ETHERNET);
      } catch (e) {
        throw new FilterError(
          `${typeof capture === "string" ? capture : "capture"}: ${(e as Error).message}`,
        );
      }
      return runPackets(packets);
    },
    verdicts: () => Object.fromEntries(counts),
    map(name): FilterMap {
      const ms = engines.map((e) => e.maps().find((m) => m.name === name));
      if (!ms[0])
        throw new FilterError(
          `no map '${name}' in the filter (maps: ${main
            .maps()
            .map((m) => m.name)
            .join(", ")})`,
        );
      const m = ms[0];
      const parse = (c: typeof m.key, v: JsValue) => (typeof v === "string" ? c.parse(v) : v);
      return {
        name,
        get: (key) => m.get(parse(m.key, key as JsValue)),
        set(key, value) {
          for (const x of ms)
            x!.set(parse(x!.key, key as JsValue), parse(x!.value, value as JsValue));
        },
        entries: () => m.entries(),
      };
    },
    maps: () => mapsOf(main) as MapsDump,
    close() {
      for (const e of engines) e.close();
    },
  };
  return run;
};
