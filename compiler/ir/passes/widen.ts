// Byte copies widened: packet bytes loaded one at a time and each stored once into
// consecutive bytes of a stack slot (`p.ipv6Src[i] = ctx.load8(22 + i)` unrolled, an
// address copied byte by byte) become one 2-, 4- or 8-byte load and store per aligned
// chunk, as clang's load/store combining does. Both ends keep their bytes in order
// (little-endian load, little-endian store), so no swap is needed.
//
// The verifier insists on aligned stack accesses, so a chunk's slot offset must be a
// multiple of its width within a slot aligned at least that much; packet loads may be
// unaligned (x86, and the kernel without BPF_F_STRICT_ALIGNMENT). The combined load
// stands where the chunk's first load stood and the store where its last store stood,
// so nothing between them may write memory the loads read (no store through a
// pointer, no helper call) or read or write the slot bytes the stores fill.
import type { Block, Func, Inst, Slot, VReg } from "../ir.ts";
import { def, isImm, isSlot, uses } from "../ir.ts";
import { definitions } from "../cfg.ts";

interface Pair {
  load: number;
  store: number;
  /** Packet root vreg and byte offset from it. */
  root: VReg;
  off: number;
  slot: Slot;
  at: number;
}

export function widenCopies(f: Func): boolean {
  const defs = definitions(f);
  const useCount = new Map<number, number>();
  for (const b of f.blocks) {
    for (const i of b.insts)
      for (const v of uses(i)) useCount.set(v.id, (useCount.get(v.id) ?? 0) + 1);
    if (b.term) for (const v of uses(b.term)) useCount.set(v.id, (useCount.get(v.id) ?? 0) + 1);
  }
  const single = (v: VReg): Inst | null => {
    const d = defs.get(v.id);
    return d?.length === 1 ? d[0]!.block.insts[d[0]!.index]! : null;
  };
  /** A packet pointer as (root, constant offset), looking through one constant ptradd. */
  const resolve = (p: VReg): { root: VReg; off: number } | null => {
    if (p.ty !== "pkt") return null;
    const d = single(p);
    if (d?.op === "ptrAdd" && isImm(d.off) && (defs.get(d.base.id)?.length ?? 0) <= 1)
      return { root: d.base, off: Number(d.off) };
    return (defs.get(p.id)?.length ?? 0) <= 1 ? { root: p, off: 0 } : null;
  };
  let changed = false;
  for (const b of f.blocks) changed = widenBlock(b, f, resolve, useCount) || changed;
  return changed;
}

function widenBlock(
  b: Block,
  f: Func,
  resolve: (p: VReg) => { root: VReg; off: number } | null,
  useCount: Map<number, number>,
): boolean {
  const pairs: Pair[] = [];
  const storeOf = new Map<number, number>();
  b.insts.forEach((i, k) => {
    if (i.op === "store" && i.size === 1 && !isImm(i.src) && isSlot(i.base))
      storeOf.set(i.src.id, k);
  });
  b.insts.forEach((i, k) => {
    if (i.op !== "load" || i.size !== 1 || isSlot(i.base)) return;
    const s = storeOf.get(i.dst.id);
    if (s === undefined || s < k || useCount.get(i.dst.id) !== 1) return;
    const r = resolve(i.base);
    if (!r) return;
    const st = b.insts[s] as Extract<Inst, { op: "store" }>;
    pairs.push({
      load: k,
      store: s,
      root: r.root,
      off: r.off + i.off,
      slot: st.base as Slot,
      at: st.off,
    });
  });
  if (pairs.length < 2) return false;
  // Runs: same root and slot, source and destination offsets both consecutive.
  const groups = new Map<string, Pair[]>();
  for (const p of pairs) {
    const key = `${p.root.id}:${p.slot.id}:${p.at - p.off}`;
    const g = groups.get(key);
    if (g) g.push(p);
    else groups.set(key, [p]);
  }
  const drop = new Set<number>();
  const replace = new Map<number, Inst>();
  for (const g of groups.values()) {
    g.sort((x, y) => x.at - y.at);
    for (let s = 0; s < g.length;) {
      const w = widthAt(g, s);
      if (w === 1) {
        s++;
        continue;
      }
      const chunk = g.slice(s, s + w);
      s += w;
      if (chunk.some((p) => drop.has(p.load) || drop.has(p.store))) continue;
      if (!safe(b, chunk)) continue;
      const lo = Math.min(...chunk.map((p) => p.load));
      const hi = Math.max(...chunk.map((p) => p.store));
      const t: VReg = { id: f.nextVReg++, ty: w === 8 ? "i64" : "i32" };
      const first = chunk[0]!;
      for (const p of chunk) drop.add(p.load).add(p.store);
      const size = w as 2 | 4 | 8;
      const span = b.insts[lo]!.span;
      replace.set(lo, { op: "load", size, dst: t, base: first.root, off: first.off, span });
      replace.set(hi, {
        op: "store",
        size,
        base: first.slot,
        off: first.at,
        src: t,
        span: b.insts[hi]!.span,
      });
    }
  }
  if (!replace.size) return false;
  b.insts = b.insts.flatMap((i, k) => {
    const r = replace.get(k);
    if (r) return [r];
    return drop.has(k) ? [] : [i];
  });
  return true;
}

/** The widest chunk (8, 4, 2 or 1 bytes) starting at g[s], aligned in its slot. */
function widthAt(g: Pair[], s: number): number {
  const p = g[s]!;
  for (const w of [8, 4, 2]) {
    if (p.slot.align < w || p.at % w !== 0 || s + w > g.length) continue;
    let ok = true;
    for (let k = 1; k < w && ok; k++) ok = g[s + k]!.at === p.at + k;
    if (ok) return w;
  }
  return 1;
}

/** Nothing between the chunk's first load and last store clobbers its source or touches its bytes. */
function safe(b: Block, chunk: Pair[]): boolean {
  const lo = Math.min(...chunk.map((p) => p.load));
  const hi = Math.max(...chunk.map((p) => p.store));
  const mine = new Set(chunk.flatMap((p) => [p.load, p.store]));
  const slot = chunk[0]!.slot;
  const from = chunk[0]!.at;
  const to = from + chunk.length;
  const root = chunk[0]!.root;
  const touches = (base: VReg | Slot, off: number, size: number) =>
    base === slot && off < to && from < off + size;
  for (let k = lo + 1; k < hi; k++) {
    if (mine.has(k)) continue;
    const i = b.insts[k]!;
    if (def(i)?.id === root.id) return false;
    switch (i.op) {
      case "call":
      case "atomicAdd":
        return false;
      case "store":
        if (!isSlot(i.base) || touches(i.base, i.off, i.size)) return false;
        break;
      case "zero":
        if (!isSlot(i.base) || touches(i.base, i.off, i.size)) return false;
        break;
      case "copy":
        if (!isSlot(i.dst) || touches(i.dst, i.dstOff, i.size) || touches(i.src, i.srcOff, i.size))
          return false;
        break;
      case "load":
        if (touches(i.base, i.off, i.size)) return false;
        break;
      default:
        break;
    }
  }
  return true;
}
