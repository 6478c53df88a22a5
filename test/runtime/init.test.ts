// `xdpc init`: the project template, for real. The package is staged as npm installs it
// (support/unprivileged.ts), `xdpc init` writes a project into a temp dir, `npm install
// --offline` links xdpc into it from the staged package (a file: dependency, no registry),
// and the project's own `npm test` must pass as nobody — on the Wasm engine — and as root
// on the kernel; tsc checks the filter and the test against the shipped declarations.
import { afterAll, beforeAll, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { describeKernel } from "../support/kernel.ts";
import {
  asNobody,
  openUp,
  repo,
  stagePackage,
  type StagedPackage,
} from "../support/unprivileged.ts";

const run = (cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) => {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

describeKernel("xdpc init: a project whose npm test passes without root", () => {
  let staged: StagedPackage;
  let proj: string;
  let home: string;
  beforeAll(() => {
    staged = stagePackage();
    proj = join(staged.root, "my-filter");
    home = join(staged.root, "home");
    mkdirSync(home);
    chmodSync(home, 0o777);
  });
  afterAll(() => rmSync(staged.root, { recursive: true, force: true }));

  it("writes the template and refuses to overwrite it", () => {
    const r = run(process.execPath, [staged.bin, "init", proj], staged.root);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(
      "created filter.ts, filter.test.js, tsconfig.json, package.json, README.md, .gitignore in my-filter\n" +
        "next: cd my-filter && npm install && npm test\n",
    );
    const pkg = JSON.parse(readFileSync(join(proj, "package.json"), "utf8"));
    expect(pkg).toMatchObject({
      name: "my-filter",
      type: "module",
      scripts: { test: "node --test" },
      devDependencies: { xdpc: `file:${staged.pkg}` },
    });
    const again = run(process.execPath, [staged.bin, "init", proj], staged.root);
    expect(again).toMatchObject({ status: 1, stdout: "" });
    expect(again.stderr).toBe(
      `xdpc: error: ${proj} already has filter.ts, filter.test.js, tsconfig.json, package.json, README.md, .gitignore (--force overwrites them)\n`,
    );
    expect(run(process.execPath, [staged.bin, "check", "filter.ts"], proj).status).toBe(0);
  });

  it("npm install links xdpc offline; npm test passes as nobody on the wasm engine", () => {
    // --ignore-scripts: npm runs a linked package's `prepare` (our build), which needs the
    // dev dependencies the staged package, like an installed one, does not have.
    const inst = run(
      "npm",
      ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts"],
      proj,
      { npm_config_cache: join(home, ".npm-root"), npm_config_update_notifier: "false" },
    );
    expect(inst.status, inst.stderr).toBe(0);
    expect(existsSync(join(proj, "node_modules/xdpc/dist/testing.js"))).toBe(true);
    openUp(proj);
    const r = asNobody("npm", ["test"], {
      cwd: proj,
      env: {
        HOME: home,
        npm_config_cache: join(home, ".npm"),
        npm_config_update_notifier: "false",
      },
    });
    expect(r.stdout).toContain("# engine: wasm\n");
    expect(r.stdout).toMatch(/^# pass 2$/m);
    expect(r.stdout).toMatch(/^# fail 0$/m);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it("as root the same npm test runs on the kernel", () => {
    const r = run("npm", ["test"], proj, {
      npm_config_cache: join(home, ".npm-root"),
      npm_config_update_notifier: "false",
    });
    expect(r.stdout).toContain("# engine: kernel\n");
    expect(r.stdout).toMatch(/^# pass 2$/m);
    expect(r.status).toBe(0);
  });

  it("docs/testing.md's snippet runs as written, as nobody", () => {
    const doc = readFileSync(join(repo, "docs/testing.md"), "utf8");
    const snippet = /```js\n([\s\S]*?)```/.exec(doc)![1]!;
    mkdirSync(join(proj, "filters"));
    copyFileSync(join(repo, "filters/lpm_firewall.ts"), join(proj, "filters/lpm_firewall.ts"));
    writeFileSync(join(proj, "filter.test.mjs"), snippet);
    openUp(proj);
    const r = asNobody(process.execPath, ["--test", "filter.test.mjs"], { cwd: proj });
    expect(r.stdout).toMatch(/^# pass 1$/m);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    rmSync(join(proj, "filter.test.mjs"));
    rmSync(join(proj, "filters"), { recursive: true });
  });

  it("tsc checks the filter and the test against xdpc's and xdpc/testing's declarations", () => {
    const tsc = join(repo, "node_modules/typescript/bin/tsc");
    // What the README's `npm install -D typescript @types/node` would add, from this checkout.
    mkdirSync(join(proj, "node_modules/@types"), { recursive: true });
    symlinkSync(join(repo, "node_modules/@types/node"), join(proj, "node_modules/@types/node"));
    const ok = run(process.execPath, [tsc, "-p", "."], proj);
    expect(ok.stdout + ok.stderr).toBe("");
    expect(ok.status).toBe(0);
    // The declarations are real: a wrong use of testFilter's result fails.
    writeFileSync(
      join(proj, "wrong.js"),
      '// @ts-check\nimport { testFilter } from "xdpc/testing";\nconst r = await testFilter("filter.ts");\nr.run("not a frame");\n',
    );
    const bad = run(process.execPath, [tsc, "-p", "."], proj);
    expect(bad.stdout).toMatch(
      /wrong\.js\(4,7\): error TS2345: Argument of type 'string' is not assignable to parameter of type 'Uint8Array/,
    );
    rmSync(join(proj, "wrong.js"));
  });
});
