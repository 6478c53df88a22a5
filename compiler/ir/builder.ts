// Builds a Func block by block: the builder has a current block, appends
// instructions to it, and a terminator closes it. Appending after a terminator
// opens an unreachable block, so lowering code after `return` needs no special case.
import type { Span } from "../diagnostics/span.ts";
import type {
  Arg,
  Base,
  BinOp,
  Block,
  Cond,
  Func,
  Inst,
  Operand,
  Size,
  Slot,
  Term,
  Ty,
  UnOp,
  VReg,
  Width,
} from "./ir.ts";

export class Builder {
  readonly fn: Func;
  cur: Block;
  /** Source span attached to every instruction appended from now on. */
  span: Span | undefined;

  constructor(name: string) {
    this.fn = { name, params: [], blocks: [], slots: [], nextVReg: 0, nextBlock: 0, nextSlot: 0 };
    this.cur = this.block("entry");
    this.fn.blocks.push(this.cur);
  }

  vreg(ty: Ty, name?: string): VReg {
    return name === undefined
      ? { id: this.fn.nextVReg++, ty }
      : { id: this.fn.nextVReg++, ty, name };
  }

  param(ty: Ty, name?: string): VReg {
    const v = this.vreg(ty, name);
    this.fn.params.push(v);
    return v;
  }

  slot(size: number, align: number, name?: string): Slot {
    const s: Slot =
      name === undefined
        ? { id: this.fn.nextSlot++, size, align }
        : { id: this.fn.nextSlot++, size, align, name };
    this.fn.slots.push(s);
    return s;
  }

  /** A new block, not yet placed; `place` appends it to the layout and makes it current. */
  block(label: string): Block {
    return { id: this.fn.nextBlock++, label, insts: [], term: null };
  }

  place(b: Block): void {
    if (!this.fn.blocks.includes(b)) this.fn.blocks.push(b);
    this.cur = b;
  }

  get terminated(): boolean {
    return this.cur.term !== null;
  }

  emit(i: Inst): void {
    if (this.cur.term) this.place(this.block("dead"));
    if (this.span && !i.span) i.span = this.span;
    this.cur.insts.push(i);
  }

  terminate(t: Term): void {
    if (this.cur.term) this.place(this.block("dead"));
    if (this.span && !t.span) t.span = this.span;
    this.cur.term = t;
  }

  // ---- instructions that define a fresh vreg

  mov(dst: VReg, src: Operand): VReg {
    this.emit({ op: "mov", dst, src });
    return dst;
  }
  const(ty: "i32" | "i64", v: bigint, name?: string): VReg {
    return this.mov(this.vreg(ty, name), v);
  }
  bin(
    kind: BinOp,
    w: Width,
    a: Operand,
    b: Operand,
    dst: VReg = this.vreg(w === 32 ? "i32" : "i64"),
  ): VReg {
    this.emit({ op: "bin", kind, w, dst, a, b });
    return dst;
  }
  un(kind: UnOp, w: Width, a: Operand, dst: VReg = this.vreg(w === 32 ? "i32" : "i64")): VReg {
    this.emit({ op: "un", kind, w, dst, a });
    return dst;
  }
  load(
    size: Size,
    base: Base,
    off: number,
    ty: Ty = size === 8 ? "i64" : "i32",
    dst: VReg = this.vreg(ty),
  ): VReg {
    this.emit({ op: "load", size, dst, base, off });
    return dst;
  }
  store(size: Size, base: Base, off: number, src: Operand): void {
    this.emit({ op: "store", size, base, off, src });
  }
  atomicAdd(size: 4 | 8, base: Base, off: number, src: Operand): void {
    this.emit({ op: "atomicAdd", size, base, off, src });
  }
  call(helper: number, args: Arg[], retTy: Ty | null = "i64"): VReg | null {
    const dst = retTy ? this.vreg(retTy) : null;
    this.emit({ op: "call", helper, dst, args });
    return dst;
  }
  addrOfSlot(slot: Slot, off = 0): VReg {
    const dst = this.vreg("stack");
    this.emit({ op: "addr", dst, of: { slot, off } });
    return dst;
  }
  addrOfGlobal(section: string, off: number): VReg {
    const dst = this.vreg("global");
    this.emit({ op: "addr", dst, of: { global: section, off } });
    return dst;
  }
  ptrAdd(base: VReg, off: Operand, ty: Ty = base.ty, dst: VReg = this.vreg(ty)): VReg {
    this.emit({ op: "ptrAdd", dst, base, off });
    return dst;
  }
  copy(dst: Base, dstOff: number, src: Base, srcOff: number, size: number): void {
    if (size > 0) this.emit({ op: "copy", dst, dstOff, src, srcOff, size });
  }
  zero(base: Base, off: number, size: number): void {
    if (size > 0) this.emit({ op: "zero", base, off, size });
  }

  // ---- terminators

  jmp(target: Block): void {
    this.terminate({ op: "jmp", target });
  }
  br(cc: Cond, w: Width, a: Operand, b: Operand, then: Block, els: Block, elseFirst = false): void {
    this.terminate({ op: "br", cc, w, a, b, then, else: els, ...(elseFirst && { elseFirst }) });
  }
  guard(ptr: VReg, n: number, end: VReg, ok: Block, fail: Block): void {
    this.terminate({ op: "guard", ptr, n, end, ok, fail });
  }
  ret(value: Operand): void {
    this.terminate({ op: "ret", value });
  }
}
