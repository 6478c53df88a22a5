// The three engines a fuzzed (or regression) program runs on: xdpc's eBPF object and
// clang's object of the C twin in the kernel (BPF_PROG_TEST_RUN, loaded through
// libbpf), and xdpc's Wasm build in the Wasm host. Each run gives an Outcome (verdict
// and bytes per frame, then the final maps, ring-buffer records and globals) in one
// format, so that any two can be compared. Usable outside vitest (the fuzz CLI).
import { fileURLToPath } from "node:url";
import { compile } from "../../compiler/driver/index.ts";
import { renderDiagnostic } from "../../compiler/diagnostics/render.ts";
import { compileToWasm } from "../../compiler/wasm/compile.ts";
import { WasmHost } from "../../runtime/wasm/instance.ts";
import { readObject } from "../../compiler/elf/object.ts";
import { BPF_MAP_TYPE } from "../../compiler/uapi/bpf.ts";
import { RingConsumer } from "../../runtime/observe/events.ts";
import { dumpMap } from "../differential/diff.ts";
import { compileBpfC } from "../differential/clang.ts";
import { hex } from "../../runtime/packets/build.ts";
import { loadXdpObject, runXdp, type XdpObject } from "../support/xdp.ts";
import { DUMPABLE, hostMapDump, onOneCpu } from "../wasm/support.ts";
import { FakeRings } from "../xsk/fake.ts";
import { readMeta } from "../../compiler/wasm/abi.ts";
import { DATA_BASE } from "../../runtime/wasm/memory.ts";
import { applyParams, paramsOf } from "../../runtime/load/params.ts";
import type { ObjectInfo } from "../../compiler/elf/object.ts";

export interface Outcome {
  /** Per frame: "verdict:hex bytes". */
  frames: string[];
  /** Final contents: `map[key]=value`, `ring#i=record`, `global=bytes` lines, sorted. */
  state: string[];
}

export interface XdpcBuild {
  /** CPU time of the eBPF compile (user + system): wall time would measure the machine's load. */
  ms: number;
  /** Rendered diagnostics (errors only). */
  errors: string[];
  /** An exception escaping compile() or the Wasm backend. */
  internal?: string;
  object?: Uint8Array;
  wasm?: Uint8Array;
  /** A handler's build for AF_XDP workers (rxBatch: its batch loop, maps in the shared memory). */
  batch?: Uint8Array;
  program?: string;
}

/**
 * Builds the eBPF object and (with `wasm`) the Wasm module of one source: of its XDP
 * program, or of its AF_XDP handler with `kind` "handler".
 */
export function buildXdpc(source: string, wasm = true, kind: "xdp" | "handler" = "xdp"): XdpcBuild {
  const t0 = process.cpuUsage();
  const cpuMs = () => {
    const d = process.cpuUsage(t0);
    return (d.user + d.system) / 1000;
  };
  const r: XdpcBuild = { ms: 0, errors: [] };
  try {
    const out = compile(source, { file: "fuzz.ts", emit: "object" });
    r.errors = out.diagnostics
      .filter((d) => d.severity === "error")
      .map((d) => renderDiagnostic(d, source));
    r.object = out.object;
    r.ms = cpuMs();
    if (wasm && out.object && out.checked) {
      const w = compileToWasm(out.checked, { only: kind });
      if (w.binary) {
        r.wasm = w.binary;
        r.program = w.meta!.functions[0]!.name;
      } else r.errors.push(...w.diagnostics.map((d) => "wasm: " + renderDiagnostic(d, source)));
      if (kind === "handler" && w.binary) {
        const b = compileToWasm(out.checked, { only: kind, rxBatch: true });
        if (b.binary) r.batch = b.binary;
        else r.errors.push(...b.diagnostics.map((d) => "rxBatch: " + renderDiagnostic(d, source)));
      }
    }
  } catch (e) {
    r.ms = cpuMs();
    r.internal = e instanceof Error ? (e.stack ?? e.message) : String(e);
  }
  return r;
}

const TWINS = fileURLToPath(new URL("../twins", import.meta.url));

/** clang -O2 -target bpf of the C twin (xdpc_twin.h: the §5 accessors in C). */
export function buildClang(c: string): { object?: Uint8Array; error?: string } {
  try {
    return { object: compileBpfC({ source: c, name: "fuzz" }, [`-I${TWINS}`, "-w"]) };
  } catch (e) {
    return { error: String(e instanceof Error ? e.message : e) };
  }
}

export interface KernelRun {
  outcome?: Outcome;
  /** libbpf open/load failure (the verifier's log included). */
  loadError?: string;
}

const RING = BPF_MAP_TYPE.RINGBUF;

/**
 * Loads an object, runs it over the frames (pinned to one CPU, so per-CPU maps sum as
 * the host's one lane), and reads back its maps, rings and globals.
 */
export function runKernel(
  object: Uint8Array,
  frames: readonly Uint8Array[],
  opts: { pinRoot?: string; program?: string; sets?: Sets } = {},
): KernelRun {
  let obj: XdpObject;
  const ro = rodataWith(readObject(object), opts.sets ?? {});
  try {
    obj = loadXdpObject(object, {
      name: "fuzz",
      pinRoot: opts.pinRoot,
      ...(ro ? { beforeLoad: (o) => o.setInitialValue(".rodata", ro) } : {}),
    });
  } catch (e) {
    return { loadError: String(e instanceof Error ? e.message : e) };
  }
  try {
    const info = readObject(object);
    const rings = new Map<string, RingConsumer>();
    for (const m of info.maps)
      if (m.type === RING) rings.set(m.name, new RingConsumer(obj.mapFd(m.name), m.maxEntries));
    try {
      const fd = obj.programFd(opts.program);
      const out: string[] = [];
      onOneCpu(() => {
        for (const r of runXdp(fd, frames)) out.push(`${r.verdict}:${hex(r.data)}`);
      });
      const state: string[] = [];
      for (const m of info.maps) {
        if (m.type === RING) {
          const ring = rings.get(m.name)!;
          for (let i = 0, rec = ring.next(); rec; rec = ring.next(), i++)
            state.push(`${m.name}#${i}=${hex(rec)}`);
          continue;
        }
        if (!DUMPABLE.has(m.type)) continue;
        const mi = obj.object.map(m.name);
        for (const [k, v] of dumpMap(mi.fd, mi.type, mi.keySize, mi.valueSize))
          state.push(`${m.name}[${k}]=${v}`);
      }
      // Globals by name: clang and xdpc may lay a section out in different orders.
      const sections = new Map<string, Uint8Array>();
      for (const g of info.globals) {
        if (g.section === ".rodata") continue;
        let bytes = sections.get(g.section);
        if (!bytes) {
          const kname = obj.object.mapNames().find((n) => n.endsWith(g.section));
          if (!kname) continue;
          const mi = obj.object.map(kname);
          const d = dumpMap(mi.fd, mi.type, mi.keySize, mi.valueSize).get("00000000");
          bytes = d ? Uint8Array.from(Buffer.from(d, "hex")) : new Uint8Array(mi.valueSize);
          sections.set(g.section, bytes);
        }
        state.push(`${g.name}=${hex(bytes.subarray(g.offset, g.offset + g.size))}`);
      }
      return { outcome: { frames: out, state: state.sort() } };
    } finally {
      for (const r of rings.values()) r.close();
    }
  } finally {
    obj.close();
  }
}

/** Load-time parameters' values by name (`xdpc load --set name=value`). */
export type Sets = Record<string, string>;

/**
 * `.rodata` with the values of `sets` that name a parameter of the object (a reduced
 * program may have lost some), or undefined when none does.
 */
function rodataWith(info: ObjectInfo, sets: Sets): Uint8Array | undefined {
  const ro = info.globals.filter((g) => g.section === ".rodata");
  const initial = new Uint8Array(ro.reduce((n, g) => Math.max(n, g.offset + g.size), 0));
  for (const g of ro) initial.set(g.bytes.subarray(0, g.size), g.offset);
  const defs = paramsOf(info.btf, initial, info.globals);
  const known = Object.entries(sets).filter(([k]) => defs.some((d) => d.name === k));
  if (!known.length) return undefined;
  const r = applyParams(defs, initial, Object.fromEntries(known));
  if ("error" in r) throw new Error(r.error);
  return r.bytes;
}

/**
 * Runs xdpc's Wasm build in the host over the same frames, with the same readback.
 * `verdicts` maps the function's verdicts to XDP's (a handler's XSK_DROP/XSK_TX).
 */
export function runWasm(
  wasm: Uint8Array,
  program: string,
  object: Uint8Array,
  frames: readonly Uint8Array[],
  opts: { sets?: Sets; verdicts?: Record<number, number> } = {},
): Outcome {
  const host = new WasmHost(wasm);
  const info = readObject(object);
  const ro = rodataWith(info, opts.sets ?? {});
  if (ro) {
    // The module's .rodata has the object's layout; its size may be rounded differently.
    const full = new Uint8Array(host.section(".rodata").length);
    full.set(ro.subarray(0, full.length));
    host.setSection(".rodata", full);
  }
  const out = frames.map((f) => {
    const r = host.run(program, f);
    const v = opts.verdicts ? (opts.verdicts[r.verdict] ?? `xsk${r.verdict}`) : r.verdict;
    return `${v}:${hex(r.data)}`;
  });
  const state: string[] = [];
  for (const m of info.maps) {
    if (m.type === RING) {
      host.ringbuf(m.name).records.forEach((rec, i) => state.push(`${m.name}#${i}=${hex(rec)}`));
      continue;
    }
    if (!DUMPABLE.has(m.type)) continue;
    for (const [k, v] of hostMapDump(host.map(m.name), m.type)) state.push(`${m.name}[${k}]=${v}`);
  }
  for (const g of info.globals) {
    if (g.section === ".rodata") continue;
    const bytes = host.section(g.section);
    state.push(`${g.name}=${hex(bytes.subarray(g.offset, g.offset + g.size))}`);
  }
  return { frames: out, state: state.sort() };
}

/**
 * Runs a handler's rxBatch build as an AF_XDP worker does: through its batch loop over
 * fake rings (test/xsk/fake.ts), one frame per batch, with its maps in the shared memory
 * (compiler/wasm/maps.ts). A frame sent (XSK_TX) reads as XDP_TX with the bytes sent;
 * a frame recycled (XSK_DROP) as XDP_DROP without bytes (nothing observes them): compare
 * with `unseenDrops` of the XDP twin's run.
 */
export function runXskBatch(
  wasm: Uint8Array,
  handler: string,
  object: Uint8Array,
  frames: readonly Uint8Array[],
  opts: { sets?: Sets } = {},
): Outcome {
  const meta = readMeta(wasm)!;
  const info = readObject(object);
  const ro = rodataWith(info, opts.sets ?? {});
  const roSec = meta.sections.find((x) => x.name === ".rodata");
  let rodata: Uint8Array | undefined;
  if (ro && roSec) {
    rodata = new Uint8Array(roSec.size);
    rodata.set(ro.subarray(0, roSec.size));
  }
  const rings = new FakeRings(wasm, handler, 16, 32, rodata);
  const out = frames.map((f) => {
    rings.receive([f]);
    if (rings.batch(rings.ctl, 1) !== 1) throw new Error("the batch loop took no frame");
    const tx = rings.transmit();
    return tx.length ? `3:${hex(tx[0]!)}` : "1:";
  });
  const state: string[] = [];
  const maps = rings.maps();
  for (const name of maps.names()) {
    const m = maps.get(name)!;
    const { keySize, valueSize, bpfType } = m.layout;
    if (!DUMPABLE.has(bpfType)) continue;
    for (const [k, v] of m.entries()) {
      const val = v.subarray(0, valueSize); // one worker: per-CPU maps have one lane
      if (ARRAYS.has(bpfType) && val.every((x) => x === 0)) continue;
      state.push(`${name}[${hex(k.subarray(0, keySize))}]=${hex(val)}`);
    }
  }
  const mem = new Uint8Array(rings.memory.buffer);
  for (const g of info.globals) {
    if (g.section === ".rodata") continue;
    const sec = meta.sections.find((x) => x.name === g.section);
    if (!sec) continue;
    const at = DATA_BASE + sec.offset + g.offset;
    state.push(`${g.name}=${hex(mem.slice(at, at + g.size))}`);
  }
  return { frames: out, state: state.sort() };
}

/** An XDP run as AF_XDP sees it: a dropped frame's bytes are never seen. */
export function unseenDrops(o: Outcome): Outcome {
  return { ...o, frames: o.frames.map((f) => (f.startsWith("1:") ? "1:" : f)) };
}

const ARRAYS = new Set<number>([BPF_MAP_TYPE.ARRAY, BPF_MAP_TYPE.PERCPU_ARRAY]);

/** The first difference between two outcomes, or null. */
export function differ(a: Outcome, b: Outcome): string | null {
  for (let i = 0; i < Math.max(a.frames.length, b.frames.length); i++)
    if (a.frames[i] !== b.frames[i]) return `frame ${i}: ${a.frames[i]} vs ${b.frames[i]}`;
  const sa = a.state.join("\n");
  const sb = b.state.join("\n");
  if (sa !== sb) {
    const A = new Set(a.state);
    const B = new Set(b.state);
    const onlyA = a.state.filter((x) => !B.has(x));
    const onlyB = b.state.filter((x) => !A.has(x));
    return `state: ${onlyA.slice(0, 3).join(" ")} vs ${onlyB.slice(0, 3).join(" ")}`;
  }
  return null;
}
