// The binder and type checker: `check(program)` resolves names, types every
// expression, lays out structs and enforces the language rules of LANGUAGE.md,
// reporting every error of the file in one run. See result.ts for the output contract.
import type { Program } from "../ast/nodes.ts";
import { Checker } from "./decls.ts";
import type { CheckResult } from "./result.ts";

export function check(program: Program): CheckResult {
  return new Checker(program).run();
}

export type * from "./result.ts";
export * from "./types.ts";
export { headerTypes, ipv6AddrType } from "./headers.ts";
export { layoutStruct } from "./layout.ts";
