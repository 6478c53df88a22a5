// The import rules of docs/architecture.md, enforced: every relative import (static,
// dynamic, `export … from`) in compiler/, runtime/, native/, stdlib/, playground/ and bin/ must go
// to the importer's own folder or to a folder or file its row of the table lists, and
// no import cycle may appear besides the known ones below. The table is read from the
// document itself, so the rule and its documentation cannot drift apart.
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize } from "node:path";

const ROOT = join(import.meta.dirname, "../..");
const CHECKED = ["compiler", "runtime", "native", "stdlib", "playground", "bin"];

/** Cycles that exist and are accepted (each as its sorted files). */
const KNOWN_CYCLES = [["compiler/diagnostics/codes.ts", "compiler/diagnostics/diagnostic.ts"]];

interface Rule {
  folder: string;
  allows: string[] | "*";
}

export function readRules(doc: string): Rule[] {
  const rows = doc.split("\n").filter((l) => /^\| [a-z]/.test(l) && !l.startsWith("| folder"));
  const rules: Rule[] = [];
  for (const row of rows) {
    const cells = row.split("|").map((c) => c.trim());
    const [folders, , allowed] = [cells[1]!, cells[2]!, cells[3]!];
    if (allowed === "—") continue; // test, bench, filters: unchecked
    const allows =
      allowed === "*" ? "*" : allowed === "nothing" ? [] : allowed.split(",").map((x) => x.trim());
    for (const folder of folders.split(",").map((x) => x.trim())) rules.push({ folder, allows });
  }
  return rules;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) out.push(...sourceFiles(rel));
    else if (/\.(ts|mjs|js)$/.test(name) && !name.endsWith(".d.ts")) out.push(rel);
  }
  return out;
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|(?:^|\n)\s*import\s+["']([^"']+)["']/g;

export function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3]!;
    if (spec.startsWith(".")) out.push(normalize(join(dirname(file), spec)));
  }
  return out;
}

/** The rule of the most specific folder holding `file`. */
function ruleOf(rules: Rule[], file: string): Rule | undefined {
  return rules
    .filter((r) => file === r.folder || file.startsWith(r.folder + "/"))
    .sort((a, b) => b.folder.length - a.folder.length)[0];
}

export function forbiddenEdges(rules: Rule[], edges: Map<string, string[]>): string[] {
  const bad: string[] = [];
  for (const [from, targets] of edges) {
    const rule = ruleOf(rules, from);
    if (!rule) {
      bad.push(`${from}: in no folder of docs/architecture.md`);
      continue;
    }
    for (const to of targets) {
      if (rule.allows === "*") continue;
      const own = ruleOf(rules, to)?.folder === rule.folder;
      const ok = own || rule.allows.some((a) => to === a || to.startsWith(a + "/"));
      if (!ok)
        bad.push(
          `${from} → ${to} (${rule.folder} may import: ${rule.allows.join(", ") || "nothing"})`,
        );
    }
  }
  return bad;
}

/** Strongly connected components with more than one file (Tarjan). */
export function cycles(edges: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let n = 0;
  const visit = (v: string) => {
    index.set(v, n);
    low.set(v, n++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return out;
}

const rules = readRules(readFileSync(join(ROOT, "docs/architecture.md"), "utf8"));
const edges = new Map<string, string[]>();
for (const dir of CHECKED)
  for (const f of sourceFiles(dir)) edges.set(f, importsOf(f, readFileSync(join(ROOT, f), "utf8")));

describe("docs/architecture.md import rules", () => {
  it("the table has a rule for every checked folder", () => {
    expect(rules.map((r) => r.folder)).toEqual(
      expect.arrayContaining([
        "compiler/ir",
        "native",
        "runtime/load",
        "runtime/cli",
        "stdlib",
        "bin",
      ]),
    );
  });

  it("no file imports a folder its row does not list", () => {
    expect(forbiddenEdges(rules, edges)).toEqual([]);
  });

  it("no new import cycle", () => {
    const known = new Set(KNOWN_CYCLES.map((c) => c.join(" ")));
    expect(cycles(edges).filter((c) => !known.has(c.join(" ")))).toEqual([]);
  });

  it("the checker catches a forbidden edge and a cycle (it can fail)", () => {
    const fake = new Map([
      ["compiler/ir/a.ts", ["runtime/load/loader.ts"]],
      ["runtime/load/loader.ts", ["compiler/ir/a.ts"]],
      ["runtime/observe/x.ts", ["compiler/bpf/isel.ts"]],
      ["runtime/lab/g.ts", ["compiler/bpf/programs.ts"]],
    ]);
    expect(forbiddenEdges(rules, fake)).toEqual([
      expect.stringMatching(/^compiler\/ir\/a.ts → runtime\/load\/loader.ts/),
      expect.stringMatching(/^runtime\/load\/loader.ts → compiler\/ir\/a.ts/),
      expect.stringMatching(/^runtime\/observe\/x.ts → compiler\/bpf\/isel.ts/),
    ]);
    expect(cycles(fake)).toEqual([["compiler/ir/a.ts", "runtime/load/loader.ts"]]);
  });

  it("reads every import form", () => {
    const text = `import a from "./a.ts";\nimport type { B } from "../b/b.ts";\nexport { c } from "./c.ts";\nconst d = await import("./d.ts");\nimport "./e.ts";\nimport x from "node:fs";`;
    expect(importsOf("runtime/cli/x.ts", text)).toEqual([
      "runtime/cli/a.ts",
      "runtime/b/b.ts",
      "runtime/cli/c.ts",
      "runtime/cli/d.ts",
      "runtime/cli/e.ts",
    ]);
  });
});
