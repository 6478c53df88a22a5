// End-to-end test harness: source → parse → check → backend → ELF → libbpf load.
import { parse } from "../../compiler/syntax/index.ts";
import { check } from "../../compiler/check/index.ts";
import { compileToObjectSpec, type ObjectSpecResult } from "../../compiler/bpf/compile.ts";
import { buildObject } from "../../compiler/elf/object.ts";
import { openObject, type LoadedObject } from "../../native/object.ts";
import { renderDiagnostic } from "../../compiler/diagnostics/render.ts";
import { disassemble } from "../../compiler/bpf/disasm.ts";

export interface Built extends ObjectSpecResult {
  object: Uint8Array;
}

/** Compiles a filter; throws with rendered diagnostics when any phase reports an error. */
export function build(source: string, file = "filter.ts"): Built {
  const parsed = parse(source, file);
  const checked = check(parsed.program);
  const diags = [...parsed.diagnostics, ...checked.diagnostics];
  if (diags.some((d) => d.severity === "error")) {
    throw new Error(diags.map((d) => renderDiagnostic(d, source)).join("\n"));
  }
  const r = compileToObjectSpec(checked, { source, keepIr: true });
  if (!r.spec) throw new Error(r.diagnostics.map((d) => renderDiagnostic(d, source)).join("\n"));
  return { ...r, object: buildObject(r.spec) };
}

/** Builds and loads; the verifier log and the disassembly are in the error when it rejects. */
export function load(source: string, file = "filter.ts"): { obj: LoadedObject; built: Built } {
  const built = build(source, file);
  const obj = openObject(built.object, { name: "xdpc_cg" });
  try {
    obj.load();
  } catch (e) {
    obj.close();
    const listing = built.programs
      .map((p) => `${p.name}:\n${p.ir ?? ""}\n${disassemble(p.emitted.insns).join("\n")}`)
      .join("\n");
    (e as Error).message += "\n" + listing;
    throw e;
  }
  return { obj, built };
}
