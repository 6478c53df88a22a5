// The playground's engine, without the page: compile a filter in the browser (the
// whole compiler: chevrotain, the checker, the eBPF backend and ELF writer, binaryen
// for Wasm), disassemble the object it built, and run packets through the filter's XDP
// program on the Wasm host. main.ts exposes it as `globalThis.xdpcPlayground`, which
// the page (ui.ts) and test/playground's Node vm test use.
/// <reference path="./env.d.ts" />
import { compile, compileWasm, hasErrors } from "../compiler/driver/index.ts";
import {
  diagnosticToJson,
  renderDiagnostic,
  type JsonDiagnostic,
} from "../compiler/diagnostics/index.ts";
import { readObject } from "../compiler/elf/object.ts";
import { decode } from "../compiler/bpf/decode.ts";
import { formatListing, type ListingRelocation } from "../compiler/bpf/disasm.ts";
import { XDP_ACTION_NAMES } from "../compiler/uapi/bpf.ts";
import { WasmHost, missingHelpers, refusalMessage } from "../runtime/wasm/instance.ts";
import { FRAME_ROOM } from "../runtime/wasm/memory.ts";
import { toHex } from "../runtime/wasm/platform.ts";
import { packetsOfLinkType, readPcap } from "../runtime/packets/pcap.ts";
import { describeFrame, SAMPLES, type Packet } from "./samples.ts";
import { PRESETS, type Preset } from "xdpc:presets";
import { binaryenReady } from "xdpc:binaryen";

export { describeFrame, SAMPLES, PRESETS, type Packet, type Preset };

export interface Diag extends JsonDiagnostic {
  /** The diagnostic as `xdpc check` prints it (with its code frame). */
  rendered: string;
}

export interface CompileResult {
  ok: boolean;
  diagnostics: Diag[];
  /** The XDP programs of the file, in declaration order. */
  programs: string[];
  /** The eBPF ELF object (what `xdpc build` writes). */
  object?: Uint8Array;
  /** `xdpc disasm` of the object: every program with its source lines. */
  listing?: string;
  /** The Wasm module of the XDP programs. */
  wasm?: Uint8Array;
  /** Why there is no Wasm module although the object built. */
  wasmError?: string;
}

function diagsOf(list: Parameters<typeof renderDiagnostic>[0][], source: string): Diag[] {
  return list.map((d) => ({
    ...diagnosticToJson(d, source),
    rendered: renderDiagnostic(d, source),
  }));
}

/** Parse and type-check only (fast: what the editor runs as you type). */
export function checkSource(source: string, file = "filter.ts"): Diag[] {
  return diagsOf(compile(source, { file, emit: "check" }).diagnostics, source);
}

/** The whole pipeline: eBPF object, its listing, and the Wasm module of its XDP programs. */
export async function compileSource(source: string, file = "filter.ts"): Promise<CompileResult> {
  const out = compile(source, { file, emit: "object" });
  const programs = (out.checked?.module.functions ?? [])
    .filter((f) => f.kind === "xdp")
    .map((f) => f.name);
  const result: CompileResult = {
    ok: false,
    diagnostics: diagsOf(out.diagnostics, source),
    programs,
  };
  if (!out.object || hasErrors(out.diagnostics)) return result;
  result.object = out.object;
  result.listing = listing(out.object, file);
  await binaryenReady;
  const wasm = await compileWasm(out, { only: "xdp" });
  if (!wasm) result.wasmError = "the file has no XDP program";
  else if (!wasm.binary) {
    result.diagnostics.push(...diagsOf(wasm.diagnostics, source));
    result.wasmError = wasm.diagnostics.map((d) => d.message).join("; ") || "no Wasm module";
  } else result.wasm = wasm.binary;
  result.ok = !!result.wasm;
  return result;
}

/** The object's programs in `xdpc disasm`'s layout, each instruction under its source line. */
export function listing(object: Uint8Array, file: string): string {
  const info = readObject(object);
  const out: string[] = [];
  let section: string | undefined;
  for (const p of info.programs) {
    const relocations = new Map<number, ListingRelocation>(
      p.relocations.map((r) => [
        r.insnIndex,
        { type: r.kind === "call" ? "R_BPF_64_32" : "R_BPF_64_64", symbol: r.target },
      ]),
    );
    const source = new Map<number, string>();
    for (const l of p.lineInfo)
      if (l.line > 0) source.set(l.insnIndex, `${l.file || file}:${l.line}: ${l.lineText.trim()}`);
    if (p.section !== section) {
      if (section !== undefined) out.push("");
      out.push(`Disassembly of section ${p.section}:`);
      section = p.section;
    }
    const insns = decode(p.insns);
    out.push("", ...formatListing(insns, { symbols: new Map([[0, p.name]]), relocations, source }));
  }
  return out.join("\n") + "\n";
}

export interface PacketResult {
  name: string;
  /** The XDP action, or -1 when the run failed (`error`). */
  verdict: number;
  verdictName: string;
  input: Uint8Array;
  /** The frame after the program (rewritten in place, moved by adjustHead/adjustTail). */
  output: Uint8Array;
  changed: boolean;
  /** Set when the frame was longer than the linear part the program sees. */
  note?: string;
  error?: string;
}

export interface RunResult {
  results: PacketResult[];
  /** Non-empty maps after the run: hex key → hex value. */
  maps: { name: string; kind: string; entries: [string, string][] }[];
  trace: string[];
  /** The host refused the module (a helper it does not implement). */
  error?: string;
}

const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Runs the packets in order through XDP program `program` on one Wasm host, so map
 * state carries from one packet to the next as on an attached program.
 */
export function runPackets(
  wasm: Uint8Array,
  program: string,
  packets: readonly Packet[],
  file = "filter.ts",
): RunResult {
  let host: WasmHost;
  try {
    // A helper the host lacks: the one-line refusal, with where the filter does run.
    const missing = missingHelpers(wasm);
    if (missing.length)
      return {
        results: [],
        maps: [],
        trace: [],
        error: `${file}: ${refusalMessage(missing)} (xdpc test --engine kernel)`,
      };
    host = new WasmHost(wasm);
  } catch (e) {
    return { results: [], maps: [], trace: [], error: (e as Error).message };
  }
  const results = packets.map((p): PacketResult => {
    // BPF_PROG_TEST_RUN shows the program at most FRAME_ROOM bytes (the linear part);
    // the rest of a longer frame is carried over unchanged.
    const linear = p.data.subarray(0, FRAME_ROOM);
    const rest = p.data.subarray(linear.length);
    const note = rest.length
      ? `the program sees the first ${FRAME_ROOM} of ${p.data.length} bytes`
      : undefined;
    try {
      const r = host.run(program, linear);
      const output = new Uint8Array(r.data.length + rest.length);
      output.set(r.data);
      output.set(rest, r.data.length);
      const verdictName = XDP_ACTION_NAMES[r.verdict] ?? `verdict ${r.verdict}`;
      return {
        name: p.name,
        verdict: r.verdict,
        verdictName,
        input: p.data,
        output,
        changed: !sameBytes(p.data, output),
        note,
      };
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      return {
        name: p.name,
        verdict: -1,
        verdictName: "error",
        input: p.data,
        output: p.data,
        changed: false,
        note,
        error,
      };
    }
  });
  const kinds = new Map(host.meta.maps.map((m) => [m.name, m.kind]));
  const maps = host.mapNames().map((name) => {
    const entries = host
      .map(name)
      .entries()
      .filter(([, v]) => v.some((x) => x !== 0))
      .map(([k, v]): [string, string] => [toHex(k), toHex(v)]);
    return { name, kind: kinds.get(name) ?? "", entries };
  });
  return { results, maps: maps.filter((m) => m.entries.length > 0), trace: [...host.traceLines] };
}

/** The Ethernet packets of a pcap or pcapng file (a PcapError for anything else). */
export function readCapture(bytes: Uint8Array, fileName = "capture"): Packet[] {
  const file = readPcap(bytes);
  return packetsOfLinkType(file).map((p, i) => ({ name: `${fileName} #${i + 1}`, data: p.data }));
}

export const toHexString = toHex;
