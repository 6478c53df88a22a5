// The "xdpc" module as a filter author meets it: a separate project that depends on xdpc
// (node_modules/xdpc → this repository) type-checks every example filter with tsc --strict,
// and tsc rejects a filter that misuses the declarations.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const repo = resolve(import.meta.dirname, "../..");
const tsc = join(repo, "node_modules/typescript/bin/tsc");
const filterFiles = readdirSync(join(repo, "filters")).filter(
  (f) => f.endsWith(".ts") && !f.endsWith(".test.ts"),
);

let project = "";

/** Runs tsc in the user project over `files`; returns its exit status and diagnostics. */
function runTsc(files: string[], extra: string[] = []): { status: number; output: string } {
  try {
    const output = execFileSync(
      process.execPath,
      [
        tsc,
        "--noEmit",
        "--strict",
        "--noUnusedLocals",
        "--module",
        "nodenext",
        "--moduleResolution",
        "nodenext",
        "--target",
        "es2022",
        ...extra,
        ...files,
      ],
      { cwd: project, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
    return { status: 0, output };
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    return { status: err.status, output: err.stdout + err.stderr };
  }
}

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), "xdpc-user-"));
  mkdirSync(join(project, "node_modules"));
  symlinkSync(repo, join(project, "node_modules/xdpc"), "dir");
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ type: "module", dependencies: { xdpc: "*" } }),
  );
  for (const f of filterFiles) copyFileSync(join(repo, "filters", f), join(project, f));
});

afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

describe("stdlib declarations under tsc --strict", () => {
  it("has at least six example filters", () => {
    expect(filterFiles.length).toBeGreaterThanOrEqual(6);
  });

  it("type-checks every example filter with zero errors", () => {
    const r = runTsc(filterFiles);
    expect(r.output).toBe("");
    expect(r.status).toBe(0);
  });

  it("also resolves with the legacy node10 and bundler resolutions (package.json types / exports)", () => {
    for (const [mod, res] of [
      ["commonjs", "node10"],
      ["esnext", "bundler"],
    ]) {
      const r = runTsc(filterFiles, ["--module", mod!, "--moduleResolution", res!]);
      expect(r.output, res).toBe("");
      expect(r.status, res).toBe(0);
    }
  });

  it('checks tcx programs: TcContext<"tcx/ingress"> goes to a helper typed c: TcContext, an unknown section is an error', () => {
    copyFileSync(join(repo, "test/tc/tcx_guard.ts"), join(project, "tcx_guard.ts"));
    const ok = runTsc(["tcx_guard.ts"]);
    expect(ok.output).toBe("");
    expect(ok.status).toBe(0);
    writeFileSync(
      join(project, "tcx_bad.ts"),
      [
        `import { TcContext, TcAction, TCX_PASS } from "xdpc";`,
        `export function p(ctx: TcContext<"tcx/ingres">): TcAction {`,
        `  return TCX_PASS;`,
        `}`,
      ].join("\n"),
    );
    const bad = runTsc(["tcx_bad.ts"]);
    expect(bad.status).not.toBe(0);
    expect(bad.output).toContain("tcx_bad.ts(2,34): error TS2344");
  });

  it("rejects a filter that misuses the declarations, naming each mistake", () => {
    writeFileSync(
      join(project, "bad.ts"),
      [
        `import { XdpContext, XdpAction, XDP_PASS, HashMap, LpmTrie, u32, u64 } from "xdpc";`,
        `interface Stats { packets: u64 }`,
        `const stats = new HashMap<u32, Stats>({ maxEntries: 4 });`,
        `const trie = new LpmTrie<{ addr: u32 }, u32>({ maxEntries: 4 });`,
        `export function bad(ctx: XdpContext): XdpAction {`,
        `  const ip = ctx.ipv4();`,
        `  if (ip === null) return XDP_PASS;`,
        `  if (ip.source === 1) return XDP_PASS;`,
        `  ip.ihl = 5;`,
        `  stats.increment(1);`,
        `  const tcp = ctx.tcp();`,
        `  return tcp.dstPort;`,
        `}`,
      ].join("\n"),
    );
    const r = runTsc(["bad.ts"]);
    expect(r.status).not.toBe(0);
    expect(r.output).toContain(
      "bad.ts(8,10): error TS2339: Property 'source' does not exist on type 'Ipv4Header'",
    );
    expect(r.output).toContain("bad.ts(9,6): error TS2540"); // ihl is read-only
    expect(r.output).toContain("bad.ts(10,3): error TS2684"); // increment needs an integer value
    expect(r.output).toMatch(/bad\.ts\(4,\d+\): error TS2344/); // LpmTrie key without prefixlen
    expect(r.output).toContain("bad.ts(12,10): error TS18047: 'tcp' is possibly 'null'");
  });
});

describe("stdlib runtime module (stdlib/index.js)", () => {
  const dts = readFileSync(join(repo, "stdlib/index.d.ts"), "utf8");

  it("exports every declared constant with the declared value", async () => {
    const mod = (await import(join(repo, "stdlib/index.js"))) as Record<string, unknown>;
    const consts = [...dts.matchAll(/^export declare const (\w+) = (0x[0-9a-f]+|\d+);$/gim)];
    expect(consts.length).toBeGreaterThan(40);
    for (const [, name, value] of consts) expect(mod[name!], name).toBe(Number(value));
  });

  it("exports every declared function and class, and the kernel-only ones throw a clear error", async () => {
    const mod = (await import(join(repo, "stdlib/index.js"))) as Record<string, unknown>;
    const fns = [...dts.matchAll(/^export declare function (\w+)/gm)].map((m) => m[1]!);
    const classes = [...dts.matchAll(/^export declare class (\w+)/gm)].map((m) => m[1]!);
    expect(classes).toHaveLength(12);
    for (const name of [...fns, ...classes]) expect(typeof mod[name], name).toBe("function");
    for (const name of fns.filter((f) => f !== "param")) {
      expect(() => (mod[name] as () => unknown)(), name).toThrow(
        /only inside a filter compiled by xdpc/,
      );
    }
    expect((mod.param as (n: string, d: number) => number)("port", 53)).toBe(53);
    const HashMap = mod.HashMap as new (o: object) => { lookup(k: number): unknown };
    const m = new HashMap({ maxEntries: 1 });
    expect(() => m.lookup(1)).toThrow(
      "xdpc: HashMap.lookup() runs only inside a filter compiled by xdpc",
    );
  });
});
