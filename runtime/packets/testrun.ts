// `xdpc test`: every packet of a capture through one XDP program with
// BPF_PROG_TEST_RUN (repeat 1, so no dispatcher swap per packet), collecting the
// verdict and the bytes the program left behind. The object is loaded with a private
// pin root under bpffs, so pinned maps never touch (or reuse) /sys/fs/bpf's.
import { mkdtempSync, rmSync } from "node:fs";
import { testRun } from "../../native/bpf.ts";
import { NativeError } from "../../native/lib.ts";
import { LoadError, openObject, type LoadedObject } from "../../native/object.ts";
import { readObject } from "../../compiler/elf/object.ts";
import {
  SK_BUFF,
  TC_ACT,
  XDP_ACTION_NAMES,
  XDP_PASS,
  XDP_REDIRECT,
  XDP_TX,
} from "../../compiler/uapi/bpf.ts";
import { applyParams, paramsOf } from "../load/params.ts";
import { verifierRejection } from "../load/verifier.ts";
import type { PcapPacket } from "./pcap.ts";

/** The kernel's limits for one test-run packet (x86_64): an Ethernet header at least;
 *  at most the linear part (4096 - 256 headroom - 320 skb_shared_info) plus 17 fragment pages. */
export const MIN_TEST_PACKET = 14;
export const MAX_TEST_PACKET = 3520 + 17 * 4096;

/**
 * The program's hook: its verdicts are XDP actions, tc actions, or tcx verdicts (a tc
 * program in a tcx/ingress or tcx/egress section: the same skb run, TCX_* names).
 */
export type Hook = "xdp" | "tc" | "tcx";

const TC_NAMES = new Map<number, string>();
const TCX_NAMES = new Map<number, string>();
for (const [n, v] of Object.entries(TC_ACT)) {
  const names = n.startsWith("TCX_") ? TCX_NAMES : TC_NAMES;
  if (!names.has(v)) names.set(v, n);
}

export function verdictName(v: number, hook: Hook = "xdp"): string {
  if (hook === "tc") return TC_NAMES.get(v) ?? `TC_${v}`;
  // tcx_action_code runs every other value as TCX_NEXT.
  if (hook === "tcx") return TCX_NAMES.get(v) ?? `TCX_${v} (runs as TCX_NEXT)`;
  return XDP_ACTION_NAMES[v] ?? `XDP_${v} (unknown, treated as XDP_ABORTED)`;
}

/** Whether an object's program runs at tc (sections tc, classifier: tc actions) or tcx (tcx/*: TCX_* verdicts). */
export function hookOfSection(section: string): Hook {
  if (/^tcx\//.test(section)) return "tcx";
  return /^(tc|classifier)/.test(section) ? "tc" : "xdp";
}

/** A failure the user can act on (bad object, bad --set, load rejected): one line plus optional detail. */
export class TestRunError extends Error {
  constructor(
    message: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = "TestRunError";
  }
}

export interface TestProgram {
  /** Program name chosen. */
  program: string;
  fd: number;
  object: LoadedObject;
  /** Closes the object and removes the private pin root. */
  close(): void;
}

/**
 * Opens and loads an ELF object for test runs: private pin root, `--set` parameters
 * applied to `.rodata`, one program picked (`program`, or the only one). A verifier
 * rejection is the loader's LoaderError with its diagnostic (against `source` when
 * `file` is the filter it came from); libbpf refusing the object is its LoadError.
 */
export function loadForTest(
  bytes: Uint8Array,
  opts: {
    program?: string;
    sets?: Record<string, string>;
    name?: string;
    file?: string;
    source?: string;
  } = {},
): TestProgram {
  let info;
  try {
    info = readObject(bytes);
  } catch (e) {
    throw new TestRunError(`not a BPF object file: ${(e as Error).message}`);
  }
  const names = info.programs.map((p) => p.name);
  if (names.length === 0) throw new TestRunError("the object has no programs");
  const program = opts.program ?? (names.length === 1 ? names[0]! : undefined);
  if (program === undefined)
    throw new TestRunError(
      `the object has ${names.length} programs (${names.join(", ")}); pick one with --program`,
    );
  if (!names.includes(program))
    throw new TestRunError(`no program named '${program}' (programs: ${names.join(", ")})`);

  const rodata = info.globals.filter((g) => g.section === ".rodata");
  const initial = new Uint8Array(rodata.reduce((n, g) => Math.max(n, g.offset + g.size), 0));
  for (const g of rodata) initial.set(g.bytes.subarray(0, g.size), g.offset);
  const sets = opts.sets ?? {};
  let rodataBytes: Uint8Array | undefined;
  if (Object.keys(sets).length) {
    const r = applyParams(paramsOf(info.btf, initial, info.globals), initial, sets);
    if ("error" in r) throw new TestRunError(r.error);
    rodataBytes = r.bytes;
  }

  let pinRoot: string | undefined;
  try {
    pinRoot = mkdtempSync("/sys/fs/bpf/xdpc-test-");
  } catch {
    // No bpffs: fine unless a map asks to be pinned, which libbpf then reports.
  }
  const removePins = () => {
    if (pinRoot) rmSync(pinRoot, { recursive: true, force: true });
  };
  let object: LoadedObject;
  try {
    object = openObject(bytes, { pinRoot, name: opts.name });
  } catch (e) {
    removePins();
    if (e instanceof NativeError)
      throw new TestRunError(`libbpf cannot open the object: ${e.detailLine}`);
    throw e;
  }
  try {
    if (rodataBytes) {
      const ro = object.mapNames().find((m) => m.endsWith(".rodata"));
      if (!ro) throw new TestRunError("the object has no .rodata map to hold parameters");
      const cur = object.initialValue(ro);
      cur.set(rodataBytes.subarray(0, cur.length));
      object.setInitialValue(ro, cur);
    }
    try {
      object.load();
    } catch (e) {
      if (!(e instanceof LoadError)) throw e;
      throw (
        verifierRejection(e, { program, object: info, file: opts.file, source: opts.source }) ?? e
      );
    }
    return {
      program,
      fd: object.programFd(program),
      object,
      close() {
        object.close();
        removePins();
      },
    };
  } catch (e) {
    object.close();
    removePins();
    throw e;
  }
}

export interface PacketOutcome {
  /** 1-based position in the capture. */
  index: number;
  /** Bytes run (the captured bytes). */
  length: number;
  /** Length on the wire, when the capture cut the packet. */
  origLen: number;
  /** r0 (a tc program's as the kernel's int), or undefined when the kernel refused to run the packet. */
  verdict?: number;
  /** Set for a tc program's packets: `verdict` is a tc action (a tcx verdict for "tcx"). */
  hook?: "tc" | "tcx";
  /** A tc program's skb->mark and skb->priority after the run (both 0 going in). */
  mark?: number;
  priority?: number;
  /** Why the kernel refused the packet. */
  error?: string;
  /** The packet after the program. */
  data?: Uint8Array;
  /** Bytes that differ between input and output over their common length. */
  changedBytes: number;
  ts: bigint;
}

/** Why a packet of `len` bytes cannot be test-run (the kernel's limits), or undefined. */
export function sizeRefusal(len: number): string | undefined {
  if (len < MIN_TEST_PACKET)
    return `not run: ${len} bytes is shorter than an Ethernet header (${MIN_TEST_PACKET}), which the kernel refuses`;
  if (len > MAX_TEST_PACKET)
    return `not run: ${len} bytes is longer than the kernel's test-run limit (${MAX_TEST_PACKET})`;
  return undefined;
}

export type TestPacket = Pick<PcapPacket, "data" | "origLen" | "ts">;

/**
 * The outcome of running packet `index` (1-based) through `exec`, which returns the
 * verdict and the bytes left behind, or throws an error `refusal` turns into a reason
 * (rethrowing what is not a refusal). Shared by the kernel and the Wasm engine.
 */
export function outcomeOf(
  index: number,
  p: TestPacket,
  exec: (data: Uint8Array) => {
    verdict: number;
    data: Uint8Array;
    mark?: number;
    priority?: number;
  },
  refusal: (e: unknown) => string,
): PacketOutcome {
  const base = { index, length: p.data.length, origLen: p.origLen, ts: p.ts, changedBytes: 0 };
  // Known to fail: say why without running it.
  const tooBig = sizeRefusal(p.data.length);
  if (tooBig) return { ...base, error: tooBig };
  let r;
  try {
    r = exec(p.data);
  } catch (e) {
    return { ...base, error: refusal(e) };
  }
  let changed = 0;
  const n = Math.min(r.data.length, p.data.length);
  for (let j = 0; j < n; j++) if (r.data[j] !== p.data[j]) changed++;
  const o: PacketOutcome = { ...base, verdict: r.verdict, data: r.data, changedBytes: changed };
  if (r.mark !== undefined) o.mark = r.mark;
  if (r.priority !== undefined) o.priority = r.priority;
  return o;
}

/** sizeof(struct __sk_buff): the kernel refuses a shorter ctx_out with ENOSPC. */
const SKB_CTX_SIZE = 192;

/**
 * One skb test run of a tc program with a zeroed struct __sk_buff going in (mark and
 * priority 0; the skb on lo), reading back the mark and priority the program left.
 */
function runSkb(fd: number, data: Uint8Array, ifindex?: number) {
  const ctxIn = new Uint8Array(SKB_CTX_SIZE);
  // skb->dev: the device of that index in this namespace (lo when 0 or 1).
  if (ifindex) new DataView(ctxIn.buffer).setUint32(SK_BUFF.ifindex, ifindex, true);
  const r = testRun(fd, data, { repeat: 1, ctxIn });
  const ctx = new DataView(r.ctx!.buffer, r.ctx!.byteOffset, r.ctx!.byteLength);
  return {
    verdict: r.retval | 0,
    data: r.data,
    mark: ctx.getUint32(SK_BUFF.mark, true),
    priority: ctx.getUint32(SK_BUFF.priority, true),
  };
}

/**
 * One packet through a loaded program with BPF_PROG_TEST_RUN; a kernel refusal is an
 * outcome. `ifindex`: the device it arrives on (xdp_md.ingress_ifindex, __sk_buff.ifindex).
 */
export function runPacket(
  fd: number,
  p: TestPacket,
  index: number,
  hook: Hook = "xdp",
  ifindex?: number,
): PacketOutcome {
  const o = outcomeOf(
    index,
    p,
    (data) => {
      if (hook !== "xdp") return runSkb(fd, data, ifindex);
      const r = testRun(fd, data, { repeat: 1, ingressIfindex: ifindex });
      return { verdict: r.retval, data: r.data };
    },
    (e) => {
      if (!(e instanceof NativeError)) throw e;
      return `refused by the kernel: ${e.message}`;
    },
  );
  if (hook !== "xdp") o.hook = hook;
  return o;
}

/** Runs each packet once, in order. Kernel refusals are outcomes, not exceptions. */
export function runPackets(fd: number, packets: readonly TestPacket[]): PacketOutcome[] {
  return packets.map((p, i) => runPacket(fd, p, i + 1));
}

export interface TestSummary {
  total: number;
  /** Verdict name → packets, in verdict order. */
  verdicts: [string, number][];
  refused: number;
  /** Packets whose bytes or length the program changed. */
  rewritten: number;
  /** tc programs: value → packets the program left with that nonzero skb->mark / priority. */
  marks?: [number, number][];
  priorities?: [number, number][];
}

/** Value → count over the nonzero values, in value order. */
function histogram(values: (number | undefined)[]): [number, number][] {
  const h = new Map<number, number>();
  for (const v of values) if (v) h.set(v, (h.get(v) ?? 0) + 1);
  return [...h.entries()].sort((a, b) => a[0] - b[0]);
}

export function summarize(outcomes: readonly PacketOutcome[]): TestSummary {
  const hook: Hook = outcomes.find((o) => o.hook)?.hook ?? "xdp";
  const counts = new Map<number, number>();
  let refused = 0;
  let rewritten = 0;
  for (const o of outcomes) {
    if (o.verdict === undefined) {
      refused++;
      continue;
    }
    counts.set(o.verdict, (counts.get(o.verdict) ?? 0) + 1);
    if (o.changedBytes > 0 || o.data!.length !== o.length) rewritten++;
  }
  const verdicts = [...counts.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([v, n]) => [verdictName(v, hook), n] as [string, number]);
  const s: TestSummary = { total: outcomes.length, verdicts, refused, rewritten };
  if (hook !== "xdp") {
    s.marks = histogram(outcomes.map((o) => o.mark));
    s.priorities = histogram(outcomes.map((o) => o.priority));
  }
  return s;
}

/**
 * Whether a packet leaves the program (and so belongs in --out): XDP_PASS, XDP_TX,
 * XDP_REDIRECT; at tc every action but TC_ACT_SHOT and TC_ACT_STOLEN; at tcx all but TCX_DROP.
 */
export function leavesProgram(o: PacketOutcome): boolean {
  // tcx: TCX_DROP only (tcx_action_code runs TC_ACT_STOLEN as TCX_NEXT).
  if (o.hook === "tcx") return o.verdict !== undefined && o.verdict !== 2;
  if (o.hook) return o.verdict !== undefined && o.verdict !== 2 && o.verdict !== 4;
  return o.verdict === XDP_PASS || o.verdict === XDP_TX || o.verdict === XDP_REDIRECT;
}

/** One --verbose line: `#12  74 B  XDP_TX  changed 12 bytes`. */
export function formatOutcome(o: PacketOutcome, width = 5): string {
  const head = `#${String(o.index).padEnd(width)} ${String(o.length).padStart(6)} B`;
  const cut = o.origLen > o.length ? ` (captured ${o.length} of ${o.origLen})` : "";
  if (o.verdict === undefined) return `${head}  ${"not run".padEnd(12)} ${o.error}${cut}`;
  const notes: string[] = [];
  if (o.data!.length !== o.length) notes.push(`length ${o.length} → ${o.data!.length}`);
  if (o.changedBytes)
    notes.push(`changed ${o.changedBytes} byte${o.changedBytes === 1 ? "" : "s"}`);
  if (o.hook) notes.push(`mark ${o.mark ?? 0}, priority ${o.priority ?? 0}`);
  return `${head}  ${verdictName(o.verdict, o.hook).padEnd(12)} ${notes.join(", ")}${cut}`.trimEnd();
}

/** The summary table. */
export function formatSummary(s: TestSummary): string {
  const rows: [string, number][] = [...s.verdicts];
  if (s.refused) rows.push(["not run", s.refused]);
  const pct = (n: number) => (s.total ? ((100 * n) / s.total).toFixed(1) + "%" : "-");
  const w = Math.max(7, ...rows.map((r) => r[0].length));
  const nw = Math.max(7, String(s.total).length);
  const lines = [`  ${"verdict".padEnd(w)}  ${"packets".padStart(nw)}  ${"share".padStart(6)}`];
  for (const [name, n] of rows)
    lines.push(`  ${name.padEnd(w)}  ${String(n).padStart(nw)}  ${pct(n).padStart(6)}`);
  lines.push(`  ${"total".padEnd(w)}  ${String(s.total).padStart(nw)}`);
  lines.push(`rewritten by the program: ${s.rewritten} packet${s.rewritten === 1 ? "" : "s"}`);
  // tc: what the program set for the stack and qdiscs downstream (0 going in).
  for (const [what, h] of [
    ["mark", s.marks],
    ["priority", s.priorities],
  ] as const) {
    if (!h) continue;
    const n = h.reduce((a, [, c]) => a + c, 0);
    const list = h.map(([v, c]) => `${what} ${v}: ${c}`).join(", ");
    lines.push(
      `${what} set by the program: ${n} packet${n === 1 ? "" : "s"}${n ? ` (${list})` : ""}`,
    );
  }
  return lines.join("\n");
}
