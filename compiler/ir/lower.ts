// Checked AST → IR for one entry function (XDP program). User functions are
// inlined. Values follow check/types.ts's memory model: scalars live in vregs
// (≤ 32-bit types in i32 vregs, zero-extended when unsigned and sign-extended to
// 32 bits when signed), structs/arrays/headers are references to memory (a stack
// slot, a map value, packet data). Header accessors are memoised per dominating
// scope, so `ctx.eth()` then `ctx.ipv4()` then `ctx.udp()` parse each layer once;
// the guard pass then merges the bounds checks.
import type { CheckedModule, FunctionInfo } from "../check/result.ts";
import type { Func } from "./ir.ts";
import { Lowerer } from "./lower/lowerer.ts";
import "./lower/statements.ts";
import "./lower/conditions.ts";
import "./lower/expressions.ts";
import "./lower/members.ts";
import "./lower/operators.ts";
import "./lower/assignment.ts";
import "./lower/calls.ts";
import "./lower/packets.ts";
export { LowerInvariantError, LowerError, paramSymbol } from "./lower/shared.ts";
export type { Value } from "./lower/shared.ts";

export function lowerFunction(m: CheckedModule, fn: FunctionInfo): Func {
  return new Lowerer(m, fn).run();
}
