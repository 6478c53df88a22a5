// The register allocator on hand-built machine code (vregs from VREG_BASE): what it
// assigns, which copies it drops and what spill code it writes, as disassembly.
import { describe, expect, it } from "vitest";
import * as I from "../../compiler/bpf/insn.ts";
import { VREG_BASE, type MBlock, type MFunc, type MInst } from "../../compiler/bpf/machine.ts";
import { allocateRegisters } from "../../compiler/bpf/regalloc.ts";
import { emitProgram } from "../../compiler/bpf/emit.ts";
import { disassemble } from "../../compiler/bpf/disasm.ts";

const v = (n: number) => VREG_BASE + n;
const ins = (code: number, dst: number, src: number, off = 0, imm = 0): MInst => ({
  code,
  dst,
  src,
  off,
  imm,
});
const mov = (d: number, s: number) => ins(I.BPF_ALU64 | I.BPF_MOV | I.BPF_X, d, s);
const movImm = (d: number, imm: number) => ins(I.BPF_ALU64 | I.BPF_MOV | I.BPF_K, d, 0, 0, imm);
const add = (d: number, s: number) => ins(I.BPF_ALU64 | I.BPF_ADD | I.BPF_X, d, s);
const addImm = (d: number, imm: number) => ins(I.BPF_ALU64 | I.BPF_ADD | I.BPF_K, d, 0, 0, imm);
const ldw = (d: number, s: number, off: number) => ins(I.BPF_LDX | I.BPF_MEM | I.BPF_W, d, s, off);
const call = (helper: number, nargs: number): MInst => ({
  ...ins(I.BPF_JMP | I.BPF_CALL, 0, 0, 0, helper),
  nargs,
});
const exit = () => ins(I.BPF_JMP | I.BPF_EXIT, 0, 0);

function allocated(insts: MInst[], nextVreg = 16): string[] {
  const b: MBlock = { id: 0, label: "entry", insts, succs: [] };
  const mf: MFunc = { name: "f", blocks: [b], frameSize: 0, nextVreg };
  allocateRegisters(mf);
  return disassemble(emitProgram(mf).insns);
}

describe("copy coalescing", () => {
  it("a copy whose source stays live after it is dropped: both ends share a register", () => {
    // v1 = v0 with v0 still read afterwards: the ranges overlap, so a hint alone keeps
    // the copy; both have one definition, so v1 is v0.
    expect(
      allocated([
        ldw(v(0), 1, 0),
        mov(v(1), v(0)),
        mov(v(2), v(0)),
        add(v(2), v(1)),
        mov(0, v(2)),
        exit(),
      ]),
    ).toEqual(["r1 = *(u32 *)(r1 + 0)", "r0 = r1", "r0 += r1", "exit"]);
  });

  it("a copy of a vreg that is defined again while the copy is live stays", () => {
    expect(
      allocated([
        ldw(v(0), 1, 0),
        mov(v(1), v(0)),
        addImm(v(0), 1),
        mov(0, v(0)),
        add(0, v(1)),
        exit(),
      ]),
    ).toEqual(["r0 = *(u32 *)(r1 + 0)", "r1 = r0", "r0 += 1", "r0 += r1", "exit"]);
  });
});
