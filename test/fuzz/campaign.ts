// One fuzz case end to end: generate a program and its C twin, build both (xdpc, clang
// -O2 -target bpf), run both in the kernel over varied frames and xdpc's Wasm build in
// the host, and classify the outcome. A campaign is a range of seeds.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { build, type PacketSpec } from "../../runtime/packets/build.ts";
import {
  buildClang,
  buildXdpc,
  differ,
  runKernel,
  runWasm,
  runXskBatch,
  unseenDrops,
  type Sets,
} from "./engines.ts";
import { generate, render, Rng, XSK_AS_XDP, type Program } from "./gen.ts";

export const CLASSES = [
  "ok",
  "internal", // crash / internal error in xdpc (eBPF or Wasm backend)
  "rejected", // xdpc rejects a valid program (diagnostics; stack size where clang fits)
  "verifier", // the verifier rejects xdpc's object but accepts clang's
  "clang", // xdpc's kernel run differs from clang's
  "wasm", // xdpc's Wasm build differs from its kernel run
  "handler", // xdpc's Wasm build of the AF_XDP handler differs from its XDP twin's kernel run
  "slow", // compile time over the limit
  "skip", // the reference failed (clang error or clang's object rejected): no verdict
] as const;
export type FuzzClass = (typeof CLASSES)[number];

/** A compile slower than this is a finding (compile time must stay near-linear). */
export const SLOW_MS = 2000;

export interface CaseResult {
  seed: number;
  cls: FuzzClass;
  detail: string;
  ms: number;
}

/** The frames a program runs over (state carries from one to the next). */
export function framesFor(seed: number): Uint8Array[] {
  const r = new Rng(seed ^ 0x5bd1e995);
  const ip4 = () => ({ kind: "ipv4" as const, ttl: r.range(0, 255), id: r.int(65536) });
  const ip6 = () => ({ kind: "ipv6" as const, hopLimit: r.range(0, 255) });
  const port = () => r.pick([53, 80, 443, r.int(65536)]);
  const pay = (n: number) => Uint8Array.from({ length: n }, () => r.int(256));
  const specs: PacketSpec[] = [
    { l3: ip4(), l4: { kind: "udp", sport: port(), dport: port() }, payload: pay(r.range(0, 40)) },
    {
      l3: ip4(),
      l4: { kind: "tcp", sport: port(), dport: port(), flags: r.int(256) },
      payload: pay(r.range(0, 20)),
    },
    { l3: ip4(), l4: { kind: "icmp" }, payload: pay(8) },
    { l3: ip6(), l4: { kind: "udp", sport: port(), dport: port() }, payload: pay(r.range(0, 30)) },
    { l3: ip6(), l4: { kind: "tcp", sport: port(), dport: port() }, payload: pay(4) },
    { l3: ip6(), l4: { kind: "icmp6" }, payload: pay(8) },
    { eth: { vlans: [{ vid: r.int(4096) }] }, l3: ip4(), l4: { kind: "udp" }, payload: pay(12) },
    { eth: { vlans: [{ vid: 5 }, { vid: 6, tpid: 0x88a8 }] }, l3: ip6(), l4: { kind: "tcp" } },
    { l3: { kind: "arp" } },
  ];
  const out = specs.map((s) => {
    try {
      return build(s);
    } catch {
      return build({ l3: ip4(), l4: { kind: "udp" } });
    }
  });
  // raw frames: too short for IPv4, random bytes, IPv4 with options, a fragment
  out.push(pay(14), pay(r.range(15, 90)));
  const opt = Uint8Array.from(out[0]!);
  opt[14] = 0x46;
  out.push(opt);
  const frag = Uint8Array.from(out[1]!);
  frag[20] = 0x20;
  frag[21] = r.int(256);
  out.push(frag);
  return out;
}

export interface RunOptions {
  pinRoot?: string;
  /** Skip the Wasm side. */
  noWasm?: boolean;
}

/** Runs a rendered program (and its C twin, and its handler) and classifies it. */
export function runCase(p: Program, opts: RunOptions = {}): CaseResult {
  const { ts, c, handler } = render(p);
  return runSources(p.seed, ts, c, framesFor(p.seed), opts, { sets: p.sets, handler });
}

export interface CaseExtras {
  /** Load-time parameters set in all three engines (the rest keep their defaults). */
  sets?: Sets;
  /** An AF_XDP handler whose Wasm run must equal the XDP program's kernel run. */
  handler?: string;
}

export function runSources(
  seed: number,
  ts: string,
  c: string,
  frames: Uint8Array[],
  opts: RunOptions = {},
  extras: CaseExtras = {},
): CaseResult {
  const sets = extras.sets ?? {};
  const x = buildXdpc(ts, !opts.noWasm);
  const res = (cls: FuzzClass, detail: string): CaseResult => ({ seed, cls, detail, ms: x.ms });
  if (x.internal) return res("internal", x.internal.split("\n").slice(0, 3).join(" | "));
  // CPU time still counts the GC's threads and a loaded machine's cache misses: a slow
  // compile must be slow twice (seed 14838 took 2 s once, 150 ms after).
  if (x.ms > SLOW_MS) x.ms = Math.min(x.ms, buildXdpc(ts, false).ms);
  if (x.ms > SLOW_MS) return res("slow", `${Math.round(x.ms)} ms`);
  // clang's twin is the reference. Without one (clang fails, or the verifier rejects its
  // object: clang's own patterns, see docs/fuzz.md) xdpc's kernel run is still
  // checked against its Wasm build, so a skip hides only a clang mismatch.
  const cl = buildClang(c);
  const ck = cl.object
    ? runKernel(cl.object, frames, { pinRoot: opts.pinRoot && join(opts.pinRoot, "c"), sets })
    : undefined;
  const noRef = !cl.object
    ? `clang: ${firstLines(cl.error ?? "", 3)}`
    : !ck!.outcome
      ? `clang's object rejected: ${verifierComplaint(ck!.loadError ?? "")}`
      : null;
  if (x.errors.length) {
    if (noRef) return res("skip", noRef);
    return res("rejected", firstLines(x.errors[0]!, 3));
  }
  const xk = runKernel(x.object!, frames, {
    pinRoot: opts.pinRoot && join(opts.pinRoot, "x"),
    sets,
  });
  if (!xk.outcome) {
    if (noRef) return res("skip", `${noRef}; xdpc's too: ${verifierComplaint(xk.loadError ?? "")}`);
    return res("verifier", lastLines(xk.loadError ?? "", 4));
  }
  if (ck?.outcome) {
    const dc = differ(xk.outcome, ck.outcome);
    if (dc) return res("clang", dc);
  }
  if (x.wasm) {
    try {
      const w = runWasm(x.wasm, x.program!, x.object!, frames, { sets });
      const dw = differ(xk.outcome, w);
      if (dw) return res("wasm", dw);
    } catch (e) {
      return res("internal", `wasm run: ${String(e).slice(0, 300)}`);
    }
  }
  // The handler's oracle is its XDP twin in the kernel: the same statements over the
  // same frames give the same verdicts (XSK_DROP ↔ XDP_DROP, XSK_TX ↔ XDP_TX), bytes,
  // maps and globals.
  if (extras.handler && !opts.noWasm) {
    const h = buildXdpc(extras.handler, true, "handler");
    if (h.internal) return res("internal", "handler: " + firstLines(h.internal, 3));
    if (h.errors.length) return res("rejected", "handler: " + firstLines(h.errors[0]!, 3));
    try {
      const w = runWasm(h.wasm!, h.program!, h.object!, frames, { sets, verdicts: XSK_AS_XDP });
      const dh = differ(xk.outcome, w);
      if (dh) return res("handler", dh);
      // … and as AF_XDP workers run it: the batch loop, maps in the shared memory.
      const b = runXskBatch(h.batch!, h.program!, h.object!, frames, { sets });
      const db = differ(unseenDrops(xk.outcome), b);
      if (db) return res("handler", "batch loop: " + db);
    } catch (e) {
      return res("internal", `handler run: ${String(e).slice(0, 300)}`);
    }
  }
  if (noRef) return res("skip", `${noRef} (xdpc's kernel run = its Wasm run)`);
  return res("ok", "");
}

/**
 * The verifier's complaint in a libbpf load error: the line before its "processed N
 * insns" summary (the budget's own message when it ran out), else the last line.
 */
export function verifierComplaint(log: string): string {
  const lines = log.split("\n").filter(Boolean);
  const i = lines.findIndex((l) => /^processed \d+ insns/.test(l));
  if (i < 0) return lines[lines.length - 1] ?? "";
  if (/too large|too complex/.test(lines[i - 1] ?? "")) return lines[i - 1]!;
  return lines.slice(Math.max(0, i - 2), i).join(" | ");
}

/** A skip's reason without its numbers and registers, to count skips by kind. */
export function skipKind(detail: string): string {
  if (detail.startsWith("clang: ")) return "clang error";
  const [clang, xdpc] = detail
    .replace(/ \(xdpc's kernel run = its Wasm run\)$/, "")
    .split("; xdpc's too: ");
  const msg =
    (clang ?? "")
      .replace(/^clang's object rejected: /, "")
      .split(" | ")
      .pop() ?? "";
  const norm = msg
    .replace(/R\d+/g, "R")
    .replace(/\([^)]*\)/g, "")
    .replace(/-?\b\d+\b/g, "N")
    .trim();
  return `${xdpc === undefined ? "clang's object" : "both"} rejected: ${norm}`;
}
const firstLines = (s: string, n: number) => s.split("\n").filter(Boolean).slice(0, n).join(" | ");
const lastLines = (s: string, n: number) => s.split("\n").filter(Boolean).slice(-n).join(" | ");

/** Writes a failing case's sources (and the reduced ones) for a human. */
export function saveCase(dir: string, seed: number, ts: string, c: string, tag = ""): string {
  const d = resolve(dir);
  mkdirSync(d, { recursive: true });
  const base = join(d, `seed${seed}${tag}`);
  writeFileSync(base + ".ts", ts);
  writeFileSync(base + ".c", c);
  return base;
}

export { generate, render };
