// Hand-written eBPF programs that the runtime loads without a filter source: the lab
// traffic generator's (runtime/lab/generator.ts) redirect and source-rewriting programs,
// run by BPF_PROG_TEST_RUN in live-frames mode, and its probe of that mode. They live beside the instruction set
// so the runtime never assembles BPF itself; docs/architecture.md lists this file as
// the one path from the runtime into compiler/bpf.
import {
  BPF_ADD,
  BPF_ALU,
  BPF_ALU64,
  BPF_AND,
  BPF_CALL,
  BPF_END,
  BPF_EXIT,
  BPF_H,
  BPF_JEQ,
  BPF_JGT,
  BPF_JMP,
  BPF_JNE,
  BPF_K,
  BPF_LDX,
  BPF_MEM,
  BPF_MOV,
  BPF_OR,
  BPF_RSH,
  BPF_STX,
  BPF_TO_BE,
  BPF_W,
  BPF_X,
  BPF_XOR,
  type Insn,
} from "./insn.ts";
import { encode } from "./encode.ts";
import { BPF_FUNC, XDP_DROP } from "../uapi/bpf.ts";

/** The program as the kernel loads it. */
export function assemble(insns: Insn[]): Uint8Array {
  return encode(insns);
}

/** `return XDP_DROP`: the generator's probe of whether the kernel runs live frames. */
export function dropProgram(): Insn[] {
  return [
    { code: BPF_ALU64 | BPF_MOV | BPF_K, dst: 0, src: 0, off: 0, imm: XDP_DROP },
    { code: BPF_JMP | BPF_EXIT, dst: 0, src: 0, off: 0, imm: 0 },
  ];
}

/** `return bpf_redirect(ifindex, 0)` */
export function redirectProgram(ifindex: number): Insn[] {
  return [
    { code: BPF_ALU64 | BPF_MOV | BPF_K, dst: 1, src: 0, off: 0, imm: ifindex },
    { code: BPF_ALU64 | BPF_MOV | BPF_K, dst: 2, src: 0, off: 0, imm: 0 },
    { code: BPF_JMP | BPF_CALL, dst: 0, src: 0, off: 0, imm: BPF_FUNC.redirect },
    { code: BPF_JMP | BPF_EXIT, dst: 0, src: 0, off: 0, imm: 0 },
  ];
}

const alu64 = (op: number, dst: number, imm: number): Insn => ({
  code: BPF_ALU64 | op | BPF_K,
  dst,
  src: 0,
  off: 0,
  imm,
});
const alu64x = (op: number, dst: number, src: number): Insn => ({
  code: BPF_ALU64 | op | BPF_X,
  dst,
  src,
  off: 0,
  imm: 0,
});
const ldx = (size: number, dst: number, src: number, off: number): Insn => ({
  code: BPF_LDX | BPF_MEM | size,
  dst,
  src,
  off,
  imm: 0,
});
const stx = (size: number, dst: number, src: number, off: number): Insn => ({
  code: BPF_STX | BPF_MEM | size,
  dst,
  src,
  off,
  imm: 0,
});
const jmp = (op: number, dst: number, imm: number, off: number): Insn => ({
  code: BPF_JMP | op | BPF_K,
  dst,
  src: 0,
  off,
  imm,
});
const jmpx = (op: number, dst: number, src: number, off: number): Insn => ({
  code: BPF_JMP | op | BPF_X,
  dst,
  src,
  off,
  imm: 0,
});
const call = (helper: number): Insn => ({
  code: BPF_JMP | BPF_CALL,
  dst: 0,
  src: 0,
  off: 0,
  imm: helper,
});

/**
 * Adds `delta` (r9: the ones'-complement difference of old and new source address) to
 * the 16-bit checksum at packet offset `off` (r6 = data), RFC 1624: HC' = ~(~HC + delta).
 * Raw little-endian loads and stores are fine: ones'-complement sums are byte-order blind.
 * `udp`: a zero checksum means "none" and stays zero; a result of zero is sent as 0xffff.
 */
function fixChecksum(off: number, udp: boolean): Insn[] {
  const body: Insn[] = [
    alu64(BPF_XOR, 2, 0xffff),
    alu64x(BPF_ADD, 2, 9),
    // fold twice: at most 5 × 0xffff before the first fold
    alu64x(BPF_MOV, 3, 2),
    alu64(BPF_RSH, 3, 16),
    alu64(BPF_AND, 2, 0xffff),
    alu64x(BPF_ADD, 2, 3),
    alu64x(BPF_MOV, 3, 2),
    alu64(BPF_RSH, 3, 16),
    alu64(BPF_AND, 2, 0xffff),
    alu64x(BPF_ADD, 2, 3),
    alu64(BPF_XOR, 2, 0xffff),
  ];
  if (udp) body.push(jmp(BPF_JNE, 2, 0, 1), alu64(BPF_MOV, 2, 0xffff));
  body.push(stx(BPF_H, 6, 2, off));
  const load = ldx(BPF_H, 2, 6, off);
  return udp ? [load, jmp(BPF_JEQ, 2, 0, body.length), ...body] : [load, ...body];
}

/**
 * `return bpf_redirect(ifindex, 0)` after replacing the IPv4 source address with a
 * random one inside `prefix` (host-order base, mask of the host bits) and fixing the IPv4 and TCP/UDP checksums, for frames
 * laid out as Ethernet + IPv4 without options (what runtime/packets/build.ts builds).
 * Live-frames mode keeps a frame's data between runs, so each run rewrites the
 * address it finds, with checksums kept right incrementally.
 */
export function randomSourceProgram(
  ifindex: number,
  prefix: { base: number; hostMask: number },
  l4: "tcp" | "udp" | "other",
): Insn[] {
  const { base, hostMask } = prefix;
  const tail: Insn[] = [
    alu64(BPF_MOV, 1, ifindex),
    alu64(BPF_MOV, 2, 0),
    call(BPF_FUNC.redirect),
    { code: BPF_JMP | BPF_EXIT, dst: 0, src: 0, off: 0, imm: 0 },
  ];
  const rewrite: Insn[] = [
    call(BPF_FUNC.get_prandom_u32),
    // new = base | (random & hostMask), in host order, then to network order for the store
    { code: BPF_ALU | BPF_AND | BPF_K, dst: 0, src: 0, off: 0, imm: hostMask | 0 },
    { code: BPF_ALU | BPF_OR | BPF_K, dst: 0, src: 0, off: 0, imm: base | 0 },
    { code: BPF_ALU | BPF_END | BPF_TO_BE, dst: 0, src: 0, off: 0, imm: 32 },
    ldx(BPF_W, 8, 6, 26), // old source, raw
    stx(BPF_W, 6, 0, 26),
    // r9 = ~old_lo + ~old_hi + new_lo + new_hi (16-bit words of the raw values)
    { code: BPF_ALU | BPF_XOR | BPF_K, dst: 8, src: 0, off: 0, imm: -1 },
    alu64x(BPF_MOV, 9, 8),
    alu64(BPF_AND, 9, 0xffff),
    alu64(BPF_RSH, 8, 16),
    alu64x(BPF_ADD, 9, 8),
    alu64x(BPF_MOV, 8, 0),
    alu64(BPF_AND, 8, 0xffff),
    alu64x(BPF_ADD, 9, 8),
    alu64x(BPF_MOV, 8, 0),
    alu64(BPF_RSH, 8, 16),
    alu64x(BPF_ADD, 9, 8),
    ...fixChecksum(24, false),
    ...(l4 === "tcp" ? fixChecksum(50, false) : l4 === "udp" ? fixChecksum(40, true) : []),
  ];
  const head: Insn[] = [
    ldx(BPF_W, 6, 1, 0), // data
    ldx(BPF_W, 7, 1, 4), // data_end
    alu64x(BPF_MOV, 2, 6),
    alu64(BPF_ADD, 2, 54),
    jmpx(BPF_JGT, 2, 7, rewrite.length), // too short: send as is
  ];
  return [...head, ...rewrite, ...tail];
}
