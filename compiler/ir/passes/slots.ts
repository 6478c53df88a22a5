// Store-to-load forwarding on private stack slots: a slot whose address is never taken
// (no `addr`, never a helper argument) is only read and written by direct loads and
// stores, so a load that every path reaches through a store of the same bytes (offset
// and size), with nothing written over them since, reads what that store wrote. Each
// such store also copies its value into one vreg per location, and the load becomes a
// copy of it. Then a slot that nothing reads any more loses its writes.
//
// This is what gives range analysis an out-parameter (`out.off = off` in an inlined
// helper, `c.off` after it): read back from the stack, it was any u32 to the verifier
// and to ranges.ts, so every checked load at `off + k` kept its `> 0xffff - N` guard and
// no length test could cover it.
import type { Block, Func, Inst, Operand, Slot, VReg } from "../ir.ts";
import { isImm, isSlot, successors } from "../ir.ts";
import { predecessors, reversePostOrder } from "../cfg.ts";

/** A location in a slot: `slot:off:size`. */
type Key = string;

interface Loc {
  slot: Slot;
  off: number;
  size: number;
}

/** A write into a slot: a plain store, or anything else (zeroing, copies, atomic adds). */
interface Write extends Loc {
  kind: "store" | "other";
}

const keyOf = (l: Loc): Key => `${l.slot.id}:${l.off}:${l.size}`;
const overlaps = (a: Loc, slot: Slot, off: number, size: number) =>
  a.slot === slot && a.off < off + size && off < a.off + a.size;

/** Slots whose address never leaves the function's direct loads, stores, copies and zeroing. */
function privateSlots(f: Func): Set<Slot> {
  const out = new Set(f.slots);
  for (const b of f.blocks)
    for (const i of b.insts) {
      if (i.op === "addr" && "slot" in i.of) out.delete(i.of.slot);
      if (i.op === "call")
        for (const a of i.args) if (typeof a === "object" && "slot" in a) out.delete(a.slot);
    }
  return out;
}

/** The bytes of a private slot an instruction overwrites (stores, zeroing, copies into it). */
function written(i: Inst, priv: Set<Slot>): Write | null {
  switch (i.op) {
    case "store":
    case "atomicAdd":
    case "zero":
      if (!isSlot(i.base) || !priv.has(i.base)) return null;
      return { slot: i.base, off: i.off, size: i.size, kind: i.op === "store" ? "store" : "other" };
    case "copy":
      if (!isSlot(i.dst) || !priv.has(i.dst)) return null;
      return { slot: i.dst, off: i.dstOff, size: i.size, kind: "other" };
    default:
      return null;
  }
}

/**
 * The verifier keeps a scalar stored at an 8-byte-aligned stack offset (a spill, of any
 * width) and gives it back to a load of that width, as long as nothing else writes into
 * that 8-byte word; otherwise the bytes are "misc" and the load is any value. Only the
 * first kind is forwarded: a value the verifier did not know before would split its
 * states where the unknown one let them prune each other (an IPv6 chain's u32 offset
 * beside its u8 next header, forwarded, took xdp_filter from 28k to 500k processed).
 */
function verifierTracks(loc: Loc, writes: readonly Write[]): boolean {
  if (loc.slot.align % 8 !== 0 || loc.off % 8 !== 0) return false;
  return writes.every(
    (w) =>
      !overlaps(w, loc.slot, loc.off, 8) ||
      (w.off === loc.off && w.size === loc.size && w.kind === "store"),
  );
}

/** How a store's value becomes the location's vreg `t` (what a load of `size` bytes reads back), or null. */
function forwarded(src: Operand, size: number, t: VReg): Operand | "zext" | null {
  if (isImm(src)) {
    if (t.ty !== "i32" && t.ty !== "i64") return null;
    return BigInt.asUintN(size * 8, src);
  }
  if (size === 8) return src.ty === t.ty ? src : null;
  if (src.ty !== "i32" || t.ty !== "i32") return null;
  // A narrow store keeps the low bytes only; an i32 vreg may hold more.
  return size === 4 ? src : "zext";
}

export function forwardStores(f: Func): boolean {
  const dead = removeDeadStores(f);
  return forwardLoads(f) || dead;
}

function forwardLoads(f: Func): boolean {
  const priv = privateSlots(f);
  for (const s of [...priv]) if (!priv.size) return false;
  // The locations loads read that the verifier tracks too, each with the vreg that will
  // carry its value.
  const writes: Write[] = [];
  for (const b of f.blocks)
    for (const i of b.insts) {
      const w = written(i, priv);
      if (w) writes.push(w);
    }
  const wanted = new Map<Key, { loc: Loc; t: VReg }>();
  for (const b of f.blocks)
    for (const i of b.insts) {
      if (i.op !== "load" || !isSlot(i.base) || !priv.has(i.base)) continue;
      const loc = { slot: i.base, off: i.off, size: i.size };
      const k = keyOf(loc);
      if (wanted.has(k) || !verifierTracks(loc, writes)) continue;
      wanted.set(k, { loc, t: { id: f.nextVReg + wanted.size, ty: i.dst.ty } });
    }
  if (!wanted.size) return removeDeadSlots(f, priv);

  /** The state after one instruction: which wanted locations their vreg holds. */
  const step = (s: Set<Key>, i: Inst) => {
    const w = written(i, priv);
    if (!w) return;
    for (const k of s) if (overlaps(wanted.get(k)!.loc, w.slot, w.off, w.size)) s.delete(k);
    if (i.op !== "store") return;
    const k = keyOf(w);
    const e = wanted.get(k);
    if (e && forwarded(i.src, i.size, e.t) !== null) s.add(k);
  };

  // Must-availability: a location counts at a block's entry only if every predecessor
  // ends with it (unvisited predecessors are optimistic, as in any forward fixpoint).
  const rpo = reversePostOrder(f);
  const preds = predecessors(f);
  const out = new Map<Block, Set<Key>>();
  const entryOf = (b: Block): Set<Key> => {
    if (b === rpo[0]) return new Set();
    const outs = (preds.get(b) ?? []).flatMap((p) => out.get(p) ?? []);
    if (!outs.length) return new Set();
    return new Set([...outs[0]!].filter((k) => outs.every((o) => o.has(k))));
  };
  for (let changed = true; changed;) {
    changed = false;
    for (const b of rpo) {
      const s = entryOf(b);
      for (const i of b.insts) step(s, i);
      const old = out.get(b);
      if (old && old.size === s.size && [...s].every((k) => old.has(k))) continue;
      out.set(b, s);
      changed = true;
    }
  }

  // Which loads read a forwarded value, then which locations need their vreg set.
  const hit = new Set<Inst>();
  const used = new Set<Key>();
  for (const b of rpo) {
    const s = entryOf(b);
    for (const i of b.insts) {
      if (i.op === "load" && isSlot(i.base) && priv.has(i.base)) {
        const k = keyOf({ slot: i.base, off: i.off, size: i.size });
        if (s.has(k) && wanted.get(k)!.t.ty === i.dst.ty) {
          hit.add(i);
          used.add(k);
        }
      }
      step(s, i);
    }
  }
  if (!hit.size) return removeDeadSlots(f, priv);
  f.nextVReg += wanted.size;

  for (const b of f.blocks) {
    const insts: Inst[] = [];
    for (const i of b.insts) {
      if (hit.has(i) && i.op === "load" && isSlot(i.base)) {
        const t = wanted.get(keyOf({ slot: i.base, off: i.off, size: i.size }))!.t;
        insts.push({ op: "mov", dst: i.dst, src: t, span: i.span });
        continue;
      }
      insts.push(i);
      if (i.op !== "store" || !isSlot(i.base) || !priv.has(i.base)) continue;
      const k = keyOf({ slot: i.base, off: i.off, size: i.size });
      if (!used.has(k)) continue;
      const t = wanted.get(k)!.t;
      const v = forwarded(i.src, i.size, t);
      if (v === "zext")
        insts.push({
          op: "un",
          kind: i.size === 1 ? "zext8" : "zext16",
          w: 32,
          dst: t,
          a: i.src,
          span: i.span,
        });
      else if (v !== null) insts.push({ op: "mov", dst: t, src: v, span: i.span });
    }
    b.insts = insts;
  }
  removeDeadSlots(f, priv);
  return true;
}

/**
 * A store into a slot whose address no `addr` takes, all of whose bytes are written again
 * before anything reads them (a load, a copy out, a helper given the slot, an atomic add)
 * or the function returns, is dead: a backward liveness of the slots' bytes. Private
 * slots are not enough: a struct's slot is reused by later map keys once its scope ends
 * (`freeArgSlots`), and its dead stores stayed, among them a spill of a value the verifier
 * tracked precisely, which kept a loop head's states apart (fuzz seed 141307).
 */
function removeDeadStores(f: Func): boolean {
  const tracked = new Set(f.slots);
  for (const b of f.blocks)
    for (const i of b.insts) if (i.op === "addr" && "slot" in i.of) tracked.delete(i.of.slot);
  if (!tracked.size) return false;
  const bytes = (off: number, size: number) => ((1n << BigInt(size)) - 1n) << BigInt(off);
  const all = (slot: Slot) => bytes(0, slot.size);
  type Live = Map<Slot, bigint>;
  /** Live bytes before `i`, from those after it; `dead` collects stores none of whose bytes are live. */
  const back = (live: Live, i: Inst, dead?: Set<Inst>) => {
    switch (i.op) {
      case "store":
      case "zero":
        if (isSlot(i.base) && tracked.has(i.base)) {
          const m = bytes(i.off, i.size);
          const l = live.get(i.base) ?? 0n;
          if (i.op === "store" && (l & m) === 0n) dead?.add(i);
          live.set(i.base, l & ~m);
        }
        return;
      case "copy":
        if (isSlot(i.src) && tracked.has(i.src))
          live.set(i.src, (live.get(i.src) ?? 0n) | bytes(i.srcOff, i.size));
        if (isSlot(i.dst) && tracked.has(i.dst) && i.dst !== i.src)
          live.set(i.dst, (live.get(i.dst) ?? 0n) & ~bytes(i.dstOff, i.size));
        return;
      case "load":
      case "atomicAdd":
        if (isSlot(i.base) && tracked.has(i.base))
          live.set(i.base, (live.get(i.base) ?? 0n) | bytes(i.off, i.size));
        return;
      case "call":
        for (const a of i.args)
          if (typeof a === "object" && "slot" in a && tracked.has(a.slot))
            live.set(a.slot, all(a.slot));
        return;
      default:
        return;
    }
  };
  const liveOut = (b: Block, entry: Map<Block, Live>): Live => {
    const out: Live = new Map();
    for (const s of successors(b.term))
      for (const [slot, m] of entry.get(s) ?? []) out.set(slot, (out.get(slot) ?? 0n) | m);
    return out;
  };
  const entry = new Map<Block, Live>();
  const order = reversePostOrder(f).reverse();
  for (let changed = true; changed;) {
    changed = false;
    for (const b of order) {
      const live = liveOut(b, entry);
      for (let k = b.insts.length - 1; k >= 0; k--) back(live, b.insts[k]!);
      const old = entry.get(b);
      const same =
        old && old.size === live.size && [...live].every(([slot, m]) => old.get(slot) === m);
      if (same) continue;
      entry.set(b, live);
      changed = true;
    }
  }
  const dead = new Set<Inst>();
  for (const b of f.blocks) {
    const live = liveOut(b, entry);
    for (let k = b.insts.length - 1; k >= 0; k--) back(live, b.insts[k]!, dead);
  }
  if (!dead.size) return false;
  for (const b of f.blocks) b.insts = b.insts.filter((i) => !dead.has(i));
  return true;
}

/** Private slots nothing reads lose their writes, and slots nothing mentions go. */
function removeDeadSlots(f: Func, priv: Set<Slot>): boolean {
  const read = new Set<Slot>();
  for (const b of f.blocks)
    for (const i of b.insts) {
      if (i.op === "load" && isSlot(i.base)) read.add(i.base);
      if (i.op === "copy" && isSlot(i.src)) read.add(i.src);
    }
  let changed = false;
  for (const b of f.blocks) {
    const kept = b.insts.filter((i) => {
      const w = written(i, priv);
      return !w || read.has(w.slot);
    });
    if (kept.length !== b.insts.length) changed = true;
    b.insts = kept;
  }
  const mentioned = new Set<Slot>(read);
  for (const b of f.blocks)
    for (const i of b.insts) {
      const w = written(i, priv);
      if (w) mentioned.add(w.slot);
    }
  const slots = f.slots.filter((s) => !priv.has(s) || mentioned.has(s));
  if (slots.length !== f.slots.length) {
    f.slots = slots;
    changed = true;
  }
  return changed;
}
