// Rates and output formats of `xdpc stats`, from hand-made snapshots (no kernel).
import { describe, expect, it } from "vitest";
import {
  formatStatsJson,
  formatStatsTable,
  rates,
  type Sample,
  type Snapshot,
} from "../../runtime/observe/stats.ts";

const s = (kind: Sample["kind"], name: string, value: bigint): Sample => ({
  kind,
  name,
  map: "m",
  key: "0",
  field: "",
  value,
});

function snap(timeNs: bigint, samples: Sample[], runCount = 0n, runTimeNs = 0n): Snapshot {
  return { timeNs, progId: 7, progName: "fw", samples, runCount, runTimeNs };
}

describe("stats rates", () => {
  const a = snap(
    1_000_000_000n,
    [s("verdict", "pass", 100n), s("verdict", "drop", 10n), s("counter", "hits[1]", 5n)],
    1000n,
    50_000n,
  );
  const b = snap(
    1_500_000_000n,
    [s("verdict", "pass", 600n), s("verdict", "drop", 10n), s("counter", "hits[1]", 2n)],
    1500n,
    80_000n,
  );

  it("per-second rates over the interval; a counter that went down (reset) counts from zero", () => {
    const line = rates(a, b, "eth0");
    expect(line.intervalMs).toBe(500);
    expect(line.verdicts).toEqual([
      { kind: "verdict", name: "pass", total: 600n, perSecond: 1000 },
      { kind: "verdict", name: "drop", total: 10n, perSecond: 0 },
    ]);
    expect(line.counters).toEqual([{ kind: "counter", name: "hits[1]", total: 2n, perSecond: 4 }]);
    expect(line.runs).toEqual({ total: 1500n, perSecond: 1000, nsPerRun: 60 });
  });

  it("the first snapshot has totals and no rates", () => {
    const line = rates(undefined, a, "eth0");
    expect(line.verdicts.map((r) => r.perSecond)).toEqual([0, 0]);
    expect(line.runs.nsPerRun).toBe(50);
  });

  it("JSON lines carry exact totals and rounded rates", () => {
    const j = JSON.parse(formatStatsJson(rates(a, b, "eth0")));
    expect(j).toMatchObject({
      iface: "eth0",
      program: "fw",
      progId: 7,
      verdicts: { pass: { total: 600, pps: 1000 }, drop: { total: 10, pps: 0 } },
      counters: { "hits[1]": { total: 2, perSecond: 4 } },
      runs: { total: 1500, perSecond: 1000, nsPerRun: 60 },
    });
  });

  it("the terminal table lists verdicts, counters and the run cost", () => {
    const t = formatStatsTable(rates(a, b, "eth0"), { verdictStats: true }).split("\n");
    expect(t[0]).toMatch(/^xdpc stats — eth0: fw \(id 7\)/);
    expect(t).toContain("verdict pass      1000/s  600");
    expect(t).toContain("hits[1]              4/s  2");
    expect(t.at(-1)).toBe("program runs: 1000/s, 60 ns/run (kernel BPF stats)");
    const noVerdicts = formatStatsTable(rates(a, b, "eth0"), { verdictStats: false });
    expect(noVerdicts).toMatch(/no verdict counters/);
  });
});
