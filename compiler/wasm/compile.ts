// Checked module → one WebAssembly module: every XDP program and every AF_XDP handler
// is lowered to the same IR the eBPF backend uses (handlers read XskPacket exactly as
// programs read XdpContext), optimised by the IR passes, emitted through binaryen and
// optimised again by binaryen's optimizer. The module imports its memory (shared, so
// worker threads and the AF_XDP UMEM can live in it), its stack and data bases, and the
// helpers; docs/wasm.md describes the ABI.
import binaryen from "binaryen";
import type { CheckResult } from "../check/result.ts";
import { diag, type Diagnostic } from "../diagnostics/diagnostic.ts";
import { lowerFunction, LowerError } from "../ir/lower.ts";
import { optimize } from "../ir/passes/index.ts";
import type { Func } from "../ir/ir.ts";
import { printFunc } from "../ir/print.ts";
import {
  CodegenError,
  DATA_GLOBAL,
  emitFunction,
  STACK_GLOBAL,
  type CodegenEnv,
} from "./codegen.ts";
import { emitRxBatch } from "./batch.ts";
import { emitMapRuntime } from "./maps.ts";
import type { HelperImport } from "./helpers.ts";
import {
  encodeMeta,
  IMPORT_MODULE,
  INLINE_ARRAY_KINDS,
  MEMORY_MODULE,
  SHARED_MAP_KINDS,
  MEMORY_NAME,
  META_SECTION,
  valueStride,
  type WasmFunctionMeta,
  type WasmMeta,
} from "./abi.ts";
import { layoutData, mapMeta } from "./layout.ts";

export interface WasmOptions {
  /** binaryen optimisation level (default 3; 0 skips binaryen's optimizer). */
  optimizeLevel?: number;
  /** Keep the module's text format (after optimisation) in the output. */
  keepText?: boolean;
  /** Keep each function's optimised IR text. */
  keepIr?: boolean;
  /**
   * Also export the AF_XDP batch loop of every handler (`xdpc_rx_batch_<name>`, batch.ts).
   * Maps then live in the shared memory: the module runs their lookups, updates and
   * deletes itself (maps.ts), so all workers share them.
   */
  rxBatch?: boolean;
  /** IR passes to leave out (compiler/ir/passes/index.ts names them). */
  skipPasses?: readonly string[];
}

export interface WasmOutput {
  diagnostics: Diagnostic[];
  /** The binary, when there were functions to compile and no errors. */
  binary?: Uint8Array;
  meta?: WasmMeta;
  text?: string;
  ir?: { name: string; text: string }[];
  /** Helper imports the module needs (the host must provide them). */
  imports?: HelperImport[];
}

export const WASM_FEATURES =
  binaryen.Features.Atomics |
  binaryen.Features.BulkMemory |
  binaryen.Features.BulkMemoryOpt |
  binaryen.Features.SignExt |
  binaryen.Features.MutableGlobals;

/**
 * Compiles the module's XDP programs and/or handlers: `only` narrows the kind, `names`
 * the functions (a module imports only the helpers its functions call).
 */
type WasmKind = "xdp" | "handler" | "tc";

export function compileToWasm(
  result: CheckResult,
  opts: WasmOptions & {
    only?: WasmKind | readonly WasmKind[];
    names?: readonly string[];
  } = {},
): WasmOutput {
  const m = result.module;
  const diagnostics: Diagnostic[] = [];
  const fns = m.functions.filter(
    (f) =>
      (f.kind === "xdp" || f.kind === "handler" || f.kind === "tc") &&
      (!opts.only || (typeof opts.only === "string" ? [opts.only] : opts.only).includes(f.kind)) &&
      (!opts.names || opts.names.includes(f.name)),
  );
  if (!fns.length) return { diagnostics };
  const data = layoutData(m);
  const mod = new binaryen.Module();
  try {
    mod.setFeatures(WASM_FEATURES);
    // Declared with the smallest size; the host's memory may be larger.
    mod.setMemory(1, 65536, null, [], true);
    mod.addMemoryImport("0", MEMORY_MODULE, MEMORY_NAME, true);
    mod.addGlobalImport(STACK_GLOBAL, IMPORT_MODULE, "stack", binaryen.i32, false);
    mod.addGlobalImport(DATA_GLOBAL, IMPORT_MODULE, "data", binaryen.i32, false);
    const env: CodegenEnv = {
      mod,
      mapIds: new Map(m.maps.map((x, k) => [x.name, k])),
      globalOffsets: new Map(data.globals.map((g) => [g.name, g.offset])),
      imports: new Map(),
      arrays: new Map(
        m.maps.flatMap((x, id) =>
          INLINE_ARRAY_KINDS.has(x.kind)
            ? [
                [
                  x.name,
                  { id, stride: valueStride(x.valueSize), maxEntries: x.maxEntries },
                ] as const,
              ]
            : [],
        ),
      ),
    };
    if (opts.rxBatch)
      env.shared = new Map(
        m.maps.flatMap((x, id) => (x.kind in SHARED_MAP_KINDS ? [[x.name, id] as const] : [])),
      );
    const functions: WasmFunctionMeta[] = [];
    const irs: { name: string; text: string }[] = [];
    let stackSize = 0;
    for (const fn of fns) {
      let f: Func;
      let adjusts = false;
      try {
        f = lowerFunction(m, fn);
        optimize(f, { skip: opts.skipPasses });
        if (opts.keepIr) irs.push({ name: fn.name, text: printFunc(f) });
        const emitted = emitFunction(env, f, fn.kind === "tc" ? "tc" : "xdp");
        stackSize = Math.max(stackSize, emitted.stackSize);
        adjusts = emitted.adjusts;
      } catch (e) {
        if (e instanceof LowerError) {
          diagnostics.push(diag("WasmUnsupported", m.file, e.span, [e.message]));
          continue;
        }
        if (e instanceof CodegenError) {
          diagnostics.push(diag("WasmUnsupported", m.file, fn.decl.name.span, [e.message]));
          continue;
        }
        throw e;
      }
      mod.addFunctionExport(fn.name, fn.name);
      if (opts.rxBatch && fn.kind === "handler") emitRxBatch(mod, fn.name, adjusts);
      const entry: WasmFunctionMeta = { name: fn.name, kind: fn.kind as "xdp" | "handler" | "tc" };
      if (adjusts) entry.adjusts = true;
      if (fn.section && fn.section !== "tc") entry.section = fn.section;
      functions.push(entry);
    }
    if (diagnostics.length) return { diagnostics };
    // The map code is exported whenever workers have maps: the control plane calls it.
    if (env.shared?.size) emitMapRuntime(mod, true);
    if (!mod.validate()) throw new Error("binaryen rejected the generated module");
    const level = opts.optimizeLevel ?? 3;
    if (level > 0) {
      binaryen.setOptimizeLevel(level);
      binaryen.setShrinkLevel(0);
      mod.optimize();
    }
    const meta: WasmMeta = {
      version: 1,
      functions,
      maps: mapMeta(m),
      sections: data.sections,
      globals: data.globals,
      dataSize: data.dataSize,
      stackSize,
    };
    mod.addCustomSection(META_SECTION, encodeMeta(meta));
    const out: WasmOutput = {
      diagnostics,
      binary: mod.emitBinary(),
      meta,
      imports: [...env.imports.values()],
    };
    if (opts.keepText) out.text = mod.emitText();
    if (opts.keepIr) out.ir = irs;
    return out;
  } finally {
    mod.dispose();
  }
}
