// Counters of a running filter, sampled: verdict counts (the hidden xdpc_verdicts
// map of `verdictStats` builds), every integer counter in array and per-CPU array
// maps (integers, or structs/arrays of integers, one series per field), integer
// globals (.bss/.data), and the kernel's run count/time for the program. Two
// samples give rates; `xdpc stats` and the Prometheus endpoint both read these.
import { progInfo } from "../../native/info.ts";
import { VERDICT_MAP } from "../../compiler/uapi/bpf.ts";
import { VERDICT_NAMES, type ProgramMaps, type TypedMap } from "./maps.ts";
import { stringifyJson, type JsValue } from "./values.ts";

export interface Sample {
  kind: "verdict" | "counter" | "global";
  /** verdict: "pass"…; counter: "map[key]" or "map[key].field"; global: the variable name. */
  name: string;
  map: string;
  key: string;
  field: string;
  value: bigint;
}

export interface Snapshot {
  /** process.hrtime in ns when taken. */
  timeNs: bigint;
  progId: number;
  progName: string;
  samples: Sample[];
  /** Kernel BPF stats (zero unless kernel.bpf_stats_enabled or an enableRunTimeStats fd is open). */
  runCount: bigint;
  runTimeNs: bigint;
}

/** Arrays larger than this export only their non-zero entries (a policy table of 65536 bytes is not 65536 series). */
export const DENSE_LIMIT = 64;

const ARRAY = 2;
const PERCPU_ARRAY = 6;

/** Flattens an integer value into (field, value) pairs; null when it holds something that is not an integer. */
function intLeaves(v: JsValue, prefix = ""): [string, bigint][] | null {
  if (typeof v === "number") return Number.isInteger(v) ? [[prefix, BigInt(v)]] : null;
  if (typeof v === "bigint") return [[prefix, v]];
  if (typeof v === "string" || typeof v === "boolean") return null;
  const out: [string, bigint][] = [];
  const entries = Array.isArray(v)
    ? v.map((x, i) => [`${prefix}[${i}]`, x] as const)
    : Object.entries(v).map(([k, x]) => [prefix ? `${prefix}.${k}` : k, x] as const);
  for (const [name, x] of entries) {
    const leaves = intLeaves(x, name);
    if (!leaves) return null;
    out.push(...leaves);
  }
  return out;
}

function isGlobals(m: TypedMap): boolean {
  return m.meta.type === ARRAY && /\.(bss|data)$/.test(m.name);
}

/** Reads every counter of a program once. */
export function sample(pm: ProgramMaps): Snapshot {
  const samples: Sample[] = [];
  for (const m of pm.maps) {
    if (m.name === VERDICT_MAP && m.meta.type === PERCPU_ARRAY) {
      for (const e of m.entries()) {
        const i = e.key as number;
        samples.push({
          kind: "verdict",
          name: VERDICT_NAMES[i] ?? `verdict${i}`,
          map: m.name,
          key: String(i),
          field: "",
          value: BigInt(e.value as bigint),
        });
      }
      continue;
    }
    if (isGlobals(m)) {
      const v = m.get(0);
      if (v && typeof v === "object" && !Array.isArray(v))
        for (const [name, x] of Object.entries(v)) {
          if (typeof x === "bigint" || typeof x === "number")
            samples.push({
              kind: "global",
              name,
              map: m.name,
              key: name,
              field: "",
              value: BigInt(x),
            });
        }
      continue;
    }
    if (m.meta.type !== ARRAY && m.meta.type !== PERCPU_ARRAY) continue;
    if (intLeaves(m.value.zero()) === null) continue;
    const dense = m.meta.maxEntries <= DENSE_LIMIT;
    for (const e of m.entries()) {
      const leaves = intLeaves(e.value)!;
      if (!dense && leaves.every(([, x]) => x === 0n)) continue;
      for (const [field, value] of leaves)
        samples.push({
          kind: "counter",
          name: `${m.name}[${String(e.key)}]${field ? "." + field : ""}`,
          map: m.name,
          key: String(e.key),
          field,
          value,
        });
    }
  }
  const info = progInfo(pm.progFd);
  return {
    timeNs: process.hrtime.bigint(),
    progId: pm.progId,
    progName: pm.progName,
    samples,
    runCount: info.runCnt,
    runTimeNs: info.runTimeNs,
  };
}

export interface Rate {
  kind: Sample["kind"];
  name: string;
  total: bigint;
  /** Per second over the last interval (0 for the first sample). */
  perSecond: number;
}

export interface StatsLine {
  time: string;
  iface: string;
  program: string;
  progId: number;
  intervalMs: number;
  verdicts: Rate[];
  counters: Rate[];
  runs: { total: bigint; perSecond: number; nsPerRun: number };
}

/** The difference of two snapshots as rates (counters that went down — a reset — count from zero). */
export function rates(prev: Snapshot | undefined, cur: Snapshot, iface: string): StatsLine {
  const dt = prev ? Number(cur.timeNs - prev.timeNs) / 1e9 : 0;
  const before = new Map(prev?.samples.map((s) => [`${s.kind}:${s.name}`, s.value]));
  const rate = (now: bigint, then: bigint | undefined) =>
    dt > 0 && then !== undefined ? Number(now >= then ? now - then : now) / dt : 0;
  const all = cur.samples.map((s): Rate => ({
    kind: s.kind,
    name: s.name,
    total: s.value,
    perSecond: rate(s.value, before.get(`${s.kind}:${s.name}`)),
  }));
  const dRuns = prev ? cur.runCount - prev.runCount : 0n;
  const dTime = prev ? cur.runTimeNs - prev.runTimeNs : 0n;
  return {
    time: new Date().toISOString(),
    iface,
    program: cur.progName,
    progId: cur.progId,
    intervalMs: Math.round(dt * 1000),
    verdicts: all.filter((r) => r.kind === "verdict"),
    counters: all.filter((r) => r.kind !== "verdict"),
    runs: {
      total: cur.runCount,
      perSecond: rate(cur.runCount, prev?.runCount),
      nsPerRun:
        dRuns > 0n
          ? Number(dTime) / Number(dRuns)
          : cur.runCount > 0n
            ? Number(cur.runTimeNs) / Number(cur.runCount)
            : 0,
    },
  };
}

/** One JSON line; `extra` adds members (the AF_XDP handler's counters). */
export function formatStatsJson(line: StatsLine, extra: Record<string, unknown> = {}): string {
  return stringifyJson({
    ...line,
    verdicts: Object.fromEntries(
      line.verdicts.map((r) => [r.name, { total: r.total, pps: round(r.perSecond) }]),
    ),
    counters: Object.fromEntries(
      line.counters.map((r) => [r.name, { total: r.total, perSecond: round(r.perSecond) }]),
    ),
    runs: {
      total: line.runs.total,
      perSecond: round(line.runs.perSecond),
      nsPerRun: round(line.runs.nsPerRun),
    },
    ...extra,
  });
}

const round = (x: number) => Math.round(x * 10) / 10;

function human(x: number): string {
  if (x >= 1e9) return `${(x / 1e9).toFixed(2)}G`;
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e4) return `${(x / 1e3).toFixed(1)}k`;
  return x >= 100 || Number.isInteger(x) ? x.toFixed(0) : x.toFixed(1);
}

/** The text table `xdpc stats` redraws on a terminal. */
export function formatStatsTable(line: StatsLine, opts: { verdictStats: boolean }): string {
  const rows: [string, string, string][] = [];
  const out: string[] = [
    `xdpc stats — ${line.iface}: ${line.program} (id ${line.progId})   ${line.time}`,
    "",
  ];
  if (line.verdicts.length) {
    for (const r of line.verdicts)
      rows.push([`verdict ${r.name}`, `${human(r.perSecond)}/s`, r.total.toString()]);
  }
  for (const r of line.counters) rows.push([r.name, `${human(r.perSecond)}/s`, r.total.toString()]);
  const w0 = Math.max(12, ...rows.map((r) => r[0].length));
  const w1 = Math.max(10, ...rows.map((r) => r[1].length));
  out.push(`${"counter".padEnd(w0)}  ${"rate".padStart(w1)}  total`);
  for (const [a, b, c] of rows) out.push(`${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`);
  if (!opts.verdictStats)
    out.push(
      "",
      "(no verdict counters: load with verdict stats — `xdpc load` enables them by default)",
    );
  const r = line.runs;
  out.push(
    "",
    r.total > 0n
      ? `program runs: ${human(r.perSecond)}/s, ${r.nsPerRun.toFixed(0)} ns/run (kernel BPF stats)`
      : "program runs: (kernel BPF stats off)",
  );
  return out.join("\n");
}

/** The samples of one map by name (tests and the demo). */
export function mapSamples(snap: Snapshot, map: string): Sample[] {
  return snap.samples.filter((s) => s.map === map);
}
