// Bounded loops made cheaper for the verifier, which walks every trip of every loop
// once per state that reaches it (issue 17: fuzz seeds 20889, 30917, 46284 ran out of
// the 1M budget, 40851 out of pending branches). Per natural loop, innermost first:
//
// 1. Loop-invariant code motion: a computation whose operands no trip changes moves to
//    a preheader: operators and copies, and loads from the context when the loop calls
//    no helper that moves the packet (adjustHead/Tail). Nothing else that reads
//    memory moves. A result the verifier sees as a packet pointer moves only when
//    nothing in the loop or after it uses it but other moved instructions (`ctx.len`'s
//    data and data_end): a packet pointer live around a loop carries each trip's ranges
//    into the head's states (docs/compiler.md, rule 4). Nor does a value compared with
//    one that changes from trip to trip: each trip would narrow it anew. Only vregs
//    with one definition in the function move. The next round's CSE merges what lands twice in a preheader.
// 2. Unswitching: the loop's first trip starts with a straight run of blocks. Once
//    invariant code is gone they are empty, and a branch among them that leaves the
//    loop on an invariant condition is taken on the first trip or never, so it moves
//    to the preheader and the loop keeps only its in-loop side. A branch on a fresh
//    unknown each trip forked every state at every trip.
// 3. A loop left with no effect (pure instructions only, one exit block, nothing it
//    defines read after it) is deleted: every loop of the language has a constant
//    bound, so it ends, and the verifier walked all its trips for nothing.
import type { Block, Func, Inst, Operand, Term, VReg } from "../ir.ts";
import { def, isImm, isPtr, isPure, successors, uses } from "../ir.ts";
import {
  liveness,
  naturalLoops,
  predecessors,
  removeUnreachable,
  reversePostOrder,
  type Loop,
} from "../cfg.ts";
import { BPF_FUNC } from "../../uapi/bpf.ts";
import { retarget } from "./simplify.ts";

/** Helpers after which the context's data, data_meta and data_end may differ. */
const MOVES_PACKET = new Set<number>([BPF_FUNC.xdp_adjust_head, BPF_FUNC.xdp_adjust_tail]);

export function optimizeLoops(f: Func): boolean {
  const loops = naturalLoops(f);
  if (!loops.length) return false;
  const defCount = new Map<number, number>();
  /** vreg id → the instructions and terminators that read it */
  const users = new Map<number, (Inst | Term)[]>();
  for (const b of f.blocks) {
    for (const i of b.insts) {
      const d = def(i);
      if (d) defCount.set(d.id, (defCount.get(d.id) ?? 0) + 1);
      for (const u of uses(i)) push(users, u.id, i);
    }
    if (b.term) for (const u of uses(b.term)) push(users, u.id, b.term);
  }
  const preds = predecessors(f);
  const pointers = pointerVregs(f);
  const bounded = boundedVregs(f, pointers);
  let live: ReturnType<typeof liveness> | null = null;
  // Liveness is computed once: what this pass moves and deletes only shrinks it. A block
  // made since (a preheader) is not in it; what is live into one is what its own
  // instructions read plus what is live where it jumps (an over-approximation).
  const liveAt = (b: Block): Set<number> => {
    live ??= liveness(f);
    const extra = new Set<number>();
    let x = b;
    for (const seen = new Set<Block>(); !live.liveIn.has(x) && !seen.has(x);) {
      seen.add(x);
      for (const i of x.insts) for (const u of uses(i)) extra.add(u.id);
      if (x.term) for (const u of uses(x.term)) extra.add(u.id);
      if (x.term?.op !== "jmp") {
        live = liveness(f);
        break;
      }
      x = x.term.target;
    }
    const known = live.liveIn.get(x);
    if (!known) return new Set([...(live.liveIn.get(b) ?? []), ...extra]);
    return extra.size ? new Set([...known, ...extra]) : known;
  };
  let changed = false;
  for (const loop of loops) {
    if (loop.header === f.blocks[0]) continue;
    const ctx: LoopCtx = { f, loop, loops, preds, preheader: null };
    const hoisted = invariantInsts(loop, defCount, users, pointers, bounded);
    if (hoisted.size) {
      const p = preheaderOf(ctx);
      for (const b of blocksInOrder(f, loop.body)) {
        const keep: Inst[] = [];
        for (const i of b.insts) (hoisted.has(i) ? p.insts : keep).push(i);
        b.insts = keep;
      }
      changed = true;
    }
    if (unswitch(ctx)) changed = true;
    if (deleteIfIdle(ctx, liveAt)) changed = true;
  }
  if (changed) removeUnreachable(f);
  return changed;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

function blocksInOrder(f: Func, body: Set<Block>): Block[] {
  return f.blocks.filter((b) => body.has(b));
}

/** The loop's instructions that may move to its preheader (see 1. above). */
function invariantInsts(
  loop: Loop,
  defCount: Map<number, number>,
  users: Map<number, (Inst | Term)[]>,
  pointers: Set<number>,
  bounded: Set<number>,
): Set<Inst> {
  const definedIn = new Set<number>();
  let movesPacket = false;
  for (const b of loop.body)
    for (const i of b.insts) {
      const d = def(i);
      if (d) definedIn.add(d.id);
      if (i.op === "call" && MOVES_PACKET.has(i.helper)) movesPacket = true;
    }
  const banned = new Set<Inst>();
  for (;;) {
    const hoisted = new Set<Inst>();
    const out = new Set<number>(); // defined in the loop by a hoisted instruction
    // Pointers read from the context by hoisted loads (never null, unlike a header
    // view or a map value kept in a vreg), and copies of them.
    const ctxPtr = new Set<number>();
    const inv = (o: Operand) => isImm(o) || !definedIn.has(o.id) || out.has(o.id);
    const ptrOk = (o: Operand) => isImm(o) || !pointers.has(o.id) || ctxPtr.has(o.id);
    for (let grew = true; grew;) {
      grew = false;
      for (const b of loop.body)
        for (const i of b.insts) {
          if (hoisted.has(i) || banned.has(i)) continue;
          const d = def(i);
          if (!d || defCount.get(d.id) !== 1 || !movable(i, movesPacket)) continue;
          if (i.op !== "load" && bounded.has(d.id)) continue;
          const us = uses(i);
          if (!us.every(inv) || !us.every(ptrOk)) continue;
          // Only a copy or the difference of two moves a pointer (data_end - data).
          if (i.op === "un" && pointers.has(us[0]?.id ?? -1)) continue;
          if (i.op === "bin" && us.some((u) => pointers.has(u.id))) {
            const both = us.length === 2 && us.every((u) => pointers.has(u.id));
            if (i.kind !== "sub" || !both) continue;
          }
          hoisted.add(i);
          out.add(d.id);
          if (pointers.has(d.id)) ctxPtr.add(d.id);
          grew = true;
        }
    }
    // A pointer moves only with all its readers, so none is live around the loop.
    let ok = true;
    // A value compared with one that changes from trip to trip (the counter) stays: kept
    // in a register around the loop, each trip's branch narrows it against another
    // bound, and the states at the head differ in its range (fuzz seed 66993: `ix <
    // ctx.rxQueue` pinned rxQueue to 17, 16, …, one state per combination).
    // So does one a branch inside the loop tests against an invariant, where neither side
    // leaves the loop: the first trip's outcome would split every later trip's states in
    // two, and the test, decided from then on, makes the value precise in all of them
    // (fuzz seed 127126: `(0 >= ctx.rxQueue ? 1 : 0) !== len` in an 18-trip loop, 1M+
    // processed instructions; reloaded each trip, the outcome dies at the join).
    for (const b of loop.body) {
      const t = b.term;
      if (t?.op !== "br") continue;
      const inside = loop.body.has(t.then) && loop.body.has(t.else);
      for (const [x, y] of [
        [t.a, t.b],
        [t.b, t.a],
      ] as const)
        if (!isImm(x) && out.has(x.id) && (!inv(y) || inside))
          for (const i of copiesOf(x, hoisted)) {
            banned.add(i);
            ok = false;
          }
    }
    for (const i of hoisted) {
      const d = def(i)!;
      if (!ctxPtr.has(d.id)) continue;
      if ((users.get(d.id) ?? []).every((u) => hoisted.has(u as Inst))) continue;
      banned.add(i);
      ok = false;
    }
    if (ok) return hoisted;
  }
}

/** The hoisted definition of `v` and of the vregs it copies (which the verifier links to it). */
function copiesOf(v: VReg, hoisted: Set<Inst>): Inst[] {
  const out: Inst[] = [];
  for (let x: Operand | undefined = v; x && !isImm(x);) {
    const id: number = x.id;
    const i = [...hoisted].find((h) => def(h)?.id === id);
    if (!i) break;
    out.push(i);
    x = i.op === "mov" ? i.src : undefined;
  }
  return out;
}

/**
 * Scalars whose range the verifier checks where they are used (pointer offsets, helper
 * arguments), and the operators and copies that compute them. The verifier learns a
 * range from a branch on a register, not on what was computed from it before the
 * branch: an array index scaled in a preheader ahead of the loop's bounds check is
 * unbounded at the access (fuzz seed 61141: "unbounded variable-offset read from
 * stack"). A load from the context still moves; what is computed from it stays.
 */
function boundedVregs(f: Func, pointers: Set<number>): Set<number> {
  const out = new Set<number>();
  const defs = new Map<number, Inst>();
  const add = (o: unknown) => {
    if (o && typeof o === "object" && "id" in o && !isImm(o as Operand)) {
      const id = (o as { id: number }).id;
      if (!pointers.has(id)) out.add(id);
    }
  };
  for (const b of f.blocks)
    for (const i of b.insts) {
      const d = def(i);
      if (d) defs.set(d.id, i);
      if (i.op === "ptrAdd") add(i.off);
      else if (i.op === "call") for (const a of i.args) add(a);
    }
  const work = [...out];
  while (work.length) {
    const i = defs.get(work.pop()!);
    if (!i || (i.op !== "mov" && i.op !== "bin" && i.op !== "un")) continue;
    for (const u of uses(i))
      if (!out.has(u.id) && !pointers.has(u.id)) {
        out.add(u.id);
        work.push(u.id);
      }
  }
  return out;
}

/** Vregs the verifier may see holding a pointer: typed so, or copied or offset from one. */
function pointerVregs(f: Func): Set<number> {
  const ptr = new Set<number>();
  const is = (o: Operand) => !isImm(o) && (isPtr(o.ty) || ptr.has(o.id));
  for (let grew = true; grew;) {
    grew = false;
    for (const b of f.blocks)
      for (const i of b.insts) {
        const d = def(i);
        if (!d || ptr.has(d.id)) continue;
        const p =
          isPtr(d.ty) ||
          (i.op === "mov" && is(i.src)) ||
          (i.op === "bin" && !(i.kind === "sub" && is(i.a) && is(i.b)) && (is(i.a) || is(i.b))) ||
          (i.op === "un" && is(i.a));
        if (!p) continue;
        ptr.add(d.id);
        grew = true;
      }
  }
  return ptr;
}

function movable(i: Inst, movesPacket: boolean): boolean {
  switch (i.op) {
    case "mov":
    case "bin":
    case "un":
      return true;
    case "load":
      return !movesPacket && "ty" in i.base && i.base.ty === "ctx";
    default:
      return false;
  }
}

interface LoopCtx {
  f: Func;
  loop: Loop;
  loops: Loop[];
  preds: Map<Block, Block[]>;
  /** The block every entry into the loop passes last, once made. */
  preheader: Block | null;
}

/** The loop's preheader: its one outside predecessor if that only jumps to it, else a new block. */
function preheaderOf(c: LoopCtx): Block {
  if (c.preheader) return c.preheader;
  const h = c.loop.header;
  const outside = (c.preds.get(h) ?? []).filter((p) => !c.loop.body.has(p));
  const only = outside[0];
  if (outside.length === 1 && only!.term?.op === "jmp") return (c.preheader = only!);
  const p = newBlockBefore(c, "preheader");
  for (const o of outside) retarget(o.term!, h, p);
  c.preds.set(p, outside);
  c.preds.set(h, [...(c.preds.get(h) ?? []).filter((x) => c.loop.body.has(x)), p]);
  return (c.preheader = p);
}

/** A new block `jmp header` laid out before the header, inside every enclosing loop. */
function newBlockBefore(c: LoopCtx, label: string): Block {
  const h = c.loop.header;
  const b: Block = {
    id: c.f.nextBlock++,
    label,
    insts: [],
    term: { op: "jmp", target: h },
  };
  c.f.blocks.splice(c.f.blocks.indexOf(h), 0, b);
  for (const l of c.loops) if (l !== c.loop && l.body.has(h)) l.body.add(b);
  return b;
}

/** Moves the invariant exits of the loop's first straight run of blocks to the preheader. */
function unswitch(c: LoopCtx): boolean {
  const { loop } = c;
  const h = loop.header;
  const definedIn = new Set<number>();
  for (const b of loop.body)
    for (const i of b.insts) {
      const d = def(i);
      if (d) definedIn.add(d.id);
    }
  const inv = (o: Operand) => isImm(o) || !definedIn.has(o.id);
  let changed = false;
  const seen = new Set<Block>();
  for (let b = loop.header; !seen.has(b) && !b.insts.length;) {
    seen.add(b);
    const t = b.term;
    let next: Block;
    if (t?.op === "jmp") next = t.target;
    else if (t?.op === "br" && loop.body.has(t.then) !== loop.body.has(t.else)) {
      if (!inv(t.a) || !inv(t.b)) break;
      const stay = loop.body.has(t.then) ? t.then : t.else;
      const p = preheaderOf(c);
      const q = newBlockBefore(c, "preheader");
      p.term = {
        ...t,
        then: t.then === stay ? q : t.then,
        else: t.else === stay ? q : t.else,
      };
      c.preheader = q;
      b.term = { op: "jmp", target: stay, span: t.span };
      const out = t.then === stay ? t.else : t.then;
      c.preds.set(q, [p]);
      c.preds.set(h, [...c.preds.get(h)!.filter((x) => x !== p), q]);
      c.preds.get(out)!.push(p);
      changed = true;
      next = stay;
    } else break;
    if (next === loop.header || !loop.body.has(next)) break;
    b = next;
  }
  return changed;
}

/** Deletes a loop that computes nothing used after it (see 3. above). */
function deleteIfIdle(c: LoopCtx, liveAt: (b: Block) => Set<number>): boolean {
  const { loop } = c;
  const exits = new Set<Block>();
  const defined: VReg[] = [];
  for (const b of loop.body) {
    for (const i of b.insts) {
      if (!isPure(i)) return false;
      const d = def(i);
      if (d) defined.push(d);
    }
    const t = b.term;
    if (!t || t.op === "ret") return false;
    for (const s of successors(t)) if (!loop.body.has(s)) exits.add(s);
  }
  if (exits.size !== 1) return false;
  const [exit] = exits as Set<Block> & [Block];
  const live = liveAt(exit!);
  if (defined.some((d) => live.has(d.id))) return false;
  const p = preheaderOf(c);
  retarget(p.term!, loop.header, exit!);
  c.preds.set(exit!, [...c.preds.get(exit!)!.filter((x) => !loop.body.has(x)), p]);
  for (const l of c.loops) if (l !== loop) for (const b of loop.body) l.body.delete(b);
  return true;
}
