// The compiler's one entry point: source text in, diagnostics and artifacts out.
// It never throws for a user error; an exception escaping it is an internal error.
import type { Diagnostic } from "../diagnostics/diagnostic.ts";
import { parse } from "../syntax/index.ts";
import { check } from "../check/index.ts";
import type { CheckResult } from "../check/result.ts";
import type { Program } from "../ast/nodes.ts";
import { compileToObjectSpec, type CompiledProgram } from "../bpf/compile.ts";
import { buildObject } from "../elf/object.ts";

export interface CompileOptions {
  /** Path shown in diagnostics and written into BTF line info. */
  file: string;
  /** How far to go: `check` stops after the type checker. */
  emit: "check" | "object";
  /** Keep each program's optimised IR text in the output (`--dump-ir`, golden tests). */
  keepIr?: boolean;
  /** Count each XDP program's verdicts in a hidden PerCpuArray `xdpc_verdicts` (5 × u64, index = verdict). */
  verdictStats?: boolean;
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
    verdictStats: options.verdictStats,
  });
  diagnostics.push(...backend.diagnostics);
  out.programs = backend.programs;
  if (backend.spec && !hasErrors(diagnostics)) out.object = buildObject(backend.spec);
  return out;
}

export function hasErrors(diags: readonly Diagnostic[]): boolean {
  return diags.some((d) => d.severity === "error");
}
