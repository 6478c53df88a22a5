// The differential harness: two BPF objects that should behave the same (xdpc's build
// of a filter and clang's build of its C twin) run over the same packets; every
// packet whose verdict or output bytes differ is a mismatch, and so is any map whose
// contents differ after the run.
//
// Map state. Filters keep state between packets (counters, token buckets, flow
// tables). Both objects are loaded fresh for each diff run, so both start from the
// same (empty or `setup`-populated) maps, and the packets are fed in lock-step
// (packet i to A, then to B): state then evolves identically on both sides unless
// the programs differ, and a divergence shows up at the first packet whose verdict,
// output or final map contents it changes. Reloading per packet would hide bugs in
// state handling and costs a verifier run per packet. The same order also keeps
// both sides' bpf_ktime_get_ns() readings microseconds apart, which is what
// time-dependent logic (token buckets) needs to agree; logic with a sharper time
// edge than that is not deterministic, and `selfCheck` below tells which twins are.
import { hex } from "../../runtime/packets/build.ts";
import {
  loadXdpObject,
  runXdp,
  verdictHistogram,
  type XdpObject,
  type XdpResult,
} from "../support/xdp.ts";
import { mapLookup, mapNextKey, possibleCpus, type LoadedObject } from "../../native/object.ts";
import { BPF_MAP_TYPE } from "../../compiler/uapi/bpf.ts";

export interface DiffPacket {
  data: Uint8Array;
  source?: string;
}

export interface Mismatch {
  index: number;
  source?: string;
  /** What differs: the verdict, the output bytes, or both. */
  what: "verdict" | "data" | "verdict+data";
  packet: string;
  a: { verdict: string; data: string };
  b: { verdict: string; data: string };
}

export interface DiffOptions {
  /** Program to run on each side; the object's only program by default. */
  programA?: string;
  programB?: string;
  /** Runs between open and load on both sides (load-time parameters in `.rodata`). */
  beforeLoad?: (obj: LoadedObject, side: "a" | "b") => void;
  /** Populates maps after load and before the first packet, on both sides. */
  setup?: (obj: XdpObject, side: "a" | "b") => void;
  /** Compare maps present on both sides under the same name after the run (default true). */
  compareMaps?: boolean;
  /** Keep at most this many mismatches in detail (default 20); all are counted. */
  maxMismatches?: number;
  /** struct xdp_md's ingress_ifindex for every run (a device of the calling thread's netns). */
  ingressIfindex?: number;
  /** Runs one packet (default: an XDP test run); tc programs pass runTc. */
  run?: (fd: number, data: Uint8Array) => XdpResult;
}

export interface DiffResult {
  packets: number;
  mismatchCount: number;
  mismatches: Mismatch[];
  mapMismatches: string[];
  histogramA: Record<string, number>;
  histogramB: Record<string, number>;
}

const NONE = new Uint8Array(0);

/** libbpf names internal maps (.bss, .data, .rodata) after the object; give both sides the same name. */
const OBJECT_NAME = "diff";

export function diffObjects(
  aBytes: Uint8Array,
  bBytes: Uint8Array,
  packets: readonly (Uint8Array | DiffPacket)[],
  opts: DiffOptions = {},
): DiffResult {
  const list = packets.map((p) => (p instanceof Uint8Array ? { data: p } : p));
  const a = loadXdpObject(aBytes, {
    name: OBJECT_NAME,
    beforeLoad: (o) => opts.beforeLoad?.(o, "a"),
  });
  let b: XdpObject | undefined;
  try {
    b = loadXdpObject(bBytes, { name: OBJECT_NAME, beforeLoad: (o) => opts.beforeLoad?.(o, "b") });
    opts.setup?.(a, "a");
    opts.setup?.(b, "b");
    const fdA = a.programFd(opts.programA);
    const fdB = b.programFd(opts.programB);
    const ra: XdpResult[] = [];
    const rb: XdpResult[] = [];
    const on = { ingressIfindex: opts.ingressIfindex };
    const run = opts.run ?? ((fd: number, data: Uint8Array) => runXdp(fd, [data], on)[0]!);
    for (const p of list) {
      ra.push(run(fdA, p.data));
      rb.push(run(fdB, p.data));
    }
    const max = opts.maxMismatches ?? 20;
    const mismatches: Mismatch[] = [];
    let mismatchCount = 0;
    list.forEach((p, index) => {
      const x = ra[index]!;
      const y = rb[index]!;
      const verdictDiffers = x.verdict !== y.verdict;
      // A tc run also leaves the context (mark, priority) behind: part of the output.
      const dataDiffers = hex(x.data) !== hex(y.data) || hex(x.ctx ?? NONE) !== hex(y.ctx ?? NONE);
      if (!verdictDiffers && !dataDiffers) return;
      mismatchCount++;
      if (mismatches.length >= max) return;
      mismatches.push({
        index,
        source: p.source,
        what: verdictDiffers && dataDiffers ? "verdict+data" : verdictDiffers ? "verdict" : "data",
        packet: hex(p.data),
        a: { verdict: x.name, data: hex(x.data) + (x.ctx ? ` ctx ${hex(x.ctx)}` : "") },
        b: { verdict: y.name, data: hex(y.data) + (y.ctx ? ` ctx ${hex(y.ctx)}` : "") },
      });
    });
    const mapMismatches = opts.compareMaps === false ? [] : compareMaps(a, b);
    return {
      packets: list.length,
      mismatchCount,
      mismatches,
      mapMismatches,
      histogramA: verdictHistogram(ra),
      histogramB: verdictHistogram(rb),
    };
  } finally {
    b?.close();
    a.close();
  }
}

/** A readable summary of a diff for assertion messages. */
export function formatDiff(r: DiffResult): string {
  const lines = [
    `${r.mismatchCount} of ${r.packets} packets differ; maps differing: ${r.mapMismatches.length}`,
  ];
  for (const m of r.mismatches) {
    lines.push(
      `  #${m.index}${m.source ? ` (${m.source})` : ""}: ${m.what}: A ${m.a.verdict} vs B ${m.b.verdict}`,
    );
    lines.push(`    packet ${m.packet.slice(0, 160)}${m.packet.length > 160 ? "…" : ""}`);
    if (m.what !== "verdict")
      lines.push(`    A out ${m.a.data.slice(0, 160)}\n    B out ${m.b.data.slice(0, 160)}`);
  }
  for (const m of r.mapMismatches) lines.push(`  map ${m}`);
  return lines.join("\n");
}

// Map types whose contents userspace can iterate and compare by value.
const { HASH, ARRAY, PERCPU_HASH, PERCPU_ARRAY, LRU_HASH, LRU_PERCPU_HASH, LPM_TRIE } =
  BPF_MAP_TYPE;
const COMPARABLE = new Set<number>([
  HASH,
  ARRAY,
  PERCPU_HASH,
  PERCPU_ARRAY,
  LRU_HASH,
  LRU_PERCPU_HASH,
  LPM_TRIE,
]);
const PERCPU = new Set<number>([PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH]);

function compareMaps(a: XdpObject, b: XdpObject): string[] {
  const out: string[] = [];
  const namesB = new Set(b.object.mapNames());
  for (const name of a.object.mapNames()) {
    if (!namesB.has(name)) continue;
    const ma = a.object.map(name);
    const mb = b.object.map(name);
    if (
      ma.type !== mb.type ||
      ma.keySize !== mb.keySize ||
      ma.valueSize !== mb.valueSize ||
      ma.maxEntries !== mb.maxEntries
    ) {
      out.push(
        `${name}: shape differs (type/key/value/max ${ma.type}/${ma.keySize}/${ma.valueSize}/${ma.maxEntries} vs ${mb.type}/${mb.keySize}/${mb.valueSize}/${mb.maxEntries})`,
      );
      continue;
    }
    if (!COMPARABLE.has(ma.type)) continue;
    const da = dumpMap(ma.fd, ma.type, ma.keySize, ma.valueSize);
    const db = dumpMap(mb.fd, mb.type, mb.keySize, mb.valueSize);
    const keys = new Set([...da.keys(), ...db.keys()]);
    let n = 0;
    for (const k of [...keys].sort()) {
      if (da.get(k) === db.get(k)) continue;
      if (n++ < 5)
        out.push(`${name}[${k}]: A ${da.get(k) ?? "(absent)"} vs B ${db.get(k) ?? "(absent)"}`);
    }
    if (n > 5) out.push(`${name}: ${n - 5} more differing entries`);
  }
  return out;
}

/**
 * Key → value (hex). Per-CPU values are summed lane by lane over all CPUs, because
 * BPF_PROG_TEST_RUN may run the two sides on different CPUs. Array entries that are
 * all zero are left out so that large arrays compare quickly and sparsely.
 */
export function dumpMap(
  fd: number,
  type: number,
  keySize: number,
  valueSize: number,
): Map<string, string> {
  const percpu = PERCPU.has(type);
  const slot = (valueSize + 7) & ~7;
  const cpus = percpu ? possibleCpus() : 1;
  const out = new Map<string, string>();
  for (let k = mapNextKey(fd, null, keySize); k; k = mapNextKey(fd, k, keySize)) {
    const raw = mapLookup(fd, k, percpu ? slot * cpus : valueSize);
    if (!raw) continue; // deleted while iterating
    const v = percpu ? sumPerCpu(raw, valueSize, slot, cpus) : raw;
    if ((type === ARRAY || type === PERCPU_ARRAY) && v.every((x) => x === 0)) continue;
    out.set(hex(k), hex(v));
  }
  return out;
}

function sumPerCpu(raw: Uint8Array, valueSize: number, slot: number, cpus: number): Uint8Array {
  const sum = new Uint8Array(valueSize);
  const dv = new DataView(sum.buffer);
  const src = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const lane = valueSize % 8 === 0 ? 8 : valueSize % 4 === 0 ? 4 : 1;
  for (let c = 0; c < cpus; c++) {
    for (let i = 0; i < valueSize; i += lane) {
      const at = c * slot + i;
      if (lane === 8)
        dv.setBigUint64(i, dv.getBigUint64(i, true) + src.getBigUint64(at, true), true);
      else if (lane === 4)
        dv.setUint32(i, (dv.getUint32(i, true) + src.getUint32(at, true)) >>> 0, true);
      else sum[i] = (sum[i]! + raw[at]!) & 0xff;
    }
  }
  return sum;
}

/**
 * Runs one object twice, freshly loaded each time, over the same packets: any
 * mismatch means the program is not deterministic under test (time, randomness,
 * per-CPU effects), so a differential comparison of it needs care.
 */
export function selfCheck(
  bytes: Uint8Array,
  packets: readonly (Uint8Array | DiffPacket)[],
  opts: DiffOptions = {},
): DiffResult {
  return diffObjects(bytes, bytes, packets, opts);
}
