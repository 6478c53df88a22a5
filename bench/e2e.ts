// End to end on a veth pair in a lab namespace (runtime/lab/netns.ts): the lab's
// generator (runtime/lab/generator.ts) sends copies of one frame from the
// namespace's end, as fast as it can; the receiving end runs the filter (native XDP)
// and the figure is the rate the receiver gets through, read from its rx_packets
// counter (veth counts every frame its XDP program processed) per second of the
// receiver's NAPI thread on its CPU (so CPU taken by other work does not count), against a bare
// `return XDP_DROP` program and the clang twin on the same link. The receiver's NAPI runs as a kthread
// (threaded NAPI) pinned to one CPU and the generator's thread to another, so the
// receiver is the bottleneck and the two do not share a core. Only frames the filter
// drops are sent: a passed frame would enter the host's stack, and the target
// compares drop paths. Many short rounds rotate xdpc's build, the clang twin and bare (the program is
// swapped atomically on the live link), so load from elsewhere hits both alike; the
// ratio is the median of the per-round ratios.
import { readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { closeFd, loadRawProgram, testRun } from "../native/bpf.ts";
import { encode } from "../compiler/bpf/encode.ts";
import {
  BPF_ADD,
  BPF_ALU64,
  BPF_B,
  BPF_EXIT,
  BPF_JGT,
  BPF_JMP,
  BPF_K,
  BPF_LDX,
  BPF_MEM,
  BPF_MOV,
  BPF_W,
  BPF_X,
} from "../compiler/bpf/insn.ts";
import type { CorpusPacket } from "../test/support/corpus.ts";
import { loadXdpObject, XDP_DROP, type XdpObject } from "../test/support/xdp.ts";
import { compile } from "../compiler/driver/index.ts";
import { mapUpdate } from "../native/object.ts";
import { napiThreads, onCpuNs, pinToCpu } from "./affinity.ts";
import { stratifiedSample } from "./speed.ts";
import { median, notMeasured, type Maybe } from "./stats.ts";
import { filterProgramFd, loadSide, pairSubject, type Pair } from "./twins.ts";

export interface E2eRow {
  name: string;
  /** The frame the generator sent (corpus source; every program here drops it) and its size. */
  frame: string;
  frameBytes: number;
  /**
   * Frames per second per receiver core: frames received / on-CPU time of the
   * receiver's NAPI thread. Unlike wall-clock pps, this does not fall when other work
   * takes the receiver's CPU away, so it compares programs on a shared machine.
   */
  filterPps: number;
  /** The clang twin on the same frame: how much of the gap is the filter's logic rather than its compiler. */
  clangPps: number;
  barePps: number;
  /** A program that reads one header byte and drops: the cost of touching the packet at all. */
  touchPps: number;
  /** Medians over rounds of each program's per-core pps / the bare program's in that round. */
  ratio: number;
  clangRatio: number;
  touchRatio: number;
  /** A program that does one hash-map lookup (a hit) and drops: the cost of one map access on this link (NaN when not run). */
  lookupRatio: number;
  /** The same ratio for xdpc from wall-clock pps (received / elapsed). */
  wallRatio: number;
  /** Share of the wall time the receiver's NAPI thread was on its CPU (median over runs). */
  receiverBusy: number;
  /** Frames the generator offered per second (the receiver is the bottleneck when this is higher). */
  offeredPps: number;
}

export interface E2eResult {
  rows: { name: string; row: Maybe<E2eRow> }[];
  seconds: number;
  rounds: number;
  generatorCpu: number;
  receiverCpu: number;
}

export interface E2eInput {
  pair: Pair;
  xdpc: Maybe<Uint8Array>;
  clang: Maybe<Uint8Array>;
}

export interface E2eOptions {
  seconds: number;
  rounds: number;
  samples: number;
  seed: number;
  /** Lab name and index (default "xdpcbench", 41: its own /30, apart from the lab tests' labs). */
  lab?: string;
  labIndex?: number;
}

// mov r0, 1 (XDP_DROP); exit
const BARE_DROP = Uint8Array.from([0xb7, 0, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
/**
 * Reads the EtherType byte, then drops: the bare program plus the first touch of the
 * packet's memory (which the generator wrote on another CPU). Between bare and this
 * lies what any filter pays for looking at a packet at all.
 */
const TOUCH_DROP = encode([
  { code: BPF_LDX | BPF_MEM | BPF_W, dst: 2, src: 1, off: 0, imm: 0 }, // r2 = ctx->data
  { code: BPF_LDX | BPF_MEM | BPF_W, dst: 3, src: 1, off: 4, imm: 0 }, // r3 = ctx->data_end
  { code: BPF_ALU64 | BPF_MOV | BPF_X, dst: 4, src: 2, off: 0, imm: 0 },
  { code: BPF_ALU64 | BPF_ADD | BPF_K, dst: 4, src: 0, off: 0, imm: 14 },
  { code: BPF_JMP | BPF_JGT | BPF_X, dst: 4, src: 3, off: 1, imm: 0 }, // if data + 14 > data_end: drop
  { code: BPF_LDX | BPF_MEM | BPF_B, dst: 0, src: 2, off: 12, imm: 0 },
  { code: BPF_ALU64 | BPF_MOV | BPF_K, dst: 0, src: 0, off: 0, imm: 1 },
  { code: BPF_JMP | BPF_EXIT, dst: 0, src: 0, off: 0, imm: 0 },
]);

type Side = "filter" | "clang" | "bare" | "touch" | "lookup";

/** A filter that does one hash-map lookup keyed by the frame's length and drops on a hit; compiled by xdpc. */
const LOOKUP_PROBE = `import { XdpContext, XdpAction, XDP_DROP, XDP_PASS, HashMap, u32, u8 } from "xdpc";
const probe = new HashMap<u32, u8>({ maxEntries: 64 });
export function bench_lookup(ctx: XdpContext): XdpAction {
  if (probe.lookup(ctx.len) !== null) return XDP_DROP;
  return XDP_PASS;
}
`;

function loadLookupProbe(): XdpObject | undefined {
  const out = compile(LOOKUP_PROBE, { file: "bench_lookup.ts", emit: "object" });
  if (!out.object) return undefined;
  try {
    return loadXdpObject(out.object, { name: "bench_probe" });
  } catch {
    return undefined;
  }
}

const u32le = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);

type LabApi = {
  netns: typeof import("../runtime/lab/netns.ts");
  lab: typeof import("../runtime/lab/control.ts");
  generator: typeof import("../runtime/lab/generator.ts");
};

async function labApi(): Promise<LabApi | string> {
  try {
    return {
      netns: await import("../runtime/lab/netns.ts"),
      lab: await import("../runtime/lab/control.ts"),
      generator: await import("../runtime/lab/generator.ts"),
    };
  } catch (e) {
    return `the lab runtime does not load: ${(e as Error).message.split("\n")[0]}`;
  }
}

/** Why the lab cannot run here, or null. */
export function labUnavailableReason(): string | null {
  if (typeof process.getuid === "function" && process.getuid() !== 0)
    return "needs root (network namespaces, veth)";
  if (cpus().length < 2) return "needs two CPUs (generator and receiver on different cores)";
  return null;
}

/**
 * A frame the filter drops, as live traffic would meet it: each candidate runs a few
 * times as a fresh copy (stateful filters such as token buckets reach their steady
 * state), and the last verdict counts. Among dropped frames, the one closest to 64 bytes.
 */
function dropFrame(
  fd: number,
  candidates: readonly CorpusPacket[],
  maxFrame: number,
): CorpusPacket | undefined {
  const dropped = candidates.filter((p) => {
    if (p.data.length > maxFrame) return false;
    let v = -1;
    for (let i = 0; i < 8; i++) v = testRun(fd, p.data, { repeat: 1 }).retval;
    return v === XDP_DROP;
  });
  return dropped.sort((a, b) => Math.abs(a.data.length - 64) - Math.abs(b.data.length - 64))[0];
}

export async function measureE2e(
  inputs: readonly E2eInput[],
  pool: readonly CorpusPacket[],
  opts: E2eOptions,
): Promise<Maybe<E2eResult>> {
  const why = labUnavailableReason();
  if (why) return notMeasured(why);
  const api = await labApi();
  if (typeof api === "string") return notMeasured(api);
  const generatorCpu = 0;
  const receiverCpu = 1;
  const { netns, lab, generator } = api;
  return netns.withLab(
    opts.lab ?? "xdpcbench",
    async (spec) => {
      const rx = () =>
        Number(readFileSync(`/sys/class/net/${spec.hostIf}/statistics/rx_packets`, "utf8"));
      const gen = new generator.TrafficGenerator(spec.name, spec.peerIf);
      const bare = loadRawProgram(BARE_DROP, { name: "bench_drop" });
      const touch = loadRawProgram(TOUCH_DROP, { name: "bench_touch" });
      const probe = loadLookupProbe();
      const unpinSelf = pinToCpu(0, generatorCpu);
      let detach: (() => void) | undefined;
      /** Attaches (or atomically replaces) the receiver's program, then pins its NAPI kthread. */
      const attach = (fd: number) => {
        const d = lab.attachNative(spec.hostIf, fd);
        detach ??= d;
        // veth has NAPI (and so a thread to pin) only while an XDP program is attached.
        writeFileSync(`/sys/class/net/${spec.hostIf}/threaded`, "1");
        const threads = napiThreads(spec.hostIf);
        if (threads.length === 0)
          throw new Error(`no NAPI thread for ${spec.hostIf} (threaded NAPI unsupported?)`);
        for (const pid of threads) pinToCpu(pid, receiverCpu);
        return threads;
      };
      const measure = async (fd: number, frame: Uint8Array) => {
        const threads = attach(fd);
        // A short warm-up fills caches and lets the kthread settle on its CPU.
        await gen.generate({
          mix: [{ name: "warm", frame, weight: 1 }],
          durationMs: Math.min(50, opts.seconds * 1000),
        });
        const before = rx();
        const cpuBefore = onCpuNs(threads);
        const rep = await gen.generate({
          mix: [{ name: "frame", frame, weight: 1 }],
          durationMs: opts.seconds * 1000,
        });
        const received = rx() - before;
        const cpuNs = onCpuNs(threads) - cpuBefore;
        return {
          wallPps: (received * 1000) / rep.elapsedMs,
          corePps: cpuNs > 0 ? (received * 1e9) / cpuNs : NaN,
          busy: cpuNs / (rep.elapsedMs * 1e6),
          offered: rep.pps,
        };
      };
      try {
        const rows: E2eResult["rows"] = [];
        for (const input of inputs) {
          const { pair } = input;
          if (!(input.xdpc instanceof Uint8Array)) {
            rows.push({ name: pair.name, row: notMeasured(`xdpc: ${input.xdpc.notMeasured}`) });
            continue;
          }
          if (!(input.clang instanceof Uint8Array)) {
            rows.push({
              name: pair.name,
              row: notMeasured(`no reference verdicts: clang: ${input.clang.notMeasured}`),
            });
            continue;
          }
          const candidates = stratifiedSample(
            pairSubject(pair),
            input.clang,
            pool,
            opts.samples * 4,
            opts.seed,
          );
          const obj = loadSide(pair, input.xdpc);
          let twin: ReturnType<typeof loadSide> | undefined;
          try {
            const fd = filterProgramFd(pair, obj);
            const frame = dropFrame(fd, candidates, generator.MAX_FRAME);
            if (!frame) {
              rows.push({
                name: pair.name,
                row: notMeasured(
                  "the filter drops none of its sampled frames (only dropped frames are sent)",
                ),
              });
              continue;
            }
            twin = loadSide(pair, input.clang);
            // The probe hits on the frame's length, so it drops it like everything else here.
            if (probe) mapUpdate(probe.mapFd("probe"), u32le(frame.data.length), Uint8Array.of(1));
            const probeDrops =
              probe !== undefined && testRun(probe.programFd(), frame.data).retval === XDP_DROP;
            const fds: Partial<Record<Side, number>> = {
              filter: fd,
              clang: filterProgramFd(pair, twin),
              bare: bare.fd,
              touch: touch.fd,
              ...(probeDrops ? { lookup: probe!.programFd() } : {}),
            };
            const sides = Object.keys(fds) as Side[];
            const pps: Record<Side, number[]> = {
              filter: [],
              clang: [],
              bare: [],
              touch: [],
              lookup: [],
            };
            const ratios: Record<Side | "wall", number[]> = {
              filter: [],
              clang: [],
              bare: [],
              touch: [],
              lookup: [],
              wall: [],
            };
            const offered: number[] = [];
            const busy: number[] = [];
            for (let round = 0; round < opts.rounds; round++) {
              const core: Partial<Record<Side, number>> = {};
              const wall: Partial<Record<Side, number>> = {};
              // Rotate the order by one each round, so no program always follows another.
              const order = sides.map((_, i) => sides[(i + round) % sides.length]!);
              for (const side of order) {
                const m = await measure(fds[side]!, frame.data);
                core[side] = m.corePps;
                wall[side] = m.wallPps;
                pps[side].push(m.corePps);
                offered.push(m.offered);
                busy.push(m.busy);
              }
              for (const side of sides)
                if (side !== "bare") ratios[side].push(core[side]! / core.bare!);
              ratios.wall.push(wall.filter! / wall.bare!);
            }
            rows.push({
              name: pair.name,
              row: {
                name: pair.name,
                frame: frame.source,
                frameBytes: frame.data.length,
                filterPps: median(pps.filter),
                clangPps: median(pps.clang),
                barePps: median(pps.bare),
                touchPps: median(pps.touch),
                ratio: median(ratios.filter),
                clangRatio: median(ratios.clang),
                touchRatio: median(ratios.touch),
                lookupRatio: probeDrops ? median(ratios.lookup) : NaN,
                wallRatio: median(ratios.wall),
                receiverBusy: median(busy),
                offeredPps: median(offered),
              },
            });
          } finally {
            // Put the bare program back before the filters' objects go away.
            if (detach) lab.attachNative(spec.hostIf, bare.fd);
            twin?.close();
            obj.close();
          }
        }
        return { rows, seconds: opts.seconds, rounds: opts.rounds, generatorCpu, receiverCpu };
      } finally {
        detach?.();
        unpinSelf();
        probe?.close();
        closeFd(touch.fd);
        closeFd(bare.fd);
        gen.close();
      }
    },
    opts.labIndex ?? 41,
  );
}
