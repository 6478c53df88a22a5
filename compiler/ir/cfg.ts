// Control-flow graph queries: predecessors, reverse post-order, dominators,
// liveness. Recomputed on demand; functions are small (a filter is a few hundred
// blocks at most), so clarity beats incremental maintenance.
import type { Block, Func, VReg } from "./ir.ts";
import { def, successors, uses } from "./ir.ts";

export function predecessors(f: Func): Map<Block, Block[]> {
  const preds = new Map<Block, Block[]>();
  for (const b of f.blocks) preds.set(b, []);
  for (const b of f.blocks) for (const s of successors(b.term)) preds.get(s)?.push(b);
  return preds;
}

/** Blocks reachable from the entry, in reverse post-order. */
export function reversePostOrder(f: Func): Block[] {
  const seen = new Set<Block>();
  const post: Block[] = [];
  // Iterative DFS: deep if/else chains would overflow a recursive one.
  const stack: { b: Block; i: number }[] = [{ b: f.blocks[0]!, i: 0 }];
  seen.add(f.blocks[0]!);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const succ = successors(top.b.term);
    if (top.i < succ.length) {
      const s = succ[top.i++]!;
      if (!seen.has(s)) {
        seen.add(s);
        stack.push({ b: s, i: 0 });
      }
    } else {
      post.push(top.b);
      stack.pop();
    }
  }
  return post.reverse();
}

/**
 * Blocks on a cycle of the CFG (a bounded loop's body), by strongly connected
 * components: Kosaraju's second walk, over predecessors in reverse post-order.
 */
export function cyclicBlocks(f: Func): Set<Block> {
  const preds = predecessors(f);
  const comp = new Map<Block, number>();
  const out = new Set<Block>();
  const order = reversePostOrder(f);
  const reached = new Set(order);
  let n = 0;
  for (const root of order) {
    if (comp.has(root)) continue;
    const members: Block[] = [];
    const stack = [root];
    comp.set(root, n);
    while (stack.length) {
      const b = stack.pop()!;
      members.push(b);
      for (const p of preds.get(b) ?? [])
        if (!comp.has(p) && reached.has(p)) {
          comp.set(p, n);
          stack.push(p);
        }
    }
    const self = (b: Block) => successors(b.term).includes(b);
    if (members.length > 1 || self(root)) for (const b of members) out.add(b);
    n++;
  }
  return out;
}

/**
 * Per block, the fewest conditional branches (br, guard) on a path from its start to a
 * back edge (a jump to a block no later in reverse post-order), its own included:
 * what a walk that goes on to the next trip of a loop forks at least. Blocks from which
 * no back edge is reached are absent.
 */
export function forksToBackEdge(f: Func): Map<Block, number> {
  const rpo = reversePostOrder(f);
  const index = new Map(rpo.map((b, i) => [b, i]));
  const w = (b: Block) => (b.term?.op === "br" || b.term?.op === "guard" ? 1 : 0);
  const preds = predecessors(f);
  const dist = new Map<Block, number>();
  // 0-1 breadth-first search backwards from the back edges' sources.
  const deque: Block[] = [];
  for (const b of rpo)
    if (successors(b.term).some((s) => index.get(s)! <= index.get(b)!)) {
      dist.set(b, w(b));
      deque.push(b);
    }
  deque.sort((a, b) => dist.get(a)! - dist.get(b)!);
  while (deque.length) {
    const s = deque.shift()!;
    const d = dist.get(s)!;
    for (const p of preds.get(s) ?? []) {
      if (!index.has(p) || index.get(s)! <= index.get(p)!) continue;
      const nd = d + w(p);
      if (nd >= (dist.get(p) ?? Infinity)) continue;
      dist.set(p, nd);
      if (w(p)) deque.push(p);
      else deque.unshift(p);
    }
  }
  return dist;
}

export interface Loop {
  header: Block;
  body: Set<Block>;
  /** The sources of its back edges. */
  latches: Block[];
}

/** Natural loops (a back edge's target dominates its source), innermost first. */
export function naturalLoops(f: Func): Loop[] {
  const idom = dominators(f);
  const preds = predecessors(f);
  const rpo = new Map(reversePostOrder(f).map((b, i) => [b, i]));
  const byHeader = new Map<Block, Set<Block>>();
  const latches = new Map<Block, Block[]>();
  for (const b of f.blocks) {
    if (!idom.has(b)) continue;
    for (const h of successors(b.term)) {
      // Only a retreating edge can be a back edge: the dominance walk is for those.
      if (rpo.get(h)! > rpo.get(b)! || !dominates(idom, h, b)) continue;
      let body = byHeader.get(h);
      if (!body) byHeader.set(h, (body = new Set([h])));
      latches.set(h, [...(latches.get(h) ?? []), b]);
      const work = [b];
      while (work.length) {
        const x = work.pop()!;
        if (body.has(x)) continue;
        body.add(x);
        for (const p of preds.get(x) ?? []) if (idom.has(p)) work.push(p);
      }
    }
  }
  return [...byHeader]
    .map(([header, body]) => ({ header, body, latches: latches.get(header)! }))
    .sort((a, b) => a.body.size - b.body.size);
}

/** Drops blocks not reachable from the entry, keeping the layout order of the rest. */
export function removeUnreachable(f: Func): boolean {
  const live = new Set(reversePostOrder(f));
  const before = f.blocks.length;
  f.blocks = f.blocks.filter((b) => live.has(b));
  return f.blocks.length !== before;
}

/** Immediate dominators (Cooper, Harvey, Kennedy). The entry maps to itself. */
export function dominators(f: Func): Map<Block, Block> {
  const rpo = reversePostOrder(f);
  const index = new Map(rpo.map((b, i) => [b, i]));
  const preds = predecessors(f);
  const idom = new Map<Block, Block>();
  const entry = rpo[0]!;
  idom.set(entry, entry);
  const intersect = (a: Block, b: Block): Block => {
    while (a !== b) {
      while (index.get(a)! > index.get(b)!) a = idom.get(a)!;
      while (index.get(b)! > index.get(a)!) b = idom.get(b)!;
    }
    return a;
  };
  let changed = true;
  while (changed) {
    changed = false;
    for (const b of rpo.slice(1)) {
      let nd: Block | undefined;
      for (const p of preds.get(b)!) {
        if (!idom.has(p)) continue;
        nd = nd ? intersect(p, nd) : p;
      }
      if (nd && idom.get(b) !== nd) {
        idom.set(b, nd);
        changed = true;
      }
    }
  }
  return idom;
}

export function dominates(idom: Map<Block, Block>, a: Block, b: Block): boolean {
  for (let x = b; ; x = idom.get(x)!) {
    if (x === a) return true;
    if (idom.get(x) === x || !idom.has(x)) return false;
  }
}

/** Live-in sets of vreg ids per block (backward dataflow to a fixpoint). */
export function liveness(f: Func): {
  liveIn: Map<Block, Set<number>>;
  liveOut: Map<Block, Set<number>>;
} {
  const gen = new Map<Block, Set<number>>();
  const kill = new Map<Block, Set<number>>();
  for (const b of f.blocks) {
    const g = new Set<number>();
    const k = new Set<number>();
    for (const i of b.insts) {
      for (const u of uses(i)) if (!k.has(u.id)) g.add(u.id);
      const d = def(i);
      if (d) k.add(d.id);
    }
    if (b.term) for (const u of uses(b.term)) if (!k.has(u.id)) g.add(u.id);
    gen.set(b, g);
    kill.set(b, k);
  }
  const liveIn = new Map<Block, Set<number>>();
  const liveOut = new Map<Block, Set<number>>();
  for (const b of f.blocks) {
    liveIn.set(b, new Set());
    liveOut.set(b, new Set());
  }
  let changed = true;
  const order = [...f.blocks].reverse();
  while (changed) {
    changed = false;
    for (const b of order) {
      const out = liveOut.get(b)!;
      for (const s of successors(b.term)) for (const v of liveIn.get(s) ?? []) out.add(v);
      const inn = liveIn.get(b)!;
      const size = inn.size;
      for (const v of gen.get(b)!) inn.add(v);
      for (const v of out) if (!kill.get(b)!.has(v)) inn.add(v);
      if (inn.size !== size) changed = true;
    }
  }
  return { liveIn, liveOut };
}

/** Every definition of every vreg, for single-definition queries. */
export function definitions(f: Func): Map<number, { block: Block; index: number }[]> {
  const defs = new Map<number, { block: Block; index: number }[]>();
  for (const b of f.blocks)
    b.insts.forEach((i, index) => {
      const d = def(i);
      if (!d) return;
      const l = defs.get(d.id);
      if (l) l.push({ block: b, index });
      else defs.set(d.id, [{ block: b, index }]);
    });
  return defs;
}

export type { VReg };
