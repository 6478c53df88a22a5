// One IR function → one binaryen function. Every vreg becomes a local: i64 vregs are
// i64 locals; i32 vregs and all pointers are i32 locals (a pointer is an offset in the
// shared memory, 0 meaning null). Where the IR mixes widths the value converts the way
// eBPF's registers behave: widening zero-extends (an i32 vreg's upper half is zero),
// narrowing keeps the low 32 bits. The CFG is structured by binaryen's Relooper.
//
// The entry ABI: (frame, len, rxQueue, ifindex, headroom, tailroom: i32) → i32 verdict.
// The IR reads ctx->data / data_end / ingress_ifindex / rx_queue_index at fixed
// offsets of its ctx parameter; those loads read the entry's parameters instead, so
// no context struct lives in memory. A tc program takes (frame, len, skb, 0, 0, 0):
// `skb` is the address of a struct __sk_buff image the host fills; ctx->data and
// data_end read the frame's bounds, every other field is a load or store in the image
// (mark and priority are written there). Packet guards become `ptr + n <= frame + len`.
// adjustHead/adjustTail are inlined (they move data / data_end within headroom and
// tailroom, with the kernel's checks); a function that calls them stores the final
// bounds in the exported globals xdpc_data / xdpc_end before it returns.
// changeHead/changeTail (tc) are host calls that resize the frame and write its new
// bounds into the image, from where the function reads them back after the call.
import binaryen from "binaryen";
import type {
  Arg,
  Base,
  BinOp,
  Cond,
  Func,
  Inst,
  Operand,
  Size,
  Term,
  UnOp,
  VReg,
  Width,
} from "../ir/ir.ts";
import { isImm, isSlot } from "../ir/ir.ts";
import { BPF_FUNC, SK_BUFF } from "../uapi/bpf.ts";
import { IMPORT_MODULE, LANE_IMPORT, MAP_FN, mapBaseImport, mapDescImport } from "./abi.ts";
import { helperImport, type HelperImport, type ValType } from "./helpers.ts";
import { emitMapRuntime } from "./maps.ts";

type Ref = binaryen.ExpressionRef;

/** Names of the module-level items every function uses. */
export const STACK_GLOBAL = "stackBase";
export const DATA_GLOBAL = "dataBase";
/** Exported frame bounds after a function that adjusts the packet. */
export const DATA_OUT = "xdpc_data";
export const END_OUT = "xdpc_end";

const HELPER_LOOKUP = BPF_FUNC.map_lookup_elem;
const HELPER_UPDATE = BPF_FUNC.map_update_elem;
const HELPER_DELETE = BPF_FUNC.map_delete_elem;
/** Module globals of the shared-map code: the worker's lane, each map's descriptor. */
const LANE_GLOBAL = "xdpcLane";
const descGlobal = (id: number) => `mapDesc${id}`;
const HELPER_ADJUST_HEAD = BPF_FUNC.xdp_adjust_head;
const HELPER_ADJUST_TAIL = BPF_FUNC.xdp_adjust_tail;
const HELPER_CHANGE_HEAD = BPF_FUNC.skb_change_head;
const HELPER_CHANGE_TAIL = BPF_FUNC.skb_change_tail;
const ETH_HLEN = 14;
/** sizeof(struct __sk_buff). */
const SKB_SIZE = 192;
const EINVAL = 22n;

export interface CodegenEnv {
  mod: binaryen.Module;
  /** Map name → id. */
  mapIds: Map<string, number>;
  /** Global variable name → offset in the data area. */
  globalOffsets: Map<string, number>;
  /** Imports declared so far (internal name → import), shared by all functions. */
  imports: Map<string, HelperImport>;
  /** Whether the DATA_OUT / END_OUT globals exist yet. */
  frameGlobals?: boolean;
  /** Array maps looked up inline: name → id, value stride, entries. */
  arrays: Map<string, { id: number; stride: number; maxEntries: number }>;
  /** Map ids whose base global is imported already. */
  arrayBases?: Set<number>;
  /**
   * Maps that live in the shared memory (AF_XDP workers): name → id. Their lookups,
   * updates and deletes run the module's own map code (maps.ts) instead of host helpers.
   */
  shared?: Map<string, number>;
  /** Map ids whose descriptor global is imported already (and whether the lane is). */
  descs?: Set<number>;
  lane?: boolean;
}

export class CodegenError extends Error {}

const P_FRAME = 0;
const P_LEN = 1;
const P_RXQ = 2;
/** A tc program's third parameter: the address of its struct __sk_buff image. */
const P_SKB = 2;
const P_IFINDEX = 3;
const P_HEADROOM = 4;
const P_TAILROOM = 5;
const N_PARAMS = 6;

/** Lays out a function's stack slots; returns slot id → offset and the frame size. */
export function layoutSlots(f: Func): { offsets: Map<number, number>; size: number } {
  const offsets = new Map<number, number>();
  let at = 0;
  for (const s of f.slots) {
    const a = Math.max(1, s.align);
    at = Math.ceil(at / a) * a;
    offsets.set(s.id, at);
    at += s.size;
  }
  return { offsets, size: Math.ceil(at / 8) * 8 };
}

export function emitFunction(
  env: CodegenEnv,
  f: Func,
  hook: "xdp" | "tc" = "xdp",
): { stackSize: number; adjusts: boolean } {
  return new FunctionEmitter(env, f, hook).emit();
}

class FunctionEmitter {
  private readonly m: binaryen.Module;
  private readonly locals = new Map<number, { index: number; type: ValType }>();
  private readonly vars: binaryen.Type[] = [];
  private readonly slots: Map<number, number>;
  private readonly stackSize: number;
  private readonly endLocal: number;
  private readonly ctxIds = new Set<number>();
  private readonly adjusts: boolean;
  /** Lowest data and highest data_end adjustments may reach (adjusting functions only). */
  private readonly minLocal: number;
  private readonly maxLocal: number;

  constructor(
    private readonly env: CodegenEnv,
    private readonly f: Func,
    private readonly hook: "xdp" | "tc",
  ) {
    this.m = env.mod;
    const lay = layoutSlots(f);
    this.slots = lay.offsets;
    this.stackSize = lay.size;
    this.endLocal = this.newLocal("i32");
    for (const p of f.params) if (p.ty === "ctx") this.ctxIds.add(p.id);
    this.adjusts = f.blocks.some((b) =>
      b.insts.some(
        (i) =>
          i.op === "call" && (i.helper === HELPER_ADJUST_HEAD || i.helper === HELPER_ADJUST_TAIL),
      ),
    );
    this.minLocal = this.adjusts ? this.newLocal("i32") : -1;
    this.maxLocal = this.adjusts ? this.newLocal("i32") : -1;
    if (this.adjusts && !env.frameGlobals) {
      env.frameGlobals = true;
      for (const g of [DATA_OUT, END_OUT]) {
        env.mod.addGlobal(g, binaryen.i32, true, env.mod.i32.const(0));
        env.mod.addGlobalExport(g, g);
      }
    }
  }

  private newLocal(t: ValType): number {
    this.vars.push(t === "i32" ? binaryen.i32 : binaryen.i64);
    return N_PARAMS + this.vars.length - 1;
  }

  private local(v: VReg): { index: number; type: ValType } {
    let l = this.locals.get(v.id);
    if (!l) {
      const type: ValType = v.ty === "i64" ? "i64" : "i32";
      l = { index: this.newLocal(type), type };
      this.locals.set(v.id, l);
    }
    return l;
  }

  emit(): { stackSize: number; adjusts: boolean } {
    const m = this.m;
    const rl = new binaryen.Relooper(m);
    const blocks = new Map<number, binaryen.RelooperBlockRef>();
    for (const b of this.f.blocks) {
      const code = b.insts.map((i) => this.inst(i));
      const t = b.term;
      if (!t) throw new CodegenError(`block ${b.label} has no terminator`);
      if (t.op === "ret") {
        if (this.adjusts) {
          code.push(m.global.set(DATA_OUT, m.local.get(P_FRAME, binaryen.i32)));
          code.push(m.global.set(END_OUT, m.local.get(this.endLocal, binaryen.i32)));
        }
        code.push(m.return(this.operand(t.value, "i32")));
      }
      blocks.set(b.id, rl.addBlock(m.block(null, code, binaryen.none)));
    }
    for (const b of this.f.blocks) {
      const from = blocks.get(b.id)!;
      const t = b.term!;
      const to = (x: { id: number }) => blocks.get(x.id)!;
      switch (t.op) {
        case "jmp":
          rl.addBranch(from, to(t.target), 0, 0);
          break;
        // The Relooper takes one branch per target: a test whose two targets are one
        // block (a guard whose result is unused) is a plain jump (the tests are pure).
        case "br":
          if (t.then.id !== t.else.id) rl.addBranch(from, to(t.then), this.cond(t), 0);
          rl.addBranch(from, to(t.else), 0, 0);
          break;
        case "guard":
          if (t.ok.id !== t.fail.id) rl.addBranch(from, to(t.ok), this.guard(t), 0);
          rl.addBranch(from, to(t.fail), 0, 0);
          break;
        case "ret":
          break;
      }
    }
    const labelHelper = this.newLocal("i32");
    const body = rl.renderAndDispose(blocks.get(this.f.blocks[0]!.id)!, labelHelper);
    const p = (k: number) => m.local.get(k, binaryen.i32);
    const prologue = [m.local.set(this.endLocal, m.i32.add(p(P_FRAME), p(P_LEN)))];
    if (this.adjusts)
      prologue.push(
        m.local.set(this.minLocal, m.i32.sub(p(P_FRAME), p(P_HEADROOM))),
        m.local.set(this.maxLocal, m.i32.add(p(this.endLocal), p(P_TAILROOM))),
      );
    m.addFunction(
      this.f.name,
      binaryen.createType(Array(N_PARAMS).fill(binaryen.i32)),
      binaryen.i32,
      this.vars,
      // Every path of the CFG returns; the trailing unreachable satisfies the validator.
      m.block(null, [...prologue, body, m.unreachable()], binaryen.i32),
    );
    return { stackSize: this.stackSize, adjusts: this.adjusts };
  }

  // ------------------------------------------------------------ values

  private const(v: bigint, t: ValType): Ref {
    if (t === "i32") return this.m.i32.const(Number(BigInt.asIntN(32, v)));
    return this.i64(v);
  }

  /** binaryen's i64.const takes one bigint (its typings still say two numbers). */
  private i64(v: bigint): Ref {
    const c = this.m.i64.const as unknown as (v: bigint) => Ref;
    return c(BigInt.asIntN(64, v));
  }

  private convert(e: Ref, from: ValType, to: ValType): Ref {
    if (from === to) return e;
    return to === "i64" ? this.m.i64.extend_u(e) : this.m.i32.wrap(e);
  }

  private operand(o: Operand, t: ValType): Ref {
    if (isImm(o)) return this.const(o, t);
    const l = this.local(o);
    return this.convert(
      this.m.local.get(l.index, l.type === "i32" ? binaryen.i32 : binaryen.i64),
      l.type,
      t,
    );
  }

  private set(dst: VReg, e: Ref, from: ValType): Ref {
    const l = this.local(dst);
    return this.m.local.set(l.index, this.convert(e, from, l.type));
  }

  /** The i32 address of a memory base (a pointer vreg or a stack slot). */
  private base(b: Base): Ref {
    const m = this.m;
    if (isSlot(b)) {
      const off = this.slots.get(b.id);
      if (off === undefined) throw new CodegenError(`unknown stack slot ${b.id}`);
      return m.i32.add(m.global.get(STACK_GLOBAL, binaryen.i32), m.i32.const(off));
    }
    return this.operand(b, "i32");
  }

  /** base + off, folding a non-negative offset into the memory instruction's immediate. */
  private addr(b: Base, off: number): { ptr: Ref; offset: number } {
    if (off >= 0) return { ptr: this.base(b), offset: off };
    return { ptr: this.m.i32.add(this.base(b), this.m.i32.const(off)), offset: 0 };
  }

  private argAddr(a: Arg): Ref {
    const m = this.m;
    if (typeof a === "bigint" || "ty" in a) throw new CodegenError("not an address");
    if ("map" in a) return m.i32.const(this.mapId(a.map));
    if ("slot" in a) {
      const { ptr, offset } = this.addr(a.slot, a.off);
      return offset ? m.i32.add(ptr, m.i32.const(offset)) : ptr;
    }
    return m.i32.add(
      m.global.get(DATA_GLOBAL, binaryen.i32),
      m.i32.const(this.globalOffset(a.global) + a.off),
    );
  }

  private mapId(name: string): number {
    const id = this.env.mapIds.get(name);
    if (id === undefined) throw new CodegenError(`unknown map ${name}`);
    return id;
  }
  private globalOffset(name: string): number {
    const off = this.env.globalOffsets.get(name);
    if (off === undefined) throw new CodegenError(`unknown global ${name}`);
    return off;
  }

  // ------------------------------------------------------------ instructions

  private inst(i: Inst): Ref {
    const m = this.m;
    switch (i.op) {
      case "mov": {
        const t = this.local(i.dst).type;
        return this.set(i.dst, this.operand(i.src, t), t);
      }
      case "bin": {
        const t: ValType = i.w === 64 ? "i64" : "i32";
        return this.set(i.dst, this.bin(i.kind, t, i.a, i.b), t);
      }
      case "un": {
        const t: ValType = i.w === 64 ? "i64" : "i32";
        const r = this.un(i.kind, i.w, this.operand(i.a, t));
        return this.set(i.dst, r.e, r.t);
      }
      case "load":
        return this.load(i.dst, i.size, i.base, i.off);
      case "store": {
        const { ptr, offset } = this.isCtx(i.base)
          ? { ptr: this.skbField(i.off), offset: i.off }
          : this.addr(i.base, i.off);
        if (i.size === 8) return m.i64.store(offset, 1, ptr, this.operand(i.src, "i64"));
        const v = this.operand(i.src, "i32");
        if (i.size === 4) return m.i32.store(offset, 1, ptr, v);
        if (i.size === 2) return m.i32.store16(offset, 1, ptr, v);
        return m.i32.store8(offset, 1, ptr, v);
      }
      case "atomicAdd": {
        // Shared memory: map values and globals are read and written by every worker.
        const { ptr, offset } = this.addr(i.base, i.off);
        return m.drop(
          i.size === 8
            ? m.i64.atomic.rmw.add(offset, ptr, this.operand(i.src, "i64"))
            : m.i32.atomic.rmw.add(offset, ptr, this.operand(i.src, "i32")),
        );
      }
      case "call":
        return this.call(i);
      case "addr": {
        const of = i.of;
        const e = "map" in of ? m.i32.const(this.mapId(of.map)) : this.argAddr(of);
        return this.set(i.dst, e, "i32");
      }
      case "ptrAdd":
        return this.set(
          i.dst,
          m.i32.add(this.operand(i.base, "i32"), this.operand(i.off, "i32")),
          "i32",
        );
      case "copy": {
        const d = this.addr(i.dst, i.dstOff);
        const s = this.addr(i.src, i.srcOff);
        const abs = (x: { ptr: Ref; offset: number }) =>
          x.offset ? m.i32.add(x.ptr, m.i32.const(x.offset)) : x.ptr;
        return m.memory.copy(abs(d), abs(s), m.i32.const(i.size));
      }
      case "zero": {
        const d = this.addr(i.base, i.off);
        const p = d.offset ? m.i32.add(d.ptr, m.i32.const(d.offset)) : d.ptr;
        return m.memory.fill(p, m.i32.const(0), m.i32.const(i.size));
      }
    }
  }

  private isCtx(b: Base): boolean {
    return !isSlot(b) && b.ty === "ctx";
  }

  /** The __sk_buff image of a tc program, for a field at `off` (the checker allows only real fields). */
  private skbField(off: number): Ref {
    if (this.hook !== "tc" || off < 0 || off >= SKB_SIZE)
      throw new CodegenError(`unsupported context access at offset ${off}`);
    return this.m.local.get(P_SKB, binaryen.i32);
  }

  private load(dst: VReg, size: Size, base: Base, off: number): Ref {
    const m = this.m;
    if (this.isCtx(base) && this.hook === "tc") {
      const p = (k: number) => m.local.get(k, binaryen.i32);
      if (off === SK_BUFF.data || off === SK_BUFF.data_end) {
        if (size !== 4) throw new CodegenError(`unsupported context access at offset ${off}`);
        return this.set(dst, p(off === SK_BUFF.data ? P_FRAME : this.endLocal), "i32");
      }
      return this.memLoad(dst, size, this.skbField(off), off);
    }
    if (!isSlot(base) && base.ty === "ctx") {
      // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index.
      const p = (k: number) => m.local.get(k, binaryen.i32);
      const field: Record<number, () => Ref> = {
        0: () => p(P_FRAME),
        4: () => p(this.endLocal),
        12: () => p(P_IFINDEX),
        16: () => p(P_RXQ),
      };
      const get = field[off];
      if (!get || size !== 4) throw new CodegenError(`unsupported context access at offset ${off}`);
      return this.set(dst, get(), "i32");
    }
    const { ptr, offset } = this.addr(base, off);
    return this.memLoad(dst, size, ptr, offset);
  }

  private memLoad(dst: VReg, size: Size, ptr: Ref, offset: number): Ref {
    const m = this.m;
    const t = this.local(dst).type;
    let e: Ref;
    if (t === "i64" || size === 8) {
      e =
        size === 8
          ? m.i64.load(offset, 1, ptr)
          : size === 4
            ? m.i64.load32_u(offset, 1, ptr)
            : size === 2
              ? m.i64.load16_u(offset, 1, ptr)
              : m.i64.load8_u(offset, 1, ptr);
      return this.set(dst, e, "i64");
    }
    e =
      size === 4
        ? this.load32u(offset, ptr)
        : size === 2
          ? m.i32.load16_u(offset, 1, ptr)
          : m.i32.load8_u(offset, 1, ptr);
    return this.set(dst, e, "i32");
  }

  /**
   * i32.load built as an unsigned load: binaryen.js makes `i32.load` a *signed* 4-byte
   * load, and its optimizer then folds `i64.extend_i32_u(i32.load)` into
   * `i64.load32_s`, sign-extending u32 values widened to 64 bits.
   */
  private load32u(offset: number, ptr: Ref): Ref {
    const b = binaryen as unknown as {
      _BinaryenLoad(...a: number[]): Ref;
    };
    return b._BinaryenLoad(this.m.ptr, 4, 0, offset, 1, binaryen.i32, ptr, 0);
  }

  private call(i: Extract<Inst, { op: "call" }>): Ref {
    const m = this.m;
    if (i.helper === HELPER_ADJUST_HEAD || i.helper === HELPER_ADJUST_TAIL) return this.adjust(i);
    const a0 = i.args[0];
    if (i.helper === HELPER_LOOKUP && i.dst && a0 && typeof a0 !== "bigint" && "map" in a0) {
      const arr = this.env.arrays.get(a0.map);
      if (arr) return this.arrayLookup(i.dst, arr, i.args[1]!);
    }
    if (
      (i.helper === HELPER_LOOKUP || i.helper === HELPER_UPDATE || i.helper === HELPER_DELETE) &&
      a0 &&
      typeof a0 !== "bigint" &&
      "map" in a0 &&
      this.env.shared?.has(a0.map)
    )
      return this.sharedMapCall(i, this.env.shared.get(a0.map)!);
    const imp = helperImport(i.helper, i.args.length);
    if (!imp) throw new CodegenError(`helper ${i.helper} has no WebAssembly import`);
    if (imp.params.length !== i.args.length)
      throw new CodegenError(
        `helper ${imp.name}: ${i.args.length} arguments for ${imp.params.length}`,
      );
    if (!this.env.imports.has(imp.name)) {
      this.env.imports.set(imp.name, imp);
      m.addFunctionImport(
        imp.name,
        IMPORT_MODULE,
        imp.name,
        binaryen.createType(imp.params.map((p) => (p === "i32" ? binaryen.i32 : binaryen.i64))),
        imp.result === null ? binaryen.none : imp.result === "i32" ? binaryen.i32 : binaryen.i64,
      );
    }
    const args = i.args.map((a, k) => {
      const t = imp.params[k]!;
      if (typeof a === "bigint" || "ty" in a) {
        // The ctx argument of adjust/fib helpers: the frame's offset stands for it.
        if (typeof a !== "bigint" && a.ty === "ctx")
          return this.convert(m.local.get(P_FRAME, binaryen.i32), "i32", t);
        return this.operand(a, t);
      }
      return this.convert(this.argAddr(a), "i32", t);
    });
    const rt =
      imp.result === null ? binaryen.none : imp.result === "i32" ? binaryen.i32 : binaryen.i64;
    const c = m.call(imp.name, args, rt);
    if (i.helper === HELPER_CHANGE_HEAD || i.helper === HELPER_CHANGE_TAIL) {
      // The host moved the frame: its new bounds are skb->data / data_end in the image.
      if (this.hook !== "tc") throw new CodegenError(`helper ${imp.name} outside a tc program`);
      const skb = () => m.local.get(P_SKB, binaryen.i32);
      const reload = [
        m.local.set(P_FRAME, this.load32u(SK_BUFF.data, skb())),
        m.local.set(this.endLocal, this.load32u(SK_BUFF.data_end, skb())),
      ];
      const r = i.dst ? this.set(i.dst, c, imp.result!) : m.drop(c);
      return m.block(null, [r, ...reload], binaryen.none);
    }
    if (i.dst) {
      if (!imp.result) throw new CodegenError(`helper ${imp.name} returns nothing`);
      return this.set(i.dst, c, imp.result);
    }
    return imp.result ? m.drop(c) : c;
  }

  /** A map operation on a map in the shared memory: a call of the module's own map code. */
  private sharedMapCall(i: Extract<Inst, { op: "call" }>, id: number): Ref {
    const m = this.m;
    const env = this.env;
    emitMapRuntime(m, true);
    env.descs ??= new Set();
    if (!env.descs.has(id)) {
      env.descs.add(id);
      m.addGlobalImport(descGlobal(id), IMPORT_MODULE, mapDescImport(id), binaryen.i32, false);
    }
    if (!env.lane) {
      env.lane = true;
      m.addGlobalImport(LANE_GLOBAL, IMPORT_MODULE, LANE_IMPORT, binaryen.i32, false);
    }
    const ptr = (a: Arg | undefined): Ref => {
      if (a === undefined) throw new CodegenError("map helper without an argument");
      return typeof a === "bigint" || "ty" in a ? this.operand(a, "i32") : this.argAddr(a);
    };
    const d = m.global.get(descGlobal(id), binaryen.i32);
    const lane = m.global.get(LANE_GLOBAL, binaryen.i32);
    let call: Ref;
    let rt: ValType;
    if (i.helper === HELPER_LOOKUP) {
      call = m.call(MAP_FN.lookup, [d, ptr(i.args[1]), lane], binaryen.i32);
      rt = "i32";
    } else if (i.helper === HELPER_UPDATE) {
      const flags = i.args[3];
      const f =
        flags === undefined
          ? this.const(0n, "i64")
          : typeof flags === "bigint" || "ty" in flags
            ? this.operand(flags, "i64")
            : this.convert(this.argAddr(flags), "i32", "i64");
      call = m.call(
        MAP_FN.update,
        [d, ptr(i.args[1]), ptr(i.args[2]), f, lane, m.i32.const(0)],
        binaryen.i64,
      );
      rt = "i64";
    } else {
      call = m.call(MAP_FN.delete, [d, ptr(i.args[1])], binaryen.i64);
      rt = "i64";
    }
    return i.dst ? this.set(i.dst, call, rt) : m.drop(call);
  }

  /** An array map lookup without a host call: index < maxEntries ? base + index × stride : null. */
  private arrayLookup(
    dst: VReg,
    arr: { id: number; stride: number; maxEntries: number },
    keyArg: Arg,
  ): Ref {
    const m = this.m;
    const global = `mapBase${arr.id}`;
    this.env.arrayBases ??= new Set();
    if (!this.env.arrayBases.has(arr.id)) {
      this.env.arrayBases.add(arr.id);
      m.addGlobalImport(global, IMPORT_MODULE, mapBaseImport(arr.id), binaryen.i32, false);
    }
    const key =
      typeof keyArg === "bigint" || "ty" in keyArg
        ? this.operand(keyArg, "i32")
        : this.argAddr(keyArg);
    const idx = this.newLocal("i32");
    const g = () => m.local.get(idx, binaryen.i32);
    return m.block(null, [
      m.local.set(idx, this.load32u(0, key)),
      this.set(
        dst,
        m.select(
          m.i32.lt_u(g(), m.i32.const(arr.maxEntries)),
          m.i32.add(m.global.get(global, binaryen.i32), m.i32.mul(g(), m.i32.const(arr.stride))),
          m.i32.const(0),
        ),
        "i32",
      ),
    ]);
  }

  /**
   * bpf_xdp_adjust_head / bpf_xdp_adjust_tail on a linear frame, as the kernel checks
   * them: data may move down to the headroom's end and up to data_end - ETH_HLEN;
   * data_end up to the tailroom's end and down to data + ETH_HLEN; grown tail bytes are
   * zeroed. Result 0 or -EINVAL (i64, like the helper's).
   */
  private adjust(i: Extract<Inst, { op: "call" }>): Ref {
    const m = this.m;
    const arg = i.args[1];
    if (arg === undefined || (typeof arg !== "bigint" && !("ty" in arg)))
      throw new CodegenError("adjust helper without an offset");
    const delta = this.newLocal("i32");
    const next = this.newLocal("i32");
    const g = (k: number) => m.local.get(k, binaryen.i32);
    const head = i.helper === HELPER_ADJUST_HEAD;
    const ok = head
      ? m.i32.and(
          m.i32.ge_u(g(next), g(this.minLocal)),
          m.i32.le_u(g(next), m.i32.sub(g(this.endLocal), m.i32.const(ETH_HLEN))),
        )
      : m.i32.and(
          m.i32.le_u(g(next), g(this.maxLocal)),
          m.i32.ge_u(g(next), m.i32.add(g(P_FRAME), m.i32.const(ETH_HLEN))),
        );
    const apply = head
      ? [m.local.set(P_FRAME, g(next))]
      : [
          m.if(
            m.i32.gt_s(g(delta), m.i32.const(0)),
            m.memory.fill(g(this.endLocal), m.i32.const(0), g(delta)),
          ),
          m.local.set(this.endLocal, g(next)),
        ];
    const result = m.if(
      ok,
      m.block(null, [...apply, this.const(0n, "i64")], binaryen.i64),
      this.const(-EINVAL, "i64"),
    );
    const code = [
      m.local.set(delta, this.operand(arg, "i32")),
      m.local.set(next, m.i32.add(g(head ? P_FRAME : this.endLocal), g(delta))),
    ];
    if (i.dst) code.push(this.set(i.dst, result, "i64"));
    else code.push(m.drop(result));
    return m.block(null, code, binaryen.none);
  }

  private bin(kind: BinOp, t: ValType, ao: Operand, bo: Operand): Ref {
    const m = this.m;
    const o = t === "i32" ? m.i32 : m.i64;
    const a = () => this.operand(ao, t);
    const b = () => this.operand(bo, t);
    const isZero = () => o.eqz(b());
    const zero = () => this.const(0n, t);
    const minusOne = () => o.eq(b(), this.const(-1n, t));
    switch (kind) {
      case "add":
        return o.add(a(), b());
      case "sub":
        return o.sub(a(), b());
      case "mul":
        return o.mul(a(), b());
      // eBPF: x / 0 = 0 and x % 0 = x, where Wasm would trap; INT_MIN / -1 wraps.
      case "udiv":
        return m.if(isZero(), zero(), o.div_u(a(), b()));
      case "umod":
        return m.if(isZero(), a(), o.rem_u(a(), b()));
      case "sdiv":
        return m.if(isZero(), zero(), m.if(minusOne(), o.sub(zero(), a()), o.div_s(a(), b())));
      case "smod":
        return m.if(isZero(), a(), m.if(minusOne(), zero(), o.rem_s(a(), b())));
      case "and":
        return o.and(a(), b());
      case "or":
        return o.or(a(), b());
      case "xor":
        return o.xor(a(), b());
      // Wasm masks shift counts to the width, as the language specifies.
      case "shl":
        return o.shl(a(), b());
      case "lshr":
        return o.shr_u(a(), b());
      case "ashr":
        return o.shr_s(a(), b());
    }
  }

  /** Byte swap of the i32 that `tmp` reads (read twice, so it must be a local). */
  private bswap32(tmp: () => Ref): Ref {
    const m = this.m;
    return m.i32.or(
      m.i32.and(m.i32.rotl(tmp(), m.i32.const(8)), m.i32.const(0x00ff00ff)),
      m.i32.and(m.i32.rotr(tmp(), m.i32.const(8)), m.i32.const(0xff00ff00 | 0)),
    );
  }

  private un(kind: UnOp, w: Width, a: Ref): { e: Ref; t: ValType } {
    const m = this.m;
    const t: ValType = w === 64 ? "i64" : "i32";
    const o = t === "i32" ? m.i32 : m.i64;
    switch (kind) {
      case "neg":
        return { e: o.sub(this.const(0n, t), a), t };
      case "not":
        return { e: o.xor(a, this.const(-1n, t)), t };
      case "be16": {
        const tmp = this.newLocal("i32");
        const v = this.convert(a, t, "i32");
        const g = () => m.local.get(tmp, binaryen.i32);
        const e = m.block(
          null,
          [
            m.local.set(tmp, v),
            m.i32.or(
              m.i32.and(m.i32.shr_u(g(), m.i32.const(8)), m.i32.const(0xff)),
              m.i32.and(m.i32.shl(g(), m.i32.const(8)), m.i32.const(0xff00)),
            ),
          ],
          binaryen.i32,
        );
        return { e, t: "i32" };
      }
      case "be32": {
        const tmp = this.newLocal("i32");
        const g = () => m.local.get(tmp, binaryen.i32);
        const e = m.block(
          null,
          [m.local.set(tmp, this.convert(a, t, "i32")), this.bswap32(g)],
          binaryen.i32,
        );
        return { e, t: "i32" };
      }
      case "be64": {
        const tmp = this.newLocal("i64");
        const lo = this.newLocal("i32");
        const hi = this.newLocal("i32");
        const gl = () => m.local.get(lo, binaryen.i32);
        const gh = () => m.local.get(hi, binaryen.i32);
        const x = () => m.local.get(tmp, binaryen.i64);
        const e = m.block(
          null,
          [
            m.local.set(tmp, this.convert(a, t, "i64")),
            m.local.set(lo, m.i32.wrap(x())),
            m.local.set(hi, m.i32.wrap(m.i64.shr_u(x(), this.i64(32n)))),
            // The swapped low word becomes the high word.
            m.i64.or(
              m.i64.shl(m.i64.extend_u(this.bswap32(gl)), this.i64(32n)),
              m.i64.extend_u(this.bswap32(gh)),
            ),
          ],
          binaryen.i64,
        );
        return { e, t: "i64" };
      }
      case "zext8":
        return { e: o.and(a, this.const(0xffn, t)), t };
      case "zext16":
        return { e: o.and(a, this.const(0xffffn, t)), t };
      case "zext32":
        return t === "i64" ? { e: m.i64.and(a, this.const(0xffffffffn, t)), t } : { e: a, t };
      case "sext8":
        return { e: o.extend8_s(a), t };
      case "sext16":
        return { e: o.extend16_s(a), t };
      case "sext32":
        return t === "i64" ? { e: m.i64.extend32_s(a), t } : { e: a, t };
      case "isZero":
        return { e: o.eqz(a), t: "i32" };
    }
  }

  private cond(t: Extract<Term, { op: "br" }>): Ref {
    const vt: ValType = t.w === 64 ? "i64" : "i32";
    return this.compare(t.cc, vt, this.operand(t.a, vt), this.operand(t.b, vt));
  }

  private compare(cc: Cond, t: ValType, a: Ref, b: Ref): Ref {
    const o = t === "i32" ? this.m.i32 : this.m.i64;
    switch (cc) {
      case "eq":
        return o.eq(a, b);
      case "ne":
        return o.ne(a, b);
      case "ugt":
        return o.gt_u(a, b);
      case "uge":
        return o.ge_u(a, b);
      case "ult":
        return o.lt_u(a, b);
      case "ule":
        return o.le_u(a, b);
      case "sgt":
        return o.gt_s(a, b);
      case "sge":
        return o.ge_s(a, b);
      case "slt":
        return o.lt_s(a, b);
      case "sle":
        return o.le_s(a, b);
      case "set":
        return o.ne(o.and(a, b), this.const(0n, t));
    }
  }

  /** ptr + n <= end, unsigned: [ptr, ptr + n) lies inside the frame. */
  private guard(t: Extract<Term, { op: "guard" }>): Ref {
    const m = this.m;
    return m.i32.le_u(
      m.i32.add(this.operand(t.ptr, "i32"), m.i32.const(t.n)),
      this.operand(t.end, "i32"),
    );
  }
}
