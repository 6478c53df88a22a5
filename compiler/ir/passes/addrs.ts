// Address folding: a load or store through `p = ptradd q, c` (c constant) addresses
// `q + c` directly, so the backend emits `r = *(u8 *)(q + 28)` instead of copying q,
// adding 28 and loading through the copy (three instructions per header byte in a
// port that moves fields at fixed offsets). The ptradd then dies unless something
// else needs p itself. For the verifier nothing changes: q + c has p's id, range and
// offset.
//
// Only when p and q are each defined once (q may be a parameter), so q still holds at
// the access what it held when p was computed.
import type { Func, Inst, VReg } from "../ir.ts";
import { isImm, isSlot } from "../ir.ts";
import { definitions } from "../cfg.ts";

/** Offsets the backend can encode in one instruction (signed 16 bits, 8-byte access). */
const MIN_OFF = -0x8000;
const MAX_OFF = 0x7fff - 8;

export function foldAddresses(f: Func): boolean {
  const defs = definitions(f);
  const once = (v: VReg): Inst | null => {
    const d = defs.get(v.id);
    if (d?.length !== 1) return null;
    return d[0]!.block.insts[d[0]!.index]!;
  };
  const stable = (v: VReg) => f.params.includes(v) || defs.get(v.id)?.length === 1;
  let changed = false;
  for (const b of f.blocks) {
    // A guard on q + c for n bytes is a guard on q for c + n: `t = q + (c + n)`, one
    // add instead of two, and the same range for q's id (the verifier's view of p).
    const t = b.term;
    if (t?.op === "guard") {
      const d = once(t.ptr);
      if (d?.op === "ptrAdd" && isImm(d.off) && stable(d.base)) {
        const c = Number(BigInt.asIntN(64, d.off));
        if (c >= 0 && c + t.n <= MAX_OFF) {
          b.term = { ...t, ptr: d.base, n: c + t.n };
          changed = true;
        }
      }
    }
  }
  for (const b of f.blocks)
    b.insts = b.insts.map((i) => {
      if (i.op !== "load" && i.op !== "store" && i.op !== "atomicAdd") return i;
      if (isSlot(i.base)) return i;
      const d = once(i.base);
      if (d?.op !== "ptrAdd" || !isImm(d.off) || !stable(d.base)) return i;
      const off = i.off + Number(BigInt.asIntN(64, d.off));
      if (off < MIN_OFF || off > MAX_OFF) return i;
      changed = true;
      return { ...i, base: d.base, off };
    });
  return changed;
}
