// The bpf_conformance suite run in the kernel: assemble each `-- asm` (or take `-- raw`),
// wrap it for XDP (harness.ts), load it through the verifier, run it with
// BPF_PROG_TEST_RUN and compare the full 64-bit r0 with `-- result`. Programs the kernel
// refuses are reported as kernel-refused with the verifier's reason, never as passes.
// negative/*.data must be rejected by the assembler, the harness or the kernel, or
// produce a result different from the one they claim.
import { afterAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { assemble, toAsm } from "../../compiler/bpf/asm.ts";
import { decode } from "../../compiler/bpf/decode.ts";
import { disassemble } from "../../compiler/bpf/disasm.ts";
import { encode } from "../../compiler/bpf/encode.ts";
import type { Insn } from "../../compiler/bpf/insn.ts";
import { describeKernel, describeWithPath } from "../support/kernel.ts";
import { type ConformanceCase, loadConformanceDir } from "./conformance-data.ts";
import { resultFromFrame, verifierReason, wrapForXdp } from "./harness.ts";

const ROOT = join(import.meta.dirname, "../../../shared/corpus/bpf_conformance");
const TESTS = join(ROOT, "tests");
const NEGATIVE = join(ROOT, "negative");

/** Floors: what this suite achieves on the 6.x kernel here; raise them, never lower them. */
const PASS_FLOOR = 300;
/** Kernel refusals we understand: shifts by an out-of-range immediate, and callx. */
const EXPECTED_REFUSALS = [/^invalid shift -?\d+$/, /^unknown opcode 8d$/];

function program(c: ConformanceCase): Insn[] {
  if (c.unknownSections.length)
    throw new Error(`unknown section(s): ${c.unknownSections.join(", ")}`);
  if (c.raw) return decode(c.raw);
  if (c.asm === undefined) throw new Error("no -- asm or -- raw section");
  const insns = assemble(c.asm);
  if (insns.length === 0) throw new Error("empty program");
  return insns;
}

type Outcome =
  | { kind: "pass"; value: bigint }
  | { kind: "refused"; reason: string }
  | { kind: "wrong"; value: bigint; retval: number };

async function runInKernel(
  body: Insn[],
  mem: Uint8Array,
  expected: bigint | undefined,
): Promise<Outcome> {
  const { loadRawProgram, testRun, closeFd } = await import("../../native/bpf.ts");
  const w = wrapForXdp(body, mem);
  let fd: number;
  try {
    fd = loadRawProgram(encode(w.insns)).fd;
  } catch (e) {
    const log = (e as { log?: string }).log;
    return {
      kind: "refused",
      reason: log ? verifierReason(log) : (e as Error).message.split("\n")[0]!,
    };
  }
  try {
    const r = testRun(fd, w.packet);
    const value = resultFromFrame(r.data);
    // The epilogue always returns XDP_PASS; anything else means it never ran.
    if (r.retval === 2 && value === expected) return { kind: "pass", value };
    return { kind: "wrong", value, retval: r.retval };
  } finally {
    closeFd(fd);
  }
}

describeWithPath(
  "conformance programs: assembler, codec and disassembler round trips",
  TESTS,
  () => {
    const cases = loadConformanceDir(TESTS);

    it("finds the suite", () => {
      expect(cases.length).toBeGreaterThan(300);
    });

    it.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
      const insns = program(c);
      if (c.raw && c.asm) expect(Buffer.from(encode(assemble(c.asm)))).toEqual(Buffer.from(c.raw));
      const bytes = encode(insns);
      expect(decode(bytes)).toEqual(insns);
      expect(encode(decode(bytes))).toEqual(bytes);
      // asm → insns → asm text → the same insns, and the disassembly is stable through the codec.
      expect(assemble(toAsm(insns))).toEqual(insns);
      const listing = disassemble(insns);
      expect(listing).not.toContain("<unknown>");
      expect(disassemble(decode(bytes))).toEqual(listing);
    });
  },
);

describeWithPath("bpf_conformance suite in the kernel", ROOT, () => {
  describeKernel("tests/*.data", () => {
    const cases = loadConformanceDir(TESTS);
    const passed: string[] = [];
    const refused: [string, string][] = [];
    const failed: string[] = [];

    it.each(cases.map((c) => [c.name, c] as const))("%s", async (name, c) => {
      expect(c.result, "every positive case states a result").toBeDefined();
      const out = await runInKernel(program(c), c.mem, c.result);
      if (out.kind === "pass") passed.push(name);
      else if (out.kind === "refused") {
        refused.push([name, out.reason]);
        // A refusal is not a pass; an unexplained one is a failure of our encoding or wrapper.
        expect(
          EXPECTED_REFUSALS.some((re) => re.test(out.reason)),
          `${name}: ${out.reason}`,
        ).toBe(true);
      } else {
        failed.push(name);
        expect.fail(
          `${name}: r0 = 0x${out.value.toString(16)} (retval ${out.retval}), expected 0x${c.result!.toString(16)}`,
        );
      }
    });

    afterAll(() => {
      const lines = [
        `bpf_conformance: ${passed.length} passed, ${refused.length} kernel-refused, ${failed.length} failed (of ${cases.length})`,
        ...refused.map(([n, r]) => `  kernel-refused ${n}: ${r}`),
        ...failed.map((n) => `  failed ${n}`),
      ];
      console.log(lines.join("\n"));
    });

    it("summary: no failures, pass floor reached", () => {
      // Runs after the per-case tests (vitest keeps declaration order within a file).
      expect(failed).toEqual([]);
      expect(passed.length).toBeGreaterThanOrEqual(PASS_FLOOR);
      expect(passed.length + refused.length).toBe(cases.length);
    });
  });

  describeKernel("negative/*.data are rejected", () => {
    const cases = loadConformanceDir(NEGATIVE);
    const how: string[] = [];

    it.each(cases.map((c) => [c.name, c] as const))("%s", async (name, c) => {
      let insns: Insn[];
      try {
        insns = program(c);
      } catch (e) {
        // Rejected before the kernel: the assembler or the .data reader.
        expect((e as Error).message.length).toBeGreaterThan(0);
        how.push(`  ${name}: assembler: ${(e as Error).message}`);
        return;
      }
      const out = await runInKernel(insns, c.mem, c.result);
      expect(out.kind, `${name} unexpectedly passed`).not.toBe("pass");
      how.push(
        `  ${name}: ${out.kind === "refused" ? `kernel: ${out.reason}` : `result differs: 0x${out.value.toString(16)}`}`,
      );
    });

    afterAll(() =>
      console.log(`bpf_conformance negative cases (${how.length}):\n${how.join("\n")}`),
    );
  });
});
