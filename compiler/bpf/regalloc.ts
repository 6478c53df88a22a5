// Linear-scan register allocation over r0–r9 with fixed ranges for the physical
// registers isel already uses (call arguments r1–r5, the result r0, the clobber
// of r0–r5 at every call, r1 = ctx at entry). A vreg live across a call therefore
// lands in r6–r9 or is spilled. Spilling rewrites the spilled vreg into short-lived
// temporaries around each use and definition (8-byte stack slots below the frame,
// which the verifier tracks for pointers too) and allocates again from scratch.
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

interface Interval {
  reg: number; // virtual
  start: number;
  end: number;
}

const ORDER = [1, 2, 3, 4, 5, 0, 6, 7, 8, 9];

export function allocateRegisters(mf: MFunc): void {
  const noSpill = new Set<number>();
  for (let round = 0; round < 1000; round++) {
    const victim = tryAllocate(mf, noSpill);
    if (victim === null) return;
    spill(mf, victim, noSpill);
    if (mf.frameSize > STACK_LIMIT)
      throw new RegallocError(`stack frame of ${mf.name} exceeds ${STACK_LIMIT} bytes`, true);
  }
  throw new RegallocError(`register allocation of ${mf.name} did not converge`);
}

/** Assigns registers and rewrites mf, or returns the vreg to spill. */
function tryAllocate(mf: MFunc, noSpill: Set<number>): number | null {
  const pos = new Map<MInst, number>();
  const start = new Map<MBlock, number>();
  const end = new Map<MBlock, number>();
  let p = 0;
  for (const b of mf.blocks) {
    start.set(b, p++);
    for (const m of b.insts) pos.set(m, p++);
    end.set(b, p++);
  }
  // Block-level liveness of virtual registers.
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
  const liveOut = new Map<MBlock, Set<number>>(mf.blocks.map((b) => [b, new Set<number>()]));
  for (let changed = true; changed;) {
    changed = false;
    for (let k = mf.blocks.length - 1; k >= 0; k--) {
      const b = mf.blocks[k]!;
      const out = liveOut.get(b)!;
      for (const s of b.succs) for (const v of liveIn.get(s)!) out.add(v);
      const inn = liveIn.get(b)!;
      const n = inn.size;
      for (const v of gen.get(b)!) inn.add(v);
      for (const v of out) if (!kill.get(b)!.has(v)) inn.add(v);
      if (inn.size !== n) changed = true;
    }
  }
  // Intervals (hull of every point where the vreg is live) and fixed physical ranges.
  const iv = new Map<number, Interval>();
  const touch = (r: number, at: number) => {
    const x = iv.get(r);
    if (!x) iv.set(r, { reg: r, start: at, end: at });
    else {
      x.start = Math.min(x.start, at);
      x.end = Math.max(x.end, at);
    }
  };
  const fixed: [number, number][][] = Array.from({ length: 10 }, () => []);
  const refs = new Map<number, number>();
  const hints = new Map<number, number[]>();
  const hint = (a: number, b: number) => {
    hints.set(a, [...(hints.get(a) ?? []), b]);
    hints.set(b, [...(hints.get(b) ?? []), a]);
  };
  for (const b of mf.blocks) {
    for (const v of liveIn.get(b)!) touch(v, start.get(b)!);
    for (const v of liveOut.get(b)!) touch(v, end.get(b)!);
    const open: ([number, number] | undefined)[] = [];
    for (const m of b.insts) {
      const at = pos.get(m)!;
      const { defs, uses } = regsOf(m);
      for (const r of [...defs, ...uses]) if (isVirtual(r)) refs.set(r, (refs.get(r) ?? 0) + 1);
      for (const u of uses) {
        if (isVirtual(u)) touch(u, at);
        else {
          const r =
            open[u] ?? (fixed[u]!.push([start.get(b)!, at]), fixed[u]![fixed[u]!.length - 1]!);
          r[1] = at;
          open[u] = r;
        }
      }
      for (const d of defs) {
        if (isVirtual(d)) touch(d, at);
        else {
          const r: [number, number] = [at, at];
          fixed[d]!.push(r);
          open[d] = r;
        }
      }
      if (isRegMove(m)) hint(m.dst, m.src);
    }
  }
  const overlaps = (a0: number, a1: number, b0: number, b1: number) => a0 < b1 && b0 < a1;
  const sorted = [...iv.values()].sort((a, b) => a.start - b.start || a.reg - b.reg);
  const byReg: Interval[][] = Array.from({ length: 10 }, () => []);
  const assign = new Map<number, number>();
  for (const x of sorted) {
    const free = (r: number) =>
      !fixed[r]!.some(([s, e]) => overlaps(x.start, x.end, s, e)) &&
      !byReg[r]!.some((y) => overlaps(x.start, x.end, y.start, y.end));
    const prefs = (hints.get(x.reg) ?? [])
      .map((h) => (isVirtual(h) ? assign.get(h) : h))
      .filter((r): r is number => r !== undefined && r < 10);
    const r = [...prefs, ...ORDER].find(free);
    if (r !== undefined) {
      assign.set(x.reg, r);
      byReg[r]!.push(x);
      continue;
    }
    // Spill the cheapest of this interval and those it collides with: long and rarely
    // used (each use of a spilled vreg costs a load, each definition a store).
    const cost = (y: Interval) => (refs.get(y.reg) ?? 1) / (y.end - y.start + 1);
    let victim: Interval | null = noSpill.has(x.reg) ? null : x;
    for (let q = 0; q < 10; q++)
      for (const y of byReg[q]!)
        if (
          !noSpill.has(y.reg) &&
          overlaps(x.start, x.end, y.start, y.end) &&
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

function spill(mf: MFunc, v: number, noSpill: Set<number>): void {
  mf.frameSize += 8;
  const off = -mf.frameSize;
  for (const b of mf.blocks) {
    const out: MInst[] = [];
    for (const m of b.insts) {
      const { defs, uses } = regsOf(m);
      if (!defs.includes(v) && !uses.includes(v)) {
        out.push(m);
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
        out.push({
          code: I.BPF_ST | I.BPF_MEM | I.BPF_DW,
          dst: FP,
          src: 0,
          off,
          imm: m.imm,
          span: m.span,
        });
        continue;
      }
      const t = 16 + mf.nextVreg++;
      noSpill.add(t);
      if (uses.includes(v))
        out.push({
          code: I.BPF_LDX | I.BPF_MEM | I.BPF_DW,
          dst: t,
          src: FP,
          off,
          imm: 0,
          span: m.span,
        });
      if (m.dst === v) m.dst = t;
      if (m.src === v && (m.code & 0x07) !== I.BPF_LD) m.src = t;
      out.push(m);
      if (defs.includes(v))
        out.push({
          code: I.BPF_STX | I.BPF_MEM | I.BPF_DW,
          dst: FP,
          src: t,
          off,
          imm: 0,
          span: m.span,
        });
    }
    b.insts = out;
  }
}
