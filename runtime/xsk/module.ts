// A handler module instantiated in a worker over the interface's one shared memory:
// the data area (globals, load-time parameters) and the maps are shared by all
// workers, as the kernel shares them between CPUs (per-CPU maps have one lane per
// worker); each worker has its own stack. Helpers that need state kept outside the
// memory (LPM tries, ring buffers, redirects) are refused up front.
//
// Layout (offsets; the sockets' part follows at `end`, runtime/xsk/sockets.ts):
//   [0, 64)   never used (0 is null)
//   64        data area (meta.dataSize)
//   ...       each map the handlers use: descriptor, then its values or its buckets
//             and elements (runtime/xsk/maps.ts)
//   ...       one stack per worker (meta.stackSize each), then the control plane's
//             stack and scratch (its own instance calls the map code)
import { randomInt } from "node:crypto";
import { rxBatchExport, rxRunExport } from "../../compiler/wasm/xsk-abi.ts";
import {
  IMPORT_MODULE,
  LANE_IMPORT,
  MEMORY_MODULE,
  MEMORY_NAME,
  readMeta,
  SHARED_MAP_KINDS,
  type WasmMeta,
} from "../../compiler/wasm/abi.ts";
import {
  initSharedMaps,
  layoutSharedMaps,
  mapImports,
  scratchBytes,
  type SharedMapLayout,
} from "./maps.ts";
import { DATA_BASE } from "../wasm/memory.ts";
import { formatTrace } from "../wasm/trace.ts";
import { XskError } from "./sockets.ts";

const align = (n: number, a: number) => Math.ceil(n / a) * a;

export interface HandlerLayout {
  data: number;
  /** The maps the handlers use, in the shared memory. */
  maps: SharedMapLayout[];
  /** One stack per worker, then the control plane's (index `workers`). */
  stacks: number[];
  /** The control plane's scratch for keys and values. */
  scratch: number;
  end: number;
}

/** Helpers a handler may call when it runs in workers. */
const WORKER_HELPERS = new Set(["ktime_get_ns", "get_prandom_u32", "get_smp_processor_id"]);

/** Checks that `handler` can run in workers; returns its metadata. Throws XskError otherwise. */
export function checkHandlerModule(mod: WebAssembly.Module, handler: string): WasmMeta {
  const meta = readMeta(mod);
  if (!meta) throw new XskError("not an xdpc module: no xdpc.meta section");
  if (!meta.functions.some((f) => f.name === handler && f.kind === "handler"))
    throw new XskError(`the module has no AF_XDP handler '${handler}'`);
  const exports = new Set(WebAssembly.Module.exports(mod).map((e) => e.name));
  if (!exports.has(rxBatchExport(handler)) || !exports.has(rxRunExport(handler)))
    throw new XskError(`the module has no batch loop for '${handler}' (build it with xdpc build)`);
  const refused = WebAssembly.Module.imports(mod)
    .filter(
      (i) =>
        i.module === IMPORT_MODULE &&
        i.kind === "function" &&
        !WORKER_HELPERS.has(i.name) &&
        !/^trace_printk\d$/.test(i.name),
    )
    .map((i) => i.name);
  if (refused.length)
    throw new XskError(
      `handler '${handler}' calls ${refused.join(", ")}: in AF_XDP workers handlers may use ` +
        `${Object.keys(SHARED_MAP_KINDS).join(", ")} (ring buffers and redirects not yet)`,
    );
  return meta;
}

/**
 * Lays out the data area, the maps `mapIds` (default: every map kind workers share),
 * one stack per worker and the control plane's stack and scratch.
 */
export function handlerLayout(
  meta: WasmMeta,
  workers: number,
  mapIds?: Iterable<number>,
): HandlerLayout {
  const ids = mapIds ?? meta.maps.flatMap((m, id) => (m.kind in SHARED_MAP_KINDS ? [id] : []));
  const { maps, end } = layoutSharedMaps(meta, ids, workers, DATA_BASE + meta.dataSize);
  let top = end;
  const stacks: number[] = [];
  for (let w = 0; w <= workers; w++) {
    top = align(top, 16);
    stacks.push(top);
    top += Math.max(meta.stackSize, 16);
  }
  top = align(top, 64);
  const scratch = top;
  top += scratchBytes(maps);
  return { data: DATA_BASE, maps, stacks, scratch, end: top };
}

/** Writes the globals' initial bytes and the maps' descriptors (once, before any worker starts). */
export function initData(
  meta: WasmMeta,
  memory: WebAssembly.Memory,
  rodata?: Uint8Array,
  layout?: HandlerLayout,
): void {
  if (layout) initSharedMaps(memory, layout.maps);
  const bytes = new Uint8Array(memory.buffer);
  for (const g of meta.globals) bytes.set(Buffer.from(g.init, "hex"), DATA_BASE + g.offset);
  const ro = meta.sections.find((s) => s.name === ".rodata");
  if (ro && rodata && rodata.length === ro.size) bytes.set(rodata, DATA_BASE + ro.offset);
}

export function instantiateHandler(
  mod: WebAssembly.Module,
  memory: WebAssembly.Memory,
  layout: HandlerLayout,
  worker: number,
  trace: (line: string) => void,
): WebAssembly.Instance {
  // Worker `worker` is lane `worker` of the per-CPU maps (the control plane, index
  // `workers`, runs no handler: lane 0).
  const lane = worker < layout.stacks.length - 1 ? worker : 0;
  const bases = mapImports(mod, layout.maps, lane);
  const traces: Record<string, (...a: never[]) => bigint> = {};
  for (const i of WebAssembly.Module.imports(mod)) {
    if (i.module !== IMPORT_MODULE || !/^trace_printk\d$/.test(i.name)) continue;
    traces[i.name] = ((fmt: number, size: bigint, ...args: bigint[]) => {
      const b = new Uint8Array(memory.buffer).slice(fmt, fmt + Number(size));
      const end = b.indexOf(0);
      const line = formatTrace(
        new TextDecoder().decode(b.subarray(0, end < 0 ? undefined : end)),
        args,
      );
      trace(line);
      return BigInt(line.length);
    }) as (...a: never[]) => bigint;
  }
  return new WebAssembly.Instance(mod, {
    [MEMORY_MODULE]: { [MEMORY_NAME]: memory },
    [IMPORT_MODULE]: {
      ktime_get_ns: () => process.hrtime.bigint(),
      get_prandom_u32: () => BigInt(randomInt(0, 2 ** 32)),
      get_smp_processor_id: () => BigInt(worker),
      ...traces,
      ...bases,
      [LANE_IMPORT]: new WebAssembly.Global({ value: "i32" }, lane),
      stack: new WebAssembly.Global({ value: "i32", mutable: false }, layout.stacks[worker]!),
      data: new WebAssembly.Global({ value: "i32", mutable: false }, layout.data),
    },
  });
}
