// Byte forwarding: a store whose value is bytes of earlier loads, moved around by byte
// swaps, shifts by whole bytes, ors and truncations, stores those loads' registers
// instead. A MAC address is a 48-bit value: `e.dst = e.src` reads it as be16(load16) <<
// 32 | be32(load32) and writes it back as be16(v >> 32), be32(v) — fourteen
// instructions where two loads and two stores do (clang copies the bytes). The chain
// that computed the value then dies.
//
// Block-local: a vreg's bytes are tracked from its definition in the block, each byte
// a byte of some register value (a load's result, or any vreg as it is at that point)
// or known zero. A vreg redefined later in the block invalidates every byte taken from
// it, so a forwarded register always holds the value the bytes came from.
import type { Block, Func, Inst, Operand, VReg } from "../ir.ts";
import { def, isImm, isPtr, widthOf, wrap } from "../ir.ts";

/** One byte of a value: byte k of register v, zero, or unknown. */
type Byte = { v: VReg; k: number } | 0 | null;
type Bytes = Byte[];

/** A forwarded store may cost at most this many new instructions. */
const MAX_NEW = 4;

export function forwardBytes(f: Func): boolean {
  let changed = false;
  for (const b of f.blocks) changed = forwardBlock(f, b) || changed;
  return changed;
}

function own(v: VReg): Bytes {
  const n = widthOf(v.ty) / 8;
  return Array.from({ length: 8 }, (_, k) => (k < n ? { v, k } : 0));
}

function forwardBlock(f: Func, b: Block): boolean {
  const env = new Map<number, Bytes>();
  // Which tracked vregs hold bytes of each register.
  const readers = new Map<number, Set<number>>();
  const bytesOf = (o: Operand): Bytes | null => {
    if (isImm(o)) return null;
    if (isPtr(o.ty)) return null;
    return env.get(o.id) ?? own(o);
  };
  // The latest definition in the block so far of each vreg.
  const defAt = new Map<number, Inst>();
  /**
   * Byte-moving instructions (not moves) the block spent computing v from the registers
   * in `kept` (the forwarded store's sources, which stay live: what computed them is no
   * saving).
   */
  const cost = (v: VReg, seen: Set<Inst>, kept: Set<number>): number => {
    const i = defAt.get(v.id);
    if (!i || seen.has(i) || kept.has(v.id)) return 0;
    seen.add(i);
    if (i.op === "mov") return isImm(i.src) ? 0 : cost(i.src, seen, kept);
    if (i.op === "un") return isImm(i.a) ? 0 : 1 + cost(i.a, seen, kept);
    if (i.op === "bin" && ["or", "shl", "lshr", "and"].includes(i.kind))
      return (
        1 + (isImm(i.a) ? 0 : cost(i.a, seen, kept)) + (isImm(i.b) ? 0 : cost(i.b, seen, kept))
      );
    return 0;
  };
  let changed = false;
  const out: Inst[] = [];
  for (const i of b.insts) {
    if (i.op === "store" && !isImm(i.src) && !isPtr(i.src.ty)) {
      const bs = bytesOf(i.src)!.slice(0, i.size);
      const made = synthesize(f, bs, i.src, i.span);
      const spent = (is: Inst[]) => is.filter((x) => x.op !== "mov").length;
      if (made && spent(made.insts) < cost(i.src, new Set(), new Set(made.from.map((v) => v.id)))) {
        out.push(...made.insts);
        out.push({ ...i, src: made.v });
        changed = true;
        continue;
      }
    }
    out.push(i);
    const d = def(i);
    if (!d) continue;
    defAt.set(d.id, i);
    // The old value of d is gone: bytes taken from it are no longer known.
    for (const id of readers.get(d.id) ?? []) {
      const bs = env.get(id);
      if (bs)
        env.set(
          id,
          bs.map((x) => (x && x.v.id === d.id ? null : x)),
        );
    }
    readers.delete(d.id);
    env.delete(d.id);
    if (isPtr(d.ty)) continue;
    const t = transfer(i, bytesOf);
    if (!t) continue;
    const bs = t.map((x) => (x && x.v.id === d.id ? null : x));
    env.set(d.id, bs);
    for (const x of bs)
      if (x) {
        const r = readers.get(x.v.id);
        if (r) r.add(d.id);
        else readers.set(x.v.id, new Set([d.id]));
      }
  }
  b.insts = out;
  return changed;
}

function transfer(i: Inst, bytesOf: (o: Operand) => Bytes | null): Bytes | null {
  const d = def(i)!;
  const n = widthOf(d.ty) / 8;
  const clip = (bs: Bytes, w: number): Bytes => bs.map((x, k) => (k < w ? x : 0));
  switch (i.op) {
    case "mov": {
      const s = bytesOf(i.src);
      return s ? clip(s, n) : null;
    }
    case "un": {
      const s = bytesOf(i.a);
      if (!s) return null;
      switch (i.kind) {
        case "be16":
          return clip([s[1]!, s[0]!, 0, 0, 0, 0, 0, 0], n);
        case "be32":
          return clip([s[3]!, s[2]!, s[1]!, s[0]!, 0, 0, 0, 0], n);
        case "be64":
          return clip([...s].reverse(), n);
        case "zext8":
          return clip(s, 1);
        case "zext16":
          return clip(s, 2);
        case "zext32":
          return clip(s, 4);
        default:
          return null;
      }
    }
    case "bin": {
      const w = i.w / 8;
      const a = bytesOf(i.a);
      if (!a) return null;
      const sa = clip(a, w);
      if (i.kind === "or") {
        const c = bytesOf(i.b);
        if (!c) return null;
        const sc = clip(c, w);
        return clip(
          sa.map((x, k) => (x === 0 ? sc[k]! : sc[k] === 0 ? x : null)),
          n,
        );
      }
      if (!isImm(i.b)) return null;
      const c = wrap(i.b, i.w);
      if ((i.kind === "shl" || i.kind === "lshr") && c % 8n === 0n && c < BigInt(i.w)) {
        const s = Number(c) / 8;
        const r: Bytes = Array.from({ length: 8 }, (_, k) => {
          if (k >= w) return 0;
          const from = i.kind === "shl" ? k - s : k + s;
          return from >= 0 && from < w ? sa[from]! : 0;
        });
        return clip(r, n);
      }
      if (i.kind === "and") {
        const r: Bytes = [];
        for (let k = 0; k < 8; k++) {
          const m = (c >> BigInt(8 * k)) & 0xffn;
          if (m !== 0n && m !== 0xffn) return null;
          r.push(m === 0n ? 0 : sa[k]!);
        }
        return clip(r, n);
      }
      return null;
    }
    default:
      return null;
  }
}

/** Runs of consecutive bytes of one register, as placed in the stored value. */
interface Run {
  v: VReg;
  from: number;
  at: number;
  len: number;
}

/**
 * The stored bytes built from the registers they came from, when that takes at most
 * MAX_NEW instructions and is not the stored operand itself. Null otherwise.
 */
function synthesize(
  f: Func,
  bs: Bytes,
  src: VReg,
  span: Inst["span"],
): { insts: Inst[]; v: VReg; from: VReg[] } | null {
  const runs: Run[] = [];
  for (let k = 0; k < bs.length; k++) {
    const x = bs[k];
    if (x === null || x === undefined) return null;
    if (x === 0) continue;
    const last = runs[runs.length - 1];
    if (last && last.v.id === x.v.id && last.from + last.len === x.k && last.at + last.len === k)
      last.len++;
    else runs.push({ v: x.v, from: x.k, at: k, len: 1 });
  }
  if (!runs.length) return null;
  if (runs.length === 1 && runs[0]!.from === 0 && runs[0]!.at === 0) {
    const r = runs[0]!;
    if (r.v.id === src.id) return null;
    // Bytes above the run that the store writes must be zero in the register too.
    if (!clean(r, bs.length)) return null;
    return { insts: [], v: r.v, from: [r.v] };
  }
  const w = bs.length > 4 ? 64 : 32;
  const ty = w === 64 ? "i64" : "i32";
  const insts: Inst[] = [];
  const fresh = (t: "i32" | "i64"): VReg => ({ id: f.nextVReg++, ty: t });
  let acc: VReg | null = null;
  for (const r of runs) {
    if (!clean(r, bs.length)) return null;
    let t: VReg = r.v;
    // Widen before a shift left, narrow after a shift right: no byte is lost.
    if (t.ty !== ty && ty === "i64") {
      const m = fresh("i64");
      insts.push({ op: "mov", dst: m, src: t, span });
      t = m;
    }
    const sw = widthOf(t.ty);
    const tt = t.ty === "i64" ? "i64" : "i32";
    if (r.from !== r.at) {
      const s = fresh(tt);
      insts.push({
        op: "bin",
        kind: r.from > r.at ? "lshr" : "shl",
        w: sw,
        dst: s,
        a: t,
        b: BigInt(8 * Math.abs(r.from - r.at)),
        span,
      });
      t = s;
    }
    if (t.ty !== ty) {
      const m = fresh(ty);
      insts.push({ op: "mov", dst: m, src: t, span });
      t = m;
    }
    if (acc) {
      const o = fresh(ty);
      insts.push({ op: "bin", kind: "or", w, dst: o, a: acc, b: t, span });
      acc = o;
    } else acc = t;
  }
  if (insts.filter((i) => i.op !== "mov").length > MAX_NEW) return null;
  return { insts, v: acc!, from: runs.map((r) => r.v) };
}

/**
 * Whether the register, shifted into place, puts no byte of its own outside the run
 * within the stored width (the shift brings in zeros; bytes past the width are not
 * stored).
 */
function clean(r: Run, width: number): boolean {
  const size = widthOf(r.v.ty) / 8;
  // Shifted into place, the register covers [at - from, at - from + size).
  const below = r.from === 0 || r.at === 0;
  const above = r.at + r.len >= width || r.from + r.len >= size;
  return below && above;
}
