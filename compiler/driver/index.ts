// The compiler's one entry point: source text in, diagnostics and artifacts out.
// It never throws for a user error; an exception escaping it is an internal error.
import type { Diagnostic } from "../diagnostics/diagnostic.ts";
import { parse } from "../syntax/index.ts";
import { check } from "../check/index.ts";
import type { CheckResult } from "../check/result.ts";
import type { Program } from "../ast/nodes.ts";
import { compileToObjectSpec, type CompiledProgram } from "../bpf/compile.ts";
import { buildObject } from "../elf/object.ts";
import type { WasmOutput } from "../wasm/compile.ts";

export interface CompileOptions {
  /** Path shown in diagnostics and written into BTF line info. */
  file: string;
  /** How far to go: `check` stops after the type checker. */
  emit: "check" | "object";
  /** Keep each program's optimised IR text in the output (`--dump-ir`, golden tests). */
  keepIr?: boolean;
  /**
   * With keepIr: the IR after every pass of that name that changed the program
   * (`lower` for the IR as lowered, `all` for every stage) instead of the final IR
   * (`--dump-ir=PASS`). Names: IR_STAGES.
   */
  irAfter?: string;
  /** Count each XDP program's verdicts in a hidden PerCpuArray `xdpc_verdicts` (5 × u64, index = verdict). */
  verdictStats?: boolean;
  /** IR passes to leave out, by name (compiler/ir/passes/index.ts): for differential tests of the optimizer. */
  skipPasses?: readonly string[];
}

export interface CompileOutput {
  diagnostics: Diagnostic[];
  program?: Program;
  checked?: CheckResult;
  /** The eBPF ELF object, when emit is `object` and there were no errors. */
  object?: Uint8Array;
  /** Per program: instructions, relocations, line table (and IR text with keepIr). */
  programs?: CompiledProgram[];
}

export function compile(source: string, options: CompileOptions): CompileOutput {
  const parsed = parse(source, options.file);
  const diagnostics = [...parsed.diagnostics];
  // The checker runs even after syntax errors so that one run reports everything
  // it can; the parser has turned unparseable regions into Unsupported nodes.
  const checked = check(parsed.program);
  diagnostics.push(...checked.diagnostics);
  const out: CompileOutput = { diagnostics, program: parsed.program, checked };
  if (options.emit === "check" || hasErrors(diagnostics)) return out;
  const backend = compileToObjectSpec(checked, {
    source,
    keepIr: options.keepIr,
    irAfter: options.irAfter,
    verdictStats: options.verdictStats,
    skipPasses: options.skipPasses,
  });
  diagnostics.push(...backend.diagnostics);
  out.programs = backend.programs;
  if (backend.spec && !hasErrors(diagnostics)) out.object = buildObject(backend.spec);
  return out;
}

/**
 * The WebAssembly artifact of a checked compile: the AF_XDP handlers (`only:
 * "handler"`, what `xdpc build` writes beside the object), the XDP programs, or both.
 * Async because it loads binaryen (~0.3 s) only when called. Null when the source has
 * no such function or did not check.
 */
type WasmKind = "xdp" | "handler" | "tc";

export async function compileWasm(
  out: CompileOutput,
  opts: {
    only?: WasmKind | readonly WasmKind[];
    rxBatch?: boolean;
    skipPasses?: readonly string[];
  } = {},
): Promise<WasmOutput | null> {
  if (!out.checked || hasErrors(out.diagnostics)) return null;
  const only = typeof opts.only === "string" ? [opts.only] : opts.only;
  const wanted = out.checked.module.functions.some(
    (f) =>
      (f.kind === "xdp" || f.kind === "handler" || f.kind === "tc") &&
      (!only || only.includes(f.kind)),
  );
  if (!wanted) return null;
  const { compileToWasm } = await import("../wasm/compile.ts");
  return compileToWasm(out.checked, opts);
}

export function hasErrors(diags: readonly Diagnostic[]): boolean {
  return diags.some((d) => d.severity === "error");
}
