// `xdpc/runtime` as a user gets it: the package laid out as npm installs it, a control
// plane beside a filter in the user's own project. tsc checks the control plane against
// dist/runtime.d.ts with the filter's types (a wrong value type must be refused), and
// node runs it against the kernel through dist/runtime.js.
import { afterAll, beforeAll, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describeKernel } from "../support/kernel.ts";
import { repo, stagePackage, type StagedPackage } from "../support/unprivileged.ts";

let staged: StagedPackage;
let app: string;
beforeAll(() => {
  staged = stagePackage();
  app = join(staged.root, "app");
  mkdirSync(app);
  copyFileSync(join(repo, "test/control/blocklist.ts"), join(app, "filter.ts"));
  writeFileSync(join(app, "package.json"), JSON.stringify({ type: "module", private: true }));
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noEmit: true,
        allowImportingTsExtensions: true,
        verbatimModuleSyntax: true,
        lib: ["ES2022", "ESNext.Disposable"],
        types: [],
      },
      include: ["*.ts"],
    }),
  );
});
afterAll(() => rmSync(staged.root, { recursive: true, force: true }));

const tsc = (dir: string) =>
  spawnSync(process.execPath, [join(repo, "node_modules/typescript/bin/tsc"), "-p", dir], {
    encoding: "utf8",
  });

it("tsc checks a control plane against the filter's own types through the package's declarations", () => {
  writeFileSync(
    join(app, "control.ts"),
    `import { open, ip, type Collection } from "xdpc/runtime";
import type * as Filter from "./filter.ts";
export function push(coll: Collection<typeof Filter>): bigint | null {
  coll.maps.blocked.update({ prefixlen: 24, addr: ip("198.18.1.0") }, 1n);
  // @ts-expect-error u64 values are bigints
  coll.maps.blocked.update({ prefixlen: 24, addr: 0 }, 1);
  return coll.maps.blocked.lookup({ prefixlen: 32, addr: ip("198.18.1.1") });
}
export const spec = open<typeof Filter>("filter.ts");
`,
  );
  const ok = tsc(app);
  expect(ok.stdout + ok.stderr).toBe("");
  expect(ok.status).toBe(0);
  // Without the expectation the wrong line is an error, so the check above is a real one.
  writeFileSync(
    join(app, "control.ts"),
    `import { open } from "xdpc/runtime";
import type * as Filter from "./filter.ts";
open<typeof Filter>("filter.ts").load().maps.blocked.update({ prefixlen: 24, addr: 0 }, 1);
`,
  );
  const bad = tsc(app);
  expect(bad.status).not.toBe(0);
  expect(bad.stdout).toMatch(
    /control\.ts\(3,\d+\): error TS2345: .*'number' is not assignable to parameter of type 'bigint'/,
  );
  rmSync(join(app, "control.ts"));
});

describeKernel("xdpc/runtime from the package", () => {
  it("node runs a control plane through dist/runtime.js", () => {
    writeFileSync(
      join(app, "control.mjs"),
      `import { open, ip } from "xdpc/runtime";
const coll = open("filter.ts").load({ params: { port: 53 } });
coll.maps.blocked.update({ prefixlen: 24, addr: ip("198.18.1.0") }, 5n);
const frame = new Uint8Array(${JSON.stringify([...udpFrame()])});
const r = coll.programs.blocklist.run(frame);
console.log(JSON.stringify({ retval: r.retval, hits: coll.maps.blocked.lookup({ prefixlen: 32, addr: ip("198.18.1.9") }).toString() }));
coll.close();
`,
    );
    const out = spawnSync(process.execPath, [join(app, "control.mjs")], {
      cwd: app,
      encoding: "utf8",
    });
    expect(out.stderr).toBe("");
    expect(JSON.parse(out.stdout)).toEqual({ retval: 1, hits: "6" });
  });
});

function udpFrame(): Uint8Array {
  // 198.18.1.9 → 198.18.0.1, UDP to port 53: dropped by the blocked /24.
  const f = new Uint8Array(60);
  const dv = new DataView(f.buffer);
  dv.setUint16(12, 0x0800);
  f.set([0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 1, 9, 198, 18, 0, 1], 14);
  dv.setUint16(34, 4000);
  dv.setUint16(36, 53);
  dv.setUint16(38, 26);
  return f;
}
