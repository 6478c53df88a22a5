// The playground in a real headless Chromium (Debian's chromium, driven by playwright-core):
// served by `xdpc playground` over http and opened as file://, the page compiles an
// example, runs the built-in samples and shows one verdict row per packet — checked row
// by row against testFilter (xdpc/testing) running the same frames on the kernel (or the
// Wasm engine without root), not against the page's own engine — shows a diagnostic on
// the line of a broken filter, is cross-origin isolated over http, and leaves screenshots
// in test-results/playground/.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser, Page } from "playwright-core";
import { compile } from "../../compiler/driver/index.ts";
import { diagnosticToJson } from "../../compiler/diagnostics/index.ts";
import { testFilter } from "../../runtime/testing/index.ts";
import { SAMPLES, type Packet } from "../../playground/samples.ts";
import { writePcap } from "../../runtime/packets/pcap.ts";
import { requireKernel } from "../support/kernel.ts";
import { freePort, servePlayground, type Served } from "../support/playground.ts";
import { repo } from "../support/unprivileged.ts";

// The callbacks given to page.evaluate run in the page. The project's tsconfig has no DOM
// library (and must not get one: compiler/ and runtime/ may not use it), so they see the
// page through this minimal, module-local view.
interface El {
  textContent: string | null;
  dataset: Record<string, string | undefined>;
  firstChild: { textContent: string | null } | null;
  value?: string;
  selectionStart?: number;
  cells: ArrayLike<El> & Iterable<El>;
  hidden?: boolean;
  querySelector(sel: string): El | null;
  querySelectorAll(sel: string): ArrayLike<El> & Iterable<El>;
  closest(sel: string): El | null;
}
declare const document: {
  querySelector(sel: string): El | null;
  querySelectorAll(sel: string): ArrayLike<El> & Iterable<El>;
};
declare const crossOriginIsolated: boolean;

/** Debian's chromium (bin/setup.sh installs it); XDPC_CHROMIUM names another binary. */
const CHROMIUM = process.env.XDPC_CHROMIUM || "/usr/bin/chromium";
const PAGE = join(repo, "dist/playground/index.html");
const SHOTS = join(repo, "test-results/playground");

const FIB = `import { XdpContext, XdpAction, XDP_PASS, XDP_DROP, FibLookupParams, fibLookup, zeroed } from "xdpc";
export function route(ctx: XdpContext): XdpAction {
  const p = zeroed<FibLookupParams>();
  p.ifindex = ctx.ifindex;
  if (fibLookup(ctx, p) === 0) return XDP_DROP;
  return XDP_PASS;
}
`;

/** One row of the results table as the page shows it. */
interface Row {
  n: string;
  packet: string;
  bytes: string;
  verdict: string;
  change: string;
}

interface Expected {
  rows: Row[];
  summary: string;
  /** The frames as the filter left them. */
  outputs: Uint8Array[];
}

/** The rows the page must show for `filter` over `packets` (every sample), from testFilter. */
async function expectedRun(
  filter: string,
  packets: readonly Packet[] = SAMPLES,
): Promise<Expected> {
  const prog = filter.replace(/\.ts$/, "");
  const run = await testFilter(join(repo, "filters", filter));
  try {
    const outputs: Uint8Array[] = [];
    const rows = packets.map((s): Row => {
      const r = run.run(s.data);
      if (!r.verdict) throw new Error(`${filter}: sample ${s.name} did not run: ${r.error}`);
      outputs.push(r.data);
      const change =
        r.data.length !== s.data.length
          ? `rewritten, ${s.data.length} → ${r.data.length} bytes`
          : r.changedBytes
            ? `rewritten (${r.changedBytes} bytes)`
            : "unchanged";
      return {
        n: String(r.index),
        packet: s.name,
        bytes: String(s.data.length),
        verdict: r.verdict,
        change,
      };
    });
    const counts = new Map<string, number>();
    for (const r of rows) counts.set(r.verdict, (counts.get(r.verdict) ?? 0) + 1);
    const summary =
      `${rows.length} packet(s) through ${prog}: ` +
      [...counts].map(([v, k]) => `${v} ${k}`).join(", ");
    console.log(`[playground] expected verdicts of ${filter} from testFilter on ${run.engine}`);
    return { rows, summary, outputs };
  } finally {
    run.close();
  }
}

/** Waits until the page has run `prog` over the samples; returns the summary and the rows. */
async function shownRun(page: Page, prog: string): Promise<{ rows: Row[]; summary: string }> {
  await page.waitForFunction(
    (p) => (document.querySelector("#run-summary")?.textContent ?? "").includes(` through ${p}:`),
    prog,
    { timeout: 30_000 },
  );
  return page.evaluate(() => ({
    summary: document.querySelector("#run-summary")!.textContent!,
    rows: [...document.querySelectorAll("#results tr.pkt")].map((tr) => {
      const td = [...tr.cells];
      // The packet and change cells hold a one-line summary below the text: leave it out.
      const first = (c: El) => c.firstChild?.textContent?.trim() ?? "";
      return {
        n: td[0]!.textContent!.trim(),
        packet: first(td[1]!),
        bytes: td[2]!.textContent!.trim(),
        verdict: td[3]!.textContent!.trim(),
        change: first(td[4]!),
      };
    }),
  }));
}

/** The page's hex dump of a frame (ui.ts hexDump), as text. */
function hexDump(b: Uint8Array): string {
  const rows: string[] = [];
  for (let o = 0; o < b.length; o += 16)
    rows.push(
      `${o.toString(16).padStart(4, "0")}  ${[...b.subarray(o, o + 16)].map((x) => x.toString(16).padStart(2, "0")).join(" ")}`,
    );
  return rows.join("\n");
}

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  const path = join(SHOTS, name);
  await page.screenshot({ path, fullPage: true });
  console.log(`[playground] screenshot: ${path}`);
}

/** Page errors and console errors, collected so that a test can assert there were none. */
function watch(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  return errors;
}

function gate(name: string, fn: () => void): void {
  const reason = !existsSync(CHROMIUM)
    ? `${CHROMIUM} is missing (apt-get install chromium, or bash bin/setup.sh; XDPC_CHROMIUM=PATH for another)`
    : !existsSync(PAGE)
      ? `${PAGE} is missing (npm run build)`
      : null;
  if (!reason) describe(name, fn);
  else if (requireKernel)
    describe(name, () => {
      it("needs chromium", () => {
        throw new Error(`XDPC_REQUIRE_KERNEL=1 but the browser test cannot run: ${reason}`);
      });
    });
  else {
    process.stderr.write(`[xdpc] playground browser tests skipped: ${reason}\n`);
    describe.skip(`${name} [skipped: ${reason}]`, fn);
  }
}

gate("playground in headless Chromium", () => {
  let browser: Browser;
  let served: Served;
  let icmp: Expected;

  beforeAll(async () => {
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // Chromium's sandbox cannot start as root (CI runs as root).
      args: ["--no-sandbox"],
      headless: true,
    });
    served = await servePlayground(await freePort());
    icmp = await expectedRun("icmp_echo.ts");
  });
  afterAll(async () => {
    await browser?.close();
    if (served) expect(await served.stop()).toBe(0);
  });

  it("over http from xdpc playground: cross-origin isolated; icmp_echo's rows, listing, bytes and a capture's rows, and a picked example's rows, as testFilter gives them", async () => {
    const page = await browser.newPage();
    const errors = watch(page);
    await page.goto(served.base + "/");
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    // The page compiles icmp_echo.ts when it opens.
    expect(await page.inputValue("#preset")).toBe("icmp_echo.ts");
    const shown = await shownRun(page, "icmp_echo");
    expect(shown.rows).toEqual(icmp.rows);
    expect(shown.summary).toBe(icmp.summary);

    // The eBPF listing carries the filter's source lines (BTF line info).
    const src = readFileSync(join(repo, "filters/icmp_echo.ts"), "utf8").split("\n");
    const ipv4Line = src.findIndex((l) => l.includes("const ip = ctx.ipv4();")) + 1;
    const disasm = (await page.textContent("#disasm"))!;
    expect(disasm).toContain("<icmp_echo>:");
    expect(disasm).toContain(`; filter.ts:${ipv4Line}: const ip = ctx.ipv4();`);

    // A row opens the frame in and out; the reply's bytes are testFilter's, the changed ones marked.
    await page.click('#results tr.pkt[data-index="0"]');
    const detail = await page.evaluate(() => {
      const d = document.querySelector('#results tr.detail[data-index="0"]')!;
      const pres = [...d.querySelectorAll("pre")];
      return {
        hidden: d.hidden,
        input: pres[0]!.textContent,
        output: pres[1]!.textContent,
        marked: d.querySelectorAll("pre.out b.chg").length,
      };
    });
    expect(detail).toEqual({
      hidden: false,
      input: hexDump(SAMPLES[0]!.data),
      output: hexDump(icmp.outputs[0]!),
      marked: icmp.outputs[0]!.filter((x, i) => x !== SAMPLES[0]!.data[i]).length,
    });
    await screenshot(page, "http-icmp_echo.png");

    // A capture from the file input: its packets follow the samples.
    const capture: Packet[] = [SAMPLES[7]!, SAMPLES[0]!].map((p, i) => ({
      name: `two.pcap #${i + 1}`,
      data: p.data,
    }));
    const withCapture = await expectedRun("icmp_echo.ts", [...SAMPLES, ...capture]);
    await page.setInputFiles("#pcap", {
      name: "two.pcap",
      mimeType: "application/vnd.tcpdump.pcap",
      buffer: Buffer.from(writePcap(capture.map((p) => ({ data: p.data })))),
    });
    await page.waitForFunction(
      () => document.querySelectorAll("#results tr.pkt").length === 14,
      null,
      { timeout: 10_000 },
    );
    expect(await page.textContent("#capture-info")).toBe("two.pcap: 2 packet(s)");
    const run2 = await shownRun(page, "icmp_echo");
    expect(run2.rows).toEqual(withCapture.rows);
    expect(run2.summary).toBe(withCapture.summary);

    // Another example, picked from the list: the samples and the capture through it.
    const dns = await expectedRun("dns_policy.ts", [...SAMPLES, ...capture]);
    await page.selectOption("#preset", "dns_policy.ts");
    const picked = await shownRun(page, "dns_policy");
    expect(picked.rows).toEqual(dns.rows);
    expect(picked.summary).toBe(dns.summary);
    expect(await page.textContent("#status")).toMatch(
      /^compiled: eBPF object \d+ bytes, Wasm \d+ bytes$/,
    );
    await screenshot(page, "http-dns_policy.png");
    expect(errors).toEqual([]);
    await page.close();
  });

  it("over file://: icmp_echo's verdicts, then a diagnostic on the line of a broken filter, and the refusal of fibLookup", async () => {
    const page = await browser.newPage();
    const errors = watch(page);
    await page.goto(pathToFileURL(PAGE).href);
    const shown = await shownRun(page, "icmp_echo");
    expect(shown.rows).toEqual(icmp.rows);
    expect(shown.summary).toBe(icmp.summary);
    await screenshot(page, "file-icmp_echo.png");

    // Break one line of icmp_echo: a misspelt constant.
    const source = readFileSync(join(repo, "filters/icmp_echo.ts"), "utf8");
    const lines = source.split("\n");
    const at = lines.findIndex((l) => l.includes("return XDP_PASS;"));
    expect(at).toBeGreaterThan(0);
    const line = at + 1;
    lines[at] = lines[at]!.replace("XDP_PASS", "XDP_PASSS");
    const broken = lines.join("\n");
    // What `xdpc check` says about it (the Node build of the compiler).
    const want = compile(broken, { file: "filter.ts", emit: "check" }).diagnostics.map((d) =>
      diagnosticToJson(d, broken),
    );
    expect(want.map((d) => d.line)).toEqual([line]);

    // Type it: replace the text as a user would (select all, type), so input events fire.
    await page.click("#source");
    await page.keyboard.press("Control+A");
    await page.keyboard.press("Delete");
    await page.fill("#source", broken);
    await page.waitForSelector("#diagnostics li", { timeout: 10_000 });
    const diag = await page.evaluate(() => ({
      list: [...document.querySelectorAll("#diagnostics li")].map((li) => ({
        line: Number(li.dataset.line),
        loc: li.querySelector(".loc")!.textContent,
        code: li.querySelector(".code")!.textContent,
      })),
      gutter: [...document.querySelectorAll("#gutter .gl.error")].map((g) =>
        Number(g.dataset.line),
      ),
      underlined: [...document.querySelectorAll("#highlight .squiggle.error")].map((s) => ({
        line: Number(s.closest(".line")?.dataset.line),
        text: s.textContent,
      })),
      inline: [...document.querySelectorAll("#highlight .line.has-diag")].map((l) => ({
        line: Number(l.dataset.line),
        msg: l.querySelector(".diag-msg")?.textContent ?? "",
      })),
      count: document.querySelector("#diag-count")!.textContent,
    }));
    const w = want[0]!;
    expect(diag.list).toEqual([{ line, loc: `filter.ts:${line}:${w.column}`, code: w.code }]);
    expect(diag.gutter).toEqual([line]);
    expect(diag.underlined).toEqual([{ line, text: "XDP_PASSS" }]);
    expect(diag.inline).toEqual([{ line, msg: expect.stringContaining(`${w.code}: `) }]);
    expect(diag.count).toBe("1 error(s), 0 warning(s)");
    // Clicking the diagnostic puts the cursor at its line and column (and scrolls there).
    await page.click("#diagnostics li");
    const cursor = await page.evaluate(() => {
      const ta = document.querySelector("#source")!;
      const before = ta.value!.slice(0, ta.selectionStart!).split("\n");
      return { line: before.length, column: before.at(-1)!.length + 1 };
    });
    expect(cursor).toEqual({ line, column: w.column });
    await screenshot(page, "file-broken.png");

    // Compiling it shows the error instead of verdicts.
    await page.click("#compile");
    await page.waitForFunction(
      () => document.querySelector("#status")?.textContent === "1 error(s)",
    );
    expect(await page.$$eval("#results tr.pkt", (rows) => rows.length)).toBe(0);

    // A filter calling a helper the Wasm host lacks compiles, and its run is the refusal.
    await page.fill("#source", FIB);
    await page.click("#compile");
    await page.waitForFunction(() =>
      /does not implement/.test(document.querySelector("#run-summary")?.textContent ?? ""),
    );
    expect(await page.textContent("#run-summary")).toBe(
      "filter.ts: the wasm engine does not implement helper bpf_fib_lookup (fibLookup); the kernel engine has it (xdpc test --engine kernel)",
    );
    expect(await page.$$eval("#results tr.pkt", (rows) => rows.length)).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });
});
