// Instruction selection: IR → machine instructions over virtual registers.
// i32 work uses ALU32/JMP32 (the kernel zero-extends, so an i32 vreg's upper half
// stays zero, which the branch-free isZero relies on); pointers and i64 use ALU64.
// Packet guards become `t = ptr + n; if t > end goto fail` so the compared and the
// accessed pointer share the verifier's id.
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
  VReg,
  Width,
} from "../ir/ir.ts";
import { def, isImm, isSlot, successors, uses, widthOf } from "../ir/ir.ts";
import { negate, swapCond } from "../ir/eval.ts";
import type { Loop } from "../ir/cfg.ts";
import { cyclicBlocks, forksToBackEdge, naturalLoops, reversePostOrder } from "../ir/cfg.ts";
import type { Span } from "../diagnostics/span.ts";
import * as I from "./insn.ts";
import { FP, VREG_BASE, type MBlock, type MFunc, type MInst } from "./machine.ts";
import { layoutSlots } from "./slots.ts";

const SIZE: Record<Size, number> = { 1: I.BPF_B, 2: I.BPF_H, 4: I.BPF_W, 8: I.BPF_DW };
const ALU_OP: Record<BinOp, { op: number; off: number }> = {
  add: { op: I.BPF_ADD, off: 0 },
  sub: { op: I.BPF_SUB, off: 0 },
  mul: { op: I.BPF_MUL, off: 0 },
  udiv: { op: I.BPF_DIV, off: 0 },
  umod: { op: I.BPF_MOD, off: 0 },
  sdiv: { op: I.BPF_DIV, off: 1 },
  smod: { op: I.BPF_MOD, off: 1 },
  and: { op: I.BPF_AND, off: 0 },
  or: { op: I.BPF_OR, off: 0 },
  xor: { op: I.BPF_XOR, off: 0 },
  shl: { op: I.BPF_LSH, off: 0 },
  lshr: { op: I.BPF_RSH, off: 0 },
  ashr: { op: I.BPF_ARSH, off: 0 },
};
const COMMUTATIVE = new Set<BinOp>(["add", "mul", "and", "or", "xor"]);
const DIVISIONS = new Set<BinOp>(["udiv", "umod", "sdiv", "smod"]);
const JMP_OP: Record<Cond, number> = {
  eq: I.BPF_JEQ,
  ne: I.BPF_JNE,
  ugt: I.BPF_JGT,
  uge: I.BPF_JGE,
  ult: I.BPF_JLT,
  ule: I.BPF_JLE,
  sgt: I.BPF_JSGT,
  sge: I.BPF_JSGE,
  slt: I.BPF_JSLT,
  sle: I.BPF_JSLE,
  set: I.BPF_JSET,
};
/** Does v fit the sign-extended 32-bit immediate of a 64-bit operation? */
export function fitsImm64(v: bigint): boolean {
  const s = BigInt.asIntN(64, v);
  return s >= -0x80000000n && s <= 0x7fffffffn;
}
function imm32(v: bigint): number {
  return Number(BigInt.asIntN(32, v));
}

export class StackOverflow extends Error {}

export function selectInstructions(f: Func): MFunc {
  return new Selector(f).run();
}

class Selector {
  private readonly blocks = new Map<Block, MBlock>();
  /** Each block's place in the layout. */
  private readonly order = new Map<Block, number>();
  private readonly slotOff = new Map<Slot, number>();
  private nextVreg: number;
  private frame = 0;
  private out: MInst[] = [];
  private span: Span | undefined;
  /** Blocks on a cycle, and whether the block being selected is one. */
  private cyclic = new Set<Block>();
  private inLoop = false;
  /**
   * Blocks of loop nests that could crowd the verifier's pending branches, each
   * block's forks to the next trip of a loop, and the blocks' reverse post-order.
   */
  private crowded = new Set<Block>();
  private forks = new Map<Block, number>();
  private rpo = new Map<Block, number>();
  private block: Block | undefined;
  /** Vregs a loop counter and constants alone give (rule 25). */
  private counted = new Set<number>();

  constructor(private readonly f: Func) {
    this.nextVreg = f.nextVReg;
  }

  run(): MFunc {
    // Slots: 8-byte aligned (stack accesses must be aligned), sharing bytes by liveness.
    const layout = layoutSlots(this.f);
    for (const [s, off] of layout.offsets) this.slotOff.set(s, off);
    this.frame = layout.frame;
    this.f.blocks.forEach((b, k) => this.order.set(b, k));
    this.cyclic = cyclicBlocks(this.f);
    if (this.cyclic.size) {
      this.crowded = crowdedLoops(this.f);
      this.counted = countedVregs(this.f);
    }
    if (this.crowded.size) {
      this.forks = forksToBackEdge(this.f);
      reversePostOrder(this.f).forEach((b, k) => this.rpo.set(b, k));
    }
    for (const b of this.f.blocks)
      this.blocks.set(b, { id: b.id, label: `${b.label}${b.id}`, insts: [], succs: [] });
    this.f.blocks.forEach((b, k) => {
      const mb = this.blocks.get(b)!;
      this.out = mb.insts;
      this.inLoop = this.cyclic.has(b);
      this.block = b;
      if (k === 0) this.f.params.forEach((p, n) => this.movReg(this.r(p), n + 1, true));
      for (const i of b.insts) {
        this.span = i.span;
        this.inst(i);
      }
      this.span = b.term?.span;
      if (b.term) this.term(b.term, this.f.blocks[k + 1]);
      mb.succs = successors(b.term).map((s) => this.blocks.get(s)!);
    });
    return {
      name: this.f.name,
      blocks: this.f.blocks.map((b) => this.blocks.get(b)!),
      frameSize: this.frame,
      nextVreg: this.nextVreg,
    };
  }

  private r(v: VReg): number {
    return VREG_BASE + v.id;
  }
  private tmp(): number {
    return VREG_BASE + this.nextVreg++;
  }
  private push(m: MInst): void {
    if (this.span) m.span = this.span;
    this.out.push(m);
  }
  private alu(w: Width, op: number, dst: number, src: number | bigint, off = 0): void {
    const cls = w === 32 ? I.BPF_ALU : I.BPF_ALU64;
    if (typeof src === "bigint")
      this.push({ code: cls | op | I.BPF_K, dst, src: 0, off, imm: imm32(src) });
    else this.push({ code: cls | op | I.BPF_X, dst, src, off, imm: 0 });
  }
  private movReg(dst: number, src: number, wide: boolean, trunc = false): void {
    if (dst === src && !trunc) return;
    this.push({
      code: (wide ? I.BPF_ALU64 : I.BPF_ALU) | I.BPF_MOV | I.BPF_X,
      dst,
      src,
      off: 0,
      imm: 0,
      trunc: trunc || undefined,
    });
  }
  private movImm(dst: number, v: bigint, w: Width): void {
    if (w === 32)
      this.push({ code: I.BPF_ALU | I.BPF_MOV | I.BPF_K, dst, src: 0, off: 0, imm: imm32(v) });
    else if (fitsImm64(v))
      this.push({ code: I.BPF_ALU64 | I.BPF_MOV | I.BPF_K, dst, src: 0, off: 0, imm: imm32(v) });
    else this.lddw(dst, BigInt.asUintN(64, v));
  }
  private lddw(dst: number, v: bigint, reloc?: string): void {
    const m: MInst = {
      code: I.BPF_LD | I.BPF_IMM | I.BPF_DW,
      dst,
      src: 0,
      off: 0,
      imm: 0,
      imm64: v,
    };
    if (reloc) m.reloc = reloc;
    this.push(m);
  }
  /** Moves an operand into register `dst` with the width of type `w`. */
  private into(dst: number, o: Operand, w: Width): void {
    if (isImm(o)) this.movImm(dst, o, w);
    else this.movReg(dst, this.r(o), w === 64, w === 32 && o.ty !== "i32");
  }
  /** A register holding operand o (materialising constants). */
  private reg(o: Operand, w: Width): number {
    if (!isImm(o)) return this.r(o);
    const t = this.tmp();
    this.movImm(t, o, w);
    return t;
  }
  /** An operand usable as the source of an ALU op of width w: immediate when it fits. */
  private src(o: Operand, w: Width): number | bigint {
    if (isImm(o) && (w === 32 || fitsImm64(o))) return o;
    return this.reg(o, w);
  }
  /**
   * Register and 16-bit offset addressing `off` bytes (and the `span` after them) from a
   * base. Offsets beyond the instruction's signed 16-bit field (fields deep inside a
   * large map value) are added to a copy of the base first.
   */
  private mem(b: Base, off: number, span = 8): { reg: number; off: number } {
    if (isSlot(b)) return { reg: FP, off: this.slotOff.get(b)! + off };
    if (off >= -0x8000 && off + span <= 0x7fff) return { reg: this.r(b), off };
    const t = this.tmp();
    this.movReg(t, this.r(b), true);
    this.alu(64, I.BPF_ADD, t, BigInt(off));
    return { reg: t, off: 0 };
  }

  private inst(i: Inst): void {
    switch (i.op) {
      case "mov":
        return this.into(this.r(i.dst), i.src, widthOf(i.dst.ty));
      case "bin":
        return this.bin(i.kind, i.w, this.r(i.dst), i.a, i.b);
      case "un":
        return this.un(i);
      case "load": {
        const m = this.mem(i.base, i.off);
        return this.push({
          code: I.BPF_LDX | I.BPF_MEM | SIZE[i.size],
          dst: this.r(i.dst),
          src: m.reg,
          off: m.off,
          imm: 0,
        });
      }
      case "store":
        return this.store(i.size, i.base, i.off, i.src);
      case "atomicAdd": {
        const m = this.mem(i.base, i.off);
        const s = this.reg(i.src, i.size === 8 ? 64 : 32);
        return this.push({
          code: I.BPF_STX | I.BPF_ATOMIC | SIZE[i.size],
          dst: m.reg,
          src: s,
          off: m.off,
          imm: I.BPF_ADD,
        });
      }
      case "call":
        return this.call(i.helper, i.args, i.dst);
      case "addr":
        return this.addr(this.r(i.dst), i.of);
      case "ptrAdd": {
        const d = this.r(i.dst);
        const off = i.off;
        if (!isImm(off) && off.id === i.dst.id) {
          const t = this.tmp();
          this.movReg(t, this.r(i.base), true);
          this.alu(64, I.BPF_ADD, t, this.r(off));
          return this.movReg(d, t, true);
        }
        this.movReg(d, this.r(i.base), true);
        if (isImm(off) && BigInt.asIntN(64, off) === 0n) return;
        return this.alu(64, I.BPF_ADD, d, this.src(off, 64));
      }
      case "copy":
        return this.copy(i.dst, i.dstOff, i.src, i.srcOff, i.size);
      case "zero":
        return this.zero(i.base, i.off, i.size);
    }
  }

  private bin(kind: BinOp, w: Width, d: number, a0: Operand, b0: Operand): void {
    let a = a0;
    let b = b0;
    const { op, off } = ALU_OP[kind];
    // The verifier refuses a constant zero divisor; eBPF's own semantics (x / 0 = 0,
    // x % 0 = x, which the language adopts) are computed here instead.
    if (isImm(b) && BigInt.asUintN(w, b) === 0n && DIVISIONS.has(kind)) {
      return this.into(d, kind === "udiv" || kind === "sdiv" ? 0n : a, w);
    }
    if (isImm(a) && COMMUTATIVE.has(kind)) [a, b] = [b, a];
    if (!isImm(b) && this.r(b) === d && (isImm(a) || this.r(a) !== d)) {
      if (COMMUTATIVE.has(kind) && !isImm(a)) [a, b] = [b, a];
      else {
        // d = a op d: compute in a temporary so that loading a does not clobber d.
        const t = this.tmp();
        this.into(t, a, w);
        this.alu(w, op, t, this.shiftSrc(kind, b, w), off);
        return this.movReg(d, t, w === 64);
      }
    }
    this.into(d, a, w);
    this.alu(w, op, d, this.shiftSrc(kind, b, w), off);
  }
  private shiftSrc(kind: BinOp, b: Operand, w: Width): number | bigint {
    // The verifier rejects immediate shifts ≥ the width; the language masks them.
    if (isImm(b) && (kind === "shl" || kind === "lshr" || kind === "ashr"))
      return b & BigInt(w - 1);
    return this.src(b, w);
  }

  private un(i: Extract<Inst, { op: "un" }>): void {
    const d = this.r(i.dst);
    const w = i.w;
    switch (i.kind) {
      case "neg":
        this.into(d, i.a, w);
        return this.push({
          code: (w === 32 ? I.BPF_ALU : I.BPF_ALU64) | I.BPF_NEG,
          dst: d,
          src: 0,
          off: 0,
          imm: 0,
        });
      case "not":
        this.into(d, i.a, w);
        return this.alu(w, I.BPF_XOR, d, -1n);
      case "be16":
      case "be32":
      case "be64":
        this.into(d, i.a, w);
        return this.push({
          code: I.BPF_ALU | I.BPF_END | I.BPF_TO_BE,
          dst: d,
          src: 0,
          off: 0,
          imm: Number(i.kind.slice(2)),
        });
      case "zext8":
        this.into(d, i.a, w);
        return this.alu(w, I.BPF_AND, d, 0xffn);
      case "zext16":
        this.into(d, i.a, w);
        return this.alu(w, I.BPF_AND, d, 0xffffn);
      case "zext32":
        // mov32 zero-extends; as a truncating mov it is never dropped.
        if (isImm(i.a)) return this.movImm(d, i.a & 0xffffffffn, w);
        return this.movReg(d, this.r(i.a), false, true);
      case "sext8":
      case "sext16":
      case "sext32": {
        const k = BigInt(w - Number(i.kind.slice(4)));
        this.into(d, i.a, w);
        this.alu(w, I.BPF_LSH, d, k);
        return this.alu(w, I.BPF_ARSH, d, k);
      }
      case "isZero":
        if (w === 32 || (!isImm(i.a) && i.a.ty === "i32")) {
          // The 64-bit register holds a zero-extended value: (x - 1) >> 63 is 1 iff x = 0.
          this.into(d, i.a, 64);
          this.alu(64, I.BPF_ADD, d, -1n);
          return this.alu(64, I.BPF_RSH, d, 63n);
        }
        {
          // ((x | -x) >> 63) ^ 1
          const a = this.reg(i.a, 64);
          this.movReg(d, a, true);
          this.push({ code: I.BPF_ALU64 | I.BPF_NEG, dst: d, src: 0, off: 0, imm: 0 });
          this.alu(64, I.BPF_OR, d, a);
          this.alu(64, I.BPF_RSH, d, 63n);
          return this.alu(64, I.BPF_XOR, d, 1n);
        }
    }
  }

  private store(size: Size, base: Base, off: number, v: Operand): void {
    const m = this.mem(base, off);
    if (isImm(v) && (size < 8 || fitsImm64(v))) {
      // In a loop, a constant ending its slot in an 8-byte chunk fills the chunk (the
      // rest is padding no other live slot shares, slots.ts): the verifier marks a
      // slot written only by an 8-byte store, so a narrower one leaves it read up to
      // the loop head, and the states there differ in bytes no one reads. Not a 4-byte
      // one: the verifier takes an array map's constant key (and drops the lookup's
      // null branch) only from a spill of the key's 4 bytes (rule 21).
      const whole =
        this.inLoop && size !== 4 && isSlot(base) && off % 8 === 0 && off + size >= base.size;
      return this.push({
        code: I.BPF_ST | I.BPF_MEM | SIZE[whole ? 8 : size],
        dst: m.reg,
        src: 0,
        off: m.off,
        imm: imm32(v),
      });
    }
    // So does a register in a loop, unless a counter gives it (rule 25): stored as its
    // own 4 bytes, a value the verifier knows exactly is read as an array map's
    // constant key, and made precise; one that differs from path to path (a variable
    // the trips count down) then keeps the loop head's states apart.
    const whole =
      this.inLoop &&
      size !== 8 &&
      !isImm(v) &&
      !this.counted.has(v.id) &&
      isSlot(base) &&
      off % 8 === 0 &&
      off + size >= base.size;
    const s = this.reg(v, whole || size === 8 ? 64 : 32);
    this.push({
      code: I.BPF_STX | I.BPF_MEM | SIZE[whole ? 8 : size],
      dst: m.reg,
      src: s,
      off: m.off,
      imm: 0,
    });
  }

  private addr(d: number, of: Extract<Inst, { op: "addr" }>["of"]): void {
    if ("map" in of) return this.lddw(d, 0n, of.map);
    if ("global" in of) return this.lddw(d, BigInt(of.off), of.global);
    this.movReg(d, FP, true);
    this.alu(64, I.BPF_ADD, d, BigInt(this.slotOff.get(of.slot)! + of.off));
  }

  private call(helper: number, args: Arg[], dst: VReg | null): void {
    args.forEach((a, k) => {
      const r = k + 1;
      if (typeof a === "bigint" || "ty" in a) return this.into(r, a, isImm(a) ? 64 : widthOf(a.ty));
      this.addr(r, a);
    });
    this.push({
      code: I.BPF_JMP | I.BPF_CALL,
      dst: 0,
      src: 0,
      off: 0,
      imm: helper,
      nargs: args.length,
    });
    if (dst) this.movReg(this.r(dst), 0, dst.ty !== "i32", dst.ty === "i32");
  }

  /** Chunked copy; chunk size limited by the alignment both sides guarantee (stack accesses must be aligned). */
  private copy(dst: Base, dstOff: number, src: Base, srcOff: number, size: number): void {
    const d0 = this.mem(dst, dstOff);
    const s0 = this.mem(src, srcOff);
    // Alignment follows the offsets from each base (a rebased address keeps them).
    const dA = isSlot(dst) ? d0.off : dstOff;
    const sA = isSlot(src) ? s0.off : srcOff;
    let done = 0;
    while (done < size) {
      const n = chunk(size - done, this.align(dst, dA + done), this.align(src, sA + done));
      // Chunks of a large copy may leave the 16-bit offset range of the first address.
      const d =
        d0.off + done + n <= 0x7fff
          ? { reg: d0.reg, off: d0.off + done }
          : this.mem(dst, dstOff + done, n);
      const s =
        s0.off + done + n <= 0x7fff
          ? { reg: s0.reg, off: s0.off + done }
          : this.mem(src, srcOff + done, n);
      const t = this.tmp();
      this.push({ code: I.BPF_LDX | I.BPF_MEM | SIZE[n], dst: t, src: s.reg, off: s.off, imm: 0 });
      this.push({ code: I.BPF_STX | I.BPF_MEM | SIZE[n], dst: d.reg, src: t, off: d.off, imm: 0 });
      done += n;
    }
  }
  private zero(base: Base, off: number, size: number): void {
    const m0 = this.mem(base, off);
    const a = isSlot(base) ? m0.off : off;
    let done = 0;
    while (done < size) {
      const n = chunk(size - done, this.align(base, a + done), 8);
      const m =
        m0.off + done + n <= 0x7fff
          ? { reg: m0.reg, off: m0.off + done }
          : this.mem(base, off + done, n);
      this.push({ code: I.BPF_ST | I.BPF_MEM | SIZE[n], dst: m.reg, src: 0, off: m.off, imm: 0 });
      done += n;
    }
  }
  /**
   * Alignment of an access at `off` from a base: stack slots and map values start
   * 8-aligned and the verifier insists on aligned stack access, so chunks follow the
   * offset's alignment. (A struct-typed vreg may hold a stack address even when typed
   * as a packet view, so packet bases get no exemption.)
   */
  private align(_b: Base, off: number): number {
    const a = off & -off || 8;
    return Math.min(8, Math.abs(a));
  }

  /**
   * In a crowded loop, the successor of a conditional branch the verifier should walk
   * first: the one that reaches the next trip through fewer forks (rule 23), or null
   * when neither does (both leave the loop, or they tie).
   */
  private firstInLoop(x: Block, y: Block): Block | null {
    const b = this.block;
    if (!b || !this.crowded.has(b)) return null;
    const through = (s: Block) =>
      this.rpo.get(s)! <= this.rpo.get(b)! ? 0 : (this.forks.get(s) ?? Infinity);
    const dx = through(x);
    const dy = through(y);
    if (dx === dy || !Number.isFinite(dx) || !Number.isFinite(dy)) return null;
    return dx < dy ? x : y;
  }

  private term(t: Term, next: Block | undefined): void {
    const label = (b: Block) => this.blocks.get(b)!;
    switch (t.op) {
      case "jmp":
        if (t.target !== next) this.ja(label(t.target));
        return;
      case "ret":
        this.into(0, t.value, 64);
        return this.push({ code: I.BPF_JMP | I.BPF_EXIT, dst: 0, src: 0, off: 0, imm: 0 });
      case "guard": {
        const p = this.tmp();
        this.movReg(p, this.r(t.ptr), true);
        if (t.n !== 0) this.alu(64, I.BPF_ADD, p, BigInt(t.n));
        // The failure path first where it starts the next trip sooner (rule 23).
        const failFirst = this.firstInLoop(t.ok, t.fail) === t.fail;
        const [jump, fall] = failFirst ? [t.ok, t.fail] : [t.fail, t.ok];
        this.push({
          code: I.BPF_JMP | (failFirst ? I.BPF_JLE : I.BPF_JGT) | I.BPF_X,
          dst: p,
          src: this.r(t.end),
          off: 0,
          imm: 0,
          target: label(jump),
        });
        if (fall !== next) this.ja(label(fall));
        return;
      }
      case "br": {
        let { cc, a, b, then, else: els } = t;
        if (isImm(a)) {
          [a, b] = [b, a];
          cc = swapCond(cc);
        }
        // Fall through to the next block when possible.
        const inverse = negate(cc);
        // When neither successor follows, the `ja` after the jump goes to the one placed
        // first: the verifier walks the fall-through first, and walking the branches in
        // layout order (the source's order) is what lets the states of a path with a
        // smaller packet range prune a later one's (a threaded join leaves such branches).
        const earlier = els !== next && this.order.get(then)! < this.order.get(els)!;
        // A branch marked elseFirst (a VLAN tag test) keeps its sense in a loop: `else`
        // is then the fall-through, reached by a `ja`, and the verifier's first path,
        // which walks every trip before any pending branch, skips the tag (rule 21).
        // In a loop, the side that starts the next trip through fewer forks goes first
        // (rule 23): the verifier refuses a program once 8,192 branches are pending.
        const first = this.firstInLoop(then, els);
        const swap = first
          ? first === then
          : (then === next || earlier) && !(t.elseFirst && this.inLoop);
        if (swap && inverse) {
          cc = inverse;
          [then, els] = [els, then];
        }
        const cls = t.w === 32 ? I.BPF_JMP32 : I.BPF_JMP;
        const ra = this.reg(a, t.w);
        const sb = isImm(b) && (t.w === 32 || fitsImm64(b)) ? b : this.reg(b, t.w);
        if (typeof sb === "bigint")
          this.push({
            code: cls | JMP_OP[cc] | I.BPF_K,
            dst: ra,
            src: 0,
            off: 0,
            imm: imm32(sb),
            target: label(then),
          });
        else
          this.push({
            code: cls | JMP_OP[cc] | I.BPF_X,
            dst: ra,
            src: sb,
            off: 0,
            imm: 0,
            target: label(then),
          });
        if (els !== next) this.ja(label(els));
        return;
      }
    }
  }
  private ja(target: MBlock): void {
    this.push({ code: I.BPF_JMP | I.BPF_JA, dst: 0, src: 0, off: 0, imm: 0, target });
  }
}

/**
 * Loop counters (the lowering marks them with their trips) and the vregs with one
 * definition, an operator or copy, computed from those and constants alone.
 */
function countedVregs(f: Func): Set<number> {
  const defs = new Map<number, Inst[]>();
  for (const b of f.blocks)
    for (const i of b.insts) {
      const d = def(i);
      if (d) defs.set(d.id, [...(defs.get(d.id) ?? []), i]);
    }
  const out = new Set<number>();
  for (const b of f.blocks)
    for (const i of b.insts) {
      const d = def(i);
      if (d?.trips) out.add(d.id);
    }
  for (let grew = true; grew;) {
    grew = false;
    for (const [id, ds] of defs) {
      if (out.has(id) || ds.length !== 1) continue;
      const i = ds[0]!;
      if (i.op !== "mov" && i.op !== "bin" && i.op !== "un") continue;
      if (uses(i).every((u) => out.has(u.id))) {
        out.add(id);
        grew = true;
      }
    }
  }
  return out;
}

/** Pending branches a loop nest may leave the verifier before rule 23 applies: half its limit. */
const PENDING_BUDGET = 4096;

/**
 * Blocks of the loop nests whose conditional branches, each counted once per trip of
 * the loops around it, exceed PENDING_BUDGET: the most branches the verifier's first
 * walk of the nest can leave pending (rule 23). A loop whose counter the lowering did
 * not mark counts one trip.
 */
function crowdedLoops(f: Func): Set<Block> {
  const loops = naturalLoops(f);
  const tripsOf = (l: Loop): number => {
    for (const b of l.latches)
      if (b.term?.op === "br")
        for (const o of [b.term.a, b.term.b]) if (!isImm(o) && o.trips) return o.trips;
    return 1;
  };
  const factor = new Map<Block, number>();
  for (const l of loops) {
    const t = tripsOf(l);
    for (const b of l.body) factor.set(b, (factor.get(b) ?? 1) * t);
  }
  const out = new Set<Block>();
  for (const l of loops) {
    let pending = 0;
    for (const b of l.body)
      if (b.term?.op === "br" || b.term?.op === "guard") pending += factor.get(b)!;
    if (pending > PENDING_BUDGET) for (const b of l.body) out.add(b);
  }
  return out;
}

function chunk(left: number, a1: number, a2: number): Size {
  for (const n of [8, 4, 2, 1] as const) if (n <= left && n <= a1 && n <= a2) return n;
  return 1;
}
