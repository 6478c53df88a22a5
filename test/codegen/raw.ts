// Test helper: serialises instructions for loadRawProgram (little-endian eBPF).
import type { Insn } from "../../compiler/bpf/insn.ts";
import { isLddw } from "../../compiler/bpf/insn.ts";

export function rawBytes(insns: Insn[]): Uint8Array {
  const out: number[] = [];
  const put = (code: number, dst: number, src: number, off: number, imm: number) => {
    const b = Buffer.alloc(8);
    b[0] = code;
    b[1] = (src << 4) | (dst & 0xf);
    b.writeInt16LE(off, 2);
    b.writeInt32LE(imm | 0, 4);
    out.push(...b);
  };
  for (const i of insns) {
    if (isLddw(i)) {
      const v = BigInt.asUintN(64, i.imm64 ?? BigInt(i.imm));
      put(i.code, i.dst, i.src, i.off, Number(BigInt.asIntN(32, v & 0xffffffffn)));
      put(0, 0, 0, 0, Number(BigInt.asIntN(32, v >> 32n)));
    } else put(i.code, i.dst, i.src, i.off, i.imm);
  }
  return Uint8Array.from(out);
}
