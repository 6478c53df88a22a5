// Stack slot layout by liveness: two IR slots share bytes when neither is written while
// the other still holds a value someone reads. Lowering already reuses the slots of a
// closed block; this also shares the ones a single block leaves dead (nine 64-byte
// struct values passed to map calls one after another need 64 bytes, not 576).
//
// Liveness is per byte (a bigint mask per slot), so a struct is dead above the stores
// that write all of it; a read of bytes nobody wrote keeps the slot live up to the
// entry, where it simply shares with nothing. A slot whose address is taken into a
// register may be reached through it anywhere, so it shares with nothing either.
import type { Block, Func, Inst, Slot } from "../ir/ir.ts";
import { isSlot, successors } from "../ir/ir.ts";

type Live = Map<Slot, bigint>;

const bytes = (off: number, size: number) => ((1n << BigInt(size)) - 1n) << BigInt(off);

/** What one instruction does to slots: bytes it reads, bytes it overwrites, slots it may write. */
interface Effect {
  reads: [Slot, bigint][];
  kills: [Slot, bigint][];
  /** Written (wholly or partly, or by a helper): must not share with what is live after. */
  writes: Slot[];
  /** Slots that must not share with each other (one instruction touches them together). */
  together: Slot[];
}

function effect(i: Inst, rest: (s: Slot, off: number) => bigint): Effect | null {
  const e: Effect = { reads: [], kills: [], writes: [], together: [] };
  switch (i.op) {
    case "load":
      if (!isSlot(i.base)) return null;
      e.reads.push([i.base, bytes(i.off, i.size)]);
      return e;
    case "store":
      if (!isSlot(i.base)) return null;
      e.kills.push([i.base, bytes(i.off, i.size)]);
      e.writes.push(i.base);
      return e;
    case "zero":
      if (!isSlot(i.base)) return null;
      e.kills.push([i.base, bytes(i.off, i.size)]);
      e.writes.push(i.base);
      return e;
    case "atomicAdd":
      if (!isSlot(i.base)) return null;
      e.reads.push([i.base, bytes(i.off, i.size)]);
      e.writes.push(i.base);
      return e;
    case "copy":
      if (isSlot(i.dst)) {
        e.kills.push([i.dst, bytes(i.dstOff, i.size)]);
        e.writes.push(i.dst);
        e.together.push(i.dst);
      }
      if (isSlot(i.src)) {
        e.reads.push([i.src, bytes(i.srcOff, i.size)]);
        e.together.push(i.src);
      }
      return e.together.length ? e : null;
    case "call":
      // A helper reads a key/value from its offset to the slot's end, and may write it.
      for (const a of i.args)
        if (typeof a === "object" && "slot" in a) {
          e.reads.push([a.slot, rest(a.slot, a.off)]);
          e.writes.push(a.slot);
          e.together.push(a.slot);
        }
      return e.together.length ? e : null;
    default:
      return null;
  }
}

/** Slot → byte offset from r10 (negative, 8-aligned) and the frame size they need. */
export function layoutSlots(f: Func): { offsets: Map<Slot, number>; frame: number } {
  const rest = (s: Slot, off: number) => bytes(off, Math.max(0, s.size - off));
  const pinned = new Set<Slot>();
  const effects = new Map<Block, (Effect | null)[]>();
  for (const b of f.blocks) {
    effects.set(
      b,
      b.insts.map((i) => effect(i, rest)),
    );
    for (const i of b.insts) if (i.op === "addr" && "slot" in i.of) pinned.add(i.of.slot);
  }
  const interferes = new Map<Slot, Set<Slot>>(f.slots.map((s) => [s, new Set()]));
  const clash = (a: Slot, b: Slot) => {
    if (a === b) return;
    interferes.get(a)!.add(b);
    interferes.get(b)!.add(a);
  };

  // Backward over a block from its live-out; with `record`, notes interference.
  const walk = (b: Block, out: Live, record: boolean): Live => {
    const live: Live = new Map(out);
    const fx = effects.get(b)!;
    for (let k = fx.length - 1; k >= 0; k--) {
      const e = fx[k];
      if (!e) continue;
      if (record) {
        for (const w of e.writes) for (const [s] of live) clash(w, s);
        for (const x of e.together) for (const y of e.together) clash(x, y);
      }
      for (const [s, m] of e.kills) {
        const v = (live.get(s) ?? 0n) & ~m;
        if (v) live.set(s, v);
        else live.delete(s);
      }
      for (const [s, m] of e.reads) live.set(s, (live.get(s) ?? 0n) | m);
    }
    return live;
  };

  // Live-out per block to a fixpoint (a worklist over predecessors).
  const preds = new Map<Block, Block[]>(f.blocks.map((b) => [b, []]));
  for (const b of f.blocks) for (const s of successors(b.term)) preds.get(s)?.push(b);
  const liveIn = new Map<Block, Live>();
  const liveOut = (b: Block): Live => {
    const out: Live = new Map();
    for (const s of successors(b.term))
      for (const [slot, m] of liveIn.get(s) ?? []) out.set(slot, (out.get(slot) ?? 0n) | m);
    return out;
  };
  const work = [...f.blocks].reverse();
  const queued = new Set(work);
  while (work.length) {
    const b = work.pop()!;
    queued.delete(b);
    const inn = walk(b, liveOut(b), false);
    const old = liveIn.get(b);
    if (old && old.size === inn.size && [...inn].every(([s, m]) => old.get(s) === m)) continue;
    liveIn.set(b, inn);
    for (const p of preds.get(b)!)
      if (!queued.has(p)) {
        queued.add(p);
        work.push(p);
      }
  }
  for (const b of f.blocks) walk(b, liveOut(b), true);

  // First fit in declaration order: a slot that clashes with every earlier one lands
  // where the sequential layout put it, so programs with nothing to share keep theirs.
  const offsets = new Map<Slot, number>();
  const placed: { slot: Slot; lo: number; hi: number }[] = [];
  let frame = 0;
  for (const s of f.slots) {
    const others = placed.filter(
      (p) => pinned.has(s) || pinned.has(p.slot) || interferes.get(s)!.has(p.slot),
    );
    const fits = (d: number) => others.every((p) => d <= p.lo || d - s.size >= p.hi);
    const ceil8 = (x: number) => Math.ceil(x / 8) * 8;
    const cands = [ceil8(s.size), ...others.map((p) => ceil8(p.hi + s.size))].sort((a, b) => a - b);
    const d = cands.find(fits)!;
    placed.push({ slot: s, lo: d - s.size, hi: d });
    offsets.set(s, -d);
    frame = Math.max(frame, d);
  }
  return { offsets, frame };
}
