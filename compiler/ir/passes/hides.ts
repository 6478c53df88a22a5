// Rule 26's read-backs, kept only where they can matter: a late pass (optimize() in index.ts).
import type { Block, Func, Inst, Slot, Term } from "../ir.ts";
import { def, isSlot, successors, uses } from "../ir.ts";

/**
 * Where a bounded loop ends, the lowering reads each local the loop assigns back from a
 * slot (`Slot.hides`), so the verifier knows nothing of it after the loop (rule 26). That
 * helps only if something after the loop could make the verifier track the value
 * precisely: a branch on it, pointer arithmetic, a helper argument, a stack store (a map
 * key), the return value. Where every use of what it flows into is arithmetic or a store
 * to a map value, a global or the packet, the read-back is dropped and the local keeps
 * the value it had (a loop counting bytes into a map value: test/accept count_bytes).
 * So is one whose value no path knows exactly anyway: a local some def of which reads
 * a load, a call or a parameter (`zeros += b == 0`, with b a packet byte).
 */
export function dropIdleHides(f: Func): boolean {
  const found = f.slots.flatMap((slot) => {
    const at = slot.hides && readBack(f, slot);
    return at ? [{ slot, at }] : [];
  });
  if (found.length === 0) return false;
  const exact = exactPerPath(f, new Set(found.map(({ at }) => at.block.insts[at.index]!)));
  const drop = found.filter(({ slot, at }) => !exact.has(slot.hides!.id) || !mayBePrecise(f, at));
  // Highest index first, so the positions of the others in a block stay right.
  drop.sort((x, y) => y.at.index - x.at.index);
  for (const { slot, at } of drop) {
    at.block.insts.splice(at.index, 1);
    delete slot.hides;
  }
  return drop.length > 0;
}

/**
 * Vregs the verifier may know exactly on a path: every def of them is a copy or
 * arithmetic of constants and such vregs (a greatest fixpoint), not counting the
 * read-backs themselves (which set their vreg from loads).
 */
function exactPerPath(f: Func, readBacks: ReadonlySet<Inst>): Set<number> {
  const defs = new Map<number, Inst[]>();
  const bad = new Set<number>();
  for (const b of f.blocks)
    for (const i of b.insts) {
      const d = def(i);
      if (!d || readBacks.has(i)) continue;
      if (i.op === "mov" || i.op === "bin" || i.op === "un")
        defs.set(d.id, [...(defs.get(d.id) ?? []), i]);
      else bad.add(d.id);
    }
  for (const p of f.params) bad.add(p.id);
  const exact = new Set([...defs.keys()].filter((id) => !bad.has(id)));
  for (let changed = true; changed;) {
    changed = false;
    for (const id of exact)
      if (defs.get(id)!.some((i) => uses(i).some((u) => !exact.has(u.id)))) {
        exact.delete(id);
        changed = true;
      }
  }
  return exact;
}

/**
 * The instruction that sets the hidden vreg from the slot, as the lowering wrote it: the
 * first def of it after its store, which must be the load of bytes 4–7 (32 bits) or the
 * `or` of that load with the high half (64 bits). Anything else: left alone.
 */
function readBack(f: Func, slot: Slot): { block: Block; index: number } | null {
  const r = slot.hides!;
  const fromSlot = (i: Inst | undefined) =>
    i?.op === "load" && i.base === slot && i.off === 4 && i.size === 4;
  for (const block of f.blocks) {
    const s = block.insts.findIndex(
      (i) => i.op === "store" && i.base === slot && i.off === 4 && i.src === r,
    );
    if (s < 0) continue;
    for (let index = s + 1; index < block.insts.length; index++) {
      const i = block.insts[index]!;
      if (def(i)?.id !== r.id) continue;
      if (r.ty === "i32") return fromSlot(i) ? { block, index } : null;
      if (i.op !== "bin" || i.kind !== "or" || typeof i.a === "bigint") return null;
      const lo = i.a;
      const loaded = block.insts
        .slice(s + 1, index)
        .some((l) => fromSlot(l) && def(l)?.id === lo.id);
      return loaded ? { block, index } : null;
    }
    return null;
  }
  return null;
}

/**
 * Whether the value set at `at` (the hidden vreg there), or anything computed from it
 * before it is overwritten, reaches a use through which the verifier could mark it
 * precise. Flow-sensitive: a forward dataflow of the vregs holding such values.
 */
function mayBePrecise(f: Func, at: { block: Block; index: number }): boolean {
  const seed = def(at.block.insts[at.index]!)!;
  const entry = new Map<Block, Set<number>>();
  const through = (b: Block, inSet: Set<number>, check: boolean): Set<number> | true => {
    const t = new Set(inSet);
    for (let k = 0; k < b.insts.length; k++) {
      const i = b.insts[k]!;
      const tainted = uses(i).some((u) => t.has(u.id));
      if (check && tainted && sensitive(i, t)) return true;
      const d = def(i);
      if (d) {
        if (tainted) t.add(d.id);
        else t.delete(d.id);
      }
      if (b === at.block && k === at.index) t.add(seed.id);
    }
    if (check && b.term && uses(b.term).some((u) => t.has(u.id)) && sensitive(b.term, t))
      return true;
    return t;
  };
  const work: Block[] = [at.block];
  entry.set(at.block, new Set());
  while (work.length) {
    const b = work.pop()!;
    const out = through(b, entry.get(b)!, false) as Set<number>;
    for (const s of successors(b.term)) {
      const old = entry.get(s);
      const merged = new Set(old);
      for (const x of out) merged.add(x);
      if (!old || merged.size !== old.size) {
        entry.set(s, merged);
        work.push(s);
      }
    }
  }
  for (const [b, inSet] of entry) if (through(b, inSet, true) === true) return true;
  return false;
}

/** Whether a use of a tainted vreg by `i` could make the verifier track it precisely. */
function sensitive(i: Inst | Term, t: Set<number>): boolean {
  switch (i.op) {
    case "mov":
    case "bin":
    case "un":
      return false;
    case "store":
    case "atomicAdd": {
      // The read-backs' own stores (rule 26 again, around an outer loop) hide what they store.
      if (isSlot(i.base)) return !i.base.hides;
      return i.base.ty === "stack" || t.has(i.base.id);
    }
    default:
      return true;
  }
}
