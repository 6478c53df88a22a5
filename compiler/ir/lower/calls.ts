// Lowering: calls (methods of Lowerer; lowerer.ts holds its state).
import type * as ast from "../../ast/nodes.ts";
import type { Span } from "../../diagnostics/span.ts";
import type { CallTarget, CheckedModule, FunctionInfo, MapInfo } from "../../check/result.ts";
import type { HeaderField, HeaderKind, IntType, StructType, Type } from "../../check/types.ts";
import { sizeAlign } from "../../check/types.ts";
import { Builder } from "../builder.ts";
import type { Arg, Base, Block, Cond, Operand, Size, Slot, VReg, Width } from "../ir.ts";
import { isImm, isSlot } from "../ir.ts";
import { BPF_FUNC, BPF_F_INGRESS, BPF_NOEXIST as NOEXIST } from "../../uapi/bpf.ts";
import {
  H,
  BPF_NOEXIST,
  LowerInvariantError,
  LowerError,
  VLAN_TPIDS,
  widthOfType,
  intOf,
  inner,
  isScalar,
  SIZES,
  finish2,
  isComparison,
  binOp,
  paramSymbol,
} from "./shared.ts";
import type { Frame, LoopCtx, Value } from "./shared.ts";
import { Lowerer } from "./lowerer.ts";
import { walk } from "../../check/walk.ts";

declare module "./lowerer.ts" {
  interface Lowerer {
    call(e: ast.Call): Value;
    helper(name: string, e: ast.Call): Value;
    argSlot(size: number, name: string): Slot;
    releaseArgSlots(mark: number): void;
    argInMemory(
      e: ast.Expr,
      t: Type,
      n: ast.Node,
      name: string,
    ): { slot: Slot; off: number } | VReg;
    inMemory(v: Value, t: Type, n: ast.Node, name: string): { slot: Slot; off: number } | VReg;
    key(map: MapInfo, e: ast.Expr, n: ast.Node): { slot: Slot; off: number } | VReg;
    mapCall(method: string, map: MapInfo, e: ast.Call): Value;
    increment(map: MapInfo, e: ast.Call): void;
    addTo(p: VReg, size: number, w: Width, by: Operand, perCpu: boolean): void;
    inline(fn: FunctionInfo, e: ast.Call): Value;
  }
}

Lowerer.prototype.call = function (this: Lowerer, e: ast.Call): Value {
  const tgt: CallTarget | undefined = this.m.calls.get(e);
  if (!tgt) this.invariant("unresolved call", e);
  switch (tgt.kind) {
    case "header": {
      const v = this.header(tgt.header, tgt.vlanTags);
      return { k: "ref", base: v, off: 0 };
    }
    case "load":
      return this.rawLoad(tgt.width, e);
    case "store":
      return this.rawStore(tgt.width, e);
    case "csum":
      return this.packetCsum(tgt.len, e);
    case "ipv6Ext":
      return this.skipIpv6Ext(tgt.max, e);
    case "adjust": {
      const delta = this.scalar(this.use(e.args[0]!), e.args[0]!);
      const r = this.b.call(
        tgt.which === "head" ? H.adjustHead : H.adjustTail,
        [this.ctx, delta],
        "i64",
      )!;
      // Every packet pointer and parse is stale now, in every scope: what follows in
      // source order (and a loop's body, forgetParsesIn) loads data again.
      for (const m of this.memo) m.clear();
      return { k: "int", v: this.b.un("isZero", 64, r), w: 32 };
    }
    case "change": {
      // bpf_skb_change_head/tail(skb, len, flags): a packet-changing helper like adjust.
      const [len, flags] = e.args.map((a) => this.scalar(this.use(a), a));
      const r = this.b.call(
        tgt.which === "head" ? H.changeHead : H.changeTail,
        [this.ctx, len!, flags ?? 0n],
        "i64",
      )!;
      for (const m of this.memo) m.clear();
      return { k: "int", v: this.b.un("isZero", 64, r), w: 32 };
    }
    case "csumReplace": {
      // The helpers take the bytes as they sit in the packet: swap the host-order values.
      const [off, from, to] = e.args.slice(0, 3).map((a) => this.scalar(this.use(a), a)) as [
        Operand,
        Operand,
        Operand,
      ];
      const swap = (x: Operand) => this.b.un(tgt.size === 2 ? "be16" : "be32", 32, x);
      const r = this.b.call(
        tgt.layer === 3 ? H.l3CsumReplace : H.l4CsumReplace,
        [this.ctx, off, swap(from), swap(to), BigInt(tgt.size | tgt.flags)],
        "i64",
      )!;
      for (const m of this.memo) m.clear();
      return { k: "int", v: this.b.un("isZero", 64, r), w: 32 };
    }
    case "storeBytes": {
      const a = e.args[1]!;
      const off = this.scalar(this.use(e.args[0]!), e.args[0]!);
      const mark = this.takenArgSlots.length;
      const src = this.argInMemory(a, this.m.types.get(a)!, a, "store");
      const r = this.b.call(
        H.storeBytes,
        [this.ctx, off, src, BigInt(tgt.size), BigInt(tgt.flags)],
        "i64",
      )!;
      this.releaseArgSlots(mark);
      for (const m of this.memo) m.clear();
      return { k: "int", v: this.b.un("isZero", 64, r), w: 32 };
    }
    case "map": {
      const mark = this.takenArgSlots.length;
      const v = this.mapCall(tgt.method, tgt.map, e);
      this.releaseArgSlots(mark);
      return v;
    }
    case "helper":
      return this.helper(tgt.name, e);
    case "function":
      return this.inline(tgt.fn, e);
  }
};

Lowerer.prototype.helper = function (this: Lowerer, name: string, e: ast.Call): Value {
  switch (name) {
    case "ktimeNs":
      return { k: "int", v: this.b.call(H.ktime, [], "i64")!, w: 64 };
    case "randomU32":
      return { k: "int", v: this.b.call(H.random, [], "i32")!, w: 32 };
    case "cpuId":
      return { k: "int", v: this.b.call(H.cpu, [], "i32")!, w: 32 };
    case "redirect": {
      const ifindex = this.scalar(this.use(e.args[0]!), e);
      // { ingress: true } (checked constant) → BPF_F_INGRESS.
      const opts = e.args[1]?.kind === "Paren" ? e.args[1].expr : e.args[1];
      const ingress =
        opts?.kind === "ObjectLit" &&
        opts.props.some((p) => p.name.name === "ingress" && this.m.constValues.get(p.value));
      const flags = ingress ? BigInt(BPF_F_INGRESS) : 0n;
      return { k: "int", v: this.b.call(H.redirect, [ifindex, flags], "i32")!, w: 32 };
    }
    case "redirectNeigh": {
      // bpf_redirect_neigh(ifindex, NULL, 0, 0): the next hop from the FIB, the MACs from
      // the neighbour table.
      const ifindex = this.scalar(this.use(e.args[0]!), e);
      return {
        k: "int",
        v: this.b.call(H.redirectNeigh, [ifindex, 0n, 0n, 0n], "i32")!,
        w: 32,
      };
    }
    case "redirectPeer": {
      const ifindex = this.scalar(this.use(e.args[0]!), e);
      return { k: "int", v: this.b.call(H.redirectPeer, [ifindex, 0n], "i32")!, w: 32 };
    }
    case "atomicAdd": {
      const target = e.args[0]!;
      const gsym = target.kind === "Name" ? this.m.names.get(target) : undefined;
      if (gsym?.kind === "global") {
        const size = sizeAlign(gsym.info.type).size;
        const n = this.scalar(this.use(e.args[1]!), e.args[1]!);
        const p = this.b.addrOfGlobal(gsym.info.name, 0);
        if (size === 4 || size === 8) this.b.atomicAdd(size, p, 0, n);
        else
          this.storeScalar(
            p,
            0,
            gsym.info.type,
            this.b.bin("add", 32, this.scalar(this.loadScalar(p, 0, gsym.info.type), e), n),
          );
        return { k: "void" };
      }
      if (target.kind !== "Member")
        this.unsupported("atomicAdd needs a struct field or a global", target);
      const tgt = this.m.members.get(target);
      if (tgt?.kind !== "structField") this.unsupported("atomicAdd needs a struct field", target);
      const obj = this.ref(target.object);
      const size = sizeAlign(tgt.field.type).size;
      const n = this.scalar(this.use(e.args[1]!), e.args[1]!);
      if (size === 4 || size === 8) this.b.atomicAdd(size, obj.base, obj.off + tgt.field.offset, n);
      else {
        const cur = this.loadScalar(obj.base, obj.off + tgt.field.offset, tgt.field.type);
        this.storeScalar(
          obj.base,
          obj.off + tgt.field.offset,
          tgt.field.type,
          this.b.bin("add", 32, this.scalar(cur, e), n),
        );
      }
      return { k: "void" };
    }
    case "trace": {
      const fmt = e.args[0];
      if (fmt?.kind !== "StringLit") this.unsupported("trace needs a format string", e);
      const bytes = [...new TextEncoder().encode(fmt.value), 0];
      const slot = this.b.slot(bytes.length, 8, "fmt");
      for (let k = 0; k < bytes.length; k += 8) {
        const n = Math.min(8, bytes.length - k);
        let done = 0;
        // Aligned pieces of 8/4/2/1 bytes (stack stores must be aligned).
        for (const sz of [8, 4, 2, 1] as const) {
          while (n - done >= sz) {
            let v = 0n;
            for (let j = sz - 1; j >= 0; j--) v = (v << 8n) | BigInt(bytes[k + done + j]!);
            this.b.store(sz, slot, k + done, v);
            done += sz;
          }
        }
      }
      const args = e.args.slice(1).map((a) => {
        const v = this.use(a);
        return this.scalar(v, a);
      });
      this.b.call(H.trace, [{ slot, off: 0 }, BigInt(bytes.length), ...args], null);
      return { k: "void" };
    }
    case "zeroed": {
      const t = this.m.types.get(e);
      const size = t ? sizeAlign(t).size : 0;
      const slot = this.scopeSlot(Math.max(1, size));
      this.b.zero(slot, 0, size);
      return { k: "ref", base: slot, off: 0 };
    }
    case "fibLookup": {
      const pt = this.m.types.get(e.args[1]!);
      const params = this.use(e.args[1]!);
      if (params.k !== "ref" || !pt) this.unsupported("fibLookup needs a FibLookupParams value", e);
      const mem = this.inMemory(params, pt, e, "fib");
      const flags = e.args[2] ? this.scalar(this.use(e.args[2]), e) : 0n;
      return {
        k: "int",
        v: this.b.call(H.fibLookup, [this.ctx, mem, BigInt(sizeAlign(pt).size), flags], "i32")!,
        w: 32,
      };
    }
    case "bswap16":
    case "htons":
    case "ntohs":
      return { k: "int", v: this.b.un("be16", 32, this.scalar(this.use(e.args[0]!), e)), w: 32 };
    case "bswap32":
    case "htonl":
    case "ntohl":
      return { k: "int", v: this.b.un("be32", 32, this.scalar(this.use(e.args[0]!), e)), w: 32 };
    case "bswap64":
      return { k: "int", v: this.b.un("be64", 64, this.scalar(this.use(e.args[0]!), e)), w: 64 };
    case "csumFold":
      return { k: "int", v: this.csumFold(this.scalar(this.use(e.args[0]!), e)), w: 32 };
    case "csumReplace16":
    case "csumReplace32": {
      // RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') in ones' complement, per 16-bit word.
      const [c, m0, m1] = e.args.map((a) => this.scalar(this.use(a), a)) as [
        Operand,
        Operand,
        Operand,
      ];
      const not16 = (x: Operand) =>
        this.b.bin("xor", 32, this.b.bin("and", 32, x, 0xffffn), 0xffffn);
      const hi = (x: Operand) => this.b.bin("lshr", 32, x, 16n);
      let s = this.b.bin("add", 32, not16(c), not16(m0));
      s = this.b.bin("add", 32, s, this.b.bin("and", 32, m1, 0xffffn));
      if (name === "csumReplace32") {
        s = this.b.bin("add", 32, s, not16(hi(m0)));
        s = this.b.bin("add", 32, s, hi(m1));
      }
      return { k: "int", v: this.csumFold(s), w: 32 };
    }
    case "csumDiff": {
      const side = (a: ast.Expr): [Arg, bigint] => {
        const t = this.m.types.get(a);
        if (!t || t.kind === "null") return [0n, 0n];
        return [this.inMemory(this.use(a), t, a, "csum"), BigInt(sizeAlign(t).size)];
      };
      const [from, fromSize] = side(e.args[0]!);
      const [to, toSize] = side(e.args[1]!);
      const seed = this.scalar(this.use(e.args[2]!), e.args[2]!);
      const r = this.b.call(H.csumDiff, [from, fromSize, to, toSize, seed], "i64")!;
      return { k: "int", v: this.b.un("zext32", 32, r), w: 32 };
    }
    default:
      this.unsupported(`helper ${name} is not supported by the eBPF backend yet`, e);
  }
};

/**
 * A map call's key/value/record argument in memory: a struct literal is built right in
 * a reusable argument slot (it dies with the call), anything else as inMemory does.
 */
Lowerer.prototype.argInMemory = function (
  this: Lowerer,
  e: ast.Expr,
  t: Type,
  n: ast.Node,
  name: string,
): { slot: Slot; off: number } | VReg {
  const u = e.kind === "Paren" ? e.expr : e;
  if (u.kind === "ObjectLit" && t.kind === "struct") {
    const slot = this.argSlot(sizeAlign(t).size, name);
    this.storeInto({ base: slot, off: 0 }, t, u);
    return { slot, off: 0 };
  }
  return this.inMemory(this.use(e), t, n, name);
};

/** Returns the argument slots taken since `mark` (a call's) to the free lists. */
Lowerer.prototype.releaseArgSlots = function (this: Lowerer, mark: number): void {
  for (const s of this.takenArgSlots.splice(mark)) {
    const free = this.freeArgSlots.get(s.size) ?? [];
    free.push(s);
    this.freeArgSlots.set(s.size, free);
  }
};

/** A stack slot for one map call's argument (see freeArgSlots). */
Lowerer.prototype.argSlot = function (this: Lowerer, size: number, name: string): Slot {
  const s = this.freeArgSlots.get(size)?.pop() ?? this.b.slot(size, 8, name);
  this.takenArgSlots.push(s);
  return s;
};

/** Puts a key/value in memory the helper may read: a stack slot (copying when needed). */
Lowerer.prototype.inMemory = function (
  this: Lowerer,
  v: Value,
  t: Type,
  n: ast.Node,
  name: string,
): { slot: Slot; off: number } | VReg {
  if (v.k === "ref") {
    if (isSlot(v.base)) return { slot: v.base, off: v.off };
    if (v.base.ty === "mapValue" || v.base.ty === "stack")
      return v.off === 0 ? v.base : this.b.ptrAdd(v.base, BigInt(v.off));
    const size = sizeAlign(t).size;
    const s = this.argSlot(size, name);
    this.b.copy(s, 0, v.base, v.off, size);
    return { slot: s, off: 0 };
  }
  const { size } = sizeAlign(t);
  const s = this.argSlot(size, name);
  this.storeScalar(s, 0, t, this.scalar(v, n));
  return { slot: s, off: 0 };
};

/** The key argument of a map call: LpmTrie keys get their integer fields after prefixlen in network order. */
Lowerer.prototype.key = function (
  this: Lowerer,
  map: MapInfo,
  e: ast.Expr,
  n: ast.Node,
): { slot: Slot; off: number } | VReg {
  const keyT = map.key!;
  if (map.kind !== "LpmTrie" || keyT.kind !== "struct") return this.argInMemory(e, keyT, n, "key");
  const slot = this.argSlot(keyT.size, "lpmkey");
  if (e.kind === "ObjectLit") this.storeInto({ base: slot, off: 0 }, keyT, e);
  else this.storeValue({ base: slot, off: 0 }, keyT, this.use(e), n);
  for (const f of keyT.fields.slice(1)) {
    const it = intOf(f.type);
    if (!it || it.bits === 8) continue;
    const size = SIZES[it.bits / 8]!;
    const x = this.b.load(size, slot, f.offset, it.bits === 64 ? "i64" : "i32");
    const w: Width = it.bits === 64 ? 64 : 32;
    this.b.store(
      size,
      slot,
      f.offset,
      this.b.un(it.bits === 16 ? "be16" : it.bits === 32 ? "be32" : "be64", w, x),
    );
  }
  return { slot, off: 0 };
};

Lowerer.prototype.mapCall = function (
  this: Lowerer,
  method: string,
  map: MapInfo,
  e: ast.Call,
): Value {
  const mapArg = { map: map.name };
  const keyT = map.key;
  switch (method) {
    case "lookup":
    case "lookupRef": {
      const key = this.key(map, e.args[0]!, e);
      const p = this.b.call(H.lookup, [mapArg, key], "mapValue")!;
      if (!isScalar(map.value) || method === "lookupRef") return { k: "ref", base: p, off: 0 };
      // An integer value is copied out: 0 with ok = null on a miss.
      const w = widthOfType(map.value);
      const r = this.b.vreg(w === 64 ? "i64" : "i32");
      const hit = this.b.block("hit");
      const miss = this.b.block("miss");
      const j = this.b.block("lookupjoin");
      this.b.br("ne", 64, p, 0n, hit, miss);
      this.b.place(hit);
      this.b.mov(r, this.scalar(this.loadScalar(p, 0, map.value), e));
      this.b.jmp(j);
      this.b.place(miss);
      this.b.mov(r, 0n);
      this.b.jmp(j);
      this.b.place(j);
      return { k: "nint", v: r, ok: p, w };
    }
    case "update": {
      const key = this.key(map, e.args[0]!, e);
      const val = this.argInMemory(e.args[1]!, map.value, e, "value");
      const flags = e.args[2] ? this.scalar(this.use(e.args[2]), e) : 0n;
      const r = this.b.call(H.update, [mapArg, key, val, flags], "i64")!;
      return { k: "int", v: this.b.un("isZero", 64, r), w: 32 };
    }
    case "delete": {
      const key = this.key(map, e.args[0]!, e);
      const r = this.b.call(H.delete, [mapArg, key], "i64")!;
      return { k: "int", v: this.b.un("isZero", 64, r), w: 32 };
    }
    case "increment":
      this.increment(map, e);
      return { k: "void" };
    case "output": {
      const t = map.value;
      const rec = this.argInMemory(e.args[0]!, t, e, "record");
      const r = this.b.call(H.ringbufOutput, [mapArg, rec, BigInt(sizeAlign(t).size), 0n], "i64")!;
      return { k: "int", v: this.b.un("isZero", 64, r), w: 32 };
    }
    case "redirect": {
      const key = this.scalar(this.use(e.args[0]!), e);
      const fallback = e.args[1] ? this.scalar(this.use(e.args[1]), e) : 0n;
      return { k: "int", v: this.b.call(H.redirectMap, [mapArg, key, fallback], "i32")!, w: 32 };
    }
    default:
      this.unsupported(`map method ${method} is not supported`, e);
  }
};

Lowerer.prototype.increment = function (this: Lowerer, map: MapInfo, e: ast.Call): void {
  const key = this.key(map, e.args[0]!, e);
  const vt = map.value;
  const size = sizeAlign(vt).size;
  const w = widthOfType(vt);
  let by: Operand = e.args[1] ? this.scalar(this.use(e.args[1]), e) : 1n;
  if (w === 32 && !isImm(by) && by.ty === "i64") by = this.b.un("zext32", 32, by);
  const perCpu =
    map.kind === "PerCpuArray" || map.kind === "PerCpuHash" || map.kind === "LruPerCpuHash";
  const hash = map.kind !== "ArrayMap" && map.kind !== "PerCpuArray";
  const p = this.b.call(H.lookup, [{ map: map.name }, key], "mapValue")!;
  const hit = this.b.block("inc");
  const miss = this.b.block("incmiss");
  const done = this.b.block("incdone");
  this.b.br("ne", 64, p, 0n, hit, hash ? miss : done);
  this.b.place(hit);
  this.addTo(p, size, w, by, perCpu);
  this.b.jmp(done);
  if (hash) {
    this.b.place(miss);
    const val = this.argSlot(size, "init");
    this.b.store(SIZES[size]!, val, 0, by);
    const r = this.b.call(
      H.update,
      [{ map: map.name }, key, { slot: val, off: 0 }, BPF_NOEXIST],
      "i64",
    )!;
    // Lost a race with another CPU inserting the key: add to its entry instead.
    const raced = this.b.block("incrace");
    this.b.br("ne", 64, r, 0n, raced, done);
    this.b.place(raced);
    const p2 = this.b.call(H.lookup, [{ map: map.name }, key], "mapValue")!;
    const hit2 = this.b.block("inc2");
    this.b.br("ne", 64, p2, 0n, hit2, done);
    this.b.place(hit2);
    this.addTo(p2, size, w, by, perCpu);
    this.b.jmp(done);
  }
  this.b.place(done);
};

Lowerer.prototype.addTo = function (
  this: Lowerer,
  p: VReg,
  size: number,
  w: Width,
  by: Operand,
  perCpu: boolean,
): void {
  if (!perCpu && (size === 4 || size === 8)) {
    this.b.atomicAdd(size, p, 0, by);
    return;
  }
  const cur = this.b.load(SIZES[size]!, p, 0, w === 64 ? "i64" : "i32");
  this.b.store(SIZES[size]!, p, 0, this.b.bin("add", w, cur, by));
};

Lowerer.prototype.inline = function (this: Lowerer, fn: FunctionInfo, e: ast.Call): Value {
  const locals = new Map<number, Value>();
  fn.params.forEach((p, k) => {
    const a = e.args[k];
    if (!a) return;
    const v = this.use(a);
    const bound = this.bindCopy(v, p.type, p.name);
    locals.set(p.id, bound);
    if (!assignsParam(this, fn, p.id)) this.keepsView(v, bound);
  });
  // Counted only around the body: arguments (`h(h(x))`) are lowered before, at the
  // caller's depth. The checker rejects recursion; this only bounds call chains.
  if (++this.inlineDepth > 32) this.unsupported("functions nest too deeply to inline", e);
  const rt = fn.returnType;
  const retBlock = this.b.block(`ret.${fn.name}`);
  let value: VReg | null = null;
  if (isScalar(rt)) value = this.b.vreg(widthOfType(rt) === 64 ? "i64" : "i32", fn.name);
  else if (rt.kind !== "void") value = this.b.vreg("pkt", fn.name);
  if (value) this.b.mov(value, 0n);
  this.frames.push({ ret: { block: retBlock, value, type: rt }, locals });
  const savedLoops = this.loops;
  this.loops = [];
  this.scoped(() => this.block(fn.decl.body));
  this.loops = savedLoops;
  this.frames.pop();
  this.b.jmp(retBlock);
  this.b.place(retBlock);
  this.inlineDepth--;
  if (!value) return { k: "void" };
  if (isScalar(rt)) return { k: "int", v: value, w: widthOfType(rt) };
  return { k: "ref", base: value, off: 0 };
};

/** Whether the body of `fn` assigns its parameter `id` (a view it rebinds keeps no offset). */
function assignsParam(l: Lowerer, fn: FunctionInfo, id: number): boolean {
  let found = false;
  walk(fn.decl.body, (n) => {
    if ((n.kind === "Assign" || n.kind === "Update") && n.target.kind === "Name") {
      const sym = l.m.names.get(n.target);
      if (sym && sym.kind === "param" && sym.id === id) found = true;
    }
    return !found;
  });
  return found;
}
