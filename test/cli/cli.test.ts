// The xdpc command end to end, run from the built bundle (dist/, through bin/xdpc.js)
// the way users run it: help and version, check/build/disasm exit codes (0 ok, 1
// diagnostics or failed operation, 2 usage, 3 internal error), text and JSON
// diagnostics, one-line errors without stack traces, and where build writes objects.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readObject } from "../../compiler/elf/object.ts";
import { repo, xdpc } from "./run.ts";
import { EXAMPLE_FILTERS } from "../support/filters.ts";

const FILTERS = EXAMPLE_FILTERS.map((n) => `filters/${n}.ts`);
/** Four independent errors on four lines: the checker must report them all in one run. */
const BAD = `import type { XdpContext, XdpAction, u8 } from "xdpc";
import { XDP_PASS } from "xdpc";
class Nope {}
const big: u8 = 300;
export function f(ctx: XdpContext): XdpAction {
  const s = "strings are not values";
  return XDP_PASS + missing;
}
`;
const STACK = /\n\s+at .+\(.*:\d+:\d+\)|\n\s+at file:/;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "xdpct-cli-"));
  writeFileSync(join(dir, "bad.ts"), BAD);
  copyFileSync(join(repo, "filters/vlan_filter.ts"), join(dir, "good.ts"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every stderr line but the usage hint, and never a stack frame. */
function oneLine(stderr: string): string {
  expect(stderr).not.toMatch(STACK);
  const lines = stderr.split("\n").filter((l) => l && !l.startsWith("(run `xdpc --help`"));
  expect(lines, stderr).toHaveLength(1);
  return lines[0]!;
}

describe("xdpc: help and version", () => {
  it("--help lists the commands and exits 0", () => {
    const r = xdpc(["--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: xdpc \[options\] \[command\]/);
    for (const c of ["check", "build", "disasm"])
      expect(r.stdout).toMatch(new RegExp(`^  ${c} `, "m"));
    expect(r.stderr).toBe("");
  });
  it("--help of a command shows its options", () => {
    const r = xdpc(["build", "--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("-o, --output <file>");
    expect(r.stdout).toContain("--format <format>");
  });
  it("--version and -v print package.json's version", () => {
    const version = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")).version;
    for (const flag of ["--version", "-v"]) {
      const r = xdpc([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout.trim()).toBe(version);
    }
  });
});

describe("xdpc check", () => {
  it("exits 0 on the example filters, all in one run", () => {
    const r = xdpc(["check", ...FILTERS]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.trim()).toBe(`${FILTERS.length} files checked, no errors`);
  });

  it("exits 1 and reports every error of a file in one run, tsc style", () => {
    const r = xdpc(["check", join(dir, "bad.ts")]);
    expect(r.status).toBe(1);
    const heads = [...r.stderr.matchAll(/^(.+):(\d+):(\d+): error (XDP\d{4}): (.+)$/gm)];
    expect(heads.map((h) => Number(h[2]))).toEqual(expect.arrayContaining([3, 4, 6, 7]));
    for (const h of heads) expect(h[1]).toBe(join(dir, "bad.ts"));
    expect(r.stderr).toMatch(/^3 \| class Nope \{\}\n {2}\| ~+/m);
    expect(r.stderr).toMatch(new RegExp(`^Found ${heads.length} errors in 1 file\\.$`, "m"));
    expect(r.stderr).not.toMatch(STACK);
  });

  it("--format json prints one parseable object per diagnostic with file, line, column and code", () => {
    const text = xdpc(["check", join(dir, "bad.ts")]);
    const r = xdpc(["check", "--format", "json", join(dir, "bad.ts")]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("");
    const diags = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(diags.length).toBe([...text.stderr.matchAll(/: error XDP/g)].length);
    const source = BAD.split("\n");
    for (const d of diags) {
      expect(d).toMatchObject({ file: join(dir, "bad.ts"), severity: "error" });
      expect(d.code).toMatch(/^XDP\d{4}$/);
      expect(typeof d.message).toBe("string");
      // line/column (1-based) point at the same text as start (0-based offset).
      expect(BAD.slice(d.start, d.start + d.length)).toBe(
        source[d.line - 1]!.slice(d.column - 1, d.column - 1 + d.length),
      );
      expect(text.stderr).toContain(
        `${d.file}:${d.line}:${d.column}: error ${d.code}: ${d.message}`,
      );
    }
  });

  it("--format json is silent and exits 0 on a clean file", () => {
    const r = xdpc(["check", "--format", "json", ...FILTERS]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("");
  });

  it("usage errors exit 2 with a one-line message", () => {
    for (const args of [
      ["check"],
      ["--bogus"],
      ["check", "--bogus", "x.ts"],
      ["check", "--format", "xml", "x.ts"],
      ["nosuchcommand"],
    ]) {
      const r = xdpc(args);
      expect(r.status, args.join(" ")).toBe(2);
      expect(oneLine(r.stderr)).toMatch(/^error: /);
    }
  });

  it("a missing file exits 1 with a one-line message", () => {
    const r = xdpc(["check", join(dir, "nope.ts")]);
    expect(r.status).toBe(1);
    expect(oneLine(r.stderr)).toBe(
      `xdpc: error: cannot read '${join(dir, "nope.ts")}': no such file`,
    );
  });
});

describe("xdpc build", () => {
  it("writes FILE.o beside FILE.ts by default, a valid eBPF object", () => {
    const r = xdpc(["build", join(dir, "good.ts")]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/good\.ts → .*good\.o: vlan_filter \(\d+ insns\)/);
    const obj = readObject(readFileSync(join(dir, "good.o")));
    expect(obj.programs.map((p) => p.name)).toEqual(["vlan_filter"]);
    expect(obj.license).toBe("GPL");
  });

  it("-o chooses the output", () => {
    const out = join(dir, "elsewhere.o");
    const r = xdpc(["build", join(dir, "good.ts"), "-o", out]);
    expect(r.status, r.stderr).toBe(0);
    expect(readObject(readFileSync(out)).programs[0]!.name).toBe("vlan_filter");
  });

  it("builds several files in one run, each object beside its source", () => {
    const copies = FILTERS.map((f) => join(dir, f.replace("filters/", "multi-")));
    FILTERS.forEach((f, i) => copyFileSync(join(repo, f), copies[i]!));
    const r = xdpc(["build", "--format", "json", ...copies]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe("");
    for (const c of copies)
      expect(readObject(readFileSync(c.replace(/\.ts$/, ".o"))).programs.length).toBe(1);
  });

  it("build errors are diagnostics with exit 1 and no object", () => {
    const r = xdpc(["build", join(dir, "bad.ts")]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^.*bad\.ts:3:1: error XDP\d{4}: classes are not supported/m);
    expect(existsSync(join(dir, "bad.o"))).toBe(false);
    const j = xdpc(["build", "--format", "json", join(dir, "bad.ts")]);
    expect(j.status).toBe(1);
    expect(
      j.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).code).length,
    ).toBeGreaterThanOrEqual(4);
  });

  it("-o with several inputs is a usage error; an unwritable output a one-line error", () => {
    const r = xdpc(["build", join(dir, "good.ts"), join(dir, "bad.ts"), "-o", join(dir, "x.o")]);
    expect(r.status).toBe(2);
    expect(oneLine(r.stderr)).toBe("xdpc: error: -o/--output needs exactly one input file");
    const w = xdpc(["build", join(dir, "good.ts"), "-o", join(dir, "no/such/dir/x.o")]);
    expect(w.status).toBe(1);
    expect(oneLine(w.stderr.replace(/^.*→.*\n/m, ""))).toMatch(
      /^xdpc: error: cannot write '.*x\.o'/,
    );
  });
});

describe("xdpc disasm", () => {
  it("lists an object with our source lines", () => {
    const out = join(dir, "d.o");
    expect(xdpc(["build", join(dir, "good.ts"), "-o", out]).status).toBe(0);
    const r = xdpc(["disasm", out]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^0000000000000000 <vlan_filter>:$/m);
    expect(r.stdout).toMatch(/^; .*good\.ts:\d+: /m);
    expect(r.stdout).toMatch(/^\s+\d+:\texit$/m);
  });

  it("non-ELF, truncated, corrupt and foreign files are one-line errors with exit 1", () => {
    const good = readFileSync(join(dir, "d.o"));
    const garbled = Uint8Array.from(good);
    for (let i = 64; i < garbled.length; i += 37) garbled[i] ^= 0x5a;
    const cases: Record<string, Uint8Array | string> = {
      "text.o": "not an object\n",
      "empty.o": "",
      "truncated.o": good.subarray(0, 200),
      "garbled.o": garbled,
    };
    for (const [name, bytes] of Object.entries(cases)) {
      writeFileSync(join(dir, name), bytes);
      const r = xdpc(["disasm", join(dir, name)]);
      expect(r.status, name).toBe(1);
      expect(oneLine(r.stderr), name).toMatch(new RegExp(`^xdpc: error: .*${name}`));
    }
    const foreign = xdpc(["disasm", process.execPath]); // an x86-64 (or arm64) executable
    expect(foreign.status).toBe(1);
    expect(oneLine(foreign.stderr)).toMatch(/^xdpc: error: /);
    const missing = xdpc(["disasm", join(dir, "none.o")]);
    expect(missing.status).toBe(1);
    expect(oneLine(missing.stderr)).toBe(
      `xdpc: error: cannot read '${join(dir, "none.o")}': no such file`,
    );
  });

  it("an object with a malformed instruction stream is a one-line error, not an internal error", () => {
    const bytes = Uint8Array.from(readFileSync(join(dir, "d.o")));
    const sec = readObject(bytes).elf.section("xdp")!;
    bytes[sec.offset + sec.size - 8] = 0x18; // the final exit becomes the first half of an lddw
    writeFileSync(join(dir, "halfwide.o"), bytes);
    const r = xdpc(["disasm", join(dir, "halfwide.o")]);
    expect(r.status).toBe(1);
    expect(oneLine(r.stderr)).toMatch(/^xdpc: error: /);
  });
});

describe("internal errors", () => {
  // No user input is known to reach an internal error (the fuzz tests hunt for them), so
  // a command that throws is registered in-process and run through the real main().
  async function runMain(argv: string[]): Promise<{ code: number; stderr: string }> {
    const { commands } = await import("../../runtime/cli/commands.ts");
    const { main } = await import("../../runtime/cli/main.ts");
    if (!commands.some((c) => c.name === "__explode")) {
      commands.push({
        name: "__explode",
        description: "test only",
        load: async () => ({
          configure: () => {},
          run: async () => {
            throw new TypeError("cannot read properties of undefined (reading 'slot')");
          },
        }),
      });
    }
    let stderr = "";
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => {
      stderr += String(s);
      return true;
    });
    try {
      return { code: await main(argv), stderr };
    } finally {
      spy.mockRestore();
    }
  }

  it("say 'internal compiler error', exit 3, and print no stack without --debug", async () => {
    const r = await runMain(["__explode"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^xdpc: internal compiler error: cannot read properties of undefined/);
    expect(r.stderr).toContain("--debug");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("print the stack with --debug", async () => {
    const r = await runMain(["--debug", "__explode"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^xdpc: internal compiler error: /);
    expect(r.stderr).toMatch(
      /TypeError: cannot read properties of undefined \(reading 'slot'\)\n\s+at /,
    );
  });

  it("user errors never print a stack, even the unusual ones", () => {
    for (const args of [
      ["check", join(dir, "nope.ts")],
      ["disasm", join(dir, "text.o")],
      ["build", join(dir, "bad.ts")],
    ]) {
      expect(xdpc(args).stderr).not.toMatch(/\n\s+at /);
    }
  });
});

describe("start-up", () => {
  it("`--help` lists every command without importing any command module", async () => {
    const { commands } = await import("../../runtime/cli/commands.ts");
    const r = xdpc(["--help"]);
    expect(r.status).toBe(0);
    for (const c of commands.filter((c) => !c.name.startsWith("__")))
      expect(r.stdout).toContain(c.name);
    // The entry chunk holds the manifest only: the compiler and runtime live in chunks.
    const entry = readFileSync(join(repo, "dist/xdpc.js"), "utf8");
    expect(entry).not.toMatch(/function compile\(|class TrafficGenerator|bpf_xdp_attach/);
  });
});
