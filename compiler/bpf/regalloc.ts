// Linear-scan register allocation over r0–r9 with fixed ranges for the physical
// registers isel already uses (call arguments r1–r5, the result r0, the clobber
// of r0–r5 at every call, r1 = ctx at entry). A vreg live across a call therefore
// lands in r6–r9 or is spilled. A vreg is a hull (one range from first to last point)
// until the allocator would spill it; then it becomes a range with holes (only the
// blocks where it is live), which fits in gaps another vreg leaves, and only a vreg that
// does not fit even so is spilled (rule 20). Before any of that, copies between vregs
// that do not interfere are coalesced (coalesce()). Spilling gives the vreg an 8-byte
// stack slot below the frame (the verifier tracks pointers there too) and rewrites it
// into temporaries: a store after each definition, a reload where a use finds no
// temporary holding the value since the last call (spill()), and allocates again from
// scratch.
import * as I from "./insn.ts";
import { FP, isVirtual, regsOf, type MBlock, type MFunc, type MInst } from "./machine.ts";

export const STACK_LIMIT = 512;

export class RegallocError extends Error {
  /** The spills took the frame past STACK_LIMIT: the program's limit, not a compiler bug. */
  constructor(
    message: string,
    readonly stackTooLarge = false,
  ) {
    super(message);
  }
}

/** A closed range of positions. */
type Seg = [number, number];

interface Interval {
  reg: number; // virtual
  start: number;
  end: number;
  segs: Seg[]; // sorted, disjoint
  /** Where it is live (its per-block segments, whatever segs is). */
  live: Seg[];
}

/** Whether two sorted lists of disjoint segments share a position. */
function collide(a: Seg[], b: Seg[]): boolean {
  for (let i = 0, j = 0; i < a.length && j < b.length;) {
    if (a[i]![1] < b[j]![0]) i++;
    else if (b[j]![1] < a[i]![0]) j++;
    else return true;
  }
  return false;
}

/** The positions a physical register is taken at: disjoint segments sorted by start. */
class Occupancy {
  private readonly s: Seg[] = [];

  constructor(fixed: Seg[]) {
    // Fixed ranges of one register may touch or overlap (a call's clobber and an
    // argument); merged, they stay a sorted disjoint list.
    for (const x of [...fixed].sort((a, b) => a[0] - b[0])) {
      const last = this.s[this.s.length - 1];
      if (last && x[0] <= last[1]) last[1] = Math.max(last[1], x[1]);
      else this.s.push([x[0], x[1]]);
    }
  }

  /** The index of the first segment ending at or after p. */
  private find(p: number): number {
    let lo = 0;
    let hi = this.s.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.s[mid]![1] < p) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  collides(segs: Seg[]): boolean {
    for (const [a, b] of segs) {
      const k = this.find(a);
      if (k < this.s.length && this.s[k]![0] <= b) return true;
    }
    return false;
  }

  add(segs: Seg[]): void {
    for (const x of segs) this.s.splice(this.find(x[0]), 0, [x[0], x[1]]);
  }
}

const ORDER = [1, 2, 3, 4, 5, 0, 6, 7, 8, 9];

export function allocateRegisters(mf: MFunc): void {
  coalesce(mf);
  // Spill code three ways, the shortest kept (the first of equals): a reload before
  // every use of a spilled vreg; one reload per stretch of a block between calls; or the
  // value kept in one temporary per call-free stretch of single-predecessor blocks
  // (spill()). The last two save reloads, but their longer temporaries can push another
  // vreg out of registers.
  const results: MFunc[] = [];
  let error: unknown = null;
  for (const mode of SPILL_MODES) {
    const f = cloneFunc(mf);
    try {
      if (!allocate(f, mode)) {
        results.splice(0, results.length, f); // nothing spilled: the modes agree
        break;
      }
      results.push(f);
    } catch (e) {
      if (!(e instanceof RegallocError)) throw e;
      error ??= e;
    }
  }
  const size = (f: MFunc) => f.blocks.reduce((n, b) => n + b.insts.length, 0);
  const best = results.reduce<MFunc | null>((x, f) => (!x || size(f) < size(x) ? f : x), null);
  if (!best) throw error;
  mf.blocks = best.blocks;
  mf.frameSize = best.frameSize;
  mf.nextVreg = best.nextVreg;
}

/** Where a spilled vreg's reloaded value may be reused (see spill()). */
type SpillMode = "use" | "block" | "chain";
const SPILL_MODES: SpillMode[] = ["use", "block", "chain"];

/** A copy of mf whose blocks and instructions allocation may rewrite. */
function cloneFunc(mf: MFunc): MFunc {
  const blocks = new Map<MBlock, MBlock>(
    mf.blocks.map((b) => [b, { id: b.id, label: b.label, insts: [], succs: [] }]),
  );
  for (const [b, c] of blocks) {
    c.succs = b.succs.map((s) => blocks.get(s)!);
    c.insts = b.insts.map((m) => (m.target ? { ...m, target: blocks.get(m.target)! } : { ...m }));
  }
  return { ...mf, blocks: [...blocks.values()] };
}

/** Allocates mf; whether anything was spilled. */
function allocate(mf: MFunc, mode: SpillMode): boolean {
  const noSpill = new Set<number>();
  const holey = new Set<number>(); // vregs allocated as ranges with holes
  let spilled = false;
  for (let round = 0; round < 1000; round++) {
    const victim = tryAllocate(mf, noSpill, holey);
    if (victim === null) return spilled;
    // A victim gets holes before it is spilled.
    if (!holey.has(victim)) {
      holey.add(victim);
      continue;
    }
    spill(mf, victim, noSpill, mode);
    spilled = true;
    if (mf.frameSize > STACK_LIMIT)
      throw new RegallocError(`stack frame of ${mf.name} exceeds ${STACK_LIMIT} bytes`, true);
  }
  throw new RegallocError(`register allocation of ${mf.name} did not converge`);
}

/** Assigns registers and rewrites mf, or returns the vreg to spill. */
function tryAllocate(mf: MFunc, noSpill: Set<number>, holey: Set<number>): number | null {
  const pos = new Map<MInst, number>();
  const start = new Map<MBlock, number>();
  const end = new Map<MBlock, number>();
  let p = 0;
  for (const b of mf.blocks) {
    start.set(b, p++);
    for (const m of b.insts) pos.set(m, p++);
    end.set(b, p++);
  }
  const liveIn = liveness(mf);
  const liveOut = new Map<MBlock, Set<number>>(
    mf.blocks.map((b) => [b, new Set(b.succs.flatMap((s) => [...liveIn.get(s)!]))]),
  );
  // Live ranges: per block, the hull of the vreg's points there (from the
  // block's start when live-in, to its end when live-out). A use at instruction p sits at
  // 2p and a definition at 2p + 1, so a value last used where another is defined may
  // share its register, and every segment is a non-empty closed range. A vreg not in
  // holey gets the hull of its segments.
  const segs = new Map<number, Seg[]>();
  const fixed: Seg[][] = Array.from({ length: 10 }, () => []);
  const exits: Seg[] = [];
  const refs = new Map<number, number>();
  const hints = new Map<number, number[]>();
  const hint = (a: number, b: number) => {
    hints.set(a, [...(hints.get(a) ?? []), b]);
    hints.set(b, [...(hints.get(b) ?? []), a]);
  };
  for (const b of mf.blocks) {
    const local = new Map<number, Seg>();
    const touch = (r: number, at: number) => {
      const x = local.get(r);
      if (!x) local.set(r, [at, at]);
      else {
        x[0] = Math.min(x[0], at);
        x[1] = Math.max(x[1], at);
      }
    };
    for (const v of liveIn.get(b)!) touch(v, 2 * start.get(b)!);
    for (const v of liveOut.get(b)!) touch(v, 2 * end.get(b)! + 1);
    const open: (Seg | undefined)[] = [];
    for (const m of b.insts) {
      const at = pos.get(m)!;
      const { defs, uses } = regsOf(m);
      for (const r of [...defs, ...uses]) if (isVirtual(r)) refs.set(r, (refs.get(r) ?? 0) + 1);
      // The return value's r0, from its definition to `exit`, is checked against where
      // vregs are live, not their hulls (rule 24): a vreg whose hull merely spans
      // another path's return may still take r0. Where the definition is a call,
      // a vreg live across it is live in the segment and stays out.
      if (m.code === (I.BPF_JMP | I.BPF_EXIT)) {
        const r = open[0];
        if (r) exits.push(fixed[0]!.splice(fixed[0]!.lastIndexOf(r), 1)[0]!);
        open[0] = undefined;
        continue;
      }
      for (const u of uses) {
        if (isVirtual(u)) touch(u, 2 * at);
        else {
          const r =
            open[u] ??
            (fixed[u]!.push([2 * start.get(b)!, 2 * at]), fixed[u]![fixed[u]!.length - 1]!);
          r[1] = 2 * at;
          open[u] = r;
        }
      }
      for (const d of defs) {
        if (isVirtual(d)) touch(d, 2 * at + 1);
        else {
          const r: Seg = [2 * at + 1, 2 * at + 1];
          fixed[d]!.push(r);
          open[d] = r;
        }
      }
      if (isRegMove(m)) hint(m.dst, m.src);
    }
    for (const [v, x] of local) {
      const l = segs.get(v);
      if (l) l.push(x);
      else segs.set(v, [x]);
    }
  }
  const iv: Interval[] = [...segs].map(([reg, l]) => {
    l.sort((a, b) => a[0] - b[0]);
    const start = l[0]![0];
    const end = Math.max(...l.map((x) => x[1]));
    return { reg, start, end, segs: holey.has(reg) ? l : [[start, end]], live: l };
  });
  const sorted = iv.sort((a, b) => a.start - b.start || a.reg - b.reg);
  const occupied: Occupancy[] = fixed.map((l) => new Occupancy(l));
  const returns = new Occupancy(exits);
  const owners: Interval[][] = Array.from({ length: 10 }, () => []);
  const assign = new Map<number, number>();
  for (const x of sorted) {
    const free = (r: number) =>
      !occupied[r]!.collides(x.segs) && (r !== 0 || !returns.collides(x.live));
    const prefs = (hints.get(x.reg) ?? [])
      .map((h) => (isVirtual(h) ? assign.get(h) : h))
      .filter((r): r is number => r !== undefined && r < 10);
    const r = [...prefs, ...ORDER].find(free);
    if (r !== undefined) {
      assign.set(x.reg, r);
      occupied[r]!.add(x.segs);
      owners[r]!.push(x);
      continue;
    }
    // Spill the cheapest of this interval and those it collides with: long and rarely
    // used (each use of a spilled vreg costs a load, each definition a store).
    const length = (y: Interval) => y.segs.reduce((n, [s, e]) => n + e - s + 1, 0);
    const cost = (y: Interval) => (refs.get(y.reg) ?? 1) / length(y);
    let victim: Interval | null = noSpill.has(x.reg) ? null : x;
    for (let q = 0; q < 10; q++)
      for (const y of owners[q]!)
        if (
          !noSpill.has(y.reg) &&
          y.end >= x.start &&
          collide(x.segs, y.segs) &&
          (!victim || cost(y) < cost(victim))
        )
          victim = y;
    if (!victim) throw new RegallocError(`no register left in ${mf.name} and nothing to spill`);
    return victim.reg;
  }
  const map = (r: number) => (isVirtual(r) ? (assign.get(r) ?? 0) : r);
  for (const b of mf.blocks) {
    b.insts = b.insts.filter((m) => {
      const { defs, uses } = regsOf(m);
      if (defs.some(isVirtual) || uses.some(isVirtual) || isVirtual(m.dst) || isVirtual(m.src)) {
        m.dst = map(m.dst);
        if ((m.code & 0x07) !== I.BPF_LD) m.src = map(m.src);
      }
      return !(isRegMove(m) && m.dst === m.src);
    });
  }
  return null;
}

/** Block-level liveness of virtual registers. */
function liveness(mf: MFunc): Map<MBlock, Set<number>> {
  const gen = new Map<MBlock, Set<number>>();
  const kill = new Map<MBlock, Set<number>>();
  for (const b of mf.blocks) {
    const g = new Set<number>();
    const k = new Set<number>();
    for (const m of b.insts) {
      const { defs, uses } = regsOf(m);
      for (const u of uses) if (isVirtual(u) && !k.has(u)) g.add(u);
      for (const d of defs) if (isVirtual(d)) k.add(d);
    }
    gen.set(b, g);
    kill.set(b, k);
  }
  const liveIn = new Map<MBlock, Set<number>>(mf.blocks.map((b) => [b, new Set<number>()]));
  for (let changed = true; changed;) {
    changed = false;
    for (let k = mf.blocks.length - 1; k >= 0; k--) {
      const b = mf.blocks[k]!;
      const inn = liveIn.get(b)!;
      const n = inn.size;
      for (const v of gen.get(b)!) inn.add(v);
      for (const s of b.succs) for (const v of liveIn.get(s)!) if (!kill.get(b)!.has(v)) inn.add(v);
      if (inn.size !== n) changed = true;
    }
  }
  return liveIn;
}

/**
 * Copy coalescing, before any register is assigned: a copy d = s (64-bit) where d and s
 * are vregs with one definition each and d is not live just after s's definition (so s
 * holds the value d copied wherever d is live, around loops too) makes d another name
 * for s, and the copy goes. A move hint only drops a copy when s's register is free over
 * all of d's range; coalescing also drops it when s stays live after the copy. Copies
 * into or out of a vreg with several definitions (phi moves) stay hints: merging those
 * by interference alone made xlated smaller but grew the verifier's processed count of
 * router, xdp1 and xdp2 (rule 20).
 */
function coalesce(mf: MFunc): void {
  // Computed once: a merged vreg is live exactly where either half was, so each round
  // renames the sets rather than solving the dataflow again (seed 116888's copy chains
  // took 96 rounds, a second of its compile).
  const liveIn = liveness(mf);
  for (let changed = true; changed;) {
    changed = false;
    const defs = new Map<number, { b: MBlock; i: number }[]>();
    for (const b of mf.blocks)
      b.insts.forEach((m, i) => {
        for (const d of regsOf(m).defs)
          if (isVirtual(d)) defs.set(d, [...(defs.get(d) ?? []), { b, i }]);
      });
    // Whether v is live just after instruction i of block b.
    const liveAfter = (b: MBlock, i: number, v: number): boolean => {
      for (let k = i + 1; k < b.insts.length; k++) {
        const { defs: ds, uses } = regsOf(b.insts[k]!);
        if (uses.includes(v)) return true;
        if (ds.includes(v)) return false;
      }
      return b.succs.some((s) => liveIn.get(s)!.has(v));
    };
    const renamed = new Map<number, number>();
    // Several copies of one source merge into it in one round: each holds the source's
    // value wherever it is live (the source's def is not in its range). A vreg renamed
    // away is not a source in the same round, nor a source renamed away.
    const kept = new Set<number>();
    for (const b of mf.blocks)
      for (const m of b.insts) {
        if (!isRegMove(m) || (m.code & 0x07) !== I.BPF_ALU64) continue;
        const d = m.dst;
        const s = m.src;
        if (!isVirtual(d) || !isVirtual(s) || d === s) continue;
        if (renamed.has(d) || kept.has(d) || renamed.has(s)) continue;
        if (defs.get(d)?.length !== 1 || defs.get(s)?.length !== 1) continue;
        const at = defs.get(s)![0]!;
        if (liveAfter(at.b, at.i, d)) continue;
        renamed.set(d, s);
        kept.add(s);
      }
    if (!renamed.size) return;
    changed = true;
    const ren = (r: number) => renamed.get(r) ?? r;
    for (const b of mf.blocks) {
      for (const m of b.insts) {
        m.dst = ren(m.dst);
        if ((m.code & 0x07) !== I.BPF_LD) m.src = ren(m.src);
      }
      b.insts = b.insts.filter((m) => !(isRegMove(m) && m.dst === m.src && isVirtual(m.dst)));
    }
    for (const [b, live] of liveIn) liveIn.set(b, new Set([...live].map(ren)));
  }
}

/** A plain register copy (not a truncating mov32, not movsx). */
function isRegMove(m: MInst): boolean {
  const cls = m.code & 0x07;
  return (
    (cls === I.BPF_ALU || cls === I.BPF_ALU64) &&
    (m.code & 0xf0) === I.BPF_MOV &&
    (m.code & I.BPF_X) !== 0 &&
    !m.trunc &&
    m.off === 0
  );
}

/**
 * Gives v a stack slot and rewrites it into temporaries. Mode "use" reloads before every
 * use; "block" reuses the temporary a block last loaded or defined until a call (which
 * clobbers r0–r5; a temporary across it would want r6–r9, which are full); "chain" also
 * hands it on to a successor whose only predecessor the block is, so the value lives in
 * a caller-saved register between calls and on the stack across them.
 */
function spill(mf: MFunc, v: number, noSpill: Set<number>, mode: SpillMode): void {
  mf.frameSize += 8;
  const off = -mf.frameSize;
  // A doubleword access to v's slot: LDX (reload), STX (store) or ST (constant).
  const slotInst = (
    cls: number,
    dst: number,
    src: number,
    imm: number,
    span: MInst["span"],
  ): MInst => ({
    code: cls | I.BPF_MEM | I.BPF_DW,
    dst,
    src,
    off,
    imm,
    span,
  });
  const preds = new Map<MBlock, MBlock[]>(mf.blocks.map((b) => [b, []]));
  for (const b of mf.blocks) for (const s of b.succs) preds.get(s)!.push(b);
  // The temporary holding v's value at the end of each block done so far (split mode).
  const atEnd = new Map<MBlock, number | null>();
  for (const b of mf.blocks) {
    const out: MInst[] = [];
    const ps = preds.get(b)!;
    let cur: number | null = (mode === "chain" && ps.length === 1 && atEnd.get(ps[0]!)) || null;
    for (const m of b.insts) {
      const { defs, uses } = regsOf(m);
      if (!defs.includes(v) && !uses.includes(v)) {
        out.push(m);
        if ((m.code & 0x07) === I.BPF_JMP && (m.code & 0xf0) === I.BPF_CALL) cur = null;
        continue;
      }
      // A spilled constant is stored directly (st imm), no register needed. ST DW
      // sign-extends its imm like mov64 does; a mov32 imm must be non-negative to match.
      const cls = m.code & 0x07;
      if (
        m.dst === v &&
        (m.code & 0xf0) === I.BPF_MOV &&
        (m.code & I.BPF_X) === 0 &&
        (cls === I.BPF_ALU64 || (cls === I.BPF_ALU && m.imm >= 0))
      ) {
        out.push(slotInst(I.BPF_ST, FP, 0, m.imm, m.span));
        cur = null;
        continue;
      }
      let t: number;
      if (uses.includes(v) && cur !== null && mode !== "use") t = cur;
      else {
        t = 16 + mf.nextVreg++;
        noSpill.add(t);
        if (uses.includes(v)) out.push(slotInst(I.BPF_LDX, t, FP, 0, m.span));
      }
      if (m.dst === v) m.dst = t;
      if (m.src === v && (m.code & 0x07) !== I.BPF_LD) m.src = t;
      out.push(m);
      if (defs.includes(v)) out.push(slotInst(I.BPF_STX, FP, t, 0, m.span));
      cur = t;
    }
    b.insts = out;
    atEnd.set(b, cur);
  }
}
