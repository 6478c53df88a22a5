// Checked module → the ELF writer's ObjectSpec: one XDP program per exported XDP
// function (lowered, optimised, selected, allocated, encoded), BTF-described maps,
// .rodata load-time parameters and .bss/.data globals, relocations by symbol and
// line info from the source spans.
import { bpfMapType, type CheckResult, type CheckedModule, type MapInfo } from "../check/result.ts";
import type { Type } from "../check/types.ts";
import type {
  GlobalSpec,
  LineInfoSpec,
  MapSpec,
  ObjectSpec,
  ProgramSpec,
  RelocationSpec,
  RunConfigSpec,
} from "../elf/object.ts";
import { cInt, skBuff, type TypeDesc } from "../elf/types.ts";
import { diag, type Diagnostic } from "../diagnostics/diagnostic.ts";
import { LineMap } from "../diagnostics/span.ts";
import { lowerFunction, LowerError, paramSymbol } from "../ir/lower.ts";
import { printFunc } from "../ir/print.ts";
import { countVerdicts } from "../ir/passes/verdicts.ts";
import { VERDICT_COUNT, VERDICT_MAP, XDP_ACTION_NAMES, XDP_PASS } from "../uapi/bpf.ts";
import type { Func } from "../ir/ir.ts";
import { optimize, PASSES } from "../ir/passes/index.ts";
import { selectInstructions } from "./isel.ts";
import { allocateRegisters, RegallocError, STACK_LIMIT } from "./regalloc.ts";
import { emitProgram, type EmittedProgram } from "./emit.ts";
import { encode } from "./encode.ts";

export interface CompileObjectOptions {
  /** The source text, for line info (BTF carries the line text). */
  source: string;
  /** Keep the optimised IR text of every program (for --dump-ir and golden tests). */
  keepIr?: boolean;
  /** With keepIr: the IR after each stage of this name instead (see CompileOptions.irAfter). */
  irAfter?: string;
  /** Count every returned verdict in a hidden PerCpuArray `xdpc_verdicts` (compiler/ir/passes/verdicts.ts). */
  verdictStats?: boolean;
  /** IR passes to leave out (compiler/ir/passes/index.ts names them). */
  skipPasses?: readonly string[];
}

export interface CompiledProgram {
  name: string;
  emitted: EmittedProgram;
  ir?: string;
}

export interface ObjectSpecResult {
  spec: ObjectSpec | null;
  programs: CompiledProgram[];
  diagnostics: Diagnostic[];
}

/** What `--dump-ir=STAGE` takes: the lowered IR, each pass, or all of them. */
export const IR_STAGES: readonly string[] = ["lower", ...PASSES.map((p) => p.name), "all"];

const DATA_SECTIONS = new Set([".rodata", ".bss", ".data"]);
const tcProto = {
  params: [{ name: "ctx", type: { kind: "ptr", to: skBuff } as TypeDesc }],
  returns: cInt,
};

export function compileToObjectSpec(
  result: CheckResult,
  opts: CompileObjectOptions,
): ObjectSpecResult {
  const m = result.module;
  const diagnostics: Diagnostic[] = [];
  const lines = new LineMap(opts.source);
  const mapNames = new Set(m.maps.map((x) => x.name));
  // A user map may not take the hidden map's name; then verdicts are simply not counted.
  const verdictStats = !!opts.verdictStats && !mapNames.has(VERDICT_MAP);
  if (verdictStats) mapNames.add(VERDICT_MAP);
  const programs: ProgramSpec[] = [];
  const compiled: CompiledProgram[] = [];
  for (const fn of m.functions) {
    if (fn.kind !== "xdp" && fn.kind !== "tc") continue;
    let f: Func;
    const trace: string[] = [];
    try {
      f = lowerFunction(m, fn);
      // The verdict map counts XDP actions; tc verdicts are not counted.
      if (verdictStats && fn.kind === "xdp") countVerdicts(f);
      const stage = opts.keepIr ? opts.irAfter : undefined;
      const wants = (name: string) => stage === "all" || stage === name;
      if (wants("lower")) trace.push(`; ${fn.name} after lower\n${printFunc(f)}`);
      optimize(f, {
        skip: opts.skipPasses,
        observe: stage
          ? (pass, round, g) => {
              if (wants(pass))
                trace.push(`; ${fn.name} after ${pass} (round ${round})\n${printFunc(g)}`);
            }
          : undefined,
      });
      if (stage && !trace.length) trace.push(`; ${fn.name}: ${stage} changed nothing\n`);
    } catch (e) {
      if (e instanceof LowerError) {
        diagnostics.push(diag("BackendUnsupported", m.file, e.span, [e.message]));
        continue;
      }
      throw e;
    }
    const ir = !opts.keepIr ? undefined : opts.irAfter ? trace.join("") : printFunc(f);
    let emitted: EmittedProgram;
    try {
      const mf = selectInstructions(f);
      allocateRegisters(mf);
      if (mf.frameSize > STACK_LIMIT) {
        diagnostics.push(diag("StackTooLarge", m.file, fn.decl.name.span, [fn.name]));
        continue;
      }
      emitted = emitProgram(mf);
    } catch (e) {
      if (e instanceof RegallocError && e.stackTooLarge) {
        diagnostics.push(diag("StackTooLarge", m.file, fn.decl.name.span, [fn.name]));
        continue;
      }
      throw e;
    }
    compiled.push(ir === undefined ? { name: fn.name, emitted } : { name: fn.name, emitted, ir });
    const relocations: RelocationSpec[] = emitted.relocations.map((r) => ({
      insnIndex: r.slot,
      symbol: r.symbol,
      kind: mapNames.has(r.symbol) && !DATA_SECTIONS.has(r.symbol) ? "map" : "data",
    }));
    const lineInfo: LineInfoSpec[] = [];
    const push = (slot: number, start: number) => {
      const lc = lines.lineCol(start);
      const prev = lineInfo[lineInfo.length - 1];
      if (prev && prev.line === lc.line && prev.col === lc.col) return;
      lineInfo.push({
        insnIndex: slot,
        line: lc.line,
        col: lc.col,
        lineText: lines.lineText(lc.line),
      });
    };
    if (!emitted.lines.length || emitted.lines[0]!.slot !== 0) push(0, fn.decl.span.start);
    for (const l of emitted.lines) push(l.slot, l.span.start);
    programs.push({
      name: fn.name,
      // libbpf 1.1 knows "tc" (BPF_PROG_TYPE_SCHED_CLS); "tcx/ingress" and "tcx/egress"
      // only from libbpf 1.3 on, so xdpc's loader sets their type itself (native/object.ts).
      section: fn.kind === "tc" ? (fn.section ?? "tc") : "xdp",
      ...(fn.kind === "tc" ? { proto: tcProto } : {}),
      insns: encode(emitted.insns),
      relocations,
      lineInfo,
    });
  }
  if (diagnostics.length) return { spec: null, programs: compiled, diagnostics };
  return {
    spec: {
      license: "GPL",
      sourcePath: m.file,
      programs,
      maps: verdictStats ? [...m.maps.map(mapSpec), verdictMapSpec] : m.maps.map(mapSpec),
      globals: globalSpecs(m),
      runConfigs: runConfigSpecs(m),
    },
    programs: compiled,
    diagnostics,
  };
}

export function typeDesc(t: Type): TypeDesc {
  switch (t.kind) {
    case "int":
      return { kind: "int", bits: t.bits, signed: t.signed };
    case "bool":
      return { kind: "bool" };
    case "action":
      return { kind: "int", bits: 32, signed: false };
    case "struct":
      return {
        kind: "struct",
        name: t.name,
        size: t.size,
        // Kernel structs alias fields (FibLookupParams' unions): BTF wants members in
        // offset order, and a 48-bit MAC is the 6 bytes it occupies.
        members: [...t.fields]
          .sort((a, b) => a.offset - b.offset)
          .map((f) => ({
            name: f.name,
            type:
              f.wire?.width === 6
                ? { kind: "array", elem: { kind: "int", bits: 8, signed: false }, length: 6 }
                : typeDesc(f.type),
            offset: f.offset,
          })),
      };
    case "fixedArray":
      return { kind: "array", elem: typeDesc(t.elem), length: t.length };
    default:
      return { kind: "int", bits: 32, signed: false };
  }
}

const verdictMapSpec: MapSpec = {
  name: VERDICT_MAP,
  type: bpfMapType.PerCpuArray,
  key: { kind: "int", bits: 32, signed: false },
  value: { kind: "int", bits: 64, signed: false },
  maxEntries: VERDICT_COUNT,
};

function mapSpec(x: MapInfo): MapSpec {
  const base = {
    name: x.name,
    type: x.bpfType,
    maxEntries: x.maxEntries,
    flags: x.flags,
    pinning: x.pinned ? 1 : 0,
  };
  switch (x.kind) {
    case "DevMap":
    case "DevMapHash":
    case "CpuMap":
    case "XskMap":
      return { ...base, keySize: x.keySize, valueSize: x.valueSize };
    case "RingBuf":
      return { ...base, record: typeDesc(x.value) };
    default:
      return { ...base, key: typeDesc(x.key!), value: typeDesc(x.value) };
  }
}

function bytesOf(value: bigint, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let v = BigInt.asUintN(size * 8, value);
  for (let k = 0; k < size; k++) {
    out[k] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function sizeOfScalar(t: Type): number {
  return t.kind === "int" ? t.bits / 8 : t.kind === "bool" ? 1 : 4;
}

function globalSpecs(m: CheckedModule): GlobalSpec[] {
  const out: GlobalSpec[] = [];
  for (const p of m.params) {
    out.push({
      name: paramSymbol(p),
      section: ".rodata",
      type: typeDesc(p.type),
      bytes: bytesOf(p.default, sizeOfScalar(p.type)),
    });
  }
  for (const g of m.globals) {
    const size = sizeOfScalar(g.type);
    if (g.init === 0n) out.push({ name: g.name, section: ".bss", type: typeDesc(g.type) });
    else
      out.push({
        name: g.name,
        section: ".data",
        type: typeDesc(g.type),
        bytes: bytesOf(g.init, size),
      });
  }
  return out;
}

/**
 * `runConfig` → the members XDP_RUN_CONFIG would have: `priority` when given, then one
 * `XDP_<ACTION>: 1` per listed action in source order, and `XDP_PASS: 0` when the list
 * leaves XDP_PASS out (libxdp starts from XDP_PASS chaining). Nothing for `{}`.
 */
function runConfigSpecs(m: CheckedModule): RunConfigSpec[] {
  const out: RunConfigSpec[] = [];
  for (const r of m.runConfigs) {
    const members: RunConfigSpec["members"] = [];
    if (r.priority !== undefined) members.push({ name: "priority", value: r.priority });
    if (r.chainCallActions) {
      for (const a of r.chainCallActions) members.push({ name: XDP_ACTION_NAMES[a]!, value: 1 });
      if (!r.chainCallActions.includes(XDP_PASS)) members.push({ name: "XDP_PASS", value: 0 });
    }
    if (members.length) out.push({ program: r.program, members });
  }
  return out;
}
