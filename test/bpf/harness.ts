// Runs a bpf_conformance program in the kernel as XDP. The conformance ABI wants r1 = a
// pointer to the test memory and r2 = its length, and checks all 64 bits of r0; XDP gives
// r1 = xdp_md and a 32-bit return code. So the program is wrapped:
//   prologue: spill ctx below the program's stack use, prove the packet long enough,
//             r1 = data + 8 (the memory follows an 8-byte result slot), r2 = mem length;
//   body:     unchanged, except that the main function's `exit`s become `ja epilogue`;
//   epilogue: reload ctx, store r0 into the result slot, return XDP_PASS.
// Jumps and local calls that cross an insertion point are re-targeted.
import * as I from "../../compiler/bpf/insn.ts";
import { type Insn, slots } from "../../compiler/bpf/insn.ts";

export const RESULT_SLOT = 8;
/** bpf_prog_test_run rejects XDP frames shorter than an Ethernet header. */
const MIN_FRAME = 14;
const SENTINEL = 0xa5;

const ins = (code: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({
  code,
  dst,
  src,
  off,
  imm,
});
const ldxw = (dst: number, src: number, off: number) =>
  ins(I.BPF_LDX | I.BPF_MEM | I.BPF_W, dst, src, off);
const ldxdw = (dst: number, src: number, off: number) =>
  ins(I.BPF_LDX | I.BPF_MEM | I.BPF_DW, dst, src, off);
const stxdw = (dst: number, src: number, off: number) =>
  ins(I.BPF_STX | I.BPF_MEM | I.BPF_DW, dst, src, off);
const movReg = (dst: number, src: number) => ins(I.BPF_ALU64 | I.BPF_MOV | I.BPF_X, dst, src);
const movImm = (dst: number, imm: number) => ins(I.BPF_ALU64 | I.BPF_MOV | I.BPF_K, dst, 0, 0, imm);
const addImm = (dst: number, imm: number) => ins(I.BPF_ALU64 | I.BPF_ADD | I.BPF_K, dst, 0, 0, imm);
const EXIT = ins(I.BPF_JMP | I.BPF_EXIT);
const XDP_PASS = 2;

/** Relative-target field of a jump or local call, or undefined for other instructions. */
function targetField(i: Insn): "off" | "imm" | undefined {
  const cls = I.insnClass(i.code);
  const op = i.code & 0xf0;
  if (cls === I.BPF_JMP32) return op === I.BPF_JA ? "imm" : "off";
  if (cls !== I.BPF_JMP) return undefined;
  if (op === I.BPF_CALL)
    return i.src === I.BPF_PSEUDO_CALL && (i.code & I.BPF_X) === 0 ? "imm" : undefined;
  return op === I.BPF_EXIT ? undefined : "off";
}

/** Deepest r10-relative offset the program uses directly (a positive byte count). */
function stackDepth(insns: Insn[]): number {
  let deepest = 0;
  for (const i of insns) {
    const cls = I.insnClass(i.code);
    const base = cls === I.BPF_LDX ? i.src : cls === I.BPF_ST || cls === I.BPF_STX ? i.dst : -1;
    if (base === 10 && i.off < 0) deepest = Math.max(deepest, -i.off);
  }
  return deepest;
}

export interface Wrapped {
  insns: Insn[];
  packet: Uint8Array;
}

export function wrapForXdp(body: Insn[], mem: Uint8Array): Wrapped {
  // Slot positions and the end of the main function (the first local-call target).
  const at: number[] = [];
  let n = 0;
  for (const i of body) {
    at.push(n);
    n += slots(i);
  }
  let mainEnd = n;
  body.forEach((i, k) => {
    if (targetField(i) === "imm" && I.insnClass(i.code) === I.BPF_JMP)
      mainEnd = Math.min(mainEnd, at[k]! + 1 + i.imm);
  });
  if (mainEnd <= 0) mainEnd = n;

  const spill = -(Math.ceil((stackDepth(body) + 8) / 8) * 8);
  const need = RESULT_SLOT + mem.length;
  const prologue: Insn[] = [
    ldxw(2, 1, 0), // data
    ldxw(3, 1, 4), // data_end
    stxdw(10, 1, spill),
    movReg(4, 2),
    addImm(4, need),
    ins(I.BPF_JMP | I.BPF_JGE | I.BPF_X, 3, 4, 2), // if data_end >= data + need skip the bail-out
    movImm(0, 0),
    EXIT,
    movReg(1, 2),
    addImm(1, RESULT_SLOT),
    movImm(2, mem.length),
  ];
  const epilogue: Insn[] = [
    ldxdw(1, 10, spill),
    ldxw(2, 1, 0),
    ldxw(3, 1, 4),
    movReg(4, 2),
    addImm(4, RESULT_SLOT),
    ins(I.BPF_JMP | I.BPF_JGT | I.BPF_X, 4, 3, 1), // if data + 8 > data_end skip the store
    stxdw(2, 0, 0),
    movImm(0, XDP_PASS),
    EXIT,
  ];
  const P = prologue.length;
  const E = epilogue.length;
  const newSlot = (old: number) => P + old + (old >= mainEnd ? E : 0);
  const epilogueSlot = P + mainEnd;

  const out: Insn[] = [...prologue];
  body.forEach((i, k) => {
    const here = newSlot(at[k]!);
    // Only a well-formed exit is redirected; one with reserved fields set stays for the verifier to judge.
    const exit =
      i.code === (I.BPF_JMP | I.BPF_EXIT) &&
      i.dst === 0 &&
      i.src === 0 &&
      i.off === 0 &&
      i.imm === 0;
    if (at[k]! < mainEnd && exit) {
      out.push(ins(I.BPF_JMP | I.BPF_JA, 0, 0, epilogueSlot - here - 1));
    } else {
      const field = targetField(i);
      const copy = { ...i };
      if (field) copy[field] = newSlot(at[k]! + 1 + i[field]) - here - 1;
      out.push(copy);
    }
    if (at[k]! + slots(i) === mainEnd) out.push(...epilogue);
  });
  if (mainEnd === 0) out.push(...epilogue);

  const packet = new Uint8Array(Math.max(MIN_FRAME, need)).fill(0);
  packet.fill(SENTINEL, 0, RESULT_SLOT);
  packet.set(mem, RESULT_SLOT);
  return { insns: out, packet };
}

/** r0 as the epilogue stored it in the output frame. */
export function resultFromFrame(frame: Uint8Array): bigint {
  return new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getBigUint64(0, true);
}

/** The verifier's complaint: the last log line that is not a statistics line. */
export function verifierReason(log: string): string {
  const lines = log
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !/^processed \d+ insns|^verification time|^stack depth/.test(l));
  return lines.at(-1) ?? "rejected without a log";
}
