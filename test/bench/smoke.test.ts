// The benchmark harness must not rot: `bench/run.ts --smoke` (one filter, tiny
// repeat, no lab) runs as a process and must produce well-formed figures — every
// figure a positive finite number or an explicit "not measured: <reason>", verdicts
// for every target, the markdown report with its sections. The two lab sections
// (veth end to end; `xdpc load` and replace) run here once each with tiny settings.
// Timings are never asserted: they belong to `npm run bench`, not to CI.
import { afterAll, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describeKernel } from "../support/kernel.ts";
import { ANALYSIS_END, ANALYSIS_START, renderMarkdown } from "../../bench/report.ts";
import type { BenchResult } from "../../bench/bench.ts";

const repo = resolve(import.meta.dirname, "../..");

type Fig = number | { notMeasured: string };

/** A figure is a positive finite number, or says why it is missing. */
function expectFigure(x: Fig, what: string): void {
  if (typeof x === "number") {
    expect(Number.isFinite(x) && x > 0, `${what} = ${x}`).toBe(true);
  } else {
    expect(typeof x.notMeasured, what).toBe("string");
    expect(x.notMeasured.length, what).toBeGreaterThan(3);
  }
}

describeKernel("bench harness (smoke)", () => {
  it("runs one filter end to end and reports well-formed figures", () => {
    const dir = mkdtempSync(join(tmpdir(), "xdpc-bench-smoke-"));
    try {
      const md = join(dir, "BENCH.md");
      const json = join(dir, "bench.json");
      // An earlier report's hand-written analysis must survive regeneration.
      writeFileSync(
        md,
        `# old\n${ANALYSIS_START}\nhand-written: the misses explained\n${ANALYSIS_END}\n`,
      );
      const env = { ...process.env };
      delete env.VITEST; // the child is a plain node process, not a vitest worker
      const r = spawnSync(
        process.execPath,
        ["--import", "tsx", "bench/run.ts", "--smoke", "--out", md, "--json", json],
        {
          cwd: repo,
          env,
          encoding: "utf8",
          timeout: 120_000,
        },
      );
      expect(r.status, r.stderr).toBe(0);

      const res = JSON.parse(readFileSync(json, "utf8")) as BenchResult;
      expect(res.options.smoke).toBe(true);
      for (const k of ["date", "kernel", "cpu", "node", "clang", "command"] as const)
        expect(res.env[k], k).toMatch(/\S/);
      expect(res.env.command).toContain("--smoke");
      expect(Array.isArray(res.withoutTwin)).toBe(true);

      // One filter, both sides in every per-filter section.
      expect(res.code.map((c) => c.name)).toEqual(["vlan_filter"]);
      const code = res.code[0]!;
      // xdpc's own build must load: that part never depends on the machine's tools.
      expect(
        typeof code.xdpc === "object" && "xlatedInsns" in code.xdpc,
        JSON.stringify(code.xdpc),
      ).toBe(true);
      for (const side of [code.xdpc, code.clang]) {
        if ("notMeasured" in side) expectFigure(side, "clang code size");
        else
          for (const [k, v] of Object.entries(side))
            expect(Number.isInteger(v) && v > 0, `${k} = ${v}`).toBe(true);
      }

      // The real-world corpus's code-size rows: one port in smoke mode, a row per program.
      expect(res.realworld.map((c) => c.name)).toEqual(["xdp1/xdp_prog1"]);
      expect("xlatedInsns" in res.realworld[0]!.xdpc, JSON.stringify(res.realworld[0])).toBe(true);
      expect(readFileSync(md, "utf8")).toContain("## Real-world corpus: code size per program");
      // …and its timing rows, with the differential tests' map contents loaded on both sides.
      expect(res.realworldSpeed!.map((s) => s.name)).toEqual(["xdp1/xdp_prog1"]);
      const rw = res.realworldSpeed![0]!.row;
      if ("notMeasured" in rw) expectFigure(rw, "real-world speed");
      else {
        expect(rw.packets.length).toBeGreaterThan(0);
        expect(rw.disagreements).toEqual([]);
        expectFigure(rw.ratio, "real-world ratio");
      }
      expect(readFileSync(md, "utf8")).toContain("## Real-world corpus: ns/packet per program");

      const speed = res.speed[0]!.row;
      if ("notMeasured" in speed) expectFigure(speed, "speed");
      else {
        expect(speed.packets.length).toBeGreaterThan(0);
        expect(speed.roundRatios).toHaveLength(res.options.rounds);
        for (const p of speed.packets) {
          expect(p.verdict).toMatch(/^XDP_/);
          expectFigure(p.xdpcNs, `${p.source} xdpc ns`);
          expectFigure(p.clangNs, `${p.source} clang ns`);
          expectFigure(p.ratio, `${p.source} ratio`);
          // Net times are differences of two noisy measurements: finite, of either sign.
          for (const n of [p.xdpcNetNs, p.clangNetNs])
            expect(Number.isFinite(n), `${p.source} net ${n}`).toBe(true);
        }
        expect(speed.disagreements).toEqual([]);
        for (const k of ["xdpcNs", "clangNs", "baselineNs", "ratio", "netRatio"] as const)
          expectFigure(speed[k], k);
      }

      const c = res.compile[0]!;
      for (const k of ["xdpcColdMs", "xdpcWarmMs", "clangMs", "clangGMs"] as const)
        expectFigure(c[k], k);
      expect(typeof c.xdpcWarmMs).toBe("number");
      expect(res.check.map((x) => x.name)).toEqual(["vlan_filter", "generated (2000 lines)"]);
      for (const x of res.check) {
        expect(x.lines).toBeGreaterThan(10);
        expect(typeof x.warmMs, `${x.name} checks clean`).toBe("number");
        expectFigure(x.coldMs, `${x.name} cold`);
      }
      expect(res.check[1]!.lines).toBeGreaterThanOrEqual(2000);
      expectFigure(res.startup.helpColdMs, "help");
      expectFigure(res.startup.nodeStartMs, "node");
      expect(res.e2e).toEqual({ notMeasured: "smoke mode runs no lab" });
      expect(res.load).toEqual({ notMeasured: "smoke mode runs no lab" });

      // AF_XDP: the fake-ring microbenchmark runs (no kernel needed), the lab part does not.
      expect(res.xsk.live).toEqual({ notMeasured: "smoke mode runs no lab" });
      const fake = res.xsk.fake;
      if ("notMeasured" in fake) throw new Error(`fake rings: ${fake.notMeasured}`);
      expect(fake.rows.map((x) => x.path)).toEqual([
        "XSK_DROP (port 9)",
        "XSK_TX, rewritten (port 7)",
        "udp_echo: answered (bucket lookup, clock, checksum, XSK_TX)",
        "udp_echo: rate-limited (bucket lookup, clock, XSK_DROP)",
        "maps: HashMap lookup + HashMap and PerCpuArray increments (XSK_DROP)",
      ]);
      for (const x of fake.rows) {
        expectFigure(x.batchNs, `${x.path} batch`);
        // The JS host runs handlers without maps only.
        if (x.path.startsWith("maps:")) expect(x.perFrameNs).toBeNull();
        else expectFigure(x.perFrameNs!, `${x.path} per frame`);
      }
      // The C consumer's batch over fake rings builds (libxdp-dev) and touches every frame.
      if ("notMeasured" in fake.c) throw new Error(`C fake rings: ${fake.c.notMeasured}`);
      expectFigure(fake.c.ns, "C fake rings");
      expect(fake.c.compiler).toMatch(/-O2$/);

      expect(res.verdicts).toHaveLength(13);
      for (const v of res.verdicts) {
        expect(["met", "missed", "not measured"]).toContain(v.status);
        expect(v.detail.length).toBeGreaterThan(5);
        if (v.status === "missed") expect(v.detail).toMatch(/missed by \d/);
      }
      expect(res.verdicts.find((v) => v.target.startsWith("veth"))!.status).toBe("not measured");

      const text = readFileSync(md, "utf8");
      for (const h of [
        "## Targets",
        "## Code size",
        "## ns/packet",
        "## Compile time",
        "## Check time",
        "## CLI start-up",
        "## `xdpc load` and replace",
        "## End to end on veth",
        "## AF_XDP on veth",
        "## AF_XDP fake rings",
        "## Where xdpc loses",
        "## Analysis",
      ]) {
        expect(text).toContain(h);
      }
      expect(text).toMatch(
        /\| C consumer's batch \(bench\/xsk_fake\.c: .* \| [\d.]+ \(Wasm XSK_DROP \/ C: [\d.]+×\) \| – \|/,
      );
      expect(text).toContain("hand-written: the misses explained");
      expect(text).toContain(`| kernel | ${res.env.kernel} |`);
      // The terminal table went to stdout.
      expect(r.stdout).toContain("Targets");
      expect(r.stdout).toContain("vlan_filter");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeKernel("bench harness (smoke): veth end to end", () => {
  const lab = "xdpctbench";
  afterAll(() => {
    // withLab removes the lab even on failure; this is the belt to its braces.
    spawnSync("ip", ["netns", "del", lab]);
  });

  it("measures a filter, its twin and the bare programs on a lab veth, and removes the lab", async () => {
    const { measureE2e } = await import("../../bench/e2e.ts");
    const { buildClang, buildXdpc, findPairs } = await import("../../bench/twins.ts");
    const { trafficPool } = await import("../../bench/speed.ts");
    const { loadCorpus } = await import("../support/corpus.ts");
    const pair = findPairs(["lpm_firewall"])[0]!;
    const res = await measureE2e(
      [{ pair, xdpc: buildXdpc(pair), clang: buildClang(pair) }],
      trafficPool(loadCorpus({ tcpdump: false }).packets),
      { seconds: 0.05, rounds: 4, samples: 6, seed: 1, lab, labIndex: 42 },
    );
    if ("notMeasured" in res) {
      expectFigure(res, "e2e");
      return;
    }
    expect(res.rows).toHaveLength(1);
    const row = res.rows[0]!.row;
    if ("notMeasured" in row)
      throw new Error(`lpm_firewall drops blocked sources, yet: ${row.notMeasured}`);
    expect(row.frameBytes).toBeGreaterThanOrEqual(14);
    for (const k of [
      "filterPps",
      "clangPps",
      "barePps",
      "touchPps",
      "ratio",
      "clangRatio",
      "touchRatio",
      "lookupRatio",
      "wallRatio",
      "receiverBusy",
      "offeredPps",
    ] as const) {
      expectFigure(row[k], k);
    }
    expect(existsSync(`/run/netns/${lab}`)).toBe(false);
  });
});

describeKernel("bench harness (smoke): AF_XDP handler against the C consumer", () => {
  const lab = "xdpc-hxtb";
  afterAll(() => {
    spawnSync("ip", ["netns", "del", lab]);
  });

  it("runs both consumers on a lab veth, reports their figures, and splices the section", async () => {
    const { measureXskLive } = await import("../../bench/xsk_live.ts");
    const { spliceXsk, xskSection } = await import("../../bench/report.ts");
    const work = mkdtempSync(join(tmpdir(), "xdpc-bench-xsk-"));
    try {
      const res = await measureXskLive({ rounds: 2, frames: 20_000, work, lab, labIndex: 43 });
      if ("notMeasured" in res) {
        expectFigure(res, "xsk");
        return;
      }
      for (const side of [res.c, res.wasm]) {
        expect(side.received).toBeGreaterThan(0);
        expect(side.received).toBeLessThanOrEqual(20_000);
        expect(side.drops).toBeGreaterThanOrEqual(0);
        expectFigure(side.pps, "pps");
        expectFigure(side.nsPerFrame, "ns/frame");
      }
      expectFigure(res.nsRatio, "ns ratio");
      expectFigure(res.ppsRatio, "pps ratio");
      expect(res.zeroCopy).toBe(false);
      expect(existsSync(`/run/netns/${lab}`)).toBe(false);
      // --only-xsk replaces the section and nothing else, and finds it again next time.
      const section = xskSection({ live: res, fake: { notMeasured: "not here" } }, [], "stamp");
      const before = "# b\n\n## x\n\n## Where xdpc loses\n\nend\n";
      const once = spliceXsk(before, section);
      expect(once).toContain("| C, libxdp rings");
      expect(once.indexOf("## AF_XDP on veth")).toBeLessThan(once.indexOf("## Where xdpc loses"));
      expect(spliceXsk(once, section)).toBe(once);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describeKernel("bench harness (smoke): the XDP router against the kernel stack", () => {
  it("forwards both ways in the three-namespace lab, reports both paths, and removes the lab", async () => {
    const { measureRouter } = await import("../../bench/router.ts");
    const { routerTable, routerSection, spliceSection, ROUTER_START, ROUTER_END } =
      await import("../../bench/report.ts");
    const res = await measureRouter({ rounds: 1, durationMs: 200, lab: "xrbt", labIndex: 32 });
    for (const side of [res.kernel, res.xdp]) {
      expect(side.length).toBe(1);
      expect(side[0]!.delivered).toBeGreaterThan(0);
      expect(side[0]!.delivered).toBeLessThanOrEqual(side[0]!.sent);
      expect(side[0]!.routerCpuNs).toBeGreaterThan(0);
    }
    const t = routerTable(res);
    expect(t.rows.map((r) => r[0])).toEqual([
      "kernel stack (filter passes all)",
      "XDP router",
      "XDP / stack",
    ]);
    for (const ns of ["xrbt-c", "xrbt-r", "xrbt-s"])
      expect(existsSync(`/run/netns/${ns}`)).toBe(false);
  });
});

describeKernel("bench harness (smoke): xdpc load and replace against ip link", () => {
  const lab = "xdpctbload";
  afterAll(() => {
    spawnSync("ip", ["netns", "del", lab]);
  });

  it("times cold loads, replaces and the swap on a lab veth, and leaves nothing behind", async () => {
    const { measureLoad } = await import("../../bench/load.ts");
    const { FULL } = await import("../../bench/bench.ts");
    // What this section may make on bpffs: iproute2's directories and links, xdpc's pin root.
    const bpffs = () =>
      readdirSync("/sys/fs/bpf")
        .filter((n) => ["tc", "ip", "xdp"].includes(n) || n.startsWith("xdpcbench-"))
        .sort();
    const bpffsBefore = bpffs();
    const res = await measureLoad({
      filter: "vlan_filter",
      runs: 1,
      apiRuns: 1,
      swaps: 5,
      lab,
      labIndex: 45,
    });
    expect(existsSync(`/run/netns/${lab}`)).toBe(false);
    // Pins, iproute2's directories and links: all gone again.
    expect(bpffs()).toEqual(bpffsBefore);
    if ("notMeasured" in res) {
      expectFigure(res, "load");
      return;
    }
    expect(res.rows.map((r) => r.tool.split(" ")[0])).toEqual([
      "xdpc",
      "xdpc",
      "ip",
      "xdp-loader",
      "nsenter",
    ]);
    for (const r of res.rows)
      for (const k of ["attachMs", "replaceAttachedMs", "replaceExitMs"] as const)
        expectFigure(r[k], `${r.tool} ${k}`);
    // xdpc's own rows never depend on other tools: they must be measured, and a
    // replace is attached before its process exits.
    for (const r of res.rows.slice(0, 2)) {
      for (const k of ["attachMs", "replaceAttachedMs", "replaceExitMs"] as const)
        expect(typeof r[k], `${r.tool} ${k}: ${JSON.stringify(r[k])}`).toBe("number");
      expect(r.replaceAttachedMs as number).toBeLessThanOrEqual(r.replaceExitMs as number);
    }
    expect(typeof res.apiReplaceMs, JSON.stringify(res.apiReplaceMs)).toBe("number");
    expect(typeof res.swapUs, JSON.stringify(res.swapUs)).toBe("number");
    expectFigure(res.apiReplaceMs, "api");
    expectFigure(res.swapUs, "swap");
    expectFigure(res.swapCpuUs, "swap cpu");

    // The report renders the section with ratios to ip link.
    const nm = { notMeasured: "not in this test" };
    const md = renderMarkdown({
      env: { date: "d", kernel: "k", cpu: "c", cpus: 2, node: "n", clang: "c", command: "t" },
      options: FULL,
      corpus: { packets: 0, pool: 0, tcpdump: false },
      withoutTwin: [],
      code: [],
      realworld: [],
      speed: [],
      compile: [],
      check: [],
      startup: { helpColdMs: nm, nodeStartMs: nm },
      e2e: nm,
      load: res,
      xsk: { live: nm, fake: nm },
      verdicts: [],
    });
    const row = md.split("\n").find((l) => l.startsWith("| xdpc load --iface X F.o |"))!;
    expect(row).toMatch(/\| \d+\.\d \| \d+\.\d{3}× \| \d+\.\d \| \d+\.\d{3}× \|/);
    expect(md).toContain("## Replace in-process");
  });
});
