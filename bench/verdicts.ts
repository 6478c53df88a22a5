// The performance targets (docs/benchmarks.md, "Targets"), judged against one
// run's figures. Reported, never asserted: a miss says by how much.
import type { BenchResult } from "./bench.ts";
import { geomean, isMeasured, notMeasured, type Maybe } from "./stats.ts";

export interface Verdict {
  target: string;
  value: Maybe<number>;
  unit: "×" | "ms";
  /** "max": value must be ≤ limit (< for strict); "min": value must be ≥ limit. */
  direction: "max" | "min";
  strict?: boolean;
  limit: number;
  /** The stricter goal beyond the current target, when there is one. */
  goal?: number;
  /** How many filters the value covers, when it is a geomean over filters. */
  coverage?: string;
  status: "met" | "missed" | "not measured";
  /** One line: the figure against the target (and goal), and by how much it misses. */
  detail: string;
}

type Partial = Omit<BenchResult, "verdicts">;

function judge(v: Omit<Verdict, "status" | "detail">): Verdict {
  if (!isMeasured(v.value))
    return { ...v, status: "not measured", detail: `not measured: ${v.value.notMeasured}` };
  const x = v.value;
  const ok = (limit: number) =>
    v.direction === "max" ? (v.strict ? x < limit : x <= limit) : x >= limit;
  const miss = (limit: number) => (v.direction === "max" ? x / limit - 1 : 1 - x / limit);
  const rel = v.direction === "max" ? (v.strict ? "<" : "≤") : "≥";
  const fmt = (n: number) => (v.unit === "×" ? `${n.toFixed(3)}×` : `${n.toFixed(1)} ms`);
  const fmtLimit = (n: number) => (v.unit === "×" ? `${n.toFixed(2)}×` : `${n} ms`);
  const parts = [
    `${fmt(x)} (target ${rel} ${fmtLimit(v.limit)}: ${ok(v.limit) ? "met" : `missed by ${(miss(v.limit) * 100).toFixed(1)}%`}`,
  ];
  if (v.goal !== undefined)
    parts.push(
      `goal ${rel} ${fmtLimit(v.goal)}: ${ok(v.goal) ? "met" : `missed by ${(miss(v.goal) * 100).toFixed(1)}%`}`,
    );
  return {
    ...v,
    status: ok(v.limit) ? "met" : "missed",
    detail: parts.join("; ") + ")" + (v.coverage ? ` over ${v.coverage}` : ""),
  };
}

/** Geomean of the measured values, with how many of how many were measured. */
function over<T>(
  rows: readonly T[],
  value: (r: T) => Maybe<number>,
  what: string,
): { value: Maybe<number>; coverage: string } {
  const vs = rows.map(value).filter(isMeasured);
  const coverage = `${vs.length} of ${rows.length} ${what}`;
  if (vs.length === 0) return { value: notMeasured(`no ${what} measured`), coverage };
  return { value: geomean(vs), coverage };
}

const ratio = (a: Maybe<number>, b: Maybe<number>): Maybe<number> => {
  if (!isMeasured(a)) return a;
  if (!isMeasured(b)) return b;
  return a / b;
};

export function verdicts(r: Partial): Verdict[] {
  const out: Verdict[] = [];
  const insns = over(
    r.code,
    (c) =>
      ratio(
        isMeasured(c.xdpc) ? c.xdpc.xlatedInsns : c.xdpc,
        isMeasured(c.clang) ? c.clang.xlatedInsns : c.clang,
      ),
    "filters",
  );
  out.push(
    judge({
      target: "instruction count (kernel xlated), xdpc / clang -O2, geomean",
      ...insns,
      unit: "×",
      direction: "max",
      limit: 1.1,
      goal: 1.0,
    }),
  );
  const ns = over(r.speed, (s) => (isMeasured(s.row) ? s.row.ratio : s.row), "filters");
  out.push(
    judge({
      target: "ns/packet (BPF_PROG_TEST_RUN), xdpc / clang -O2, geomean",
      ...ns,
      unit: "×",
      direction: "max",
      limit: 1.1,
      goal: 1.0,
    }),
  );
  const net = over(r.speed, (s) => (isMeasured(s.row) ? s.row.netRatio : s.row), "filters");
  out.push(
    judge({
      target:
        "program time net of the harness (run-time stats minus a bare program), xdpc / clang -O2, geomean",
      ...net,
      unit: "×",
      direction: "max",
      limit: 1.1,
      goal: 1.0,
    }),
  );
  const pps = isMeasured(r.e2e)
    ? over(r.e2e.rows, (x) => (isMeasured(x.row) ? x.row.ratio : x.row), "filters")
    : { value: r.e2e, coverage: undefined };
  out.push(
    judge({
      target: "veth pps per receiver core through the filter / bare XDP_DROP, geomean",
      ...pps,
      unit: "×",
      direction: "min",
      limit: 0.95,
    }),
  );
  out.push(...realworldVerdicts(r));
  const xl = r.xsk.live;
  out.push(
    judge({
      target: "AF_XDP consumer on-CPU ns/frame on veth, Wasm handler / C consumer (libxdp)",
      value: isMeasured(xl) ? xl.nsRatio : xl,
      unit: "×",
      direction: "max",
      limit: 1.1,
    }),
    judge({
      target: "AF_XDP received pps on veth, Wasm handler / C consumer (libxdp)",
      value: isMeasured(xl) ? xl.ppsRatio : xl,
      unit: "×",
      direction: "min",
      limit: 0.95,
    }),
  );
  const cold = over(r.compile, (c) => ratio(c.xdpcColdMs, c.clangMs), "filters");
  out.push(
    judge({
      target: "`xdpc build` cold process / `clang -O2 -target bpf -c` wall time, geomean",
      ...cold,
      unit: "×",
      direction: "max",
      limit: 0.5,
    }),
  );
  const warm = over(r.compile, (c) => ratio(c.xdpcWarmMs, c.clangMs), "filters");
  out.push(
    judge({
      target: "xdpc build in-process (warm) / `clang -O2 -target bpf -c` wall time, geomean",
      ...warm,
      unit: "×",
      direction: "max",
      limit: 0.5,
    }),
  );
  const gen = r.check.find((c) => c.name.startsWith("generated"));
  out.push(
    judge({
      target: `check of a generated ${gen?.lines ?? "?"}-line filter, in-process warm`,
      value: gen ? gen.warmMs : notMeasured("no generated filter"),
      unit: "ms",
      direction: "max",
      strict: true,
      limit: 50,
    }),
  );
  return out;
}

/** Issue 10's targets over the real-world corpus: geomeans, the worst program, processed insns. */
function realworldVerdicts(r: Partial): Verdict[] {
  const rows = r.realworld ?? [];
  const code = (f: "xlatedInsns" | "verifiedInsns") => (c: Partial["code"][number]) =>
    ratio(isMeasured(c.xdpc) ? c.xdpc[f] : c.xdpc, isMeasured(c.clang) ? c.clang[f] : c.clang);
  const xlated = rows.map(code("xlatedInsns"));
  const measured = xlated.filter(isMeasured);
  const worst = measured.length
    ? Math.max(...measured)
    : notMeasured("no real-world program measured");
  const worstName = measured.length ? rows[xlated.indexOf(worst as number)]!.name : "";
  const ns = r.realworldSpeed ?? [];
  return [
    judge({
      target: "real-world corpus: instruction count (kernel xlated), xdpc / clang -O2, geomean",
      ...over(rows, code("xlatedInsns"), "programs"),
      unit: "×",
      direction: "max",
      limit: 1.25,
      goal: 1.0,
    }),
    judge({
      target: `real-world corpus: instruction count of the worst program${worstName ? ` (${worstName})` : ""}`,
      value: worst,
      unit: "×",
      direction: "max",
      limit: 1.6,
    }),
    judge({
      target: "real-world corpus: verifier processed insns, xdpc / clang -O2, geomean",
      ...over(rows, code("verifiedInsns"), "programs"),
      unit: "×",
      direction: "max",
      limit: 1.0,
    }),
    judge({
      target: "real-world corpus: ns/packet (BPF_PROG_TEST_RUN), xdpc / clang -O2, geomean",
      ...(ns.length
        ? over(ns, (s) => (isMeasured(s.row) ? s.row.ratio : s.row), "programs")
        : { value: notMeasured("not timed in this run") }),
      unit: "×",
      direction: "max",
      limit: 1.0,
    }),
  ];
}
