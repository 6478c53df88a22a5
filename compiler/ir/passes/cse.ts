// Local common subexpression elimination: inside a block, a pure computation (an
// operator, an address, a pointer offset) or a load that repeats one whose result
// still sits in a vreg becomes a copy of that vreg, which folding then propagates.
// Loads are forgotten at every write to memory, and everything at a helper call (a
// helper may write a map value, adjustHead moves the packet; and a value kept across
// a call costs a callee-saved register). This is what lets `g === g` on a
// global be decided: two loads of g were two unknowns to the verifier, which then
// walked both outcomes of every such branch in every trip of a loop.
//
// Across blocks, a pure operator (`bin`, `un`) whose operands have one definition each
// repeats one in a dominating block with nothing but call-free paths in between: the
// verifier knows every such result only as what its own instructions proved, so two
// computations of one value from the same registers (`ctx.len as u8` tested in three
// nested ifs, fuzz seed 40851) fork their tests anew, where one register carries what
// the first test proved into the next.
import type { Block, Func, Inst, Operand, VReg } from "../ir.ts";
import { def, isImm, isSlot, uses } from "../ir.ts";
import { definitions, dominators, predecessors } from "../cfg.ts";

export function eliminateCommonSubexpressions(f: Func): boolean {
  let changed = false;
  for (const b of f.blocks) if (cseBlock(b)) changed = true;
  return changed;
}

const hasCall = (b: Block) => b.insts.some((i) => i.op === "call");

export function numberValues(f: Func): boolean {
  const defs = definitions(f);
  const params = new Set(f.params.map((p) => p.id));
  const idom = dominators(f);
  const children = new Map<Block, Block[]>();
  for (const [b, d] of idom) if (b !== d) (children.get(d) ?? children.set(d, []).get(d)!).push(b);
  const preds = predecessors(f);
  const single = (v: VReg) => (params.has(v.id) ? !defs.has(v.id) : defs.get(v.id)?.length === 1);

  // Value numbers: a vreg with one definition by an operator or a copy is numbered by
  // what it computes (a copy to the same type is its source), any other by itself.
  const interned = new Map<string, number>();
  const intern = (k: string) =>
    interned.get(k) ?? (interned.set(k, interned.size), interned.size - 1);
  const vns = new Map<number, number | null>();
  const vn = (o: Operand): number | null => {
    if (isImm(o)) return intern(`#${o}`);
    const known = vns.get(o.id);
    if (known !== undefined) return known;
    vns.set(o.id, null); // a cycle through copies numbers nothing
    let n: number | null = null;
    if (params.has(o.id)) n = intern(`v${o.id}`);
    else if (single(o)) {
      const at = defs.get(o.id)![0]!;
      const i = at.block.insts[at.index]!;
      const k = keyOfPure(i, vn);
      n =
        k === null
          ? intern(`v${o.id}`)
          : i.op === "mov" && !isImm(i.src) && i.src.ty === o.ty
            ? vn(i.src)
            : intern(k);
    }
    vns.set(o.id, n);
    return n;
  };

  // Whether some path from the end of `from` to the start of `to` (to strictly
  // dominated by from) calls a helper, not counting the two blocks' own instructions,
  // and whether such a path passes through `to` itself first.
  const between = new Map<string, { call: boolean; loops: boolean }>();
  const middle = (from: Block, to: Block) => {
    const key = `${from.id}:${to.id}`;
    const known = between.get(key);
    if (known) return known;
    const r = { call: false, loops: false };
    const seen = new Set<Block>();
    const work = [...preds.get(to)!];
    let budget = 256;
    while (work.length) {
      const x = work.pop()!;
      if (x === from || seen.has(x)) continue;
      seen.add(x);
      if (--budget < 0) {
        r.call = true; // too far apart to tell cheaply: keep both
        break;
      }
      if (x === to) r.loops = true;
      else if (hasCall(x)) r.call = true;
      work.push(...preds.get(x)!);
    }
    between.set(key, r);
    return r;
  };
  const callIn = (b: Block, from: number, to: number) => {
    for (let k = from; k < to; k++) if (b.insts[k]!.op === "call") return true;
    return false;
  };

  let changed = false;
  const avail = new Map<number, { v: VReg; block: Block; index: number }>();
  // A vreg is sound where its one definition dominates, and so do those of every
  // vreg its value number stands on: then two with one number hold one value (the
  // roots were not redefined after the dominating computation, as in SSA form).
  const sound = new Set<number>(f.params.filter(single).map((p) => p.id));
  const walk = (b: Block) => {
    const added: number[] = [];
    const defined: number[] = [];
    b.insts.forEach((i, index) => {
      const d = def(i);
      if (!d || !single(d)) return;
      const pure = i.op === "mov" || i.op === "bin" || i.op === "un";
      const ok = uses(i).every((u) => sound.has(u.id));
      // Any other definition is a value number of its own (a root).
      if (ok || !pure) {
        sound.add(d.id);
        defined.push(d.id);
      }
      if (!ok || (i.op !== "bin" && i.op !== "un")) return;
      if (d.ty !== "i32" && d.ty !== "i64") return;
      const n = vn(d);
      if (n === null) return;
      const h = avail.get(n);
      if (h && h.v.ty === d.ty && h.v.id !== d.id) {
        const clear =
          h.block === b
            ? !callIn(b, h.index + 1, index)
            : !callIn(h.block, h.index + 1, h.block.insts.length) &&
              !callIn(b, 0, index) &&
              !middle(h.block, b).call &&
              !(middle(h.block, b).loops && hasCall(b));
        if (clear) {
          b.insts[index] = { op: "mov", dst: d, src: h.v, span: i.span };
          changed = true;
          return;
        }
      }
      if (!h) {
        avail.set(n, { v: d, block: b, index });
        added.push(n);
      }
    });
    return { added, defined };
  };
  // Iterative preorder walk of the dominator tree, with scoped availability.
  const entry = f.blocks[0]!;
  type Frame = { b: Block; done?: { added: number[]; defined: number[] }; next: number };
  const stack: Frame[] = [{ b: entry, next: 0 }];
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    top.done ??= walk(top.b);
    const kids = children.get(top.b) ?? [];
    if (top.next < kids.length) {
      stack.push({ b: kids[top.next++]!, next: 0 });
      continue;
    }
    for (const n of top.done.added) avail.delete(n);
    for (const v of top.done.defined) sound.delete(v);
    stack.pop();
  }
  return changed;
}

/** The value a pure operator or copy computes, over its operands' value numbers. */
function keyOfPure(i: Inst, n: (o: Operand) => number | null): string | null {
  switch (i.op) {
    case "mov": {
      const a = n(i.src);
      return a === null ? null : `mov ${i.dst.ty} ${a}`;
    }
    case "bin": {
      const a = n(i.a);
      const b = n(i.b);
      return a === null || b === null ? null : `bin ${i.kind} ${i.w} ${i.dst.ty} ${a} ${b}`;
    }
    case "un": {
      const a = n(i.a);
      return a === null ? null : `un ${i.kind} ${i.w} ${i.dst.ty} ${a}`;
    }
    default:
      return null;
  }
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
