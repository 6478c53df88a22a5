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

const jeqImm = (d: number, imm: number, target: MBlock): MInst => ({
  ...ins(I.BPF_JMP | I.BPF_JEQ | I.BPF_K, d, 0, 0, imm),
  target,
});

function allocatedBlocks(blocks: MBlock[]): string[] {
  const mf: MFunc = { name: "f", blocks, frameSize: 0, nextVreg: 16 };
  allocateRegisters(mf);
  return disassemble(emitProgram(mf).insns);
}

function allocated(insts: MInst[]): string[] {
  return allocatedBlocks([{ id: 0, label: "entry", insts, succs: [] }]);
}

/** v0..v4 loaded from ctx, then a call: five values live across it for r6–r9. */
const fiveAcrossACall = (): MInst[] => [
  ldw(v(0), 1, 0),
  ldw(v(1), 1, 4),
  ldw(v(2), 1, 8),
  ldw(v(3), 1, 12),
  ldw(v(4), 1, 16),
  call(5, 0),
];

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

describe("the return value's r0", () => {
  it("a vreg whose hull spans another path's return still takes r0", () => {
    // v1 is dead on the early return, which sets r0; its hull spans that block. The
    // return's r0 is no vreg's business (nothing is live at an exit), so v1 follows its
    // hint into r0 and the copy goes.
    const late: MBlock = {
      id: 2,
      label: "late",
      insts: [addImm(v(1), 1), mov(0, v(1)), exit()],
      succs: [],
    };
    const early: MBlock = { id: 1, label: "early", insts: [movImm(0, 1), exit()], succs: [] };
    const entry: MBlock = {
      id: 0,
      label: "entry",
      insts: [ldw(v(1), 1, 4), ldw(v(0), 1, 0), jeqImm(v(0), 0, late)],
      succs: [early, late],
    };
    expect(allocatedBlocks([entry, early, late])).toEqual([
      "r0 = *(u32 *)(r1 + 4)",
      "r1 = *(u32 *)(r1 + 0)",
      "if r1 == 0 goto +2",
      "r0 = 1",
      "exit",
      "r0 += 1",
      "exit",
    ]);
  });

  it("a vreg live across the call whose result is returned stays out of r0", () => {
    // The return's r0 starts at the call here: v0, read after the call, is live in it.
    const stdw = ins(I.BPF_STX | I.BPF_MEM | I.BPF_DW, 10, v(0), -8);
    expect(allocated([ldw(v(0), 1, 0), call(5, 0), stdw, exit()])).toEqual([
      "r6 = *(u32 *)(r1 + 0)",
      "call 5",
      "*(u64 *)(r10 - 8) = r6",
      "exit",
    ]);
  });
});

describe("spill code split around calls", () => {
  it("a spilled value is reloaded once after a call and kept in a register to the blocks it reaches alone", () => {
    // v0 (one use before the others) is spilled. After the call it is read three times in
    // the block and once in each successor: one reload, into a caller-saved register.
    const b1: MBlock = { id: 1, label: "b1", insts: [add(0, v(0)), exit()], succs: [] };
    const b2: MBlock = { id: 2, label: "b2", insts: [mov(0, v(0)), exit()], succs: [] };
    const b0: MBlock = {
      id: 0,
      label: "b0",
      insts: [
        ...fiveAcrossACall(),
        mov(0, v(0)),
        add(0, v(1)),
        add(0, v(2)),
        add(0, v(3)),
        add(0, v(4)),
        add(0, v(0)),
        jeqImm(0, 0, b2),
      ],
      succs: [b1, b2],
    };
    expect(allocatedBlocks([b0, b1, b2])).toEqual([
      "r2 = *(u32 *)(r1 + 0)",
      "*(u64 *)(r10 - 8) = r2",
      "r6 = *(u32 *)(r1 + 4)",
      "r7 = *(u32 *)(r1 + 8)",
      "r8 = *(u32 *)(r1 + 12)",
      "r9 = *(u32 *)(r1 + 16)",
      "call 5",
      "r1 = *(u64 *)(r10 - 8)",
      "r0 = r1",
      "r0 += r6",
      "r0 += r7",
      "r0 += r8",
      "r0 += r9",
      "r0 += r1",
      "if r0 == 0 goto +2",
      "r0 += r1",
      "exit",
      "r0 = r1",
      "exit",
    ]);
  });

  it("the register copy does not live across a later call: it is reloaded after each", () => {
    // r6 taken by a fixed value across the second call: v3 and v4 are spilled.
    expect(
      allocated([
        ...fiveAcrossACall(),
        mov(0, v(0)),
        add(0, v(1)),
        add(0, v(2)),
        add(0, v(3)),
        add(0, v(4)),
        add(0, v(0)),
        mov(6, 0),
        call(7, 0),
        mov(0, v(0)),
        add(0, v(0)),
        add(0, v(1)),
        add(0, v(2)),
        add(0, v(3)),
        add(0, v(4)),
        exit(),
      ]),
    ).toEqual([
      "r7 = *(u32 *)(r1 + 0)",
      "r8 = *(u32 *)(r1 + 4)",
      "r9 = *(u32 *)(r1 + 8)",
      "r2 = *(u32 *)(r1 + 12)",
      "*(u64 *)(r10 - 8) = r2",
      "r1 = *(u32 *)(r1 + 16)",
      "*(u64 *)(r10 - 16) = r1",
      "call 5",
      "r0 = r7",
      "r0 += r8",
      "r0 += r9",
      "r1 = *(u64 *)(r10 - 8)",
      "r0 += r1",
      "r1 = *(u64 *)(r10 - 16)",
      "r0 += r1",
      "r0 += r7",
      "r6 = r0",
      "call 7",
      "r0 = r7",
      "r0 += r7",
      "r0 += r8",
      "r0 += r9",
      "r1 = *(u64 *)(r10 - 8)",
      "r0 += r1",
      "r1 = *(u64 *)(r10 - 16)",
      "r0 += r1",
      "exit",
    ]);
  });
});
