// ns/packet under BPF_PROG_TEST_RUN. Each call with repeat > 1 swaps the kernel's
// XDP dispatcher (~20 ms) outside the timed loop, so a few sampled packets run with
// a big repeat rather than many packets with a small one. The two sides run
// interleaved packet by packet, their order alternating each round, so drift (CPU
// frequency, other load) hits both alike; a filter's figure is the median over
// rounds of that round's geomean ratio.
//
// Two clocks. BPF_PROG_TEST_RUN's own duration is whole nanoseconds per run
// (total / repeat, truncated) and includes the test loop; that is "ns/packet".
// Most filters spend 1–30 ns on a packet, so a second pass in each round runs with
// the kernel's run-time statistics on (run_time_ns / run_cnt: sub-nanosecond, but
// each run also pays for two clock reads) and subtracts a bare `return XDP_PASS`
// program measured the same way: "net ns", the program's own time, whose ratio is
// the sharper (and stricter) comparison of the code.
import { closeFd, loadRawProgram, testRun } from "../native/bpf.ts";
import { enableRunTimeStats, progInfo } from "../native/info.ts";
import type { CorpusPacket } from "../test/support/corpus.ts";
import { prng } from "../test/support/crafted.ts";
import { runXdp, verdictName } from "../test/support/xdp.ts";
import type { Subject } from "./twins.ts";
import { geomean, median, notMeasured, type Maybe } from "./stats.ts";

export interface SpeedOptions {
  /** BPF_PROG_TEST_RUN repeat per call. */
  repeat: number;
  /** A/B rounds. */
  rounds: number;
  /** Packets sampled per filter. */
  samples: number;
  seed: number;
}

export interface PacketTiming {
  source: string;
  length: number;
  /** The verdict of the last run of the first timed call, both sides (differences shown as A≠B). */
  verdict: string;
  /** BPF_PROG_TEST_RUN duration, median over rounds. */
  xdpcNs: number;
  clangNs: number;
  /** Median over rounds of xdpc/clang (test-run durations). */
  ratio: number;
  /** Run-time statistics minus the bare program, median over rounds. */
  xdpcNetNs: number;
  clangNetNs: number;
}

export interface SpeedRow {
  name: string;
  packets: PacketTiming[];
  /** Median over rounds of the mean test-run ns/packet over the sample. */
  xdpcNs: number;
  clangNs: number;
  /** The bare program's test-run ns/packet on the same sample: the harness's own cost. */
  baselineNs: number;
  /** Median over rounds of the geomean over packets of xdpc/clang (test-run durations). */
  ratio: number;
  /** Per-round ratios, to show the spread. */
  roundRatios: number[];
  /** Median over rounds of the mean net ns (run-time statistics minus bare) over the sample. */
  xdpcNetNs: number;
  clangNetNs: number;
  /** Median over rounds of Σ xdpc net / Σ clang net over the sample. */
  netRatio: number;
  /** Packets whose verdicts differed between the sides on the timed runs (should be none). */
  disagreements: string[];
}

// mov r0, 2 (XDP_PASS); exit
const BARE_PASS = Uint8Array.from([0xb7, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);

/** Packets that look like traffic: captures, and crafted packets other than truncations and random bytes. */
export function trafficPool(corpus: readonly CorpusPacket[]): CorpusPacket[] {
  return corpus.filter((p) => !/\/trunc-|:random-/.test(p.source) && p.data.length <= 9000);
}

/**
 * A deterministic sample stratified by the reference's verdict: packets are grouped
 * by the verdict the clang build returns (one repeat-1 run each, on a throw-away
 * load), and slots go round-robin over the groups, most frequent first, alternating
 * captured and crafted packets within a group — so a filter's drop path is timed even
 * when most traffic passes.
 */
export function stratifiedSample(
  subject: Subject,
  clang: Uint8Array,
  pool: readonly CorpusPacket[],
  n: number,
  seed: number,
): CorpusPacket[] {
  const obj = subject.load(clang);
  let verdicts: string[];
  try {
    verdicts = runXdp(
      subject.programFd(obj),
      pool.map((p) => p.data),
    ).map((r) => r.name);
  } finally {
    obj.close();
  }
  const groups = new Map<string, CorpusPacket[]>();
  pool.forEach((p, i) => {
    if (verdicts[i]!.startsWith("error:")) return;
    const g = groups.get(verdicts[i]!) ?? [];
    g.push(p);
    groups.set(verdicts[i]!, g);
  });
  const rnd = prng(seed);
  const shuffled = (xs: CorpusPacket[]) => {
    const a = [...xs];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  };
  const queues = [...groups.entries()]
    .sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))
    .map(([, g]) => {
      const cap = shuffled(g.filter((p) => p.source.startsWith("tcpdump:")));
      const craft = shuffled(g.filter((p) => !p.source.startsWith("tcpdump:")));
      const out: CorpusPacket[] = [];
      while (cap.length || craft.length) {
        if (craft.length) out.push(craft.shift()!);
        if (cap.length) out.push(cap.shift()!);
      }
      return out;
    });
  const sample: CorpusPacket[] = [];
  while (sample.length < n && queues.some((q) => q.length)) {
    for (const q of queues) if (q.length && sample.length < n) sample.push(q.shift()!);
  }
  return sample;
}

export function measureSpeed(
  subject: Subject,
  xdpc: Maybe<Uint8Array>,
  clang: Maybe<Uint8Array>,
  pool: readonly CorpusPacket[],
  opts: SpeedOptions,
): Maybe<SpeedRow> {
  if (!(xdpc instanceof Uint8Array)) return notMeasured(`xdpc: ${xdpc.notMeasured}`);
  if (!(clang instanceof Uint8Array)) return notMeasured(`clang: ${clang.notMeasured}`);
  const sample = stratifiedSample(subject, clang, pool, opts.samples, opts.seed);
  if (sample.length === 0) return notMeasured("no packet of the corpus runs under this filter");
  const a = subject.load(xdpc);
  let b;
  try {
    b = subject.load(clang);
  } catch (e) {
    a.close();
    throw e;
  }
  const bare = loadRawProgram(BARE_PASS, { name: "bench_bare" });
  try {
    const fds = { a: subject.programFd(a), b: subject.programFd(b), base: bare.fd };
    type Side = keyof typeof fds;
    const series = () => ({
      a: sample.map(() => [] as number[]),
      b: sample.map(() => [] as number[]),
      base: sample.map(() => [] as number[]),
    });
    const ns = series(); // test-run durations
    const st = series(); // run-time statistics
    const verdicts = sample.map(() => ({ a: "", b: "" }));
    for (let r = 0; r < opts.rounds; r++) {
      const order: Side[] = r % 2 === 0 ? ["a", "b", "base"] : ["b", "a", "base"];
      sample.forEach((p, i) => {
        for (const side of order) {
          const res = testRun(fds[side], p.data, { repeat: opts.repeat });
          ns[side][i]!.push(res.duration);
          if (r === 0 && side !== "base") verdicts[i]![side] = verdictName(res.retval);
        }
      });
      const stats = enableRunTimeStats();
      try {
        sample.forEach((p, i) => {
          for (const side of order) {
            const before = progInfo(fds[side]);
            testRun(fds[side], p.data, { repeat: opts.repeat });
            const after = progInfo(fds[side]);
            const cnt = Number(after.runCnt - before.runCnt);
            if (cnt <= 0)
              throw new Error("the kernel's run-time statistics did not count the test runs");
            st[side][i]!.push(Number(after.runTimeNs - before.runTimeNs) / cnt);
          }
        });
      } finally {
        closeFd(stats);
      }
    }
    // Whole-nanosecond durations can be 0 for a trivial program; keep ratios finite.
    const floor = (x: number) => Math.max(x, 0.5);
    const net = (side: "a" | "b", i: number, r: number) => st[side][i]![r]! - st.base[i]![r]!;
    const rounds = [...Array(opts.rounds).keys()];
    const mean = (f: (i: number) => number) =>
      sample.reduce((s, _, i) => s + f(i), 0) / sample.length;
    const roundRatios = rounds.map((r) =>
      geomean(sample.map((_, i) => floor(ns.a[i]![r]!) / floor(ns.b[i]![r]!))),
    );
    const packets: PacketTiming[] = sample.map((p, i) => ({
      source: p.source,
      length: p.data.length,
      verdict:
        verdicts[i]!.a === verdicts[i]!.b ? verdicts[i]!.a : `${verdicts[i]!.a}≠${verdicts[i]!.b}`,
      xdpcNs: median(ns.a[i]!),
      clangNs: median(ns.b[i]!),
      ratio: median(rounds.map((r) => floor(ns.a[i]![r]!) / floor(ns.b[i]![r]!))),
      xdpcNetNs: median(rounds.map((r) => net("a", i, r))),
      clangNetNs: median(rounds.map((r) => net("b", i, r))),
    }));
    return {
      name: subject.name,
      packets,
      xdpcNs: median(rounds.map((r) => mean((i) => ns.a[i]![r]!))),
      clangNs: median(rounds.map((r) => mean((i) => ns.b[i]![r]!))),
      baselineNs: median(rounds.map((r) => mean((i) => ns.base[i]![r]!))),
      ratio: median(roundRatios),
      roundRatios,
      xdpcNetNs: median(rounds.map((r) => mean((i) => net("a", i, r)))),
      clangNetNs: median(rounds.map((r) => mean((i) => net("b", i, r)))),
      // Sums, not per-packet ratios: a packet a filter rejects in two instructions has a
      // net time near zero, whose ratio would be noise.
      netRatio: median(
        rounds.map(
          (r) =>
            Math.max(
              mean((i) => net("a", i, r)),
              0.01,
            ) /
            Math.max(
              mean((i) => net("b", i, r)),
              0.01,
            ),
        ),
      ),
      disagreements: packets
        .filter((p) => p.verdict.includes("≠"))
        .map((p) => `${p.source}: ${p.verdict}`),
    };
  } finally {
    closeFd(bare.fd);
    b.close();
    a.close();
  }
}
