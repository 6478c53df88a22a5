// Renders a benchmark result as terminal tables and as BENCHMARKS.md. Ratios are
// xdpc / clang (below 1 is xdpc ahead) except pps, which is filter / bare, and load
// times, which are each command / ip link.
import type { BenchResult } from "./bench.ts";
import { routerSummary, type RouterBenchResult } from "./router.ts";
import type { Verdict } from "./verdicts.ts";
import { fmtNum, fmtRatio, geomean, isMeasured, type Maybe } from "./stats.ts";

type Table = { title: string; head: string[]; rows: string[][]; notes?: string[] };

const cell = (x: Maybe<number>, digits = 1, unit = ""): string =>
  isMeasured(x) ? `${fmtNum(x, digits)}${unit}` : `not measured: ${x.notMeasured}`;
const ratioCell = (a: Maybe<number>, b: Maybe<number>): string =>
  isMeasured(a) && isMeasured(b) ? fmtRatio(a / b) : "—";
const loses = (a: Maybe<number>, b: Maybe<number>, limit = 1) =>
  isMeasured(a) && isMeasured(b) && a / b > limit;

/** A code-size table over `rows` with a geomean row. */
function codeTable(title: string, first: string, rows: BenchResult["code"]): Table {
  const code: string[][] = [];
  const codeRatios: Record<"x" | "j" | "v", number[]> = { x: [], j: [], v: [] };
  for (const c of rows) {
    if (!isMeasured(c.xdpc) || !isMeasured(c.clang)) {
      code.push([
        c.name,
        isMeasured(c.xdpc) ? "" : `xdpc not measured: ${c.xdpc.notMeasured}`,
        isMeasured(c.clang) ? "" : `clang not measured: ${c.clang.notMeasured}`,
      ]);
      continue;
    }
    const x = c.xdpc,
      k = c.clang;
    codeRatios.x.push(x.xlatedInsns / k.xlatedInsns);
    codeRatios.j.push(x.jitedBytes / k.jitedBytes);
    codeRatios.v.push(x.verifiedInsns / k.verifiedInsns);
    code.push([
      c.name,
      `${x.xlatedInsns} / ${k.xlatedInsns}`,
      fmtRatio(x.xlatedInsns / k.xlatedInsns),
      `${x.jitedBytes} / ${k.jitedBytes}`,
      fmtRatio(x.jitedBytes / k.jitedBytes),
      `${x.verifiedInsns} / ${k.verifiedInsns}`,
      fmtRatio(x.verifiedInsns / k.verifiedInsns),
    ]);
  }
  code.push([
    "geomean",
    "",
    fmtRatio(geomean(codeRatios.x)),
    "",
    fmtRatio(geomean(codeRatios.j)),
    "",
    fmtRatio(geomean(codeRatios.v)),
  ]);
  return {
    title,
    head: [
      first,
      "xlated insns",
      "ratio",
      "JIT bytes",
      "ratio",
      "verifier processed insns",
      "ratio",
    ],
    rows: code,
  };
}

/** An ns/packet table over `rows` with a geomean row. */
function speedTable(title: string, first: string, rows: BenchResult["speed"]): Table {
  const speed: string[][] = [];
  const spRatios: number[] = [];
  const netRatios: number[] = [];
  for (const s of rows) {
    if (!isMeasured(s.row)) {
      speed.push([s.name, `not measured: ${s.row.notMeasured}`, "", "", "", "", "", "", ""]);
      continue;
    }
    const x = s.row;
    spRatios.push(x.ratio);
    netRatios.push(x.netRatio);
    const spread = `${fmtRatio(Math.min(...x.roundRatios))}–${fmtRatio(Math.max(...x.roundRatios))}`;
    speed.push([
      s.name,
      fmtNum(x.xdpcNs),
      fmtNum(x.clangNs),
      fmtRatio(x.ratio),
      spread,
      fmtNum(x.baselineNs),
      x.xdpcNetNs.toFixed(2),
      x.clangNetNs.toFixed(2),
      fmtRatio(x.netRatio),
    ]);
  }
  speed.push([
    "geomean",
    "",
    "",
    fmtRatio(geomean(spRatios)),
    "",
    "",
    "",
    "",
    fmtRatio(geomean(netRatios)),
  ]);
  return {
    title,
    head: [
      first,
      "xdpc ns",
      "clang ns",
      "ratio (median of rounds)",
      "round spread",
      "bare XDP_PASS ns",
      "xdpc net ns",
      "clang net ns",
      "net ratio",
    ],
    rows: speed,
  };
}

export function tables(r: BenchResult): Table[] {
  const out: Table[] = [];
  out.push({
    title: "Targets",
    head: ["target", "verdict", "figure"],
    rows: r.verdicts.map((v) => [v.target, v.status, v.detail]),
  });

  out.push(codeTable("Code size (kernel figures, xdpc / clang -O2)", "filter", r.code));
  if (r.realworld?.length)
    out.push(
      codeTable(
        "Real-world corpus: code size per program (test/realworld, xdpc / clang -O2)",
        "port/program",
        r.realworld,
      ),
    );

  out.push(
    speedTable(
      `ns/packet, BPF_PROG_TEST_RUN (${r.options.samples} packets × ${r.options.rounds} A/B rounds × repeat ${r.options.repeat})`,
      "filter",
      r.speed,
    ),
  );
  if (r.realworldSpeed?.length)
    out.push(
      speedTable(
        `Real-world corpus: ns/packet per program (map contents of the differential tests; ${r.options.samples} packets × ${r.options.rounds} A/B rounds × repeat ${r.options.repeat})`,
        "port/program",
        r.realworldSpeed,
      ),
    );

  const pkts: string[][] = [];
  for (const s of r.speed) {
    if (!isMeasured(s.row)) continue;
    for (const p of s.row.packets)
      pkts.push([
        s.name,
        p.source,
        String(p.length),
        p.verdict,
        fmtNum(p.xdpcNs),
        fmtNum(p.clangNs),
        fmtRatio(p.ratio),
        p.xdpcNetNs.toFixed(2),
        p.clangNetNs.toFixed(2),
      ]);
  }
  out.push({
    title: "ns/packet per sampled packet",
    head: [
      "filter",
      "packet",
      "bytes",
      "verdict",
      "xdpc ns",
      "clang ns",
      "ratio",
      "xdpc net ns",
      "clang net ns",
    ],
    rows: pkts,
  });

  out.push({
    title: `Compile time, ms (cold: median of ${r.options.coldRuns} processes; warm: median of ${r.options.warmRuns} in-process runs)`,
    head: [
      "filter",
      "xdpc build cold",
      "xdpc warm",
      "clang -O2",
      "clang -O2 -g",
      "cold / clang",
      "warm / clang",
    ],
    rows: r.compile.map((c) => [
      c.name,
      cell(c.xdpcColdMs),
      cell(c.xdpcWarmMs, 2),
      cell(c.clangMs),
      cell(c.clangGMs),
      ratioCell(c.xdpcColdMs, c.clangMs),
      ratioCell(c.xdpcWarmMs, c.clangMs),
    ]),
  });

  out.push({
    title: "Check time, ms (`xdpc check`)",
    head: ["input", "lines", "warm (in-process)", "cold (CLI process)"],
    rows: r.check.map((c) => [c.name, String(c.lines), cell(c.warmMs, 2), cell(c.coldMs)]),
  });

  out.push({
    title: "CLI start-up, ms (cold processes)",
    head: ["command", "ms"],
    rows: [
      ["xdpc --help", cell(r.startup.helpColdMs)],
      ["node -e 0 (the floor)", cell(r.startup.nodeStartMs)],
    ],
  });

  out.push(...loadTables(r));

  if (isMeasured(r.e2e)) {
    const e = r.e2e;
    out.push({
      title: `End to end on veth (${e.seconds} s × ${e.rounds} rounds each, generator CPU ${e.generatorCpu}, receiver NAPI CPU ${e.receiverCpu})`,
      head: [
        "filter",
        "dropped frame",
        "bytes",
        "xdpc pps/core",
        "clang pps/core",
        "bare pps/core",
        "xdpc / bare",
        "clang / bare",
        "read-1-byte / bare",
        "1 hash lookup / bare",
        "xdpc / bare (wall clock)",
        "receiver busy",
        "offered pps",
      ],
      rows: e.rows.map(({ name, row: x }) =>
        isMeasured(x)
          ? [
              name,
              x.frame,
              String(x.frameBytes),
              fmtNum(Math.round(x.filterPps), 0),
              fmtNum(x.clangPps, 0),
              fmtNum(x.barePps, 0),
              fmtRatio(x.ratio),
              fmtRatio(x.clangRatio),
              fmtRatio(x.touchRatio),
              fmtRatio(x.lookupRatio),
              fmtRatio(x.wallRatio),
              `${(x.receiverBusy * 100).toFixed(0)}%`,
              fmtNum(x.offeredPps, 0),
            ]
          : [name, `not measured: ${x.notMeasured}`, "", "", "", "", "", "", "", "", "", "", ""],
      ),
    });
  } else {
    out.push({
      title: "End to end on veth",
      head: ["status"],
      rows: [[`not measured: ${r.e2e.notMeasured}`]],
    });
  }
  return out;
}

/** Forwarding through the router example against the kernel stack, in the three-namespace lab. */
export function routerTable(x: Maybe<RouterBenchResult>): Table {
  const title =
    "Forwarding: the XDP router (filters/router) against the kernel stack, client ⇄ router ⇄ server lab";
  if (!isMeasured(x))
    return { title, head: ["status"], rows: [[`not measured: ${x.notMeasured}`]] };
  const s = routerSummary(x);
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  return {
    title: `${title} (${x.kernel.length} rounds × ${x.durationMs / 1000} s each way, generator ${fmtNum(s.sentPps, 0)} pps)`,
    head: ["path", "forwarded per router CPU second", "forwarded pps (wall)", "delivered / sent"],
    rows: [
      [
        "kernel stack (filter passes all)",
        fmtNum(s.kernelCore, 0),
        fmtNum(s.kernel, 0),
        pct(s.kernelDelivered),
      ],
      ["XDP router", fmtNum(s.xdpCore, 0), fmtNum(s.xdp, 0), pct(s.xdpDelivered)],
      ["XDP / stack", fmtRatio(s.xdpCore / s.kernelCore), fmtRatio(s.ratio), ""],
    ],
  };
}

/** The AF_XDP tables: live frames through the Wasm handler and the C consumer, and the fake-ring microbenchmark. */
export function xskTables(x: BenchResult["xsk"]): Table[] {
  const out: Table[] = [];
  const l = x.live;
  if (isMeasured(l)) {
    const row = (name: string, s: typeof l.c, ns: string, pps: string) => [
      name,
      fmtNum(Math.round(s.pps), 0),
      pps,
      fmtNum(Math.round(s.drops), 0),
      fmtNum(s.nsPerFrame),
      ns,
    ];
    out.push({
      title: `AF_XDP on veth: Wasm handler against a C consumer (${l.zeroCopy ? "zero-copy" : "copy mode"}, ${l.frames} frames × ${l.rounds} alternating rounds, batch ${l.batch}, rings of ${l.ringSize}, generator and NAPI CPU ${l.generatorCpu}, consumer CPU ${l.consumerCpu}; medians)`,
      head: [
        "consumer",
        "received pps",
        "/ C",
        "kernel drops per round",
        "consumer on-CPU ns/frame",
        "/ C",
      ],
      rows: [
        row(`C, libxdp rings (bench/xsk_consumer.c, ${l.compiler})`, l.c, "1.000×", "1.000×"),
        row(
          "xdpc: handler's generated batch loop in an `xdpc run` worker",
          l.wasm,
          fmtRatio(l.nsRatio),
          fmtRatio(l.ppsRatio),
        ),
      ],
    });
    if (l.examples.length)
      out.push({
        title: `AF_XDP example handler live on veth (filters/afxdp/udp_echo.ts in an \`xdpc run\` worker, its edge program steering port 7; same veth, cores, rings and batch; ${l.frames} frames × ${l.exampleRounds} rounds; medians)`,
        head: [
          "handler path",
          "received pps",
          "answered (XSK_TX)",
          "kernel drops per round",
          "worker on-CPU ns/frame",
        ],
        rows: l.examples.map((e) => [
          e.path,
          fmtNum(Math.round(e.pps), 0),
          fmtNum(e.tx, 0),
          fmtNum(Math.round(e.drops), 0),
          fmtNum(e.nsPerFrame),
        ]),
      });
  } else
    out.push({
      title: "AF_XDP on veth: Wasm handler against a C consumer",
      head: ["status"],
      rows: [[`not measured: ${l.notMeasured}`]],
    });
  const f = x.fake;
  const dropRow = isMeasured(f) ? f.rows.find((r) => r.path.startsWith("XSK_DROP")) : undefined;
  if (isMeasured(f))
    out.push({
      title: `AF_XDP fake rings, no kernel, hot cache (batch ${f.batch}, median of ${f.runs} × ${f.frames} frames), ns/frame`,
      head: ["handler path", "generated batch loop in Wasm", "JS calling the handler per frame"],
      rows: [
        ...f.rows.map((r) => [
          r.path,
          fmtNum(r.batchNs),
          r.perFrameNs === null ? "– (the JS host cannot run its maps)" : fmtNum(r.perFrameNs),
        ]),
        [
          isMeasured(f.c)
            ? `C consumer's batch (bench/xsk_fake.c: xsk_consumer.c's, libxdp ring ops, ${f.c.compiler}), XSK_DROP frames`
            : "C consumer's batch (bench/xsk_fake.c)",
          isMeasured(f.c)
            ? `${fmtNum(f.c.ns)}${dropRow ? ` (Wasm XSK_DROP / C: ${(dropRow.batchNs / f.c.ns).toFixed(3)}×)` : ""}`
            : `not measured: ${f.c.notMeasured}`,
          "–",
        ],
      ],
    });
  else
    out.push({
      title: "AF_XDP fake rings, no kernel, hot cache",
      head: ["status"],
      rows: [[`not measured: ${f.notMeasured}`]],
    });
  return out;
}

const IP_LINK = "ip link";

/** `xdpc load` and replace against ip link and xdp-loader (cold), and the in-process figures. */
function loadTables(r: BenchResult): Table[] {
  if (!isMeasured(r.load))
    return [
      {
        title: "`xdpc load` and replace",
        head: ["status"],
        rows: [[`not measured: ${r.load.notMeasured}`]],
      },
    ];
  const l = r.load;
  const ip = l.rows.find((x) => x.tool.startsWith(IP_LINK));
  const vsIp = (x: Maybe<number>, k: "attachMs" | "replaceAttachedMs" | "replaceExitMs") =>
    ip ? ratioCell(x, ip[k]) : "—";
  return [
    {
      title: `\`xdpc load\` and replace, ms (cold processes via nsenter into a lab namespace, onto its veth; ${l.filter}; median of ${l.runs} interleaved rounds; ratios / ip link)`,
      head: [
        "command",
        "attach (no program)",
        "/ ip link",
        "replace: new id attached",
        "/ ip link",
        "replace: process exit",
        "/ ip link",
      ],
      rows: l.rows.map((x) => [
        x.tool,
        cell(x.attachMs),
        vsIp(x.attachMs, "attachMs"),
        cell(x.replaceAttachedMs),
        vsIp(x.replaceAttachedMs, "replaceAttachedMs"),
        cell(x.replaceExitMs),
        vsIp(x.replaceExitMs, "replaceExitMs"),
      ]),
    },
    {
      title: "Replace in-process (library API and the swap syscall)",
      head: ["figure", "value"],
      rows: [
        [`loadFilter() replacing ${l.filter}.o, warm (median ms)`, cell(l.apiReplaceMs, 2)],
        [
          `swap syscall: bpf_xdp_attach + XDP_FLAGS_REPLACE + old fd (median µs of ${l.swaps})`,
          cell(l.swapUs),
        ],
        ["  of which on CPU (mean µs per swap)", cell(l.swapCpuUs)],
      ],
    },
  ];
}

/** Where xdpc is behind clang on a figure: one line each. */
export function losses(r: BenchResult): string[] {
  const out: string[] = [];
  for (const c of r.code) {
    if (!isMeasured(c.xdpc) || !isMeasured(c.clang)) continue;
    const l: [string, number, number][] = [
      ["xlated insns", c.xdpc.xlatedInsns, c.clang.xlatedInsns],
      ["JIT bytes", c.xdpc.jitedBytes, c.clang.jitedBytes],
      ["verifier processed insns", c.xdpc.verifiedInsns, c.clang.verifiedInsns],
    ];
    for (const [what, a, b] of l)
      if (a > b) out.push(`${c.name}: ${what} ${a} vs ${b} (${fmtRatio(a / b)})`);
  }
  for (const s of r.speed) {
    if (!isMeasured(s.row)) continue;
    const x = s.row;
    if (x.ratio > 1)
      out.push(
        `${s.name}: ns/packet ${fmtNum(x.xdpcNs)} vs ${fmtNum(x.clangNs)} (${fmtRatio(x.ratio)})`,
      );
    if (x.netRatio > 1)
      out.push(
        `${s.name}: net program time ${x.xdpcNetNs.toFixed(2)} vs ${x.clangNetNs.toFixed(2)} ns (${fmtRatio(x.netRatio)})`,
      );
    for (const p of x.packets)
      if (p.xdpcNetNs > p.clangNetNs * 1.1 + 0.3)
        out.push(
          `${s.name} on ${p.source}: net ${p.xdpcNetNs.toFixed(2)} vs ${p.clangNetNs.toFixed(2)} ns (test run ${fmtNum(p.xdpcNs)} vs ${fmtNum(p.clangNs)} ns)`,
        );
  }
  if (isMeasured(r.e2e))
    for (const { name, row } of r.e2e.rows)
      if (isMeasured(row) && row.filterPps < row.clangPps)
        out.push(
          `${name}: veth ${fmtNum(Math.round(row.filterPps), 0)} pps/core vs the clang twin's ${fmtNum(Math.round(row.clangPps), 0)} (${fmtRatio(row.filterPps / row.clangPps)})`,
        );
  const xl = r.xsk.live;
  if (isMeasured(xl)) {
    if (xl.nsRatio > 1)
      out.push(
        `AF_XDP: the Wasm handler's on-CPU ns/frame ${fmtNum(xl.wasm.nsPerFrame)} vs the C consumer's ${fmtNum(xl.c.nsPerFrame)} (${fmtRatio(xl.nsRatio)})`,
      );
    if (xl.ppsRatio < 1)
      out.push(
        `AF_XDP: received pps ${fmtNum(Math.round(xl.wasm.pps), 0)} vs the C consumer's ${fmtNum(Math.round(xl.c.pps), 0)} (${fmtRatio(xl.ppsRatio)})`,
      );
  }
  if (isMeasured(r.load)) {
    const ip = r.load.rows.find((x) => x.tool.startsWith(IP_LINK));
    for (const x of r.load.rows.filter((y) => y.tool.startsWith("xdpc")))
      for (const [k, what] of [
        ["attachMs", "attach"],
        ["replaceAttachedMs", "replace until attached"],
      ] as const)
        if (ip && loses(x[k], ip[k]))
          out.push(
            `\`${x.tool}\`: ${what} ${cell(x[k])} ms vs ip link ${cell(ip[k])} ms (${ratioCell(x[k], ip[k])})`,
          );
  }
  for (const c of r.compile) {
    if (loses(c.xdpcColdMs, c.clangMs))
      out.push(
        `${c.name}: cold \`xdpc build\` ${cell(c.xdpcColdMs)} ms vs clang ${cell(c.clangMs)} ms (${ratioCell(c.xdpcColdMs, c.clangMs)})`,
      );
    if (loses(c.xdpcWarmMs, c.clangMs))
      out.push(
        `${c.name}: warm xdpc build ${cell(c.xdpcWarmMs, 2)} ms vs clang ${cell(c.clangMs)} ms (${ratioCell(c.xdpcWarmMs, c.clangMs)})`,
      );
  }
  return out;
}

function pad(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, [...c].length)));
  return rows.map((r) =>
    r
      .map((c, i) => c + " ".repeat(widths[i]! - [...c].length))
      .join("  ")
      .trimEnd(),
  );
}

export function renderTerminal(r: BenchResult): string {
  const lines = [
    `xdpc benchmarks — ${r.env.date} — ${r.env.kernel} — ${r.env.cpu} (${r.env.cpus} CPUs) — node ${r.env.node} — ${r.env.clang}${r.env.generator ? ` — lab generator: ${r.env.generator}` : ""}`,
  ];
  if (r.withoutTwin.length)
    lines.push(`filters without a C twin, not benchmarked: ${r.withoutTwin.join(", ")}`);
  for (const t of [
    ...tables(r),
    ...xskTables(r.xsk),
    ...(r.router ? [routerTable(r.router)] : []),
  ]) {
    lines.push(
      "",
      t.title,
      ...pad([t.head, t.head.map((h) => "-".repeat(Math.min([...h].length, 12))), ...t.rows]).map(
        (l) => "  " + l,
      ),
    );
  }
  const l = losses(r);
  lines.push(
    "",
    `Where xdpc loses (${l.length})`,
    ...(l.length ? l.map((x) => "  " + x) : ["  nowhere measured"]),
  );
  return lines.join("\n") + "\n";
}

const mdEscape = (s: string) => s.replace(/\|/g, "\\|");

function mdTable(t: Table): string[] {
  return [
    `| ${t.head.map(mdEscape).join(" | ")} |`,
    `|${t.head.map(() => "---").join("|")}|`,
    ...t.rows.map((r) => `| ${r.map(mdEscape).join(" | ")} |`),
  ];
}

export const XSK_START = "<!-- af_xdp: npm run bench -- --only-xsk replaces this section alone -->";
export const XSK_END = "<!-- /af_xdp -->";

/** The AF_XDP section of BENCHMARKS.md, between its markers; `stamp` says when it was measured, if not with the rest. */
export function xskSection(x: BenchResult["xsk"], verdicts: Verdict[], stamp?: string): string[] {
  const lines = [XSK_START];
  if (stamp) lines.push("", stamp);
  for (const t of xskTables(x)) lines.push("", `## ${t.title}`, "", ...mdTable(t));
  const mine = verdicts.filter((v) => v.target.startsWith("AF_XDP"));
  if (mine.length) lines.push("", ...mine.map((v) => `- ${v.target}: ${v.status}, ${v.detail}`));
  lines.push("", ...zeroCopyNote(x), XSK_END);
  return lines;
}

/** What zero-copy would change, from this run's figures. */
function zeroCopyNote(x: BenchResult["xsk"]): string[] {
  const l = x.live;
  const cap = (ns: number) => `${(1e3 / ns).toFixed(1)} Mpps`;
  const figures = isMeasured(l)
    ? ` At this run's on-CPU cost a consumer core would take at most ${cap(l.wasm.nsPerFrame)} through the Wasm handler and ${cap(l.c.nsPerFrame)} through the C consumer (idle polls included, so an upper bound on cost); with the kernel's copy gone, these, not the veth copy, would be the ceilings.`
    : "";
  return [
    "**What zero-copy would change.** veth has no AF_XDP zero-copy, so both consumers run in copy mode: " +
      "veth's NAPI copies every frame into the UMEM, and on this machine that copy (on the generator's CPU) " +
      "bounds the received pps for every consumer, which is why ns/frame ranks them and pps barely does. " +
      "With a zero-copy driver (`--xsk-mode zerocopy`, XDP_ZEROCOPY) the NIC DMAs straight into UMEM frames " +
      "the fill ring hands it (the Wasm memory's pages, pinned by XDP_UMEM_REG, exactly as here): the copy " +
      "disappears, RX descriptors point at chunk starts plus headroom instead of chunk + 256, and the " +
      "consumer's per-frame cost becomes the limit." +
      figures +
      " Busy polling (SO_PREFER_BUSY_POLL) would then matter more than the wake-up policy measured here.",
  ];
}

export const ANALYSIS_START = "<!-- analysis: kept across runs -->";
export const ANALYSIS_END = "<!-- /analysis -->";

/** BENCHMARKS.md; `analysis` is the hand-written section carried over from the previous file. */
export function renderMarkdown(r: BenchResult, analysis?: string): string {
  const e = r.env;
  const lines = [
    "# xdpc benchmarks",
    "",
    "Generated by `npm run bench` (bench/run.ts); method in [docs/benchmarks.md](docs/benchmarks.md).",
    "Ratios are xdpc / clang -O2 (below 1.000× xdpc is ahead), except veth pps (filter / bare XDP_DROP) and load times (command / ip link).",
    "",
    "| | |",
    "|---|---|",
    `| date | ${e.date} |`,
    `| kernel | ${e.kernel} |`,
    `| CPU | ${e.cpu} (${e.cpus} CPUs) |`,
    `| node | ${e.node} |`,
    `| clang | ${e.clang} |`,
    ...(e.generator ? [`| lab generator | ${e.generator} (docs/lab.md) |`] : []),
    `| command | \`${e.command}\` |`,
    `| filters | ${r.code.map((c) => c.name).join(", ")}${r.withoutTwin.length ? `; without a C twin, not benchmarked: ${r.withoutTwin.join(", ")}` : ""} |`,
    `| corpus | ${r.corpus.packets} packets (${r.corpus.tcpdump ? "crafted + ../shared/corpus/tcpdump" : "crafted only: ../shared/corpus/tcpdump absent"}); sampling pool ${r.corpus.pool} |`,
  ];
  for (const t of tables(r)) lines.push("", `## ${t.title}`, "", ...mdTable(t));
  lines.push("", ...xskSection(r.xsk, r.verdicts));
  if (r.router) lines.push("", ...routerSection(r.router));
  const l = losses(r);
  lines.push(
    "",
    "## Where xdpc loses",
    "",
    ...(l.length ? l.map((x) => `- ${x}`) : ["Nowhere in this run."]),
  );
  lines.push(
    "",
    "## Analysis",
    "",
    ANALYSIS_START,
    analysis?.trim() || "_No analysis written for this run yet._",
    ANALYSIS_END,
    "",
  );
  return lines.join("\n");
}

/** The hand-written analysis section of an existing BENCHMARKS.md, if any. */
export function extractAnalysis(markdown: string): string | undefined {
  const a = markdown.indexOf(ANALYSIS_START);
  const b = markdown.indexOf(ANALYSIS_END);
  if (a < 0 || b < a) return undefined;
  return markdown.slice(a + ANALYSIS_START.length, b).trim();
}

/**
 * `markdown` with its AF_XDP section replaced by `section` (inserted before "Where
 * xdpc loses" when it has none): what --only-xsk writes.
 */
export function spliceXsk(markdown: string, section: string[]): string {
  return spliceSection(markdown, XSK_START, XSK_END, section);
}

/** `markdown` with the section between `start` and `end` replaced (or inserted before "Where xdpc loses"). */
export function spliceSection(
  markdown: string,
  start: string,
  end: string,
  section: string[],
): string {
  const text = section.join("\n");
  const a = markdown.indexOf(start);
  const b = markdown.indexOf(end);
  if (a >= 0 && b > a) return markdown.slice(0, a) + text + markdown.slice(b + end.length);
  const at = markdown.indexOf("## Where xdpc loses");
  if (at < 0) return markdown.trimEnd() + "\n\n" + text + "\n";
  return markdown.slice(0, at) + text + "\n\n" + markdown.slice(at);
}

export const ROUTER_START =
  "<!-- router: npm run bench -- --only-router replaces this section alone -->";
export const ROUTER_END = "<!-- /router -->";

/** The router section of BENCHMARKS.md, between its markers. */
export function routerSection(x: Maybe<RouterBenchResult>, stamp?: string): string[] {
  const t = routerTable(x);
  const lines = [ROUTER_START];
  if (stamp) lines.push("", stamp);
  lines.push("", `## ${t.title}`, "", ...mdTable(t), "", ROUTER_NOTE, ROUTER_END);
  return lines;
}

const ROUTER_NOTE =
  "Per router CPU second is the figure that ranks the paths: frames forwarded per second of " +
  "on-CPU time of the router veth's NAPI kthread (pinned to CPU 1; the generator runs on CPU 0), " +
  "where both the filter and the stack do their work. The wall pps is bounded by the lab, not " +
  "by either path: the generator bursts into a veth whose XDP ring holds 256 frames, and what " +
  "arrives while the kthread is not yet running is dropped on the receiving veth, alike for both " +
  "(delivered / sent shows how much got through). The XDP paper's figure for this comparison is 3× " +
  "the stack per core.";
