// IR function → eBPF program: optimise, select, allocate, emit.
import type { Func } from "../ir/ir.ts";
import { optimize } from "../ir/passes/index.ts";
import { selectInstructions } from "./isel.ts";
import { allocateRegisters } from "./regalloc.ts";
import { emitProgram, type EmittedProgram } from "./emit.ts";

export function generate(f: Func, opts: { optimize?: boolean } = {}): EmittedProgram {
  if (opts.optimize !== false) optimize(f);
  const mf = selectInstructions(f);
  allocateRegisters(mf);
  return emitProgram(mf);
}
