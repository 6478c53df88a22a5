// Parses the kernel's wire format back into instructions (inverse of encode). lddw's two
// slots become one Insn whose imm64 is the unsigned 64-bit value and imm its low half.
import { type Insn, BPF_DW, BPF_IMM, BPF_LD } from "./insn.ts";
import { InsnError } from "./encode.ts";

const LDDW = BPF_LD | BPF_IMM | BPF_DW;

export function decode(bytes: Uint8Array): Insn[] {
  if (bytes.length % 8 !== 0)
    throw new InsnError(`instruction bytes not a multiple of 8 (${bytes.length})`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Insn[] = [];
  for (let at = 0; at < bytes.length; at += 8) {
    const code = dv.getUint8(at);
    const regs = dv.getUint8(at + 1);
    const insn: Insn = {
      code,
      dst: regs & 0xf,
      src: regs >> 4,
      off: dv.getInt16(at + 2, true),
      imm: dv.getInt32(at + 4, true),
    };
    if (code === LDDW) {
      const slot = at / 8;
      if (at + 16 > bytes.length) throw new InsnError("lddw without its second slot", slot);
      if (
        dv.getUint8(at + 8) !== 0 ||
        dv.getUint8(at + 9) !== 0 ||
        dv.getInt16(at + 10, true) !== 0
      ) {
        throw new InsnError("lddw second slot has nonzero code/regs/off", slot);
      }
      const hi = BigInt(dv.getUint32(at + 12, true));
      insn.imm64 = (hi << 32n) | BigInt(dv.getUint32(at + 4, true));
      at += 8;
    }
    out.push(insn);
  }
  return out;
}
