// Hand-assembled XDP programs and the ObjectSpecs that wrap them, shared by the
// ELF/BTF tests. Instructions are written out field by field from compiler/bpf/insn.ts.
import {
  BPF_ADD,
  BPF_ALU64,
  BPF_ATOMIC,
  BPF_CALL,
  BPF_DIV,
  BPF_DW,
  BPF_EXIT,
  BPF_H,
  BPF_IMM,
  BPF_JEQ,
  BPF_JMP,
  BPF_K,
  BPF_LD,
  BPF_LDX,
  BPF_MEM,
  BPF_MOV,
  BPF_PSEUDO_CALL,
  BPF_STX,
  BPF_W,
  BPF_X,
  type Insn,
} from "../../compiler/bpf/insn.ts";
import { BPF_MAP_TYPE, type ObjectSpec } from "../../compiler/elf/object.ts";
import { BPF_FUNC } from "../../compiler/uapi/bpf.ts";
import { u16, u32, u64, type TypeDesc } from "../../compiler/elf/types.ts";

/** Encodes instructions as the kernel reads them (little-endian, dst in the low nibble). */
export function encode(insns: Insn[]): Uint8Array {
  const slots = insns.reduce((n, i) => n + (i.code === (BPF_LD | BPF_IMM | BPF_DW) ? 2 : 1), 0);
  const out = new Uint8Array(slots * 8);
  const dv = new DataView(out.buffer);
  let p = 0;
  for (const i of insns) {
    dv.setUint8(p, i.code);
    dv.setUint8(p + 1, ((i.src & 0xf) << 4) | (i.dst & 0xf));
    dv.setInt16(p + 2, i.off, true);
    if (i.code === (BPF_LD | BPF_IMM | BPF_DW)) {
      const v = BigInt.asUintN(64, i.imm64 ?? BigInt(i.imm));
      dv.setUint32(p + 4, Number(v & 0xffffffffn), true);
      dv.setUint32(p + 12, Number(v >> 32n), true);
      p += 16;
    } else {
      dv.setInt32(p + 4, i.imm, true);
      p += 8;
    }
  }
  return out;
}

const I = (code: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({
  code,
  dst,
  src,
  off,
  imm,
});
export const movImm = (dst: number, imm: number) => I(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
export const movReg = (dst: number, src: number) => I(BPF_ALU64 | BPF_MOV | BPF_X, dst, src);
export const addImm = (dst: number, imm: number) => I(BPF_ALU64 | BPF_ADD | BPF_K, dst, 0, 0, imm);
export const divImm = (dst: number, imm: number) => I(BPF_ALU64 | BPF_DIV | BPF_K, dst, 0, 0, imm);
export const stxW = (dst: number, off: number, src: number) =>
  I(BPF_STX | BPF_MEM | BPF_W, dst, src, off);
export const ldxH = (dst: number, src: number, off: number) =>
  I(BPF_LDX | BPF_MEM | BPF_H, dst, src, off);
export const ldxW = (dst: number, src: number, off: number) =>
  I(BPF_LDX | BPF_MEM | BPF_W, dst, src, off);
export const lddw = (dst: number, imm = 0) => I(BPF_LD | BPF_IMM | BPF_DW, dst, 0, 0, imm);
export const atomicAdd64 = (dst: number, off: number, src: number) =>
  I(BPF_STX | BPF_ATOMIC | BPF_DW, dst, src, off, BPF_ADD);
export const jeqImm = (dst: number, imm: number, off: number) =>
  I(BPF_JMP | BPF_JEQ | BPF_K, dst, 0, off, imm);
export const call = (helper: number) => I(BPF_JMP | BPF_CALL, 0, 0, 0, helper);
export const callLocal = () => I(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, -1);
export const exit = () => I(BPF_JMP | BPF_EXIT);

export const SOURCE = "filters/count.ts";

/** counts packets in counters[0] (ARRAY u32 → u64) and passes them. */
export function counterSpec(): ObjectSpec {
  const lines = [
    "export function count(ctx: XdpContext): XdpAction {",
    "  counters.increment(0);",
    "  return XDP_PASS;",
  ];
  return {
    license: "GPL",
    sourcePath: SOURCE,
    maps: [{ name: "counters", type: BPF_MAP_TYPE.ARRAY, key: u32, value: u64, maxEntries: 4 }],
    programs: [
      {
        name: "count",
        section: "xdp",
        insns: encode([
          movImm(1, 0), // 0
          stxW(10, -4, 1), // 1
          movReg(2, 10), // 2
          addImm(2, -4), // 3
          lddw(1), // 4-5: &counters
          call(BPF_FUNC.map_lookup_elem), // 6
          jeqImm(0, 0, 2), // 7
          movImm(1, 1), // 8
          atomicAdd64(0, 0, 1), // 9
          movImm(0, 2), // 10
          exit(), // 11
        ]),
        relocations: [{ insnIndex: 4, symbol: "counters", kind: "map" }],
        lineInfo: [
          { insnIndex: 0, line: 2, col: 3, lineText: lines[1]! },
          { insnIndex: 10, line: 3, col: 3, lineText: lines[2]! },
        ],
      },
    ],
  };
}

/** returns the load-time parameter `verdict` (a u16 in .rodata), and counts into .bss. */
export function paramSpec(verdict = 2): ObjectSpec {
  const init = new Uint8Array(2);
  new DataView(init.buffer).setUint16(0, verdict, true);
  return {
    license: "GPL",
    sourcePath: "filters/param.ts",
    globals: [
      {
        name: "pad",
        section: ".rodata",
        type: { kind: "int", bits: 8, signed: false },
        bytes: new Uint8Array([7]),
      },
      { name: "verdict", section: ".rodata", type: u16, bytes: init },
      { name: "seen", section: ".bss", type: u64 },
    ],
    programs: [
      {
        name: "param",
        section: "xdp",
        insns: encode([
          lddw(1), // 0-1: &verdict
          ldxH(0, 1, 0), // 2
          lddw(1), // 3-4: &seen
          movImm(2, 1), // 5
          atomicAdd64(1, 0, 2), // 6
          exit(), // 7
        ]),
        relocations: [
          { insnIndex: 0, symbol: "verdict", kind: "data" },
          { insnIndex: 3, symbol: "seen", kind: "data" },
        ],
        lineInfo: [
          { insnIndex: 0, line: 4, col: 3, lineText: "  return VERDICT;" },
          { insnIndex: 3, line: 3, col: 3, lineText: "  seen++;" },
        ],
      },
    ],
  };
}

/** an XDP program that calls a static subprogram: half(ctx->rx_queue_index + 4) = 2 (XDP_PASS) on queue 0. */
export function callSpec(): ObjectSpec {
  return {
    license: "Dual MIT/GPL",
    sourcePath: "filters/call.ts",
    programs: [
      {
        name: "caller",
        section: "xdp",
        insns: encode([ldxW(1, 1, 16), addImm(1, 4), callLocal(), exit()]),
        relocations: [{ insnIndex: 2, symbol: "half", kind: "call" }],
        lineInfo: [
          { insnIndex: 0, line: 6, col: 3, lineText: "  return half(ctx.rxQueue + 4);" },
          { insnIndex: 3, line: 6, col: 3, lineText: "  return half(ctx.rxQueue + 4);" },
        ],
      },
      {
        name: "half",
        section: ".text",
        insns: encode([movReg(0, 1), divImm(0, 2), exit()]),
        proto: { params: [{ name: "x", type: u32 }], returns: u32 },
        lineInfo: [{ insnIndex: 0, line: 2, col: 3, lineText: "  return x / 2;" }],
      },
    ],
  };
}

/** A key shaped like the language's structs: nested struct, FixedArray, bool, enum, typedef. */
export const flowKey: TypeDesc = {
  kind: "struct",
  name: "FlowKey",
  size: 32,
  members: [
    { name: "prefixlen", type: u32, offset: 0 },
    {
      name: "addr",
      type: {
        kind: "typedef",
        name: "Ipv6Addr",
        type: { kind: "array", elem: { kind: "int", bits: 8, signed: false }, length: 16 },
      },
      offset: 4,
    },
    { name: "port", type: u16, offset: 20 },
    { name: "tcp", type: { kind: "bool" }, offset: 22 },
    {
      name: "dir",
      type: {
        kind: "enum",
        name: "Dir",
        size: 4,
        signed: false,
        values: [
          { name: "IN", value: 0 },
          { name: "OUT", value: 1 },
        ],
      },
      offset: 24,
    },
    { name: "flags", type: { kind: "int", bits: 8, signed: false }, bitOffset: 224, bitSize: 3 },
  ],
};

export const stats: TypeDesc = {
  kind: "struct",
  name: "Stats",
  size: 16,
  members: [
    { name: "packets", type: u64, offset: 0 },
    {
      name: "inner",
      type: {
        kind: "struct",
        name: "Inner",
        size: 8,
        members: [
          { name: "a", type: u32, offset: 0 },
          { name: "b", type: { kind: "int", bits: 32, signed: true }, offset: 4 },
        ],
      },
      offset: 8,
    },
  ],
};
