// A program the kernel rejects is reported with the verifier's own message at the
// filter source line it refers to (LANGUAGE.md §8). The rejected object is a real xdpc
// build with one packet guard patched away (its jump offset set to 0), so the BTF line
// info is ours and the verifier must refuse the unguarded packet load that follows.
import { afterAll, beforeAll, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeKernel } from "../support/kernel.ts";
import { readObject } from "../../compiler/elf/object.ts";
import { renderDiagnostic } from "../../compiler/diagnostics/render.ts";
import { openObject, LoadError } from "../../native/object.ts";
import { parseVerifierLog, verifierDiagnostic } from "../../runtime/load/verifier.ts";
import { BPF_JGT, BPF_JMP, BPF_X } from "../../compiler/bpf/insn.ts";
import { buildFilter, repo } from "./objects.ts";
import { VethLab, withPrivateBpffs } from "./tools.ts";

const FILE = "test/accept/fixtures/zero_bytes.ts";
const source = readFileSync(join(repo, FILE), "utf8");
const GUARDED_LINE = source.split("\n").findIndex((l) => l.includes("const udp = ctx.udp();")) + 1;

/** The object with its first packet guard (`if rX > rEnd goto …`) turned into a no-op. */
function withoutFirstGuard(object: Uint8Array): Uint8Array {
  const bytes = object.slice();
  const sec = readObject(bytes).elf.section("xdp")!;
  for (let o = 0; o < sec.size; o += 8) {
    if (bytes[sec.offset + o] === (BPF_JMP | BPF_JGT | BPF_X)) {
      bytes[sec.offset + o + 2] = 0;
      bytes[sec.offset + o + 3] = 0;
      return bytes;
    }
  }
  throw new Error("no packet guard found");
}

function rejectionLog(object: Uint8Array): string {
  const obj = openObject(object, { name: "xdpct" });
  try {
    obj.load();
  } catch (e) {
    if (e instanceof LoadError) return e.logs.zero_bytes ?? "";
    throw e;
  } finally {
    obj.close();
  }
  throw new Error("the verifier accepted the patched program");
}

describeKernel("verifier rejections name the filter's source line", () => {
  const good = buildFilter(FILE).object;
  const bad = withoutFirstGuard(good);

  it("the kernel's own log already names our .ts line (BTF line info)", () => {
    const log = rejectionLog(bad);
    expect(log).toContain(`; const udp = ctx.udp(); @ zero_bytes.ts:${GUARDED_LINE}`);
    const r = parseVerifierLog(log);
    expect(r.message).toMatch(/^invalid access to packet, off=12 size=2/);
    expect(r.line).toBe(GUARDED_LINE);
    expect(r.insn).toBeGreaterThan(4);
  });

  it("renders as file:line:col: error XDP5001 with the verifier's message and a code frame", () => {
    const log = rejectionLog(bad);
    const { diagnostic, source: text } = verifierDiagnostic(log, {
      program: "zero_bytes",
      object: readObject(bad),
      file: FILE,
      source,
    });
    const out = renderDiagnostic(diagnostic, text);
    const col = source.split("\n")[GUARDED_LINE - 1]!.indexOf("ctx.udp()") + 1;
    expect(out.split("\n")[0]).toBe(
      `${FILE}:${GUARDED_LINE}:${col}: error XDP5001: ${parseVerifierLog(log).message}`,
    );
    expect(out).toContain(`${GUARDED_LINE} |   const udp = ctx.udp();`);
    expect(out).toMatch(/\|\s+~+/);
  });

  it("for an object file, the code frame comes from the object's own line info", () => {
    const log = rejectionLog(bad);
    const { diagnostic, source: text } = verifierDiagnostic(log, {
      program: "zero_bytes",
      object: readObject(bad),
      file: "zero_bytes.o",
    });
    const out = renderDiagnostic(diagnostic, text);
    expect(out).toMatch(
      new RegExp(`^${FILE}:${GUARDED_LINE}:\\d+: error XDP5001: invalid access to packet`),
    );
    expect(out).toContain("const udp = ctx.udp();");
  });

  describeKernel("xdpc load of a rejected object", () => {
    const lab = new VethLab("verifier");
    let dir: string;
    beforeAll(() => {
      lab.create();
      dir = mkdtempSync(join(tmpdir(), "xdpct-verifier-"));
    });
    afterAll(() => {
      lab.remove();
      rmSync(dir, { recursive: true, force: true });
    });

    it("prints the diagnostic, exits 1 and attaches nothing", () => {
      const path = join(dir, "bad.o");
      writeFileSync(path, bad);
      // The loader's state goes to a private run dir; its pins to the private bpffs.
      const script = 'XDPC_RUN_DIR="$6" nsenter --net="$1" "$2" "$3" load --iface "$4" "$5"';
      const r = withPrivateBpffs(script, [
        lab.netns,
        process.execPath,
        join(repo, "bin/xdpc.js"),
        lab.dev,
        path,
        join(dir, "run"),
      ]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(
        new RegExp(`^${FILE}:${GUARDED_LINE}:\\d+: error XDP5001: invalid access to packet`, "m"),
      );
      expect(r.stderr).toContain(`${GUARDED_LINE} |   const udp = ctx.udp();`);
      expect(r.stderr).toMatch(/^xdpc: error: the kernel verifier rejected 'zero_bytes'/m);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(lab.attached()).toBeNull();
    });
  });
});
