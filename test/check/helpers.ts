// Shared helpers for checker tests: parse + check a source, render diagnostics.
import { parse } from "../../compiler/syntax/index.ts";
import { check } from "../../compiler/check/index.ts";
import type { CheckResult } from "../../compiler/check/result.ts";
import { renderDiagnostic, type Diagnostic } from "../../compiler/diagnostics/index.ts";
import type { Program } from "../../compiler/ast/nodes.ts";

export interface Checked extends CheckResult {
  program: Program;
  parseDiagnostics: Diagnostic[];
  source: string;
}

export function checkSource(source: string, file = "test.ts"): Checked {
  const p = parse(source, file);
  return { ...check(p.program), program: p.program, parseDiagnostics: p.diagnostics, source };
}

export function render(diags: readonly Diagnostic[], source: string): string {
  return diags.map((d) => renderDiagnostic(d, source)).join("\n");
}

/** Checks a source expected to be valid; throws with the rendered diagnostics otherwise. */
export function checkOk(source: string, file = "test.ts"): Checked {
  const r = checkSource(source, file);
  const all = [...r.parseDiagnostics, ...r.diagnostics];
  if (all.length) throw new Error(`expected no diagnostics, got:\n${render(all, source)}`);
  return r;
}

/** The error codes a source produces (parser and checker), in order. */
export function codes(source: string): number[] {
  const r = checkSource(source);
  return [...r.parseDiagnostics, ...r.diagnostics].map((d) => d.code);
}

export const prelude =
  'import { XdpContext, XdpAction, XskPacket, XskVerdict, XDP_PASS, XDP_DROP, XSK_TX, XSK_DROP, HashMap, ArrayMap, PerCpuArray, LpmTrie, RingBuf, DevMap, XskMap, FixedArray, Ipv6Addr, ktimeNs, trace, atomicAdd, zeroed, redirect, param, u8, u16, u32, u64, i8, i16, i32, i64, bool } from "xdpc";\n';

/** Wraps statements in an XDP program (with the prelude). */
export function inProgram(body: string, top = ""): string {
  return `${prelude}${top}\nexport function f(ctx: XdpContext): XdpAction {\n${body}\n  return XDP_PASS;\n}\n`;
}
