// The reducer: shrinks a failing program while the failure keeps its class. It edits
// the program tree (gen.ts) and renders again, so both twins shrink together:
// deleting items and statements, replacing a compound statement by one of its
// blocks, replacing expressions by a child of the same type or a zero. A candidate
// that no longer builds (the checker rejects it, clang fails) simply does not
// reproduce, so the reducer needs no validity rules of its own.
import { runCase, type FuzzClass, type RunOptions } from "./campaign.ts";
import { zeroOf, type Expr, type Program, type Stmt } from "./gen.ts";

export interface Reduced {
  program: Program;
  detail: string;
  tries: number;
}

type Site = { list: Stmt[]; i: number };

function stmtSites(list: Stmt[], out: Site[] = []): Site[] {
  list.forEach((s, i) => {
    out.push({ list, i });
    for (const b of s.blocks) stmtSites(b, out);
  });
  return out;
}

type ESite = { holder: Expr[]; i: number };
function exprSites(list: Stmt[], out: ESite[] = []): ESite[] {
  const walk = (holder: Expr[]) =>
    holder.forEach((e, i) => {
      out.push({ holder, i });
      walk(e.kids);
    });
  for (const s of list) {
    walk(s.exprs);
    for (const b of s.blocks) exprSites(b, out);
  }
  return out;
}

/**
 * The part of a finding's detail a reduction must keep: the verifier's complaint
 * without its numbers, so that "8193 jumps is too complex" does not drift into some
 * other rejection on the way down. Other classes keep only their class.
 */
export function signature(cls: FuzzClass, detail: string): string | null {
  if (cls !== "verifier") return null;
  const known = ["too complex", "BPF program is too large", "unreachable insn", "back-edge"];
  const k = known.find((m) => detail.includes(m));
  if (k) return k;
  const last = detail.split(" | ").find((l) => /[a-z]{4}/.test(l) && !/^processed /.test(l));
  return last ? last.replace(/^\d+: \([0-9a-f]+\) /, "").replace(/[rw]?\d+/g, "") : null;
}

const sameFinding = (cls: FuzzClass, sig: string | null, r: { cls: FuzzClass; detail: string }) =>
  r.cls === cls && (sig === null || signature(cls, r.detail) === sig);

export function reduce(
  p: Program,
  cls: FuzzClass,
  opts: RunOptions = {},
  maxTries = 400,
  original = "",
): Reduced {
  let detail = "";
  const sig = signature(cls, original);
  const tries = shrink(
    p,
    () => {
      const r = runCase(p, opts);
      if (!sameFinding(cls, sig, r)) return false;
      detail = r.detail;
      return true;
    },
    maxTries,
  );
  return { program: p, detail, tries };
}

/**
 * Shrinks `p` in place while `keeps()` (which sees the edited `p`) stays true; returns
 * the tries. Any property can drive it: a finding's class, or a compile statistic.
 */
export function shrink(p: Program, keeps: () => boolean, maxTries = 400): number {
  let tries = 0;
  const still = (): boolean => {
    tries++;
    return keeps();
  };
  let progress = true;
  while (progress && tries < maxTries) {
    progress = false;
    // 1. delete statements and items (last first: later code depends on earlier)
    const sites = stmtSites(p.items).reverse();
    for (const { list, i } of sites) {
      if (tries >= maxTries) break;
      const s = list[i];
      if (!s || s.keep) continue;
      list.splice(i, 1);
      if (still()) progress = true;
      else list.splice(i, 0, s);
    }
    // 2. replace a statement by one of its blocks
    for (const { list, i } of stmtSites(p.items).reverse()) {
      if (tries >= maxTries) break;
      const s = list[i];
      if (!s || !s.blocks.length || s.kind === "program" || s.kind === "helper") continue;
      let done = false;
      for (const b of s.blocks) {
        list.splice(i, 1, ...b);
        if (still()) {
          progress = done = true;
          break;
        }
        list.splice(i, b.length, s);
      }
      if (done) break; // sites are stale
    }
    // 3. simplify expressions: a same-typed child, else a zero
    for (const { holder, i } of exprSites(p.items)) {
      if (tries >= maxTries) break;
      const e = holder[i]!;
      if (!e.kids.length && e.konst === undefined) continue;
      const cands = [...e.kids.filter((k) => k.t === e.t || sameT(k, e)), zeroOf(e.t)];
      for (const c of cands) {
        holder[i] = c;
        if (still()) {
          progress = true;
          break;
        }
        holder[i] = e;
      }
    }
  }
  return tries;
}

function sameT(a: Expr, b: Expr): boolean {
  if (a.t === "bool" || b.t === "bool") return a.t === b.t;
  return a.t.bits === b.t.bits && a.t.signed === b.t.signed;
}
