// ns/packet under BPF_PROG_TEST_RUN. Each call with repeat > 1 swaps the kernel's
// XDP dispatcher (~20 ms) outside the timed loop, so a few sampled packets run with
// a big repeat rather than many packets with a small one. The two sides run
// interleaved packet by packet, their order alternating each round, so drift (CPU
// frequency, other load) hits both alike; the filter's figure is the median over
// rounds of each round's geomean ratio. A bare `return XDP_PASS` program on the same
// packets measures the harness's own cost per run (the "net" figures subtract it).
import { closeFd, loadRawProgram, testRun } from "../native/bpf.ts";
import type { CorpusPacket } from "../test/support/corpus.ts";
import { prng } from "../test/support/packets.ts";
import { runXdp, verdictName } from "../test/support/xdp.ts";
import { filterProgramFd, loadSide, type Pair } from "./twins.ts";
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
  /** The verdict both sides returned on the timed runs (the first run of each call). */
  verdict: string;
  xdpcNs: number;
  clangNs: number;
  /** Median over rounds of xdpc/clang for this packet. */
  ratio: number;
}

export interface SpeedRow {
  name: string;
  packets: PacketTiming[];
  /** Median over rounds of the mean ns/packet over the sample. */
  xdpcNs: number;
  clangNs: number;
  /** The bare program's ns/packet on the same sample: the harness's own cost. */
  baselineNs: number;
  /** Median over rounds of the geomean over packets of xdpc/clang. */
  ratio: number;
  /** Median over rounds of (xdpc − bare) / (clang − bare), summed over the sample. */
  netRatio: number;
  /** Per-round ratios, to show the spread. */
  roundRatios: number[];
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
  pair: Pair,
  clang: Uint8Array,
  pool: readonly CorpusPacket[],
  n: number,
  seed: number,
): CorpusPacket[] {
  const obj = loadSide(pair, clang);
  let verdicts: string[];
  try {
    verdicts = runXdp(
      filterProgramFd(pair, obj),
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
  pair: Pair,
  xdpc: Maybe<Uint8Array>,
  clang: Maybe<Uint8Array>,
  pool: readonly CorpusPacket[],
  opts: SpeedOptions,
): Maybe<SpeedRow> {
  if (!(xdpc instanceof Uint8Array)) return notMeasured(`xdpc: ${xdpc.notMeasured}`);
  if (!(clang instanceof Uint8Array)) return notMeasured(`clang: ${clang.notMeasured}`);
  const sample = stratifiedSample(pair, clang, pool, opts.samples, opts.seed);
  if (sample.length === 0) return notMeasured("no packet of the corpus runs under this filter");
  const a = loadSide(pair, xdpc);
  const b = (() => {
    try {
      return loadSide(pair, clang);
    } catch (e) {
      a.close();
      throw e;
    }
  })();
  const bare = loadRawProgram(BARE_PASS, { name: "bench_bare" });
  try {
    const fdA = filterProgramFd(pair, a);
    const fdB = filterProgramFd(pair, b);
    const ns = {
      a: sample.map(() => [] as number[]),
      b: sample.map(() => [] as number[]),
      base: sample.map(() => [] as number[]),
    };
    const verdicts = sample.map(() => ({ a: "", b: "" }));
    for (let r = 0; r < opts.rounds; r++) {
      sample.forEach((p, i) => {
        const order: ("a" | "b")[] = r % 2 === 0 ? ["a", "b"] : ["b", "a"];
        for (const side of order) {
          const res = testRun(side === "a" ? fdA : fdB, p.data, { repeat: opts.repeat });
          ns[side][i]!.push(res.duration);
          if (r === 0) verdicts[i]![side] = verdictName(res.retval);
        }
        ns.base[i]!.push(testRun(bare.fd, p.data, { repeat: opts.repeat }).duration);
      });
    }
    // Zero-ns runs (a kernel timer too coarse for the repeat) cannot form ratios.
    const floor = (x: number) => Math.max(x, 0.5);
    const roundRatios: number[] = [];
    const netRatios: number[] = [];
    const meanA: number[] = [];
    const meanB: number[] = [];
    const meanBase: number[] = [];
    for (let r = 0; r < opts.rounds; r++) {
      roundRatios.push(geomean(sample.map((_, i) => floor(ns.a[i]![r]!) / floor(ns.b[i]![r]!))));
      const sum = (k: "a" | "b" | "base") => sample.reduce((s, _, i) => s + ns[k][i]![r]!, 0);
      netRatios.push(floor(sum("a") - sum("base")) / floor(sum("b") - sum("base")));
      meanA.push(sum("a") / sample.length);
      meanB.push(sum("b") / sample.length);
      meanBase.push(sum("base") / sample.length);
    }
    const packets: PacketTiming[] = sample.map((p, i) => ({
      source: p.source,
      length: p.data.length,
      verdict:
        verdicts[i]!.a === verdicts[i]!.b ? verdicts[i]!.a : `${verdicts[i]!.a}≠${verdicts[i]!.b}`,
      xdpcNs: median(ns.a[i]!),
      clangNs: median(ns.b[i]!),
      ratio: median(ns.a[i]!.map((x, r) => floor(x) / floor(ns.b[i]![r]!))),
    }));
    return {
      name: pair.name,
      packets,
      xdpcNs: median(meanA),
      clangNs: median(meanB),
      baselineNs: median(meanBase),
      ratio: median(roundRatios),
      netRatio: median(netRatios),
      roundRatios,
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
