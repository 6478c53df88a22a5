// The two engines a filter can be tested on, behind one interface: `kernel` loads the
// eBPF object and runs each packet with BPF_PROG_TEST_RUN (runtime/packets/testrun.ts),
// `wasm` runs the same source compiled to WebAssembly in the JS host (runtime/wasm), no
// privilege needed. Both keep their maps across the packets of a run, take the same
// map setup (the value syntax of `xdpc map set`) and report typed map contents, so
// `xdpc test --engine both` and `xdpc/testing` can compare them packet by packet.
import { loadRawProgram, closeFd } from "../../native/bpf.ts";
import { mapLookup } from "../../native/object.ts";
import { NativeError } from "../../native/lib.ts";
import { readObject, type ObjectInfo } from "../../compiler/elf/object.ts";
import { BPF_MAP_TYPE } from "../../compiler/uapi/bpf.ts";
import { readMeta, type WasmMeta } from "../../compiler/wasm/abi.ts";
import { applyParams, paramsOf } from "../load/params.ts";
import { mapCodecs, objectMapTypes, TypedMap } from "../observe/maps.ts";
import {
  stringifyJson,
  sumValues,
  ValueError,
  type JsValue,
  type ValueCodec,
} from "../observe/values.ts";
import {
  loadForTest,
  hookOfSection,
  outcomeOf,
  runPacket,
  TestRunError,
  verdictName,
  type Hook,
  type PacketOutcome,
  type TestPacket,
} from "../packets/testrun.ts";
import { WasmHost, WasmHostError, missingHelpers, refusalMessage } from "../wasm/instance.ts";
import type { HostMap } from "../wasm/maps.ts";
import { FibTable, RouteTableError, type RouteTable } from "../wasm/fib.ts";

export type EngineName = "kernel" | "wasm";

/** What a filter was built into: the eBPF object and/or the Wasm module of its XDP programs. */
export interface FilterBuild {
  /** Shown in messages. */
  file: string;
  /** The ELF object (kernel engine; its BTF also types the Wasm engine's maps and parameters). */
  object?: Uint8Array;
  /** The Wasm module with the XDP programs (wasm engine). */
  wasm?: Uint8Array;
  /** The filter's source, when `file` is it: verifier rejections point into it. */
  source?: string;
}

export interface EngineOptions {
  /** Program to run when the filter has several. */
  program?: string;
  /** Load-time parameters (`.rodata`), as `--set name=value`. */
  sets?: Record<string, string>;
  /** The route table the Wasm engine's fibLookup looks up in (`--routes`); the kernel uses its own FIB. */
  routes?: RouteTable | FibTable;
  /**
   * The interface the packets arrive on (`--ifindex`): ctx.ifindex on both engines; the
   * kernel's test run then takes that device (of this namespace) as the ingress one.
   */
  ifindex?: number;
}

/** One map entry, typed: what `--maps` takes and `--maps-out` writes. */
export interface MapEntryJson {
  key: JsValue;
  value: JsValue;
}

/** Map name → entries. */
export type MapsJson = Record<string, MapEntryJson[]>;

/** A map of a running engine, typed by the filter's BTF (or by size without it). */
export interface EngineMap {
  name: string;
  /** BPF_MAP_TYPE_*. */
  type: number;
  key: ValueCodec;
  value: ValueCodec;
  /** Sets an entry (BPF_ANY); throws ValueError or the engine's error. */
  set(key: JsValue, value: JsValue): void;
  /** Every entry, decoded (per-CPU values summed). */
  entries(): MapEntryJson[];
  /** One value, or null when absent. */
  get(key: JsValue): JsValue | null;
}

export interface Engine {
  readonly name: EngineName;
  /** The program that runs. */
  readonly program: string;
  /** Runs one packet (1-based `index`); a packet the engine cannot run is an outcome with `error`. */
  run(p: TestPacket, index: number): PacketOutcome;
  /** The maps whose contents can be set and read (not ring buffers, DevMap/CpuMap/XskMap). */
  maps(): EngineMap[];
  /** Raw bytes of the global data sections that can change (`.bss`, `.data`). */
  globals(): Record<string, Uint8Array>;
  close(): void;
}

/** Failures the user can act on (no such program, missing build, refused helper): one line. */
export class EngineError extends Error {
  override name = "EngineError";
}

const { HASH, ARRAY, PERCPU_HASH, PERCPU_ARRAY, LRU_HASH, LRU_PERCPU_HASH, LPM_TRIE } =
  BPF_MAP_TYPE;
/** Maps both engines hold entries of, as values. */
const CONTENT_MAPS = new Set<number>([
  HASH,
  ARRAY,
  PERCPU_HASH,
  PERCPU_ARRAY,
  LRU_HASH,
  LRU_PERCPU_HASH,
  LPM_TRIE,
]);
const ARRAYS = new Set<number>([ARRAY, PERCPU_ARRAY]);

/**
 * BPF_PROG_TEST_RUN shows an XDP program at most this much of a packet (the linear
 * part: 4096 - 256 headroom - 320 skb_shared_info); the rest sits in fragments the
 * program does not see. The Wasm engine runs that part and carries the rest over.
 */
export const LINEAR_PART = 3520;

/**
 * Why BPF_PROG_TEST_RUN refuses a frame for a tc (SCHED_CLS) program, as an errno name,
 * or null: the kernel pulls the IPv4 / IPv6 header of an IP frame into the linear part
 * before it runs the program (EINVAL when the frame is too short for it), after
 * eth_type_trans; a frame shorter than an Ethernet header is refused by sizeRefusal.
 */
export const SKB_TEST_MAX = 4096 - 64 - 320;

export function skbTestRunRefusal(frame: Uint8Array): string | null {
  // A page less the skb's headroom (NET_SKB_PAD) and skb_shared_info.
  if (frame.length < 14 || frame.length > SKB_TEST_MAX) return "EINVAL";
  const type = (frame[12]! << 8) | frame[13]!;
  if (type === 0x0800 && frame.length < 14 + 20) return "EINVAL";
  if (type === 0x86dd && frame.length < 14 + 40) return "EINVAL";
  return null;
}

let probed: string | null | undefined;

/**
 * Why this process cannot load BPF programs (no libbpf, no CAP_BPF, a kernel without
 * BPF), or null when it can: a trivial XDP program is loaded once and closed.
 */
export function kernelUnavailable(): string | null {
  if (probed !== undefined) return probed;
  try {
    const { fd } = loadRawProgram(
      // r0 = XDP_PASS; exit
      new Uint8Array([0xb7, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]),
    );
    closeFd(fd);
    probed = null;
  } catch (e) {
    probed =
      e instanceof NativeError && (e.code === "EPERM" || e.code === "EACCES")
        ? "this process may not load BPF programs without CAP_BPF (or root)"
        : `cannot load BPF programs here: ${(e as Error).message.split("\n")[0]}`;
  }
  return probed;
}

/** Sorts entries by key: numbers numerically, everything else by its JSON text. */
function sortEntries(entries: MapEntryJson[]): MapEntryJson[] {
  const num = (k: JsValue) => (typeof k === "number" || typeof k === "bigint" ? BigInt(k) : null);
  return entries.sort((a, b) => {
    const x = num(a.key);
    const y = num(b.key);
    if (x !== null && y !== null) return x < y ? -1 : x > y ? 1 : 0;
    const s = stringifyJson(a.key);
    const t = stringifyJson(b.key);
    return s < t ? -1 : s > t ? 1 : 0;
  });
}

/** Array entries that are all zero read as zero: left out of dumps so both engines list the same. */
function isZero(codec: ValueCodec, v: JsValue): boolean {
  return stringifyJson(v) === stringifyJson(codec.zero());
}

function dumpOf(type: number, value: ValueCodec, entries: MapEntryJson[]): MapEntryJson[] {
  return sortEntries(ARRAYS.has(type) ? entries.filter((e) => !isZero(value, e.value)) : entries);
}

/** `.rodata` bytes with `sets` applied, from the object's BTF (undefined when nothing is set). */
function rodataWith(info: ObjectInfo, sets: Record<string, string>): Uint8Array | undefined {
  if (!Object.keys(sets).length) return undefined;
  const rodata = info.globals.filter((g) => g.section === ".rodata");
  const initial = new Uint8Array(rodata.reduce((n, g) => Math.max(n, g.offset + g.size), 0));
  for (const g of rodata) initial.set(g.bytes.subarray(0, g.size), g.offset);
  const r = applyParams(paramsOf(info.btf, initial, info.globals), initial, sets);
  if ("error" in r) throw new TestRunError(r.error);
  return r.bytes;
}

// ------------------------------------------------------------------ kernel

export function kernelEngine(build: FilterBuild, opts: EngineOptions = {}): Engine {
  if (!build.object)
    throw new EngineError(
      `${build.file}: the kernel engine runs an eBPF object: give the .ts source or its .o`,
    );
  const object = build.object;
  const prog = loadForTest(object, {
    program: opts.program,
    sets: opts.sets,
    file: build.file,
    source: build.source,
  });
  const info = readObject(object);
  const section = info.programs.find((p) => p.name === prog.program)?.section ?? "xdp";
  const hook = hookOfSection(section);
  const typed = new Map<string, TypedMap>();
  try {
    for (const m of info.maps)
      if (CONTENT_MAPS.has(m.type))
        typed.set(m.name, TypedMap.fromObject(prog.object, info, m.name));
  } catch (e) {
    prog.close();
    throw e;
  }
  return {
    name: "kernel",
    program: prog.program,
    run: (p, index) => runPacket(prog.fd, p, index, hook, opts.ifindex),
    maps: () =>
      [...typed.values()].map((t) => ({
        name: t.name,
        type: t.meta.type,
        key: t.key,
        value: t.value,
        set: (k, v) => t.set(k, v),
        get: (k) => t.get(k),
        entries: () => {
          const stride = Math.ceil(t.meta.valueSize / 8) * 8;
          const out: MapEntryJson[] = [];
          for (const [k, raw] of t.rawEntries()) {
            if (ARRAYS.has(t.meta.type) && raw.every((b) => b === 0)) continue;
            const value = t.perCpu
              ? sumValues(Array.from({ length: t.cpus }, (_, c) => t.value.decode(raw, c * stride)))
              : t.value.decode(raw);
            out.push({ key: t.key.decode(k), value });
          }
          return dumpOf(t.meta.type, t.value, out);
        },
      })),
    globals() {
      const out: Record<string, Uint8Array> = {};
      for (const sec of [".bss", ".data"]) {
        const name = prog.object.mapNames().find((n) => n.endsWith(sec));
        if (!name) continue;
        const m = prog.object.map(name);
        out[sec] = mapLookup(m.fd, new Uint8Array(4), m.valueSize) ?? new Uint8Array(m.valueSize);
      }
      return out;
    },
    close: () => prog.close(),
  };
}

// ------------------------------------------------------------------ wasm

/** The one-line refusal for helpers the Wasm host lacks, naming the engine that has them. */
export function wasmRefusal(file: string, helpers: readonly string[]): string {
  const routes = helpers.includes("fib_lookup")
    ? "; or give the wasm engine a route table: --routes FILE.json"
    : "";
  return `${file}: ${refusalMessage(helpers)} (--engine kernel${routes})`;
}

/** A packet the Wasm engine could not run, as its outcome's reason (or rethrown). */
function wasmRefusalOf(e: unknown): string {
  if (e instanceof RouteTableError) return `not run on the wasm engine: ${e.message}`;
  if (!(e instanceof Error) || e.name !== "RuntimeError") throw e;
  return `trapped in the wasm engine: ${e.message}`;
}

function pickProgram(meta: WasmMeta, file: string, wanted?: string): string {
  const names = meta.functions
    .filter((f) => f.kind === "xdp" || f.kind === "tc")
    .map((f) => f.name);
  if (!names.length) throw new EngineError(`${file}: the module has no XDP or tc program`);
  if (wanted === undefined) {
    if (names.length === 1) return names[0]!;
    throw new EngineError(
      `${file}: the module has ${names.length} programs (${names.join(", ")}); pick one with --program`,
    );
  }
  if (!names.includes(wanted))
    throw new EngineError(`${file}: no program named '${wanted}' (programs: ${names.join(", ")})`);
  return wanted;
}

export function wasmEngine(build: FilterBuild, opts: EngineOptions = {}): Engine {
  if (!build.wasm)
    throw new EngineError(
      `${build.file}: the wasm engine runs a filter compiled from its source: give the .ts file (an eBPF object cannot be translated)`,
    );
  const missing = missingHelpers(build.wasm, { routes: opts.routes !== undefined });
  if (missing.length) throw new EngineError(wasmRefusal(build.file, missing));
  const meta = readMeta(build.wasm);
  if (!meta) throw new EngineError(`${build.file}: not a module built by xdpc (no xdpc.meta)`);
  const program = pickProgram(meta, build.file, opts.program);
  let host: WasmHost;
  try {
    host = new WasmHost(build.wasm, opts.routes ? { routes: opts.routes } : {});
  } catch (e) {
    if (e instanceof WasmHostError || e instanceof RouteTableError)
      throw new EngineError(`${build.file}: ${e.message}`);
    throw e;
  }
  const info = build.object ? readObject(build.object) : undefined;
  const sets = opts.sets ?? {};
  if (Object.keys(sets).length) {
    if (!info)
      throw new EngineError(
        `${build.file}: --set needs the filter's types: give the .ts source, not a bare .wasm`,
      );
    const bytes = rodataWith(info, sets)!;
    const size = host.section(".rodata").length;
    const full = new Uint8Array(size);
    full.set(bytes.subarray(0, size));
    host.setSection(".rodata", full);
  }
  const maps: EngineMap[] = [];
  for (const m of meta.maps) {
    if (!CONTENT_MAPS.has(m.bpfType)) continue;
    const store: HostMap = host.map(m.name);
    const codecs = mapCodecs({
      type: m.bpfType,
      keySize: m.keySize,
      valueSize: m.valueSize,
      ...(info ? objectMapTypes(info, m.name) : {}),
    });
    maps.push({
      name: m.name,
      type: m.bpfType,
      ...codecs,
      set(k, v) {
        const kb = codecs.key.encode(k);
        const vb = codecs.value.encode(v);
        const r = store.update(kb, vb, 0);
        if (r < 0) throw new EngineError(`map ${m.name}: update failed (errno ${-r})`);
      },
      get(k) {
        const at = store.lookup(codecs.key.encode(k));
        return at ? codecs.value.decode(host.bytes().slice(at, at + m.valueSize)) : null;
      },
      entries: () =>
        dumpOf(
          m.bpfType,
          codecs.value,
          store
            .entries()
            .filter(([, v]) => !ARRAYS.has(m.bpfType) || v.some((b) => b !== 0))
            .map(([k, v]) => ({ key: codecs.key.decode(k), value: codecs.value.decode(v) })),
        ),
    });
  }
  const fm = meta.functions.find((f) => f.name === program);
  const hook: Hook = fm?.kind !== "tc" ? "xdp" : fm.section ? "tcx" : "tc";
  const runTc = (p: TestPacket, index: number): PacketOutcome => {
    const o = outcomeOf(
      index,
      p,
      (data) => {
        // The frames the kernel's skb test run refuses, refused in its words.
        if (skbTestRunRefusal(data) !== null)
          throw new NativeError("BPF_PROG_TEST_RUN failed", 22, "bpf_prog_test_run_opts");
        return host.runTc(program, data, opts.ifindex ? { ifindex: opts.ifindex } : {});
      },
      (e) => {
        if (e instanceof NativeError) return `refused by the kernel: ${e.message}`;
        return wasmRefusalOf(e);
      },
    );
    o.hook = hook === "tcx" ? "tcx" : "tc";
    return o;
  };
  return {
    name: "wasm",
    program,
    run: (p, index) =>
      hook !== "xdp"
        ? runTc(p, index)
        : outcomeOf(
            index,
            p,
            (data) => {
              const r = host.run(program, data.subarray(0, LINEAR_PART), {
                ifindex: opts.ifindex ?? 1,
              });
              if (data.length <= LINEAR_PART) return r;
              const whole = new Uint8Array(r.data.length + data.length - LINEAR_PART);
              whole.set(r.data);
              whole.set(data.subarray(LINEAR_PART), r.data.length);
              return { verdict: r.verdict, data: whole };
            },
            wasmRefusalOf,
          ),
    maps: () => maps,
    globals() {
      const out: Record<string, Uint8Array> = {};
      for (const s of meta.sections) if (s.name !== ".rodata") out[s.name] = host.section(s.name);
      return out;
    },
    close() {},
  };
}

export function openEngine(name: EngineName, build: FilterBuild, opts: EngineOptions = {}): Engine {
  return name === "kernel" ? kernelEngine(build, opts) : wasmEngine(build, opts);
}

// ------------------------------------------------------------------ maps in and out

function mapByName(engine: Engine, name: string, source: string): EngineMap {
  const maps = engine.maps();
  const m = maps.find((x) => x.name === name);
  if (!m)
    throw new EngineError(
      `${source}: no map '${name}' in the filter (maps: ${maps.map((x) => x.name).join(", ") || "none"})`,
    );
  return m;
}

/**
 * Fills an engine's maps from a setup document: `{ "map": [{ "key": K, "value": V }, …] }`
 * (what `mapsOf` returns and `--maps-out` writes) or `{ "map": { "K": V, … } }`. A string
 * key or value is read as `xdpc map set` reads its arguments (a number, JSON, a dotted
 * address, a CIDR prefix); anything else is a JSON value of the map's type.
 */
export function fillMaps(engine: Engine, setup: unknown, source = "maps"): void {
  if (typeof setup !== "object" || setup === null || Array.isArray(setup))
    throw new EngineError(`${source}: expected an object of map name → entries`);
  for (const [name, entries] of Object.entries(setup as Record<string, unknown>)) {
    const m = mapByName(engine, name, source);
    const list: [unknown, unknown][] = Array.isArray(entries)
      ? entries.map((e, i) => {
          if (typeof e !== "object" || e === null || !("key" in e) || !("value" in e))
            throw new EngineError(`${source}: ${name}[${i}] needs "key" and "value"`);
          return [(e as MapEntryJson).key, (e as MapEntryJson).value];
        })
      : typeof entries === "object" && entries !== null
        ? Object.entries(entries)
        : (() => {
            throw new EngineError(`${source}: ${name} must be a list of {key, value} or an object`);
          })();
    for (const [k, v] of list) {
      const parse = (c: ValueCodec, x: unknown) =>
        typeof x === "string" ? c.parse(x) : (x as JsValue);
      try {
        m.set(parse(m.key, k), parse(m.value, v));
      } catch (e) {
        if (e instanceof ValueError || e instanceof EngineError)
          throw new EngineError(`${source}: map ${name}, key ${stringifyJson(k)}: ${e.message}`);
        if (e instanceof Error && e.name === "NativeError")
          throw new EngineError(`${source}: map ${name}, key ${stringifyJson(k)}: ${e.message}`);
        throw e;
      }
    }
  }
}

/** Every map's entries (zero array entries left out), sorted by key. */
export function mapsOf(engine: Engine): MapsJson {
  return Object.fromEntries(engine.maps().map((m) => [m.name, m.entries()]));
}

/** Lines `map[key]: kernel V wasm V` (absent: `-`) where two dumps differ. */
export function mapDiffs(a: MapsJson, b: MapsJson, names: [string, string]): string[] {
  const out: string[] = [];
  for (const name of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const index = (es: MapEntryJson[] | undefined) =>
      new Map((es ?? []).map((e) => [stringifyJson(e.key), stringifyJson(e.value)]));
    const x = index(a[name]);
    const y = index(b[name]);
    for (const k of new Set([...x.keys(), ...y.keys()]))
      if (x.get(k) !== y.get(k))
        out.push(`${name}[${k}]: ${names[0]} ${x.get(k) ?? "-"}, ${names[1]} ${y.get(k) ?? "-"}`);
  }
  return out;
}

/** Maps as JSON text, one entry a line (what `--maps-out` writes and `--maps` reads back). */
export function formatMaps(maps: MapsJson): string {
  const names = Object.keys(maps);
  if (!names.length) return "{}\n";
  const parts = names.map((n) => {
    const es = maps[n]!;
    if (!es.length) return `  ${JSON.stringify(n)}: []`;
    return `  ${JSON.stringify(n)}: [\n${es.map((e) => `    ${stringifyJson(e)}`).join(",\n")}\n  ]`;
  });
  return `{\n${parts.join(",\n")}\n}\n`;
}

// ------------------------------------------------------------------ running, comparing

/** What differed on one packet between two engines. */
export interface Difference {
  /** 1-based packet index. */
  index: number;
  /** `verdict: kernel XDP_PASS, wasm XDP_DROP`, `bytes: …`, `map counts[1]: …`. */
  what: string[];
}

function verdictText(o: PacketOutcome): string {
  return o.verdict === undefined ? `not run (${o.error})` : verdictName(o.verdict, o.hook);
}

/** Differences of one packet's outcomes: verdict, length, bytes, a tc program's mark and priority. */
export function packetDiffs(a: PacketOutcome, b: PacketOutcome, names: [string, string]): string[] {
  if (a.verdict !== b.verdict || a.verdict === undefined) {
    const [x, y] = [verdictText(a), verdictText(b)];
    return x === y ? [] : [`verdict: ${names[0]} ${x}, ${names[1]} ${y}`];
  }
  const x = a.data!;
  const y = b.data!;
  if (x.length !== y.length) return [`length: ${names[0]} ${x.length}, ${names[1]} ${y.length}`];
  let first = -1;
  let n = 0;
  for (let i = 0; i < x.length; i++)
    if (x[i] !== y[i]) {
      if (first < 0) first = i;
      n++;
    }
  const out = n ? [`bytes: ${n} differ, the first at offset ${first}`] : [];
  for (const k of ["mark", "priority"] as const)
    if (a[k] !== b[k]) out.push(`${k}: ${names[0]} ${a[k] ?? "-"}, ${names[1]} ${b[k] ?? "-"}`);
  return out;
}

function globalDiffs(a: Engine, b: Engine): string[] {
  const x = a.globals();
  const y = b.globals();
  const hex = (u?: Uint8Array) => (u ? Buffer.from(u).toString("hex") : "-");
  return [...new Set([...Object.keys(x), ...Object.keys(y)])]
    .filter((s) => hex(x[s]) !== hex(y[s]))
    .map((s) => `${s}: ${a.name} ${hex(x[s])}, ${b.name} ${hex(y[s])}`);
}

/**
 * Runs every packet on the first engine and, when there is a second, on it too,
 * comparing after each packet: verdict, bytes, maps and global data. A map entry or
 * global that differs is reported at the packet after which it first differed (and
 * again only once it had agreed in between). Outcomes are the first engine's.
 */
export function runEngines(
  engines: readonly Engine[],
  packets: readonly TestPacket[],
): { outcomes: PacketOutcome[]; differences: Difference[] } {
  const [main, other] = engines as [Engine, Engine | undefined];
  const names: [string, string] = [main.name, other?.name ?? ""];
  const outcomes: PacketOutcome[] = [];
  const differences: Difference[] = [];
  let shown = new Set<string>();
  packets.forEach((p, i) => {
    const o = main.run(p, i + 1);
    outcomes.push(o);
    if (!other) return;
    const what = packetDiffs(o, other.run(p, i + 1), names);
    const state = [
      ...mapDiffs(mapsOf(main), mapsOf(other), names).map((d) => `map ${d}`),
      ...globalDiffs(main, other).map((d) => `global ${d}`),
    ];
    what.push(...state.filter((d) => !shown.has(d)));
    shown = new Set(state);
    if (what.length) differences.push({ index: i + 1, what });
  });
  return { outcomes, differences };
}
