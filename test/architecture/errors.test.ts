// One error model (docs/architecture.md, Errors): a verifier log becomes a diagnostic in
// runtime/load/verifier.ts only — `xdpc load` and `xdpc test` both get it from there as a
// LoaderError — and runtime errors become CLI messages in runtime/cli/failure.ts.
import { expect, it } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "../..");

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const rel = join(dir, name);
    return statSync(join(ROOT, rel)).isDirectory() ? files(rel) : rel.endsWith(".ts") ? [rel] : [];
  });
}
const sources = ["compiler", "runtime", "native"].flatMap(files);
const using = (re: RegExp) => sources.filter((f) => re.test(readFileSync(join(ROOT, f), "utf8")));

it("only runtime/load/verifier.ts reads verifier logs", () => {
  expect(using(/\b(parseVerifierLog|verifierDiagnostic)\b/)).toEqual(["runtime/load/verifier.ts"]);
  expect(using(/\bverifierRejection\(/).sort()).toEqual([
    "runtime/load/loader.ts",
    "runtime/load/verifier.ts",
    "runtime/packets/testrun.ts",
  ]);
});

it("runtime errors become CLI messages in runtime/cli/failure.ts only", () => {
  // A command may pass its own CliError (or commander's) through; every other runtime
  // error class is told apart in failure.ts.
  const offenders = files("runtime/cli")
    .filter((f) => f !== "runtime/cli/failure.ts")
    .flatMap((f) =>
      [...readFileSync(join(ROOT, f), "utf8").matchAll(/instanceof (\w+Error)\b/g)]
        .map((m) => m[1]!)
        .filter((c) => c !== "CliError" && c !== "CommanderError")
        .map((c) => `${f}: ${c}`),
    );
  expect(offenders).toEqual([]);
});
