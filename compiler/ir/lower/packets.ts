// Lowering: packet access (methods of Lowerer; lowerer.ts holds its state).
import type * as ast from "../../ast/nodes.ts";
import type { Span } from "../../diagnostics/span.ts";
import type { CallTarget, CheckedModule, FunctionInfo, MapInfo } from "../../check/result.ts";
import type { HeaderField, HeaderKind, IntType, StructType, Type } from "../../check/types.ts";
import { sizeAlign } from "../../check/types.ts";
import { Builder } from "../builder.ts";
import type { Base, Block, Cond, Operand, Size, Slot, VReg, Width } from "../ir.ts";
import { isImm, isSlot } from "../ir.ts";
import { BPF_FUNC, BPF_NOEXIST as NOEXIST, SK_BUFF, XDP_MD } from "../../uapi/bpf.ts";
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
    packet(): { data: VReg; end: VReg };
    rawLoad(width: 1 | 2 | 4, e: ast.Call): Value;
    rawStore(width: 1 | 2 | 4, e: ast.Call): Value;
    packetCsum(len: number, e: ast.Call): Value;
    skipIpv6Ext(max: number, e: ast.Call): Value;
    checkedPacket(
      kind: string,
      off: Operand,
      len: number,
      withValue: boolean,
      inRange: (p: VReg) => Operand | null,
    ): { ok: VReg; v?: VReg };
    csumFold(x: Operand): Operand;
    header(h: HeaderKind, vlanTags?: number): VReg;
    rebuiltView(v: VReg): VReg;
    forgetParsesOf(h: HeaderKind, field: string): void;
    forgetParses(names: readonly string[]): void;
    forgetParsesIn(body: ast.Node): void;
    ipv4HeaderLength(ip: VReg): VReg;
    l3(vlanTags: number): { ethertype: VReg; off: VReg; fail: Block };
  }
}

/**
 * The memo key of a parse that depends on the VLAN tag depth of the L3 walk: the name
 * alone for the default depth (2), `name@depth` otherwise.
 */
const parseKey = (name: string, vlanTags: number) =>
  vlanTags === 2 ? name : `${name}@${vlanTags}`;

/** data and data_end for the current point (memoised per scope). */
Lowerer.prototype.packet = function (this: Lowerer): { data: VReg; end: VReg } {
  let data = this.memoGet("data");
  let end = this.memoGet("end");
  if (!data || !end) {
    const at = this.fn.kind === "tc" ? SK_BUFF : XDP_MD;
    data = this.b.load(4, this.ctx, at.data, "pkt");
    end = this.b.load(4, this.ctx, at.data_end, "pktEnd");
    this.memoSet("data", data);
    this.memoSet("end", end);
  }
  return { data, end };
};

/** ~fold16(x): the 16-bit ones' complement checksum of a 32-bit partial sum. */
Lowerer.prototype.csumFold = function (this: Lowerer, x: Operand): Operand {
  let s = this.b.bin("add", 32, this.b.bin("and", 32, x, 0xffffn), this.b.bin("lshr", 32, x, 16n));
  s = this.b.bin("add", 32, s, this.b.bin("lshr", 32, s, 16n));
  return this.b.bin("xor", 32, this.b.bin("and", 32, s, 0xffffn), 0xffffn);
};

/** `ctx.csum(off, len, seed)`: bpf_csum_diff(NULL, 0, data + off, len, seed) after the load bounds rules. */
Lowerer.prototype.packetCsum = function (this: Lowerer, len: number, e: ast.Call): Value {
  const off = this.scalar(this.use(e.args[0]!), e);
  const seed = this.scalar(this.use(e.args[2]!), e.args[2]!);
  const { v, ok } = this.checkedPacket("csum", off, len, true, (p) => {
    const sum = this.b.call(H.csumDiff, [0n, 0n, p, BigInt(len), seed], "i64")!;
    return this.b.un("zext32", 32, sum);
  });
  return { k: "nint", v: v!, ok, w: 32 };
};

/**
 * `ctx.skipIpv6Ext(chain, max)`: while chain.nextHeader names an IPv6 extension header,
 * read its first two bytes at chain.offset (next header, length) and step over it —
 * hop-by-hop 0, routing 43, destination options 60, mobility 135: (len + 1) × 8 bytes;
 * AH 51: (len + 2) × 4; fragment 44: 8 — at most `max` times. true when the chain ends
 * at a non-extension header; false when two bytes of a header are missing or more than
 * `max` extension headers follow. The chain is written back either way (the position
 * reached). Unrolled: each step is a 2-byte checked load and a few compares.
 */
Lowerer.prototype.skipIpv6Ext = function (this: Lowerer, max: number, e: ast.Call): Value {
  const c = this.use(e.args[0]!);
  if (c.k !== "ref") this.invariant("skipIpv6Ext needs an Ipv6Chain value", e);
  const off = this.b.load(4, c.base, c.off, "i32", this.b.vreg("i32", "extoff"));
  const nh = this.b.load(1, c.base, c.off + 4, "i32", this.b.vreg("i32", "extnh"));
  const res = this.b.vreg("i32", "extok");
  const ok = this.b.block("extend");
  const fail = this.b.block("extfail");
  const done = this.b.block("extdone");
  const mask = this.b.vreg("i32");
  const add = this.b.vreg("i32");
  const shift = this.b.vreg("i32");
  /** Branches to `len8`, `ah`, `frag` by nh, else to `other`. */
  const classify = (len8: Block, ah: Block, frag: Block, other: Block) => {
    for (const [n, to] of [
      [0n, len8],
      [43n, len8],
      [60n, len8],
      [135n, len8],
      [51n, ah],
      [44n, frag],
    ] as const) {
      const next = this.b.block("extnot");
      this.b.br("eq", 32, nh, n, to, next);
      this.b.place(next);
    }
    this.b.jmp(other);
  };
  for (let i = 0; i < max; i++) {
    const len8 = this.b.block("extlen8");
    const ah = this.b.block("extah");
    const frag = this.b.block("extfrag");
    const step = this.b.block("extstep");
    classify(len8, ah, frag, ok);
    // Step size ((len & mask) + add) << shift: 8-byte units, AH's 4-byte units, 8 fixed.
    for (const [b, m, a, sh] of [
      [len8, 0xffn, 1n, 3n],
      [ah, 0xffn, 2n, 2n],
      [frag, 0n, 1n, 3n],
    ] as const) {
      this.b.place(b);
      this.b.mov(mask, m);
      this.b.mov(add, a);
      this.b.mov(shift, sh);
      this.b.jmp(step);
    }
    this.b.place(step);
    const { v, ok: present } = this.checkedPacket("ext", off, 2, true, (p) => this.b.load(2, p, 0));
    const got = this.b.block("extgot");
    this.b.br("eq", 64, present, 0n, fail, got);
    this.b.place(got);
    const len = this.b.bin("and", 32, this.b.bin("lshr", 32, v!, 8n), mask);
    const size = this.b.bin("shl", 32, this.b.bin("add", 32, len, add), shift);
    this.b.bin("add", 32, off, size, off);
    this.b.bin("and", 32, v!, 0xffn, nh);
  }
  // After `max` steps: done only if what follows is not another extension header.
  const over = this.b.block("extover");
  classify(over, over, over, ok);
  this.b.place(over);
  this.b.jmp(fail);
  for (const [b, r] of [
    [ok, 1n],
    [fail, 0n],
  ] as const) {
    this.b.place(b);
    this.b.mov(res, r);
    this.b.jmp(done);
  }
  this.b.place(done);
  this.b.store(4, c.base, c.off, off);
  this.b.store(1, c.base, c.off + 4, nh);
  return { k: "int", v: res, w: 32 };
};

/** `ctx.storeN(off, v)`: the checked load's bounds rules, then a big-endian store; bool. */
Lowerer.prototype.rawStore = function (this: Lowerer, width: 1 | 2 | 4, e: ast.Call): Value {
  const off = this.scalar(this.use(e.args[0]!), e);
  const val = this.scalar(this.use(e.args[1]!), e.args[1]!);
  const { ok } = this.checkedPacket("store", off, width, false, (p) => {
    const v =
      width === 2 ? this.b.un("be16", 32, val) : width === 4 ? this.b.un("be32", 32, val) : val;
    this.b.store(width, p, 0, v);
    return null;
  });
  // Any byte may have changed: every parse past the Ethernet header is redone.
  this.forgetParses(ALL_PARSES);
  return { k: "int", v: ok, w: 32 };
};

Lowerer.prototype.rawLoad = function (this: Lowerer, width: 1 | 2 | 4, e: ast.Call): Value {
  const off = this.scalar(this.use(e.args[0]!), e);
  const { v, ok } = this.checkedPacket("load", off, width, true, (p) => {
    const x = this.b.load(width, p, 0);
    return width === 2 ? this.b.un("be16", 32, x) : width === 4 ? this.b.un("be32", 32, x) : x;
  });
  return { k: "nint", v: v!, ok, w: 32 };
};

/**
 * The checked loads' bounds rules around `inRange(p)`, p = data + off: `ok` is 1 when
 * off + len bytes lie in the packet (and `inRange` ran), 0 otherwise; `v` holds what
 * `inRange` returned (0 on failure) when `withValue`. The verifier needs a
 * bounded offset before it adds it to a packet pointer, and it only trusts the guard when
 * offset + len stays within 0xffff (MAX_PACKET_OFF); no frame is that long, so a larger
 * offset is out of bounds anyway.
 */
Lowerer.prototype.checkedPacket = function (
  this: Lowerer,
  kind: string,
  off: Operand,
  len: number,
  withValue: boolean,
  inRange: (p: VReg) => Operand | null,
): { ok: VReg; v?: VReg } {
  const { data, end } = this.packet();
  const v = withValue ? this.b.vreg("i32") : undefined;
  // Beside a value, ok is a nullable's presence flag (i64); alone, it is the bool result.
  const ok = this.b.vreg(withValue ? "i64" : "i32");
  const fail = this.b.block(`${kind}fail`);
  const inr = this.b.block(`${kind}off`);
  const good = this.b.block(`${kind}ok`);
  const j = this.b.block(`${kind}join`);
  const o64 = this.b.vreg("i64");
  this.b.mov(o64, off);
  this.b.br("ugt", 64, o64, BigInt(0xffff - len), fail, inr);
  this.b.place(inr);
  const p = this.b.ptrAdd(data, o64);
  this.b.guard(p, len, end, good, fail);
  this.b.place(good);
  const x = inRange(p);
  if (v && x !== null) this.b.mov(v, x);
  this.b.mov(ok, 1n);
  this.b.jmp(j);
  this.b.place(fail);
  if (v) this.b.mov(v, 0n);
  this.b.mov(ok, 0n);
  this.b.jmp(j);
  this.b.place(j);
  return { ok, v };
};

/**
 * A header view pointer: the header's start in packet data, or 0 when the
 * packet is not that protocol or too short (LANGUAGE.md §5).
 */
Lowerer.prototype.header = function (this: Lowerer, h: HeaderKind, vlanTags = 2): VReg {
  const key = parseKey(h, vlanTags);
  const known = this.memoGet(key);
  if (known) return known;
  const view = this.b.vreg("pkt", h);
  const fail = this.b.block(`no${h}`);
  const join = this.b.block(`${h}done`);
  const { data, end } = this.packet();
  // In a function with a bounded loop, the view's offset from data too (rebuiltView):
  // dead, and dropped, unless a view lives across a loop.
  const off = this.hasBoundedLoop() ? this.b.vreg("i64", `${h}.off`) : null;
  const size = { eth: 14, vlan: 4, ipv4: 20, ipv6: 40, tcp: 20, udp: 8, icmp: 8, icmp6: 8 }[h];
  /** The offset of the view at `from` (an offset of `from`'s own) plus `k`, or null. */
  const offOf = (from: VReg, k: Operand): Operand | null => {
    const o = this.viewOffsets.get(from)?.at;
    if (!off || !o) return null;
    if (isImm(k)) return this.b.bin("add", 64, o, k);
    const k64 = this.b.vreg("i64");
    this.b.mov(k64, k);
    return this.b.bin("add", 64, o, k64);
  };
  let tracked = off !== null;
  const setOff = (o: Operand | null) => {
    if (!off) return;
    if (o === null) tracked = false;
    else this.b.mov(off, o);
  };
  const finish = (p: VReg, n: number, o: Operand | null) => {
    const ok = this.b.block(`${h}ok`);
    this.b.guard(p, n, end, ok, fail);
    this.b.place(ok);
    this.b.mov(view, p);
    setOff(o);
    this.b.jmp(join);
  };
  const onNull = (v: VReg, notNull: Block) => this.b.br("eq", 64, v, 0n, fail, notNull);
  switch (h) {
    case "eth":
      finish(data, 14, 0n);
      break;
    case "vlan": {
      const eth = this.header("eth");
      const a = this.b.block("vlaneth");
      onNull(eth, a);
      this.b.place(a);
      const proto = this.b.un("be16", 32, this.b.load(2, eth, 12));
      const isTag = this.b.block("vlantag");
      const other = this.b.block("vlanother");
      this.b.br("eq", 32, proto, VLAN_TPIDS[0]!, isTag, other);
      this.b.place(other);
      this.b.br("eq", 32, proto, VLAN_TPIDS[1]!, isTag, fail, true);
      this.b.place(isTag);
      finish(this.b.ptrAdd(data, 14n), 4, 14n);
      break;
    }
    case "ipv4":
    case "ipv6": {
      const l3 = this.l3(vlanTags);
      const a = this.b.block(`${h}et`);
      this.b.br("eq", 32, l3.ethertype, h === "ipv4" ? 0x0800n : 0x86ddn, a, fail);
      this.b.place(a);
      const p = this.b.ptrAdd(data, l3.off);
      const g = this.b.block(`${h}hdr`);
      this.b.guard(p, h === "ipv4" ? 20 : 40, end, g, fail);
      this.b.place(g);
      const b0 = this.b.load(1, p, 0);
      const ver = this.b.bin("lshr", 32, b0, 4n);
      const vok = this.b.block(`${h}ver`);
      this.b.br("eq", 32, ver, h === "ipv4" ? 4n : 6n, vok, fail);
      this.b.place(vok);
      if (h === "ipv4") {
        const ihl = this.b.bin("and", 32, b0, 0x0fn);
        const ihlok = this.b.block("ihlok");
        this.b.br("uge", 32, ihl, 5n, ihlok, fail);
        this.b.place(ihlok);
        const hl = this.b.bin("shl", 32, ihl, 2n);
        const q = this.b.ptrAdd(p, hl);
        this.memoSet(parseKey("ipv4.hl", vlanTags), hl);
        finish2(this.b, q, end, fail, () => {
          this.b.mov(view, p);
          setOff(l3.off);
          this.b.jmp(join);
        });
      } else {
        this.b.mov(view, p);
        setOff(l3.off);
        this.b.jmp(join);
      }
      break;
    }
    case "tcp":
    case "udp":
    case "icmp":
    case "icmp6": {
      const proto = { tcp: 6n, udp: 17n, icmp: 1n, icmp6: 58n }[h];
      const size = h === "tcp" ? 20 : 8;
      const viaV6 = this.b.block(`${h}v6`);
      // Both IP views are computed up front so that their memo entries dominate what
      // follows (a later udp() after tcp() reuses them); for an IPv4 packet the IPv6
      // attempt costs one EtherType compare.
      const ip6 = h === "icmp" ? null : this.header("ipv6", vlanTags);
      if (h !== "icmp6") {
        const ip = this.header("ipv4", vlanTags);
        const hl = this.memoGet(parseKey("ipv4.hl", vlanTags)) ?? this.ipv4HeaderLength(ip);
        const a = this.b.block(`${h}v4`);
        this.b.br("eq", 64, ip, 0n, h === "icmp" ? fail : viaV6, a);
        this.b.place(a);
        const pr = this.b.load(1, ip, 9);
        const b2 = this.b.block(`${h}proto4`);
        // An IPv4 packet of another protocol is not IPv6 either.
        this.b.br("eq", 32, pr, proto, b2, fail);
        this.b.place(b2);
        const frag = this.b.bin("and", 32, this.b.un("be16", 32, this.b.load(2, ip, 6)), 0x1fffn);
        const b3 = this.b.block(`${h}nofrag`);
        this.b.br("eq", 32, frag, 0n, b3, fail);
        this.b.place(b3);
        finish(this.b.ptrAdd(ip, hl), size, offOf(ip, hl));
      } else this.b.jmp(viaV6);
      this.b.place(viaV6);
      if (h === "icmp") {
        this.b.jmp(fail);
        break;
      }
      const c = this.b.block(`${h}v6hdr`);
      onNull(ip6!, c);
      this.b.place(c);
      const nh = this.b.load(1, ip6!, 6);
      const d = this.b.block(`${h}proto6`);
      this.b.br("eq", 32, nh, proto, d, fail);
      this.b.place(d);
      finish(this.b.ptrAdd(ip6!, 40n), size, offOf(ip6!, 40n));
      break;
    }
  }
  this.b.place(fail);
  this.b.mov(view, 0n);
  if (off) this.b.mov(off, 0x10000n);
  this.b.jmp(join);
  this.b.place(join);
  this.memoSet(key, view);
  if (off && tracked) {
    // The offset goes to 4 bytes of a stack slot that no 8-byte spill covers, which the
    // verifier reads back as an unknown (rule 12 forwards no such store): kept in a
    // register, its value (54, 58, 62 by the VLAN tags, a range over IPv4) told apart
    // the loop head's states as the view's range did. Null (0x10000) stays known.
    const slot = this.b.slot(8, 8, `${h}.off`);
    this.b.store(4, slot, 4, off);
    const none = this.b.bin("lshr", 64, off, 16n);
    this.viewOffsets.set(view, { at: off, slot, none, size });
  }
  return view;
};

/**
 * A header view from before a bounded loop, re-derived from the current data: data + its
 * offset, checked again for its header's bytes (memoised per scope, like a parse). The
 * verifier gives every packet pointer at a constant offset from a data loaded from the
 * context one id, so a view kept live around the loop took the range of each trip's
 * checks on the body's own data, and the loop head's states stopped pruning each other
 * (fuzz seeds 60707, 62963). Only the offset lives around the loop now, a scalar the
 * loop never changes. The address is the view's own (nothing that moves packet data
 * keeps a view alive: the checker refuses those uses), so the check cannot fail; the
 * verifier does not know that, and that path ends the program.
 */
Lowerer.prototype.rebuiltView = function (this: Lowerer, v: VReg): VReg {
  const key = `view#${v.id}`;
  const known = this.memoGet(key);
  if (known) return known;
  const info = this.viewOffsets.get(v);
  if (!info) this.invariant("a deferred view without an offset", this.fn.decl);
  const { data, end } = this.packet();
  const r = this.b.vreg("pkt", v.name);
  const some = this.b.block("viewsome");
  const inr = this.b.block("viewoff");
  const ok = this.b.block("viewok");
  const lost = this.b.block("viewlost");
  const none = this.b.block("viewnull");
  const join = this.b.block("viewdone");
  this.b.br("ne", 64, info.none, 0n, none, some);
  this.b.place(some);
  const off = this.b.load(4, info.slot, 4, "i64");
  this.b.br("ugt", 64, off, BigInt(0xffff - info.size), lost, inr);
  this.b.place(inr);
  const p = this.b.ptrAdd(data, off);
  this.b.guard(p, info.size, end, ok, lost);
  this.b.place(ok);
  this.b.mov(r, p);
  this.b.jmp(join);
  this.b.place(lost);
  this.b.ret(0n);
  this.b.place(none);
  this.b.mov(r, 0n);
  this.b.jmp(join);
  this.b.place(join);
  this.memoSet(key, r);
  this.viewOffsets.set(r, info);
  return r;
};

const L4_PARSES = ["tcp", "udp", "icmp", "icmp6"];
/** Every parse past the Ethernet header (what a raw store or an EtherType store voids). */
const ALL_PARSES = ["vlan", "l3.et", "l3.off", "ipv4", "ipv6", "ipv4.hl", ...L4_PARSES];

/** The memoised parses that read a header field (and that a store to it voids). */
function parsesReading(h: HeaderKind, field: string): readonly string[] {
  if ((h === "eth" || h === "vlan") && field === "proto") return ALL_PARSES;
  if (h === "ipv4" && ["protocol", "flags", "fragmentOffset"].includes(field)) return L4_PARSES;
  if (h === "ipv6" && field === "nextHeader") return L4_PARSES;
  return [];
}

/**
 * A store to a field that an accessor's parse reads (EtherType, the tag's EtherType,
 * protocol / next header, fragment fields) voids the memoised parses that read it, in
 * every scope: a later accessor parses the packet again (§5 rules on its bytes now).
 */
Lowerer.prototype.forgetParsesOf = function (this: Lowerer, h: HeaderKind, field: string): void {
  this.forgetParses(parsesReading(h, field));
};

/**
 * Before a loop's body: voids the parses that the body (or a function it calls) voids
 * anywhere (all of the memo if it adjusts the packet). Lowering is in source order, so a store late in the body would otherwise
 * void a memo only after the body's earlier uses, which the next iteration runs again
 * with the stale parse.
 */
Lowerer.prototype.forgetParsesIn = function (this: Lowerer, body: ast.Node): void {
  const names = new Set<string>();
  let adjusts = false;
  const seen = new Set<ast.Node>();
  const scan = (root: ast.Node) =>
    walk(root, (n) => {
      if ((n.kind === "Assign" || n.kind === "Update") && n.target.kind === "Member") {
        const tgt = this.m.members.get(n.target);
        if (tgt?.kind === "headerField")
          parsesReading(tgt.header, tgt.field.name).forEach((k) => names.add(k));
      } else if (n.kind === "Call") {
        const tgt = this.m.calls.get(n);
        // Every helper that changes packet data drops the verifier's packet pointers.
        if (
          tgt?.kind === "adjust" ||
          tgt?.kind === "change" ||
          tgt?.kind === "csumReplace" ||
          tgt?.kind === "storeBytes"
        )
          adjusts = true;
        else if (tgt?.kind === "store") ALL_PARSES.forEach((k) => names.add(k));
        else if (tgt?.kind === "function" && !seen.has(tgt.fn.decl)) {
          seen.add(tgt.fn.decl);
          scan(tgt.fn.decl.body);
        }
      }
    });
  scan(body);
  if (adjusts) for (const m of this.memo) m.clear();
  else if (names.size) this.forgetParses([...names]);
};

/** Voids the memoised parses named (at every VLAN tag depth), in every scope. */
Lowerer.prototype.forgetParses = function (this: Lowerer, names: readonly string[]): void {
  for (const m of this.memo)
    for (const k of [...m.keys()]) if (names.includes(k.split("@")[0]!)) m.delete(k);
};

/** ihl × 4 of a non-null ipv4 view (recomputed when the memo does not have it). */
Lowerer.prototype.ipv4HeaderLength = function (this: Lowerer, ip: VReg): VReg {
  const r = this.b.vreg("i32", "hl");
  const a = this.b.block("hlv4");
  const z = this.b.block("hlnull");
  const j = this.b.block("hljoin");
  this.b.br("ne", 64, ip, 0n, a, z);
  this.b.place(a);
  this.b.bin("shl", 32, this.b.bin("and", 32, this.b.load(1, ip, 0), 0xfn), 2n, r);
  this.b.jmp(j);
  this.b.place(z);
  this.b.mov(r, 0n);
  this.b.jmp(j);
  this.b.place(j);
  return r;
};

/** EtherType after up to `vlanTags` VLAN tags and the L3 offset (memoised; eth must be present). */
Lowerer.prototype.l3 = function (
  this: Lowerer,
  vlanTags: number,
): { ethertype: VReg; off: VReg; fail: Block } {
  const et0 = this.memoGet(parseKey("l3.et", vlanTags));
  const off0 = this.memoGet(parseKey("l3.off", vlanTags));
  if (et0 && off0) return { ethertype: et0, off: off0, fail: this.b.block("unused") };
  const et = this.b.vreg("i32", "ethertype");
  const off = this.b.vreg("i64", "l3off");
  const done = this.b.block("l3done");
  const eth = this.header("eth");
  const { data, end } = this.packet();
  const a = this.b.block("l3eth");
  const none = this.b.block("l3none");
  this.b.br("eq", 64, eth, 0n, none, a);
  this.b.place(a);
  this.b.un("be16", 32, this.b.load(2, data, 12), et);
  this.b.mov(off, 14n);
  for (let tag = 0; tag < vlanTags; tag++) {
    const isTag = this.b.block("l3tag");
    const other = this.b.block("l3tpid");
    this.b.br("eq", 32, et, VLAN_TPIDS[0]!, isTag, other);
    this.b.place(other);
    this.b.br("eq", 32, et, VLAN_TPIDS[1]!, isTag, done, true);
    this.b.place(isTag);
    const present = this.b.block("l3tagok");
    this.b.guard(data, 18 + 4 * tag, end, present, none);
    this.b.place(present);
    this.b.un("be16", 32, this.b.load(2, data, 16 + 4 * tag), et);
    this.b.mov(off, BigInt(18 + 4 * tag));
  }
  this.b.jmp(done);
  this.b.place(none);
  // Not Ethernet or a truncated tag: an EtherType no accessor matches.
  this.b.mov(et, 0n);
  this.b.mov(off, 14n);
  this.b.jmp(done);
  this.b.place(done);
  this.memoSet(parseKey("l3.et", vlanTags), et);
  this.memoSet(parseKey("l3.off", vlanTags), off);
  return { ethertype: et, off, fail: none };
};
