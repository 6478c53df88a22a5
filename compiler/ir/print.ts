// Stable text form of the IR for golden tests and --dump-ir. One instruction per
// line; a vreg prints as %id (or %name.id) and shows its type where it is defined.
import type { Arg, Base, Block, Func, Inst, Operand, Slot, Term, VReg } from "./ir.ts";
import { isSlot } from "./ir.ts";

export function vregName(v: VReg): string {
  return v.name ? `%${v.name}.${v.id}` : `%${v.id}`;
}
function defn(v: VReg): string {
  return `${vregName(v)}:${v.ty}`;
}
function imm(v: bigint): string {
  return v < 0n || v > 0xffffn
    ? v < 0n
      ? `-0x${(-v).toString(16)}`
      : `0x${v.toString(16)}`
    : String(v);
}
export function operand(o: Operand): string {
  return typeof o === "bigint" ? imm(o) : vregName(o);
}
function slotName(s: Slot): string {
  return s.name ? `$${s.name}.${s.id}` : `$${s.id}`;
}
function base(b: Base, off: number): string {
  const n = isSlot(b) ? slotName(b) : vregName(b);
  return off === 0 ? `[${n}]` : off > 0 ? `[${n} + ${off}]` : `[${n} - ${-off}]`;
}
function arg(a: Arg): string {
  if (typeof a === "bigint" || "ty" in a) return operand(a);
  if ("map" in a) return `map ${a.map}`;
  if ("slot" in a) return `&${base(a.slot, a.off).slice(1, -1)}`;
  return `&${a.global}+${a.off}`;
}
export function blockName(b: Block): string {
  return `${b.label}${b.id}`;
}

export function printInst(i: Inst): string {
  switch (i.op) {
    case "mov":
      return `${defn(i.dst)} = ${operand(i.src)}`;
    case "bin":
      return `${defn(i.dst)} = ${i.kind}${i.w} ${operand(i.a)}, ${operand(i.b)}`;
    case "un":
      return `${defn(i.dst)} = ${i.kind}${i.w} ${operand(i.a)}`;
    case "load":
      return `${defn(i.dst)} = load${i.size * 8} ${base(i.base, i.off)}`;
    case "store":
      return `store${i.size * 8} ${base(i.base, i.off)}, ${operand(i.src)}`;
    case "atomicAdd":
      return `atomic.add${i.size * 8} ${base(i.base, i.off)}, ${operand(i.src)}`;
    case "call":
      return `${i.dst ? defn(i.dst) + " = " : ""}call ${i.helper}(${i.args.map(arg).join(", ")})`;
    case "addr":
      return `${defn(i.dst)} = addr ${arg(i.of)}`;
    case "ptrAdd":
      return `${defn(i.dst)} = ptradd ${vregName(i.base)}, ${operand(i.off)}`;
    case "copy":
      return `copy ${base(i.dst, i.dstOff)}, ${base(i.src, i.srcOff)}, ${i.size}`;
    case "zero":
      return `zero ${base(i.base, i.off)}, ${i.size}`;
  }
}

export function printTerm(t: Term | null): string {
  if (!t) return "<unterminated>";
  switch (t.op) {
    case "jmp":
      return `jmp ${blockName(t.target)}`;
    case "br":
      return `br ${t.cc}${t.w} ${operand(t.a)}, ${operand(t.b)} ? ${blockName(t.then)} : ${blockName(t.else)}`;
    case "guard":
      return `guard ${vregName(t.ptr)} + ${t.n} <= ${vregName(t.end)} ? ${blockName(t.ok)} : ${blockName(t.fail)}`;
    case "ret":
      return `ret ${operand(t.value)}`;
  }
}

export function printFunc(f: Func): string {
  const lines = [`func ${f.name}(${f.params.map(defn).join(", ")}) {`];
  for (const s of f.slots) lines.push(`  slot ${slotName(s)} size ${s.size} align ${s.align}`);
  for (const b of f.blocks) {
    lines.push(`${blockName(b)}:`);
    for (const i of b.insts) lines.push(`  ${printInst(i)}`);
    lines.push(`  ${printTerm(b.term)}`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}
