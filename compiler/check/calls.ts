// Call resolution: header accessors and raw loads on the packet, adjustHead/Tail
// (which invalidate packet views), map methods, built-in helpers and user functions.
import type * as ast from "../ast/nodes.ts";
import { fibLookupParamsType, ipv6ChainType } from "./builtins.ts";
import { errorType, ExprChecker, exprText, unwrapParens } from "./exprs.ts";
import { headerKinds, headerTypes } from "./headers.ts";
import type { FunctionInfo, HelperName, MapInfo, MapMethod } from "./result.ts";
import {
  boolType,
  contextType,
  tcActionType,
  type ContextType,
  type XskPacketType,
  i32,
  nullable,
  refType,
  typeToString,
  u16,
  u32,
  u64,
  u8,
  voidType,
  xdpActionType,
  type MapKind,
  type Type,
} from "./types.ts";

/** l4CsumReplace's options → BPF_F_PSEUDO_HDR, BPF_F_MARK_MANGLED_0. */
const CSUM_REPLACE_FLAGS = { pseudoHeader: 0x10, mangledZero: 0x20 };
/** storeBytes's options → BPF_F_RECOMPUTE_CSUM, BPF_F_INVALIDATE_HASH. */
const STORE_BYTES_FLAGS = { recomputeCsum: 0x1, invalidateHash: 0x2 };

const hashLike: MapKind[] = ["HashMap", "PerCpuHash", "LruHash", "LruPerCpuHash"];
const arrayLike: MapKind[] = ["ArrayMap", "PerCpuArray"];
const methodKinds: Record<MapMethod, MapKind[]> = {
  lookup: [...arrayLike, ...hashLike, "LpmTrie", "DevMap", "DevMapHash"],
  lookupRef: [...arrayLike, ...hashLike, "LpmTrie"],
  update: [...arrayLike, ...hashLike, "LpmTrie"],
  delete: [...hashLike, "LpmTrie"],
  increment: [...arrayLike, ...hashLike],
  output: ["RingBuf"],
  redirect: ["DevMap", "DevMapHash", "CpuMap", "XskMap"],
};

export abstract class CallChecker extends ExprChecker {
  checkCall(e: ast.Call, expected: Type | undefined): Type {
    const callee = e.callee;
    if (callee.kind === "Member") {
      const obj = callee.object;
      if (obj.kind === "Name") {
        const sym = this.peekValue(obj.name);
        if (sym?.kind === "map") {
          this.m.names.set(obj, sym);
          if (this.fn) {
            let uses = this.mapUses.get(this.fn);
            if (!uses) this.mapUses.set(this.fn, (uses = new Map()));
            if (!uses.has(sym.info)) uses.set(sym.info, obj.span);
          }
          this.noTypeArgs(e, `${obj.name}.${callee.property.name}`);
          return this.mapMethod(e, sym.info, callee.property);
        }
      }
      const ot = this.expr(obj);
      if (ot !== errorType) {
        if (ot.kind === "nullable") this.error("PossiblyNull", obj.span, exprText(obj));
        else if (ot.kind === "context" || ot.kind === "xskPacket") {
          this.noTypeArgs(e, callee.property.name);
          return this.packetMethod(e, ot, callee.property);
        } else
          this.error("UnknownMethod", callee.property.span, typeToString(ot), callee.property.name);
      }
      this.args(e);
      return errorType;
    }
    if (callee.kind === "Name") {
      const sym = this.lookupValue(callee.name, callee.span);
      if (sym) this.m.names.set(callee, sym);
      if (sym?.kind === "builtinFn") return this.helper(e, sym.name, expected);
      if (sym?.kind === "function") {
        this.noTypeArgs(e, callee.name);
        return this.userCall(e, sym.info);
      }
      if (sym) this.error("NotCallable", callee.span, callee.name);
      this.args(e);
      return errorType;
    }
    this.expr(callee);
    this.error("NotCallable", callee.span, exprText(callee));
    this.args(e);
    return errorType;
  }

  private noTypeArgs(e: ast.Call, name: string): void {
    if (e.typeArgs.length) this.error("NoTypeArgs", e.typeArgs[0]!.span, name);
  }

  /** Types arguments that have no parameter to check against (after an error). */
  private args(e: ast.Call, from = 0): void {
    for (const a of e.args.slice(from)) if (a.kind !== "StringLit") this.expr(a);
  }

  /** Checks the argument count; returns false (after reporting) when it is outside min..max. */
  private arity(e: ast.Call, name: string, min: number, max = min): boolean {
    if (e.args.length >= min && e.args.length <= max) return true;
    this.error("ArgCount", e.span, name, min === max ? min : `${min}-${max}`, e.args.length);
    return false;
  }

  /** Types argument i against t (bidirectionally, for struct literals). */
  private arg(e: ast.Call, i: number, t: Type): void {
    const a = e.args[i];
    if (!a) return;
    this.expr(a, t);
    this.coerce(a, t);
  }

  private packetMethod(e: ast.Call, ot: ContextType | XskPacketType, prop: ast.Ident): Type {
    const name = prop.name;
    const on = ot.kind === "context" ? "ctx" : "xsk";
    if ((headerKinds as string[]).includes(name)) {
      const h = headerKinds.find((k) => k === name)!;
      // Accessors past the Ethernet header take the VLAN tag depth of their L3 walk.
      const walks = h !== "eth" && h !== "vlan";
      let vlanTags = 2;
      if (this.arity(e, name, 0, walks ? 1 : 0) && e.args[0]) {
        this.arg(e, 0, u32);
        const v = this.m.constValues.get(e.args[0]);
        if (v === undefined || v < 0n || v > 8n) this.error("VlanTags", e.args[0].span, name);
        else vlanTags = Number(v);
      } else this.args(e);
      this.m.calls.set(e, { kind: "header", header: h, on, vlanTags });
      return nullable(headerTypes[h]);
    }
    if (name === "csum") {
      let len = 0;
      if (this.arity(e, name, 3)) {
        this.arg(e, 0, u32);
        this.arg(e, 1, u32);
        this.arg(e, 2, u32);
        const v = this.m.constValues.get(e.args[1]!);
        if (v === undefined || v <= 0n || v > 512n || v % 4n !== 0n)
          this.error("CsumLength", e.args[1]!.span);
        else len = Number(v);
      } else this.args(e);
      this.m.calls.set(e, { kind: "csum", len, on });
      return nullable(u32);
    }
    const store = ({ store8: [1, u8], store16: [2, u16], store32: [4, u32] } as const)[
      name as "store8"
    ];
    if (store) {
      if (this.arity(e, name, 2)) {
        this.arg(e, 0, u32);
        this.arg(e, 1, store[1]);
      } else this.args(e);
      this.m.calls.set(e, { kind: "store", width: store[0], on });
      return boolType;
    }
    const load = ({ load8: [1, u8], load16: [2, u16], load32: [4, u32] } as const)[name as "load8"];
    if (load) {
      if (this.arity(e, name, 1)) this.arg(e, 0, u32);
      this.m.calls.set(e, { kind: "load", width: load[0], on });
      return nullable(load[1]);
    }
    if (name === "skipIpv6Ext") {
      let max = 0;
      if (this.arity(e, name, 2)) {
        this.arg(e, 0, ipv6ChainType);
        this.arg(e, 1, u32);
        const v = this.m.constValues.get(e.args[1]!);
        if (v === undefined || v < 1n || v > 16n) this.error("Ipv6ExtCount", e.args[1]!.span);
        else max = Number(v);
      } else this.args(e);
      this.m.calls.set(e, { kind: "ipv6Ext", max, on });
      return boolType;
    }
    // bpf_l3_csum_replace / bpf_l4_csum_replace (tc): fix the checksum at `off` for a
    // 2- or 4-byte change from → to (host-order values, swapped by the lowering).
    if (
      ot.kind === "context" &&
      ot !== contextType &&
      (name === "l3CsumReplace" || name === "l4CsumReplace")
    ) {
      const l4 = name === "l4CsumReplace";
      let size: 2 | 4 = 2;
      let flags = 0;
      if (this.arity(e, name, 4, l4 ? 5 : 4)) {
        this.arg(e, 0, u32);
        this.arg(e, 1, u32);
        this.arg(e, 2, u32);
        this.arg(e, 3, u32);
        const v = this.m.constValues.get(e.args[3]!);
        if (v !== 2n && v !== 4n) this.error("CsumReplaceSize", e.args[3]!.span);
        else size = Number(v) as 2 | 4;
        if (e.args[4])
          flags = this.flagOptions(e.args[4], CSUM_REPLACE_FLAGS, "CsumReplaceOptions");
      } else this.args(e);
      this.m.calls.set(e, { kind: "csumReplace", layer: l4 ? 4 : 3, size, flags });
      this.invalidateViews(`ctx.${name}()`);
      return boolType;
    }
    // bpf_skb_store_bytes (tc): a struct, FixedArray or header's bytes at `off`.
    if (ot.kind === "context" && ot !== contextType && name === "storeBytes") {
      let size = 0;
      let flags = 0;
      if (this.arity(e, name, 2, 3)) {
        this.arg(e, 0, u32);
        const src = e.args[1]!;
        const t = this.expr(src);
        if (t.kind === "struct" || t.kind === "fixedArray" || t.kind === "header") size = t.size;
        else if (t !== errorType) this.error("StoreBytesSource", src.span, typeToString(t));
        if (e.args[2]) flags = this.flagOptions(e.args[2], STORE_BYTES_FLAGS, "StoreBytesOptions");
      } else this.args(e);
      this.m.calls.set(e, { kind: "storeBytes", size, flags });
      this.invalidateViews(`ctx.${name}()`);
      return boolType;
    }
    // bpf_skb_change_tail(skb, len, flags) / bpf_skb_change_head(skb, headroom, flags)
    // (tc): the packet's new length, the bytes pushed in front; they move packet data.
    if (
      ot.kind === "context" &&
      ot !== contextType &&
      (name === "changeTail" || name === "changeHead")
    ) {
      if (this.arity(e, name, 1, 2)) {
        this.arg(e, 0, u32);
        this.arg(e, 1, u64);
      } else this.args(e);
      this.m.calls.set(e, { kind: "change", which: name === "changeHead" ? "head" : "tail" });
      this.invalidateViews(`ctx.${name}()`);
      return boolType;
    }
    // tc has bpf_skb_change_head/tail instead (above), with other semantics.
    if (ot === contextType && (name === "adjustHead" || name === "adjustTail")) {
      if (this.arity(e, name, 1)) this.arg(e, 0, i32);
      this.m.calls.set(e, { kind: "adjust", which: name === "adjustHead" ? "head" : "tail" });
      this.invalidateViews(`ctx.${name}()`);
      return boolType;
    }
    this.error("UnknownMethod", prop.span, typeToString(ot), name);
    this.args(e);
    return errorType;
  }

  /** Marks every packet view held so far as dead: adjustHead/Tail may move packet data. */
  invalidateViews(what: string): void {
    for (const s of this.viewSyms) if (!this.flow.dead.has(s.id)) this.flow.dead.set(s.id, what);
    for (const acc of this.deadAccumulators)
      for (const s of this.viewSyms) if (!acc.has(s.id)) acc.set(s.id, what);
  }

  /** Invalidations inside loops/switches, merged after them (see StmtChecker). */
  deadAccumulators: Map<number, string>[] = [];

  private mapMethod(e: ast.Call, info: MapInfo, prop: ast.Ident): Type {
    const method = prop.name as MapMethod;
    if (!Object.hasOwn(methodKinds, method) || !methodKinds[method].includes(info.kind)) {
      this.error("UnknownMethod", prop.span, info.kind, prop.name);
      this.args(e);
      return errorType;
    }
    this.m.calls.set(e, { kind: "map", method, map: info });
    const name = `${info.name}.${method}`;
    const key = info.key ?? u32;
    switch (method) {
      case "lookup":
        if (this.arity(e, name, 1)) this.arg(e, 0, key);
        return nullable(info.value);
      case "lookupRef":
        if (this.arity(e, name, 1)) this.arg(e, 0, key);
        if (info.value.kind !== "int") {
          this.error("LookupRefValue", e.span, info.name, typeToString(info.value));
          return errorType;
        }
        return nullable(refType(info.value));
      case "update":
        if (this.arity(e, name, 2, 3)) {
          this.arg(e, 0, key);
          this.arg(e, 1, info.value);
          this.arg(e, 2, u64);
        } else this.args(e);
        return boolType;
      case "delete":
        if (this.arity(e, name, 1)) this.arg(e, 0, key);
        return boolType;
      case "increment":
        if (info.value.kind !== "int") {
          this.error("IncrementValue", e.span, info.name, typeToString(info.value));
          this.args(e);
          return voidType;
        }
        if (this.arity(e, name, 1, 2)) {
          this.arg(e, 0, key);
          this.arg(e, 1, info.value);
        } else this.args(e);
        return voidType;
      case "output":
        if (this.arity(e, name, 1)) this.arg(e, 0, info.value);
        return boolType;
      case "redirect":
        if (this.arity(e, name, 2)) {
          this.arg(e, 0, u32);
          this.fallback(e.args[1]!);
        } else this.args(e);
        return xdpActionType;
    }
  }

  /**
   * redirect()'s options at tc: `{ ingress: true }` (BPF_F_INGRESS) as an object literal
   * of constant booleans; the lowering reads the flag from constValues.
   */
  private redirectOptions(a: ast.Expr, tc: boolean): void {
    const o = unwrapParens(a);
    if (!tc) this.error("ContextOnly", a.span, "redirect()'s options", "tc programs");
    if (o.kind !== "ObjectLit") {
      this.error("RedirectOptions", a.span);
      this.expr(a);
      return;
    }
    for (const p of o.props) {
      const t = this.expr(p.value);
      if (p.name.name !== "ingress" || t === errorType) {
        if (t !== errorType) this.error("RedirectOptions", p.span);
        continue;
      }
      const v = this.m.constValues.get(p.value);
      if (t.kind !== "bool" || v === undefined) this.error("RedirectOptions", p.value.span);
    }
  }

  /** An options object literal of constant booleans (`bits`: name → BPF_F_* bit) → flags. */
  private flagOptions(
    a: ast.Expr,
    bits: Record<string, number>,
    code: "CsumReplaceOptions" | "StoreBytesOptions",
  ): number {
    const o = unwrapParens(a);
    if (o.kind !== "ObjectLit") {
      this.error(code, a.span);
      this.expr(a);
      return 0;
    }
    let flags = 0;
    for (const p of o.props) {
      const t = this.expr(p.value);
      const v = this.m.constValues.get(p.value);
      if (!Object.hasOwn(bits, p.name.name) || t.kind !== "bool" || v === undefined) {
        if (t !== errorType) this.error(code, p.span);
      } else if (v) flags |= bits[p.name.name]!;
    }
    return flags;
  }

  /** A redirect fallback must be a constant verdict the kernel accepts there (0..3). */
  private fallback(a: ast.Expr): void {
    const t = this.expr(a);
    if (t === errorType) return;
    const v = this.m.constValues.get(a);
    if (v === undefined || v < 0n || v > 3n || !(t.kind === "action" || t.kind === "int")) {
      this.error("RedirectFallback", a.span);
      return;
    }
    this.coerce(a, xdpActionType);
  }

  private helper(e: ast.Call, name: HelperName, expected: Type | undefined): Type {
    if (name !== "zeroed" && name !== "param") this.noTypeArgs(e, name);
    this.m.calls.set(e, { kind: "helper", name });
    switch (name) {
      case "ktimeNs":
      case "randomU32":
      case "cpuId":
        this.arity(e, name, 0);
        this.args(e);
        return name === "ktimeNs" ? u64 : u32;
      case "redirect":
        if (this.arity(e, name, 1, 2)) {
          this.arg(e, 0, u32);
          if (e.args[1]) this.redirectOptions(e.args[1], expected === tcActionType);
        } else this.args(e);
        // bpf_redirect returns the hook's own verdict (XDP_REDIRECT or TC_ACT_REDIRECT).
        return expected === tcActionType ? tcActionType : xdpActionType;
      case "redirectNeigh":
      case "redirectPeer":
        if (this.arity(e, name, 1)) this.arg(e, 0, u32);
        else this.args(e);
        if (this.fn && this.fn.kind !== "tc" && this.fn.kind !== "helper")
          this.error("ContextOnly", e.callee.span, `${name}()`, "tc programs");
        return tcActionType;
      case "trace": {
        const fmt = e.args[0];
        if (!fmt || unwrapParens(fmt).kind !== "StringLit") {
          this.error("TraceFormat", fmt?.span ?? e.span);
          this.args(e, fmt && unwrapParens(fmt).kind !== "StringLit" ? 0 : 1);
          return voidType;
        }
        if (e.args.length > 4) this.error("TraceArgs", e.args[4]!.span, e.args.length - 1);
        else this.traceFormat(unwrapParens(fmt) as ast.StringLit, e.args.length - 1);
        for (const a of e.args.slice(1)) {
          const t = this.expr(a);
          if (t !== errorType && t.kind !== "int" && t.kind !== "bool" && t.kind !== "action")
            this.error("IntegerRequired", a.span, "a trace() value", typeToString(t));
        }
        return voidType;
      }
      case "atomicAdd": {
        if (!this.arity(e, name, 2)) {
          this.args(e);
          return voidType;
        }
        const target = e.args[0]!;
        const t = this.expr(target);
        const u = unwrapParens(target);
        const okTarget =
          t.kind === "int" &&
          (t === u32 || t === u64) &&
          ((u.kind === "Member" && this.m.members.get(u)?.kind === "structField") ||
            (u.kind === "Name" && this.m.names.get(u)?.kind === "global"));
        if (!okTarget) {
          if (t !== errorType) this.error("AtomicAddTarget", target.span);
          this.args(e, 1);
          return voidType;
        }
        this.arg(e, 1, t);
        return voidType;
      }
      case "fibLookup":
        if (this.arity(e, name, 2, 3)) {
          // bpf_fib_lookup takes an xdp_md or an __sk_buff: either program's ctx.
          const c = e.args[0]!;
          const ct = this.expr(c, contextType);
          if (ct !== errorType && ct.kind !== "context") this.coerce(c, contextType);
          this.arg(e, 1, fibLookupParamsType);
          this.arg(e, 2, u32);
        } else this.args(e);
        return u32;
      case "zeroed": {
        this.arity(e, name, 0);
        this.args(e);
        let t: Type | null = null;
        if (e.typeArgs.length === 1) t = this.resolveType(e.typeArgs[0]!);
        else if (
          e.typeArgs.length === 0 &&
          (expected?.kind === "struct" || expected?.kind === "fixedArray")
        )
          t = expected;
        if (!t) {
          this.error("ZeroedType", e.span);
          return errorType;
        }
        if (t.kind !== "struct" && t.kind !== "fixedArray") {
          this.error("ZeroedType", e.typeArgs[0]?.span ?? e.span);
          return errorType;
        }
        return t;
      }
      case "bswap16":
      case "htons":
      case "ntohs":
        if (this.arity(e, name, 1)) this.arg(e, 0, u16);
        return u16;
      case "bswap32":
      case "htonl":
      case "ntohl":
        if (this.arity(e, name, 1)) this.arg(e, 0, u32);
        return u32;
      case "bswap64":
        if (this.arity(e, name, 1)) this.arg(e, 0, u64);
        return u64;
      case "csumFold":
        if (this.arity(e, name, 1)) this.arg(e, 0, u32);
        return u16;
      case "csumReplace16":
      case "csumReplace32":
        if (this.arity(e, name, 3)) {
          this.arg(e, 0, u16);
          this.arg(e, 1, name === "csumReplace16" ? u16 : u32);
          this.arg(e, 2, name === "csumReplace16" ? u16 : u32);
        } else this.args(e);
        return u16;
      case "csumDiff": {
        if (!this.arity(e, name, 3)) {
          this.args(e);
          return u32;
        }
        let total = 0;
        for (const a of e.args.slice(0, 2)) {
          const t = this.expr(a);
          if (t === errorType || t.kind === "null") continue;
          const size =
            t.kind === "struct" || t.kind === "fixedArray" || t.kind === "header" ? t.size : -1;
          if (size < 0 || size % 4 !== 0) {
            this.error("CsumDiffOperand", a.span, typeToString(t));
            continue;
          }
          total += size;
        }
        if (total > 512)
          this.error("CsumDiffOperand", e.span, `${total} bytes in all (at most 512)`);
        this.arg(e, 2, u32);
        return u32;
      }
      case "param":
        this.error("ParamMisplaced", e.span);
        this.args(e);
        return errorType;
    }
  }

  /** bpf_trace_printk understands a few conversions; each needs one value. */
  private traceFormat(fmt: ast.StringLit, values: number): void {
    let count = 0;
    for (const m of fmt.value.matchAll(/%([-+ 0#]*\d*)(ll|l)?(.?)/g)) {
      if (m[0] === "%%" || (m[1] === "" && m[2] === undefined && m[3] === "%")) continue;
      if (!"diuxc".includes(m[3] || "?") || (m[3] === "c" && m[2])) {
        this.error("TraceConversion", fmt.span, m[0]);
        return;
      }
      count++;
    }
    if (count !== values) this.error("TraceCount", fmt.span, count, values);
  }

  private userCall(e: ast.Call, fn: FunctionInfo): Type {
    this.m.calls.set(e, { kind: "function", fn });
    if (fn.kind !== "helper") {
      this.error(
        "UnsupportedHere",
        e.callee.span,
        `calling ${fn.kind === "xdp" ? "an XDP program" : fn.kind === "tc" ? "a tc program" : "an AF_XDP handler"}`,
        "; move the shared code into a helper function",
      );
    }
    if (this.arity(e, fn.name, fn.params.length))
      fn.params.forEach((p, i) => this.arg(e, i, p.type));
    else this.args(e);
    const caller = this.fn;
    if (caller) {
      if (!caller.callees.includes(fn)) caller.callees.push(fn);
      let sites = this.callSites.get(caller);
      if (!sites) this.callSites.set(caller, (sites = new Map()));
      if (!sites.has(fn)) sites.set(fn, e.callee.span);
    }
    if (fn.adjustsPacket) this.invalidateViews(`${fn.name}(), which adjusts the packet`);
    return fn.returnType;
  }
}
