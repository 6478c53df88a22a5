// `xdpc demo`: the whole product in one command, on a machine with nothing set up.
// Builds filters/lpm_firewall.ts (an LPM blocklist with per-rule counters; compiled
// with verdict counting so passes are counted in the kernel too), brings up a lab,
// attaches the filter to the receiving veth end, blocklists two attacker prefixes,
// drives a legit + attack mix from inside the lab with the live-frames generator,
// shows per-rule drops live, prints a summary and removes everything it made —
// also on Ctrl-C, SIGTERM or an error.
import { packageRoot } from "../sys/root.ts";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeFd } from "../../native/bpf.ts";
import { mapFdById } from "../../native/info.ts";
import { mapLookup, mapUpdate, possibleCpus } from "../../native/object.ts";
import { loadFilter, LoaderError, unloadFilter, type LoadResult } from "../load/loader.ts";
import { tryLock } from "../sys/lock.ts";
import { runDir } from "../load/records.ts";
import { CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN, effectiveCaps, hasCap } from "../sys/netdev.ts";
import { BackgroundGenerator, type GenerateProgress, type TrafficTemplate } from "./generator.ts";
import { bringUpLab, destroyLab, labSpec, onCleanup, type LabSpec } from "./netns.ts";
import { buildFrame, TCP_ACK, TCP_PSH, TCP_SYN } from "../packets/build.ts";

export const DEMO_LAB = "xdpcdemo";
/** Index 0x3c: the demo's lab gets 198.18.0.241/30, clear of a default `xdpc lab up`. */
const DEMO_LAB_INDEX = 60;
const FILTER = "lpm_firewall";

export interface DemoRule {
  id: number;
  prefix: string;
  label: string;
}

/** The blocklist: two botnets, both inside 198.18.0.0/15 (benchmarking space, never routed). */
export const DEMO_RULES: DemoRule[] = [
  { id: 1, prefix: "198.19.66.0/24", label: "botnet A: SYN flood" },
  { id: 2, prefix: "198.19.128.0/17", label: "botnet B: UDP flood" },
];

export interface DemoOptions {
  durationMs?: number;
  /** Offered load, frames per second (default 1 000 000). */
  pps?: number;
  labName?: string;
  /** Where the live view and summary go. */
  out?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Redraw in place (default: when `out` is a TTY). */
  live?: boolean;
  refreshMs?: number;
  /** Filter source to demo (default filters/lpm_firewall.ts beside the package). */
  filterPath?: string;
  /**
   * Compiles the filter (with verdict counting) to an eBPF object, or gives the
   * rendered errors: the command line passes the compiler in (runtime/cli/demo.ts).
   */
  compile: (source: string, file: string) => { object?: Uint8Array; errors: string[] };
}

export interface DemoSummary {
  elapsedMs: number;
  sent: number;
  perTemplate: Record<string, number>;
  /** Verdicts counted by the filter itself. */
  passed: number;
  dropped: number;
  perRule: { rule: DemoRule; packets: number }[];
  /** Frames the filter saw per second, on average. */
  pps: number;
  progId: number;
  /** Every frame sent was seen by the filter and landed in the expected counter. */
  accounted: boolean;
}

export class DemoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DemoError";
  }
}

export function defaultFilterPath(): string {
  return join(packageRoot(), "filters", `${FILTER}.ts`);
}

/** The demo's traffic: legit clients from the lab's own address, and two attacks from blocklisted prefixes. */
export function demoMix(lab: LabSpec): TrafficTemplate[] {
  const eth = { srcMac: lab.peerMac, dstMac: lab.hostMac, dst: lab.hostAddr };
  return [
    {
      name: "legit web",
      weight: 1,
      frame: buildFrame({
        ...eth,
        src: lab.peerAddr,
        l4: { proto: "tcp", sport: 40000, dport: 80, flags: TCP_ACK | TCP_PSH },
        payload: new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"),
      }),
    },
    {
      name: "legit dns",
      weight: 1,
      frame: buildFrame({
        ...eth,
        src: lab.peerAddr,
        l4: { proto: "udp", sport: 40001, dport: 53 },
        payload: new Uint8Array(29),
      }),
    },
    // Floods from every address of each botnet's prefix (random per frame).
    {
      name: "SYN flood",
      weight: 4,
      randomSource: DEMO_RULES[0]!.prefix,
      frame: buildFrame({
        ...eth,
        src: "198.19.66.6",
        l4: { proto: "tcp", sport: 6666, dport: 80, flags: TCP_SYN },
      }),
    },
    {
      name: "UDP flood",
      weight: 4,
      randomSource: DEMO_RULES[1]!.prefix,
      frame: buildFrame({
        ...eth,
        src: "198.19.200.13",
        l4: { proto: "udp", sport: 1900, dport: 53 },
        minLength: 512,
      }),
    },
  ];
}

/** Which counter each template must end up in (for the end-of-run accounting check). */
const expectedRule: Record<string, number | "pass"> = {
  "legit web": "pass",
  "legit dns": "pass",
  "SYN flood": 1,
  "UDP flood": 2,
};

function lpmKey(prefix: string): Uint8Array {
  const [addr, len] = prefix.split("/");
  const key = new Uint8Array(8);
  new DataView(key.buffer).setUint32(0, Number(len), true);
  key.set(addr!.split(".").map(Number), 4); // network byte order
  return key;
}

/**
 * Steps to undo, run in reverse order by `cleanup` (once: when called, or on SIGINT,
 * SIGTERM or exit before that); a failing step does not stop the others.
 */
export function undoList(): { undo: (() => void)[]; cleanup: () => void } {
  const undo: (() => void)[] = [];
  const cleanup = onCleanup(() => {
    for (const u of undo.reverse()) {
      try {
        u();
      } catch {
        /* keep going */
      }
    }
  });
  return { undo, cleanup };
}

/** Refuses, in one line, without the capabilities a lab and `what` need. */
export function requireDemoCaps(what: string): void {
  const caps = effectiveCaps();
  const missing = (
    [
      [CAP_SYS_ADMIN, "CAP_SYS_ADMIN"],
      [CAP_NET_ADMIN, "CAP_NET_ADMIN"],
      [CAP_BPF, "CAP_BPF"],
    ] as const
  )
    .filter(([c]) => !hasCap(c, caps))
    .map(([, n]) => n);
  if (missing.length)
    throw new DemoError(
      `xdpc demo needs ${missing.join(", ")} (a network namespace, a veth pair and ${what}; run as root)`,
    );
}

/**
 * Takes lab NAME for this demo (one demo per lab name at a time; flock, so it dies with
 * its holder), removes a lab a killed run left, and brings it up; both undone by `undo`.
 */
export function claimDemoLab(name: string, index: number, undo: (() => void)[]): LabSpec {
  const lab = labSpec(name, index);
  const taken = tryLock(join(runDir(), "locks"), `demo-${lab.name}`);
  if ("busy" in taken)
    throw new DemoError(
      `another xdpc demo is running with lab '${lab.name}'${taken.holder ? ` (pid ${taken.holder})` : ""}; wait for it or use --name`,
    );
  undo.push(() => taken.lock.release());
  destroyLab(lab);
  undo.push(bringUpLab(lab));
  return lab;
}

/** The demo filter's source; a DemoError when it cannot be read. */
export function readDemoFilter(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    throw new DemoError(`cannot read the demo filter ${path}`);
  }
}

/**
 * Loads and attaches `object` to the lab's receiving end in native mode through the
 * loader (the `xdpc load` path), pins under a private /sys/fs/bpf/PREFIX* so a demo never
 * touches /sys/fs/bpf/xdpc; `undo` unloads it and removes the pins and files.
 */
export function loadDemoFilter(
  lab: LabSpec,
  object: Uint8Array,
  filter: string,
  pinPrefix: string,
  undo: (() => void)[],
  params?: Record<string, string>,
): LoadResult {
  const pinRoot = mkdtempSync(`/sys/fs/bpf/${pinPrefix}`);
  undo.push(() => rmSync(pinRoot, { recursive: true, force: true }));
  const work = mkdtempSync(join(tmpdir(), pinPrefix));
  undo.push(() => rmSync(work, { recursive: true, force: true }));
  const objPath = join(work, `${filter}.o`);
  writeFileSync(objPath, object);
  let loaded;
  try {
    loaded = loadFilter({
      iface: lab.hostIf,
      input: { file: objPath, read: () => ({ bytes: object, file: objPath }) },
      mode: "native",
      pinRoot,
      params,
    });
  } catch (e) {
    if (e instanceof LoaderError) throw new DemoError(`cannot load the demo filter: ${e.message}`);
    throw e;
  }
  undo.push(() => void unloadFilter(lab.hostIf, { pinRoot }));
  return loaded;
}

/** Sum of a per-CPU u64 at `offset` of each CPU's slot. */
export function perCpuSum(fd: number, index: number, valueSize: number, offset = 0): number {
  const cpus = possibleCpus();
  const stride = (valueSize + 7) & ~7;
  const v = mapLookup(fd, new Uint8Array(new Uint32Array([index]).buffer), stride * cpus);
  if (!v) return 0;
  const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
  let sum = 0n;
  for (let c = 0; c < cpus; c++) sum += dv.getBigUint64(c * stride + offset, true);
  return Number(sum);
}

export interface Counters {
  passed: number;
  dropped: number;
  perRule: number[];
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const mpps = (n: number) => `${(n / 1e6).toFixed(2)} Mpps`;

const sameCounters = (a: Counters, b: Counters) =>
  a.passed === b.passed && a.dropped === b.dropped && a.perRule.every((v, i) => v === b.perRule[i]);

/**
 * Reads the counters until every frame sent is counted, or until they have not moved
 * over `quietReads` reads `everyMs` apart, within `maxMs` in all. Frames still queued
 * in the veth when the generator returns are counted a little later, on another CPU.
 */
export async function settledCounters(
  read: () => Counters,
  sent: number,
  { everyMs = 50, quietReads = 10, maxMs = 10_000 } = {},
): Promise<Counters> {
  const deadline = performance.now() + maxMs;
  let c = read();
  let quiet = 0;
  while (c.passed + c.dropped < sent && quiet < quietReads && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, everyMs));
    const next = read();
    quiet = sameCounters(next, c) ? quiet + 1 : 0;
    c = next;
  }
  return c;
}

/** What does not add up, one line per counter that differs from what was sent into it. */
export function accountingGaps(
  c: Counters,
  expectPass: number,
  expectRule: number[],
  sent: number,
): string[] {
  const gap = (what: string, got: number, want: number) =>
    got === want
      ? []
      : [
          `${what}: ${fmt(got)} counted, ${fmt(want)} sent (${got < want ? `${fmt(want - got)} missing` : `${fmt(got - want)} extra`})`,
        ];
  return [
    ...gap("passed (legit traffic)", c.passed, expectPass),
    ...DEMO_RULES.flatMap((r, i) =>
      gap(`rule ${r.id} ${r.prefix} (${r.label})`, c.perRule[i]!, expectRule[i]!),
    ),
    ...gap("all verdicts", c.passed + c.dropped, sent),
  ];
}

/** Runs the demo and returns its summary; throws DemoError for user-facing failures. */
export async function runDemo(opts: DemoOptions): Promise<DemoSummary> {
  const out = opts.out ?? process.stdout;
  const live = opts.live ?? !!out.isTTY;
  const durationMs = opts.durationMs ?? 5000;
  const pps = opts.pps ?? 1_000_000;
  const refreshMs = opts.refreshMs ?? 500;
  const say = (s: string) => void out.write(s + "\n");

  requireDemoCaps("an XDP program");

  // 1. Build.
  const path = opts.filterPath ?? defaultFilterPath();
  const source = readDemoFilter(path);
  const t0 = performance.now();
  const built = opts.compile(source, path);
  if (!built.object)
    throw new DemoError(`the demo filter does not compile:\n${built.errors.join("\n")}`);
  const object = built.object;
  say(
    `built ${FILTER}.ts → eBPF (${object.length} bytes) in ${(performance.now() - t0).toFixed(0)} ms, no LLVM`,
  );

  // Everything below is undone by `cleanup`, in reverse order, whatever happens.
  const { undo, cleanup } = undoList();
  let madeSomething = false;
  try {
    // 2. Lab. One demo per lab name at a time (flock: dies with its holder); a lab left
    //    by a killed run is removed first.
    const lab = claimDemoLab(opts.labName ?? DEMO_LAB, DEMO_LAB_INDEX, undo);
    madeSomething = true;
    say(
      `lab ${lab.name}: ${lab.peerIf} ${lab.peerAddr} (sender, in netns ${lab.name}) ⇄ ${lab.hostIf} ${lab.hostAddr} (receiver)`,
    );

    // 3. Load and attach to the receiver through the loader (the `xdpc load` path),
    //    pins under a private root so the demo never touches /sys/fs/bpf/xdpc.
    const loaded = loadDemoFilter(lab, object, FILTER, "xdpc-demo-", undo);
    const progId = loaded.progId;
    say(
      `attached ${loaded.progName} (program id ${progId}) to ${lab.hostIf} in ${loaded.mode} mode`,
    );
    const mapFd = (name: string) => {
      const m = loaded.maps.find((r) => r.name === name);
      if (!m) throw new DemoError(`the demo filter has no map '${name}'`);
      const fd = mapFdById(m.id);
      undo.push(() => closeFd(fd));
      return fd;
    };

    // 4. Rules.
    const blocklist = mapFd("blocklist4");
    for (const r of DEMO_RULES) {
      mapUpdate(blocklist, lpmKey(r.prefix), new Uint8Array(new Uint32Array([r.id]).buffer));
      say(`  rule ${r.id}: drop ${r.prefix.padEnd(16)} ${r.label}`);
    }
    const verdictsFd = mapFd("xdpc_verdicts");
    const statsFd = mapFd("ruleStats");
    const read = (): Counters => ({
      passed: perCpuSum(verdictsFd, 2, 8),
      dropped: perCpuSum(verdictsFd, 1, 8),
      perRule: DEMO_RULES.map((r) => perCpuSum(statsFd, r.id, 16, 0)),
    });

    // 5. Traffic, with a live view.
    const mix = demoMix(lab);
    say(
      `sending ${mix.map((t) => t.name).join(" + ")} at ${mpps(pps)} for ${(durationMs / 1000).toFixed(1)} s${live ? "" : " (one line per update)"}`,
    );
    let prev = { t: 0, c: read() };
    let drawnLines = 0;
    const draw = (p: GenerateProgress) => {
      const c = read();
      const dt = Math.max(1e-3, (p.elapsedMs - prev.t) / 1000);
      const rate = (a: number, b: number) => (a - b) / dt;
      if (live) {
        const rows: [string, number, number][] = [
          ["passed", c.passed, rate(c.passed, prev.c.passed)],
          ...DEMO_RULES.map((r, i): [string, number, number] => [
            `dropped by rule ${r.id} (${r.label})`,
            c.perRule[i]!,
            rate(c.perRule[i]!, prev.c.perRule[i]!),
          ]),
        ];
        const w = Math.max(...rows.map((r) => r[0].length));
        const lines = [
          `  t=${(p.elapsedMs / 1000).toFixed(1)}s   sent ${fmt(p.sent)}`,
          `  ${"".padEnd(w)}  ${"packets".padStart(13)}  ${"pps".padStart(11)}`,
          ...rows.map(
            ([label, n, pps]) =>
              `  ${label.padEnd(w)}  ${fmt(n).padStart(13)}  ${fmt(pps).padStart(11)}`,
          ),
        ];
        out.write(
          (drawnLines ? `\x1b[${drawnLines}F` : "") +
            lines.map((l) => `\x1b[2K${l}`).join("\n") +
            "\n",
        );
        drawnLines = lines.length;
      } else {
        say(
          `t=${(p.elapsedMs / 1000).toFixed(1)}s sent=${p.sent} passed=${c.passed} ${DEMO_RULES.map((r, i) => `rule${r.id}=${c.perRule[i]}`).join(" ")}`,
        );
      }
      prev = { t: p.elapsedMs, c };
    };
    // The generator runs in a worker thread, so the view refreshes on its own clock.
    const started = performance.now();
    const bg = BackgroundGenerator.start(lab.name, lab.peerIf, {
      mix,
      pps,
      durationMs,
      chunk: Math.max(1000, Math.floor(pps / 4)),
    });
    undo.push(() => bg.terminate());
    const timer = setInterval(
      () => draw({ ...bg.progress(), elapsedMs: performance.now() - started }),
      refreshMs,
    );
    let report;
    try {
      report = await bg.done;
    } finally {
      clearInterval(timer);
    }
    // 6. The veth's receiving NAPI may still hold frames the generator handed over, so the
    //    counters are judged only once they have settled: all frames counted, or no change
    //    over several reads in a row (bounded, so a lost frame cannot hang the demo).
    const expectPass = Object.entries(report.perTemplate)
      .filter(([n]) => expectedRule[n] === "pass")
      .reduce((a, [, v]) => a + v, 0);
    const expectRule = DEMO_RULES.map((r) =>
      Object.entries(report.perTemplate)
        .filter(([n]) => expectedRule[n] === r.id)
        .reduce((a, [, v]) => a + v, 0),
    );
    const c = await settledCounters(read, report.sent);
    draw({ ...report, elapsedMs: performance.now() - started });
    const missing = accountingGaps(c, expectPass, expectRule, report.sent);
    const accounted = missing.length === 0;
    const summary: DemoSummary = {
      elapsedMs: report.elapsedMs,
      sent: report.sent,
      perTemplate: report.perTemplate,
      passed: c.passed,
      dropped: c.dropped,
      perRule: DEMO_RULES.map((rule, i) => ({ rule, packets: c.perRule[i]! })),
      pps: report.elapsedMs > 0 ? ((c.passed + c.dropped) * 1000) / report.elapsedMs : 0,
      progId,
      accounted,
    };
    say("");
    say(
      `summary (${(report.elapsedMs / 1000).toFixed(1)} s, ${mpps(summary.pps)} through the filter)`,
    );
    say(
      `  sent     ${fmt(report.sent).padStart(13)}   ${Object.entries(report.perTemplate)
        .map(([n, v]) => `${n} ${fmt(v)}`)
        .join(", ")}`,
    );
    say(`  passed   ${fmt(c.passed).padStart(13)}`);
    say(`  dropped  ${fmt(c.dropped).padStart(13)}`);
    for (const { rule, packets } of summary.perRule)
      say(
        `    rule ${rule.id} ${rule.prefix.padEnd(16)} ${fmt(packets).padStart(13)}   ${rule.label}`,
      );
    if (accounted)
      say("  every frame accounted for: legit traffic passed, each attack dropped by its rule");
    else {
      say(
        "  ERROR: the counters do not add up to the frames sent (another program or traffic on the lab?):",
      );
      for (const m of missing) say(`    ${m}`);
    }
    return summary;
  } finally {
    cleanup();
    if (madeSomething) say(`cleaned up: lab, program, pins`);
  }
}
