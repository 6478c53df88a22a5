// Local common subexpression elimination: inside a block, a pure computation (an
// operator, an address, a pointer offset) or a load that repeats one whose result
// still sits in a vreg becomes a copy of that vreg, which folding then propagates.
// Loads are forgotten at every write to memory, and everything at a helper call (a
// helper may write a map value, adjustHead moves the packet; and a value kept across
// a call costs a callee-saved register). This is what lets `g === g` on a
// global be decided: two loads of g were two unknowns to the verifier, which then
// walked both outcomes of every such branch in every trip of a loop.
import type { Block, Func, Inst, Operand, VReg } from "../ir.ts";
import { def, isImm, isSlot, uses } from "../ir.ts";

export function eliminateCommonSubexpressions(f: Func): boolean {
  let changed = false;
  for (const b of f.blocks) if (cseBlock(b)) changed = true;
  return changed;
}

const op = (o: Operand) => (isImm(o) ? `#${o}` : `v${o.id}`);

/** The value an instruction computes, as a key, or null if it is not reusable. */
function keyOf(i: Inst): { key: string; load: boolean } | null {
  switch (i.op) {
    case "bin":
      return { key: `bin ${i.kind} ${i.w} ${op(i.a)} ${op(i.b)}`, load: false };
    case "un":
      return { key: `un ${i.kind} ${i.w} ${op(i.a)}`, load: false };
    case "ptrAdd":
      return { key: `ptrAdd v${i.base.id} ${op(i.off)}`, load: false };
    case "addr": {
      const of = i.of;
      const at =
        "slot" in of
          ? `s${of.slot.id}+${of.off}`
          : "global" in of
            ? `g${of.global}+${of.off}`
            : `m${of.map}`;
      return { key: `addr ${at}`, load: false };
    }
    case "load": {
      const base = isSlot(i.base) ? `s${i.base.id}` : `v${i.base.id}`;
      return { key: `load ${i.size} ${base} ${i.off}`, load: true };
    }
    default:
      return null;
  }
}

const writesMemory = (i: Inst) =>
  i.op === "store" || i.op === "atomicAdd" || i.op === "call" || i.op === "copy" || i.op === "zero";

function cseBlock(b: Block): boolean {
  let changed = false;
  /** key → the vreg holding that value */
  const avail = new Map<string, VReg>();
  /** vreg id → keys that mention it (as an operand or as the holder) */
  const mentions = new Map<number, Set<string>>();
  const loads = new Set<string>();
  const forget = (key: string) => {
    avail.delete(key);
    loads.delete(key);
  };
  const mention = (id: number, key: string) => {
    let s = mentions.get(id);
    if (!s) mentions.set(id, (s = new Set()));
    s.add(key);
  };
  b.insts = b.insts.map((i) => {
    const k = keyOf(i);
    let out = i;
    const d = def(i);
    if (k && d) {
      const h = avail.get(k.key);
      if (h && h.ty === d.ty && h.id !== d.id) {
        out = { op: "mov", dst: d, src: h, span: i.span };
        changed = true;
      }
    }
    // A call ends every reuse: a value kept across it would need a callee-saved
    // register (or a spill) where recomputing it is one instruction.
    if (i.op === "call") for (const key of [...avail.keys()]) forget(key);
    else if (writesMemory(i)) for (const key of loads) forget(key);
    if (d) {
      // d's old value is gone: so is every value computed from it or held in it.
      for (const key of mentions.get(d.id) ?? []) forget(key);
      mentions.delete(d.id);
      if (k && out === i && !uses(i).some((u) => u.id === d.id)) {
        avail.set(k.key, d);
        if (k.load) loads.add(k.key);
        mention(d.id, k.key);
        for (const u of uses(i)) mention(u.id, k.key);
      }
    }
    return out;
  });
  return changed;
}
