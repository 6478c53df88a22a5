// The page: an editor (a textarea over the highlighted source, highlight.ts), the
// diagnostics, the eBPF listing, the packet picker and the results table. Everything
// runs in this page; nothing is fetched.
import * as engine from "./engine.ts";
import { highlight, type Mark } from "./highlight.ts";
import type { Packet } from "./samples.ts";

const $ = <T extends HTMLElement>(sel: string) => document.querySelector(sel) as T;
const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

const FILE = "filter.ts";
let compiled: engine.CompileResult | null = null;
let capture: Packet[] = [];
let checkTimer: ReturnType<typeof setTimeout> | undefined;

function setStatus(text: string, kind: "busy" | "ok" | "error" | "" = ""): void {
  const s = $("#status");
  s.textContent = text;
  s.className = kind;
}

// ---- the editor --------------------------------------------------------------------

function renderEditor(diags: readonly engine.Diag[], list = true): void {
  const src = $<HTMLTextAreaElement>("#source").value;
  const marks: Mark[] = diags.map((d) => ({
    start: d.start,
    length: d.length,
    line: d.line,
    severity: d.severity,
    text: `${d.code}: ${d.message}`,
  }));
  $("#highlight").innerHTML = highlight(src, marks) + "\n";
  const lines = src.split("\n").length;
  const bad = new Map<number, string>();
  for (const d of diags) if (bad.get(d.line) !== "error") bad.set(d.line, d.severity);
  let g = "";
  for (let i = 1; i <= lines; i++) {
    const sev = bad.get(i);
    g += `<div class="gl${sev ? " " + sev : ""}" data-line="${i}">${i}</div>`;
  }
  $("#gutter").innerHTML = g;
  syncScroll();
  if (list) renderDiagnostics(diags);
}

function renderDiagnostics(diags: readonly engine.Diag[]): void {
  const ul = $("#diagnostics");
  ul.innerHTML = diags
    .map(
      (d) =>
        `<li class="${d.severity}" data-line="${d.line}" data-col="${d.column}"><span class="loc">${FILE}:${d.line}:${d.column}</span> <span class="code">${d.code}</span> ${esc(d.message)}</li>`,
    )
    .join("");
  $("#diag-count").textContent = diags.length
    ? `${diags.filter((d) => d.severity === "error").length} error(s), ${diags.filter((d) => d.severity !== "error").length} warning(s)`
    : "no problems";
}

function syncScroll(): void {
  const ta = $<HTMLTextAreaElement>("#source");
  $("#highlight").style.transform = `translate(${-ta.scrollLeft}px, ${-ta.scrollTop}px)`;
  $("#gutter").style.transform = `translateY(${-ta.scrollTop}px)`;
}

function goToLine(line: number, col = 1): void {
  const ta = $<HTMLTextAreaElement>("#source");
  const lines = ta.value.split("\n");
  let off = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) off += lines[i]!.length + 1;
  off += col - 1;
  ta.focus();
  ta.setSelectionRange(off, off);
  const lh = parseFloat(getComputedStyle(ta).lineHeight) || 18;
  ta.scrollTop = Math.max(0, (line - 5) * lh);
  syncScroll();
}

function onEdit(): void {
  renderEditor([], false); // highlight at once; the diagnostics follow the check
  clearTimeout(checkTimer);
  checkTimer = setTimeout(() => {
    lastDiags = engine.checkSource($<HTMLTextAreaElement>("#source").value, FILE);
    renderEditor(lastDiags);
  }, 200);
  compiled = null;
  $("#compile").classList.add("stale");
}
let lastDiags: engine.Diag[] = [];

// ---- compile, listing --------------------------------------------------------------

async function compileNow(): Promise<void> {
  clearTimeout(checkTimer);
  const src = $<HTMLTextAreaElement>("#source").value;
  setStatus("compiling…", "busy");
  $("#compile").classList.remove("stale");
  // Let the status paint before the compiler takes the main thread.
  await new Promise((r) => setTimeout(r, 0));
  let r: engine.CompileResult;
  try {
    r = await engine.compileSource(src, FILE);
  } catch (e) {
    setStatus(`internal compiler error: ${(e as Error).message}`, "error");
    return;
  }
  compiled = r;
  lastDiags = r.diagnostics;
  renderEditor(r.diagnostics);
  renderListing(r.listing ?? "");
  const sel = $<HTMLSelectElement>("#program");
  sel.innerHTML = r.programs.map((p) => `<option>${esc(p)}</option>`).join("");
  if (!r.ok) {
    $("#get-object").hidden = true;
    $("#get-wasm").hidden = true;
    const errors = r.diagnostics.filter((d) => d.severity === "error").length;
    setStatus(r.wasmError && !errors ? r.wasmError : `${errors} error(s)`, "error");
    clearResults();
    return;
  }
  setStatus(`compiled: eBPF object ${r.object!.length} bytes, Wasm ${r.wasm!.length} bytes`, "ok");
  offerDownload("#get-object", r.object!, "filter.o");
  offerDownload("#get-wasm", r.wasm!, "filter.wasm");
  runNow();
}

function offerDownload(sel: string, bytes: Uint8Array, name: string): void {
  const a = $<HTMLAnchorElement>(sel);
  if (a.href.startsWith("blob:")) URL.revokeObjectURL(a.href);
  a.href = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>]));
  a.download = name;
  a.hidden = false;
}

function renderListing(text: string): void {
  $("#disasm").innerHTML = text
    .split("\n")
    .map((l) => {
      const m = /^; (.*?):(\d+): (.*)$/.exec(l);
      if (m)
        return `<span class="src" data-line="${m[2]}">; ${esc(m[1]!)}:${m[2]}: ${esc(m[3]!)}</span>`;
      if (/^[0-9a-f]{16} </.test(l) || l.startsWith("Disassembly"))
        return `<span class="sym">${esc(l)}</span>`;
      if (/^\t\t/.test(l)) return `<span class="rel">${esc(l)}</span>`;
      return esc(l);
    })
    .join("\n");
}

// ---- packets, results --------------------------------------------------------------

function renderSamples(): void {
  $("#samples").innerHTML = engine.SAMPLES.map(
    (s, i) => `<label><input type="checkbox" data-sample="${i}" checked> ${esc(s.name)}</label>`,
  ).join("");
}

function selectedPackets(): Packet[] {
  const boxes = [...document.querySelectorAll<HTMLInputElement>("#samples input[data-sample]")];
  const samples = boxes
    .filter((b) => b.checked)
    .map((b) => engine.SAMPLES[Number(b.dataset.sample)]!);
  return [...samples, ...capture];
}

function clearResults(): void {
  $("#results tbody").innerHTML = "";
  $("#maps").textContent = "";
  $("#trace").textContent = "";
  $("#run-summary").textContent = "";
}

function hexDump(bytes: Uint8Array, other: Uint8Array): string {
  const rows: string[] = [];
  for (let o = 0; o < bytes.length; o += 16) {
    let h = "";
    for (let i = o; i < Math.min(o + 16, bytes.length); i++) {
      const x = bytes[i]!.toString(16).padStart(2, "0");
      h += (i > o ? " " : "") + (other[i] !== bytes[i] ? `<b class="chg">${x}</b>` : x);
    }
    rows.push(`${o.toString(16).padStart(4, "0")}  ${h}`);
  }
  return rows.join("\n");
}

function runNow(): void {
  if (!compiled?.wasm) {
    setStatus("compile first", "error");
    return;
  }
  const packets = selectedPackets();
  const program = $<HTMLSelectElement>("#program").value || compiled.programs[0]!;
  const r = engine.runPackets(compiled.wasm, program, packets, FILE);
  clearResults();
  if (r.error) {
    $("#run-summary").innerHTML = `<span class="error">${esc(r.error)}</span>`;
    return;
  }
  const tbody = $("#results tbody");
  tbody.innerHTML = r.results
    .map((p, i) => {
      const change = p.error
        ? `<span class="error">${esc(p.error)}</span>`
        : p.changed
          ? p.output.length !== p.input.length
            ? `rewritten, ${p.input.length} → ${p.output.length} bytes`
            : `rewritten (${p.output.reduce((n, x, k) => n + (x !== p.input[k] ? 1 : 0), 0)} bytes)`
          : "unchanged";
      return `<tr class="pkt" data-index="${i}">
  <td>${i + 1}</td><td>${esc(p.name)}<div class="sum">${esc(engine.describeFrame(p.input))}</div></td>
  <td>${p.input.length}</td><td class="verdict ${p.verdictName}">${p.verdictName}</td>
  <td class="change">${change}${p.note ? `<div class="sum">${esc(p.note)}</div>` : ""}</td></tr>
<tr class="detail" data-index="${i}" hidden><td></td><td colspan="4"><div class="dumps">
  <div><div class="cap">in</div><pre>${hexDump(p.input, p.output)}</pre></div>
  <div><div class="cap">out</div><pre class="out">${hexDump(p.output, p.input)}</pre></div></div></td></tr>`;
    })
    .join("");
  const counts = new Map<string, number>();
  for (const p of r.results) counts.set(p.verdictName, (counts.get(p.verdictName) ?? 0) + 1);
  $("#run-summary").textContent =
    `${r.results.length} packet(s) through ${program}: ` +
    [...counts].map(([v, n]) => `${v} ${n}`).join(", ");
  $("#maps").textContent = r.maps.length
    ? r.maps
        .map(
          (m) => `${m.name} (${m.kind})\n` + m.entries.map(([k, v]) => `  ${k} → ${v}`).join("\n"),
        )
        .join("\n")
    : "(all maps empty)";
  $("#trace").textContent = r.trace.join("\n") || "(no trace output)";
}

async function onCapture(file: File): Promise<void> {
  try {
    capture = engine.readCapture(new Uint8Array(await file.arrayBuffer()), file.name);
    $("#capture-info").textContent = `${file.name}: ${capture.length} packet(s)`;
  } catch (e) {
    capture = [];
    $("#capture-info").innerHTML =
      `<span class="error">${esc(file.name)}: ${esc((e as Error).message)}</span>`;
  }
  if (compiled?.wasm) runNow();
}

// ---- wiring ------------------------------------------------------------------------

function loadPreset(name: string): void {
  const p = engine.PRESETS.find((x) => x.name === name);
  if (!p) return;
  $<HTMLTextAreaElement>("#source").value = p.source;
  lastDiags = engine.checkSource(p.source, FILE);
  renderEditor(lastDiags);
  void compileNow();
}

export function boot(): void {
  const presetSel = $<HTMLSelectElement>("#preset");
  presetSel.innerHTML = engine.PRESETS.map((p) => `<option>${esc(p.name)}</option>`).join("");
  renderSamples();
  const ta = $<HTMLTextAreaElement>("#source");
  ta.addEventListener("input", onEdit);
  ta.addEventListener("scroll", syncScroll);
  ta.addEventListener("keydown", (e) => {
    if (e.key === "Tab" && !e.shiftKey) {
      e.preventDefault();
      ta.setRangeText("  ", ta.selectionStart, ta.selectionEnd, "end");
      onEdit();
    } else if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      void compileNow();
    }
  });
  presetSel.addEventListener("change", () => loadPreset(presetSel.value));
  $("#compile").addEventListener("click", () => void compileNow());
  $("#run").addEventListener("click", runNow);
  $("#program").addEventListener("change", runNow);
  $("#samples").addEventListener("change", () => compiled?.wasm && runNow());
  $<HTMLInputElement>("#pcap").addEventListener("change", (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void onCapture(f);
  });
  $("#diagnostics").addEventListener("click", (e) => {
    const li = (e.target as HTMLElement).closest("li");
    if (li) goToLine(Number(li.dataset.line), Number(li.dataset.col));
  });
  $("#disasm").addEventListener("click", (e) => {
    const s = (e.target as HTMLElement).closest(".src") as HTMLElement | null;
    if (s) goToLine(Number(s.dataset.line));
  });
  $("#results").addEventListener("click", (e) => {
    const tr = (e.target as HTMLElement).closest("tr.pkt") as HTMLElement | null;
    if (!tr) return;
    const d = document.querySelector<HTMLElement>(`tr.detail[data-index="${tr.dataset.index}"]`);
    if (d) d.hidden = !d.hidden;
  });
  const initial = engine.PRESETS.find((p) => p.name === "icmp_echo.ts") ?? engine.PRESETS[0];
  if (initial) {
    presetSel.value = initial.name;
    loadPreset(initial.name);
  }
}
