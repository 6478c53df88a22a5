// A handler module instantiated in a worker over the interface's one shared memory:
// the data area (globals, load-time parameters) and inline array maps are shared by
// all workers, as the kernel shares them between CPUs; each worker has its own stack.
// Helpers that need state kept outside the memory (hash and LPM maps, ring buffers,
// redirects) are refused up front: they are not shared between workers yet.
//
// Layout (offsets; the sockets' part follows at `end`, runtime/xsk/sockets.ts):
//   [0, 64)   never used (0 is null)
//   64        data area (meta.dataSize)
//   ...       values of each inline array map, round8(valueSize) × maxEntries
//   ...       one stack per worker (meta.stackSize each)
import { randomInt } from "node:crypto";
import { rxBatchExport } from "../../compiler/wasm/xsk-abi.ts";
import {
  IMPORT_MODULE,
  INLINE_ARRAY_KINDS,
  mapBaseImport,
  MEMORY_MODULE,
  MEMORY_NAME,
  readMeta,
  valueStride,
  type WasmMeta,
} from "../../compiler/wasm/abi.ts";
import { DATA_BASE } from "../wasm/memory.ts";
import { formatTrace } from "../wasm/trace.ts";
import { XskError } from "./sockets.ts";

const align = (n: number, a: number) => Math.ceil(n / a) * a;

export interface HandlerLayout {
  data: number;
  /** Map id → base of its values (inline array maps only). */
  arrays: Record<number, number>;
  stacks: number[];
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
  if (!WebAssembly.Module.exports(mod).some((e) => e.name === rxBatchExport(handler)))
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
        `ArrayMap and PerCpuArray only for now (other maps are not shared between workers yet)`,
    );
  return meta;
}

export function handlerLayout(meta: WasmMeta, workers: number): HandlerLayout {
  let top = DATA_BASE + meta.dataSize;
  const arrays: Record<number, number> = {};
  meta.maps.forEach((m, id) => {
    if (!INLINE_ARRAY_KINDS.has(m.kind)) return;
    top = align(top, 8);
    arrays[id] = top;
    top += valueStride(m.valueSize) * m.maxEntries;
  });
  const stacks: number[] = [];
  for (let w = 0; w < workers; w++) {
    top = align(top, 16);
    stacks.push(top);
    top += Math.max(meta.stackSize, 16);
  }
  return { data: DATA_BASE, arrays, stacks, end: top };
}

/** Writes the globals' initial bytes (once, before any worker starts). */
export function initData(meta: WasmMeta, memory: WebAssembly.Memory, rodata?: Uint8Array): void {
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
  const bases: Record<string, WebAssembly.Global> = {};
  for (const [id, at] of Object.entries(layout.arrays))
    bases[mapBaseImport(Number(id))] = new WebAssembly.Global({ value: "i32" }, at);
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
      stack: new WebAssembly.Global({ value: "i32", mutable: false }, layout.stacks[worker]!),
      data: new WebAssembly.Global({ value: "i32", mutable: false }, layout.data),
    },
  });
}
