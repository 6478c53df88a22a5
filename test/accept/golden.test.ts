// Golden disassembly with source lines, in the CLI's own format: `xdpc build` then
// `xdpc disasm` for every example filter and acceptance fixture, compared with the
// checked-in text under __snapshots__/ (`npx vitest run -u` regenerates; review the diff
// like code). test/codegen/golden.test.ts snapshots the backend's in-memory listing;
// this one covers what users see: the object round trip (ELF, relocations, BTF line
// info read back) and the CLI's layout. Then `xdpc disasm` on clang-built objects (the
// C twins) agrees with llvm-objdump row for row, and its source lines are the C lines.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { describeWithPath } from "../support/kernel.ts";
import { compileBpfC } from "../differential/clang.ts";
import { xdpc } from "../cli/run.ts";
import { acceptanceSources, repo } from "./objects.ts";
import { ok, rows, run } from "./tools.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "xdpct-golden-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("xdpc disasm golden listings (CLI format, with source lines)", () => {
  const files = acceptanceSources().filter(
    (f) => f.startsWith("filters/") || f.startsWith("test/accept/fixtures/"),
  );
  for (const file of files) {
    it(file, async () => {
      const out = join(dir, basename(file, ".ts") + ".o");
      const b = xdpc(["build", file, "-o", out]);
      expect(b.status, b.stderr).toBe(0);
      const d = xdpc(["disasm", out]);
      expect(d.status, d.stderr).toBe(0);
      expect(d.stderr).toBe("");
      expect(d.stdout).toMatch(new RegExp(`^; ${file.replace(/\./g, "\\.")}:\\d+: `, "m"));
      await expect(d.stdout).toMatchFileSnapshot(
        `__snapshots__/${basename(file, ".ts")}.disasm.txt`,
      );
    });
  }
});

const twinsDir = join(repo, "test/twins");
describeWithPath(
  "xdpc disasm agrees with llvm-objdump on the clang-built C twins",
  "/usr/bin/llvm-objdump",
  () => {
    const twins = readdirSync(twinsDir)
      .filter((f) => f.endsWith(".c"))
      .sort();
    it("has the twins", () => expect(twins.length).toBeGreaterThanOrEqual(6));
    for (const c of twins) {
      it(c, () => {
        const path = join(dir, c.replace(/\.c$/, ".o"));
        writeFileSync(path, compileBpfC({ path: join(twinsDir, c) }));
        const theirs = rows(
          ok(run("llvm-objdump", ["-d", "-r", "--no-show-raw-insn", path]), "llvm-objdump").stdout,
        );
        const cli = xdpc(["disasm", path]);
        expect(cli.status, cli.stderr).toBe(0);
        const ours = rows(cli.stdout);
        expect(ours.length).toBeGreaterThan(10);
        expect(ours).toEqual(theirs);
        // Source lines come from clang's BTF line info and are the twin's own lines.
        const source = readFileSync(join(twinsDir, c), "utf8").split("\n");
        const shown = [...cli.stdout.matchAll(/^; (\S+):(\d+): (.*)$/gm)];
        expect(shown.length).toBeGreaterThan(0);
        for (const [, f, line, text] of shown) {
          if (!f!.endsWith(c) || line === "0") continue; // the shared header's lines; clang's line-0 entries
          expect(text).toBe(source[Number(line) - 1]!.trim());
        }
        expect(shown.some(([, f]) => f!.endsWith(c))).toBe(true);
      });
    }
  },
);
