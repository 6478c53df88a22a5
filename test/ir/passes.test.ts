import { describe, expect, it } from "vitest";
import { Builder } from "../../compiler/ir/builder.ts";
import { printFunc } from "../../compiler/ir/print.ts";
import {
  optimize,
  foldConstants,
  eliminateDeadCode,
  simplifyCfg,
  mergeGuards,
  returnDirectly,
  forwardStores,
} from "../../compiler/ir/passes/index.ts";
import { evalBin, evalCond, evalUn } from "../../compiler/ir/eval.ts";
import type { VReg } from "../../compiler/ir/ir.ts";
import { xdpFunc } from "../support/ir.ts";
import { compile } from "../../compiler/driver/index.ts";
import { parse } from "../../compiler/syntax/index.ts";
import { check } from "../../compiler/check/index.ts";
import { lowerFunction } from "../../compiler/ir/lower.ts";
import { cyclicBlocks } from "../../compiler/ir/cfg.ts";

/** eth → ipv4 → udp parse at constant offsets, each failing to `ret 2`. */
function parseChain() {
  const { b, data, end } = xdpFunc("f");
  const pass = b.block("pass");
  const ethOk = b.block("ethok");
  const eth = b.ptrAdd(data, 0n);
  b.guard(eth, 14, end, ethOk, pass);
  b.place(ethOk);
  const proto = b.load(2, eth, 12);
  const isIp = b.block("isip");
  b.br("ne", 32, proto, 0x0008n, pass, isIp);
  b.place(isIp);
  const ip = b.ptrAdd(data, 14n);
  const ipOk = b.block("ipok");
  const pass2 = b.block("pass2");
  b.guard(ip, 20, end, ipOk, pass2);
  b.place(ipOk);
  const ttl = b.load(1, ip, 8);
  const drop = b.block("drop");
  b.br("eq", 32, ttl, 0n, drop, pass2);
  b.place(drop);
  b.ret(1n);
  b.place(pass);
  b.ret(2n);
  b.place(pass2);
  b.ret(2n);
  return b.fn;
}

/** Function f of a filter, checked and lowered (not optimised). */
function lowered(src: string, file: string) {
  const checked = check(parse(src, file).program);
  expect(checked.diagnostics).toEqual([]);
  return lowerFunction(
    checked.module,
    checked.module.functions.find((x) => x.name === "f")!,
  );
}

describe("IR printer", () => {
  it("prints a stable text form", () => {
    expect(printFunc(parseChain())).toBe(`func f(%ctx.0:ctx) {
entry0:
  %1:pkt = load32 [%ctx.0]
  %2:pktEnd = load32 [%ctx.0 + 4]
  %3:pkt = ptradd %1, 0
  guard %3 + 14 <= %2 ? ethok2 : pass1
ethok2:
  %4:i32 = load16 [%3 + 12]
  br ne32 %4, 8 ? pass1 : isip3
isip3:
  %5:pkt = ptradd %1, 14
  guard %5 + 20 <= %2 ? ipok4 : pass25
ipok4:
  %6:i32 = load8 [%5 + 8]
  br eq32 %6, 0 ? drop6 : pass25
drop6:
  ret 1
pass1:
  ret 2
pass25:
  ret 2
}
`);
  });
});

describe("IR passes", () => {
  it("merges the eth and ipv4 guards into one check of 34 bytes", () => {
    const f = parseChain();
    optimize(f);
    const text = printFunc(f);
    expect(text.match(/guard/g)).toHaveLength(1);
    expect(text).toContain("guard %1 + 34 <= %2");
    // ptradd by 0 became a copy of data, and the two `ret 2` blocks became one.
    expect(text.match(/ret 2/g)).toHaveLength(1);
  });

  it("does not widen a guard across a side effect or a distinct failure target", () => {
    const { b, data, end } = xdpFunc("g");
    const ok1 = b.block("ok1");
    const fail1 = b.block("fail1");
    b.guard(data, 14, end, ok1, fail1);
    b.place(ok1);
    const p = b.ptrAdd(data, 14n);
    const ok2 = b.block("ok2");
    const fail2 = b.block("fail2");
    b.guard(p, 20, end, ok2, fail2);
    b.place(ok2);
    b.ret(b.load(1, p, 0));
    b.place(fail1);
    b.ret(2n);
    b.place(fail2);
    b.ret(1n);
    optimize(b.fn);
    expect(printFunc(b.fn).match(/guard/g)).toHaveLength(2);
  });

  // The shape jump threading left in xdp_filter's VLAN loop: between the two guards a
  // pure block sets a value the shared failure block returns. A frame long enough for
  // the first guard but not for the widened one must still fail with that value.
  it("does not widen a guard across code that sets a value the failure block reads", () => {
    const { b, data, end } = xdpFunc("g");
    const off = b.vreg("i32", "off");
    b.mov(off, 14n);
    const ok1 = b.block("ok1");
    const ok2 = b.block("ok2");
    const fail = b.block("fail");
    b.guard(data, 16, end, ok1, fail);
    b.place(ok1);
    b.mov(off, 18n);
    const p = b.ptrAdd(data, 16n);
    b.guard(p, 4, end, ok2, fail);
    b.place(ok2);
    b.ret(b.load(1, p, 0));
    b.place(fail);
    b.ret(off);
    expect(mergeGuards(b.fn)).toBe(false);
    expect(printFunc(b.fn).match(/guard/g)).toHaveLength(2);
  });

  it("drops a guard dominated by a longer one on the same root", () => {
    const { b, data, end } = xdpFunc("h");
    const ok1 = b.block("ok1");
    const fail = b.block("fail");
    b.guard(data, 40, end, ok1, fail);
    b.place(ok1);
    b.call(5, []); // a side effect between: elimination still applies
    const q = b.ptrAdd(data, 20n);
    const ok2 = b.block("ok2");
    const fail2 = b.block("fail2");
    b.guard(q, 8, end, ok2, fail2);
    b.place(ok2);
    b.ret(b.load(4, q, 4));
    b.place(fail);
    b.ret(2n);
    b.place(fail2);
    b.ret(0n);
    expect(mergeGuards(b.fn)).toBe(true);
    eliminateDeadCode(b.fn);
    const text = printFunc(b.fn);
    expect(text.match(/guard/g)).toHaveLength(1);
    expect(text).not.toContain("ret 0");
  });

  it("folds constants and decided branches", () => {
    const b = new Builder("k");
    const x = b.const("i32", 0xfffffff0n);
    const y = b.bin("add", 32, x, 0x20n); // wraps to 0x10
    const t = b.block("t");
    const e = b.block("e");
    b.br("ugt", 32, y, 0x0fn, t, e);
    b.place(t);
    b.ret(y);
    b.place(e);
    b.ret(0n);
    optimize(b.fn);
    expect(printFunc(b.fn)).toBe(`func k() {
entry0:
  ret 16
}
`);
  });

  it("folds x & x and x | x to x, x ^ x and x - x to 0 (fuzz seed 61009)", () => {
    // The verifier links no two unknowns: `g === (g & g)` was a branch it forked on at
    // every trip of a loop, until 8,193 branches were pending.
    const src = `import type { XdpContext, XdpAction, u64 } from "xdpc";
import { XDP_ABORTED, XDP_DROP, XDP_PASS } from "xdpc";
let g: u64 = 0;
export function f(ctx: XdpContext): XdpAction {
  if (g !== (g & g) || g !== (g | g)) return XDP_ABORTED;
  return (g ^ g) === (g - g) ? XDP_DROP : XDP_PASS;
}`;
    const r = compile(src, { file: "same.ts", emit: "object", keepIr: true });
    expect(r.diagnostics).toEqual([]);
    expect(r.programs![0]!.ir!).toMatch(/^entry0:\n  ret 1\n}/m);
  });

  it("knows a sign extension of a value below the sign bit (fuzz seed 58163)", () => {
    // A 0/1 flag passed as an i16 to a switch on 5 and -32768: both cases are dead.
    const src = `import type { XdpContext, XdpAction, u8, i16, u32 } from "xdpc";
import { XDP_PASS, XDP_TX, ArrayMap } from "xdpc";
const m = new ArrayMap<u32>({ maxEntries: 1 });
export function f(ctx: XdpContext): XdpAction {
  const s = ((ctx.len > 60 && ctx.rxQueue !== 7 ? 1 : 0) as u8) as i16;
  m.update(0, ctx.len);
  if (s === 5 || s === -32768) return XDP_TX;
  return XDP_PASS;
}`;
    const r = compile(src, { file: "sext.ts", emit: "object", keepIr: true });
    expect(r.diagnostics).toEqual([]);
    expect(r.programs![0]!.ir!).not.toMatch(/ret 3/);
  });

  it("switches on and compares a narrowed lookup's i64 value at 64 bits (campaign seed 102081)", () => {
    const src = `import type { XdpContext, XdpAction, i64 } from "xdpc";
import { XDP_DROP, XDP_PASS, XDP_TX, PerCpuArray } from "xdpc";
const m = new PerCpuArray<i64>({ maxEntries: 2 });
export function f(ctx: XdpContext): XdpAction {
  const r = m.lookup(0);
  const s = m.lookup(1);
  if (r === null || s === null) return XDP_PASS;
  if (r === s) return XDP_PASS;
  switch (r) {
    case -9223372036854775808:
      return XDP_TX;
  }
  return XDP_DROP;
}`;
    const r = compile(src, { file: "wide.ts", emit: "object", keepIr: true });
    expect(r.diagnostics).toEqual([]);
    const ir = r.programs![0]!.ir!;
    expect(ir).not.toMatch(/:i32|(eq|ne)32 /);
    expect(ir).toMatch(/br eq64 %[\w.]+, -0x8000000000000000 /);
    expect(ir).toMatch(/br (eq|ne)64 %[\w.]+, %[\w.]+ /);
  });

  it("forwards a store's bytes only when that saves instructions, so the rounds end (campaign seed 116888)", () => {
    // `udp.checksum = ~len as u8` stores shl(not(len), 8) as 16 bits. Byte forwarding
    // counted the `not` its new shl still reads as saved, rebuilt the same shl in every
    // round, and dce removed the old one: the optimizer ran all 20 rounds.
    const src = `import type { XdpContext, XdpAction, u8 } from "xdpc";
import { XDP_PASS } from "xdpc";
export function f(ctx: XdpContext): XdpAction {
  const udp = ctx.udp();
  if (udp !== null) udp.checksum = (~ctx.len) as u8;
  return XDP_PASS;
}`;
    const f = lowered(src, "rounds.ts");
    let rounds = 0;
    const bytes: number[] = [];
    optimize(f, {
      observe: (pass, round) => {
        rounds = Math.max(rounds, round);
        if (pass === "bytes") bytes.push(round);
      },
    });
    expect(bytes.filter((r) => r > 1)).toEqual([]);
    expect(rounds).toBeLessThan(5);
  });

  it("threads a null test through a join whose predecessors decide it", () => {
    const { b, data, end } = xdpFunc("n");
    const view = b.vreg("pkt", "ip");
    const ok = b.block("ok");
    const fail = b.block("fail");
    const join = b.block("join");
    const p = b.ptrAdd(data, 14n);
    b.guard(p, 20, end, ok, fail);
    b.place(ok);
    b.mov(view, p);
    b.jmp(join);
    b.place(fail);
    b.mov(view, 0n);
    b.jmp(join);
    b.place(join);
    const isNull = b.block("isnull");
    const notNull = b.block("notnull");
    b.br("eq", 64, view, 0n, isNull, notNull);
    b.place(isNull);
    b.ret(2n);
    b.place(notNull);
    b.ret(b.load(1, view, 9));
    expect(simplifyCfg(b.fn)).toBe(true);
    eliminateDeadCode(b.fn);
    const text = printFunc(b.fn);
    expect(text).not.toContain("br ");
    expect(text).not.toContain("%ip.3:pkt = 0");
  });

  it("a jump to a block that only returns a vreg returns it itself", () => {
    // The join an inlined `return helper(…)` leaves: each path sets the result and
    // jumps to `ret %r`. Returned where it is set, each is a constant `ret`.
    const { b, data, end } = xdpFunc("r");
    const r = b.vreg("i32", "r");
    const ok = b.block("ok");
    const fail = b.block("fail");
    const join = b.block("join");
    b.guard(b.ptrAdd(data, 0n), 14, end, ok, fail);
    b.place(ok);
    b.mov(r, 3n);
    b.jmp(join);
    b.place(fail);
    b.mov(r, 2n);
    b.jmp(join);
    b.place(join);
    b.ret(r);
    expect(returnDirectly(b.fn)).toBe(true);
    foldConstants(b.fn);
    eliminateDeadCode(b.fn);
    simplifyCfg(b.fn);
    const text = printFunc(b.fn);
    expect(text).not.toContain("jmp");
    expect(text).toContain("ret 3");
    expect(text).toContain("ret 2");
  });

  it("removes dead pure instructions but keeps effects", () => {
    const b = new Builder("d");
    const ctx = b.param("ctx", "ctx");
    const s = b.slot(8, 8, "k");
    b.const("i64", 5n); // dead
    b.store(8, s, 0, 7n);
    b.call(5, []);
    b.ret(b.load(4, ctx, 0));
    expect(foldConstants(b.fn)).toBe(false);
    expect(eliminateDeadCode(b.fn)).toBe(true);
    expect(printFunc(b.fn)).toBe(`func d(%ctx.0:ctx) {
  slot $k.0 size 8 align 8
entry0:
  store64 [$k.0], 7
  %2:i64 = call 5()
  %3:i32 = load32 [%ctx.0]
  ret %3
}
`);
  });
});

describe("constant evaluation follows eBPF", () => {
  it("wraps, divides by zero to 0, keeps the dividend on modulo by zero, masks shifts", () => {
    expect(evalBin("add", 32, 0xffffffffn, 1n)).toBe(0n);
    expect(evalBin("sub", 64, 0n, 1n)).toBe(0xffffffffffffffffn);
    expect(evalBin("udiv", 32, 7n, 0n)).toBe(0n);
    expect(evalBin("umod", 32, 7n, 0n)).toBe(7n);
    expect(evalBin("shl", 32, 1n, 33n)).toBe(2n);
    expect(evalBin("ashr", 32, 0x80000000n, 4n)).toBe(0xf8000000n);
    expect(evalBin("sdiv", 32, 0x80000000n, 0xffffffffn)).toBe(0x80000000n);
    expect(evalUn("be16", 32, 0x1234n)).toBe(0x3412n);
    expect(evalUn("be32", 32, 0x11223344n)).toBe(0x44332211n);
    expect(evalUn("isZero", 64, 0n)).toBe(1n);
    expect(evalCond("slt", 32, 0xffffffffn, 0n)).toBe(true);
    expect(evalCond("ult", 32, 0xffffffffn, 0n)).toBe(false);
  });
});

describe("peephole", () => {
  /** `if (be16(load16 ctx[0]) == 0x0800) ret 1 else ret <elseValue(y)>`, optimised. */
  function swapTest(name: string, elseValue: (y: VReg) => VReg | bigint): string {
    const b = new Builder(name);
    const ctx = b.param("ctx", "ctx");
    const x = b.load(2, ctx, 0);
    const y = b.un("be16", 32, x);
    const t = b.block("t");
    const e = b.block("e");
    b.br("eq", 32, y, 0x0800n, t, e);
    b.place(t);
    b.ret(1n);
    b.place(e);
    b.ret(elseValue(y));
    optimize(b.fn);
    return printFunc(b.fn);
  }

  it("compares a be16 load with the swapped constant", () => {
    const text = swapTest("p", () => 2n);
    expect(text).toContain("br eq32 %1, 8 ?");
    expect(text).not.toContain("be16");
  });

  it("keeps the test on the swapped value when the swap has another use (fuzz seed 308)", () => {
    const text = swapTest("q", (y) => y);
    expect(text).toContain("be16");
    expect(text).toContain("2048 ?");
  });

  it("cancels a swap of a swap (a network-order field stored in network order)", () => {
    const b = new Builder("s");
    const ctx = b.param("ctx", "ctx");
    const x = b.load(4, ctx, 0, "i64");
    const y = b.un("be32", 32, b.un("be32", 32, x));
    b.ret(y); // (a store of y would need no truncation: it writes the low bytes)
    optimize(b.fn);
    const text = printFunc(b.fn);
    expect(text).not.toContain("be32");
    // The loaded word is zero-extended, so the truncation that is left is a copy too.
    expect(text).not.toContain("zext32");
  });

  it("keeps the truncation of a swap of a swap of a wider value", () => {
    const b = new Builder("s");
    const ctx = b.param("ctx", "ctx");
    const x = b.load(8, ctx, 0);
    const y = b.un("be32", 32, b.un("be32", 32, x));
    b.ret(y); // (a store of y would need no truncation: it writes the low bytes)
    optimize(b.fn);
    const text = printFunc(b.fn);
    expect(text).not.toContain("be32");
    expect(text).toContain("zext32");
  });

  /**
   * `v = ctx[4]; if (ctx[0] == 0) { arm(v) } return v`, tested with `eq` (the arm is
   * the taken edge) or `ne` (the arm is the fall-through); optimized and printed.
   */
  function whenZero(cc: "eq" | "ne", arm: (b: Builder, v: VReg) => void): string {
    const b = new Builder("q");
    const ctx = b.param("ctx", "ctx");
    const x = b.load(1, ctx, 0);
    const v = b.vreg("i32", "v");
    b.mov(v, b.load(4, ctx, 4));
    const armBlock = b.block("arm");
    const j = b.block("j");
    if (cc === "eq") b.br("eq", 32, x, 0n, armBlock, j);
    else b.br("ne", 32, x, 0n, j, armBlock);
    b.place(armBlock);
    arm(b, v);
    b.jmp(j);
    b.place(j);
    b.ret(v);
    optimize(b.fn);
    return printFunc(b.fn);
  }

  it("if-converts `if (x == 0) v += 3` into arithmetic", () => {
    const text = whenZero("ne", (b, v) => b.bin("add", 32, v, 3n, v));
    expect(text).not.toContain("br ");
    expect(text).toContain("isZero32 %1");
    expect(text).toContain("mul32");
  });

  it("if-converts the lowered form of `if (x === 0) v++` (t = v + 1; v = t)", () => {
    const text = whenZero("eq", (b, v) => b.mov(v, b.bin("add", 32, v, 1n)));
    expect(text).not.toContain("br ");
    expect(text).toContain("isZero32 %1");
    expect(text).not.toContain("mul32");
  });
});

describe("packet guards", () => {
  it("drops a packet guard whose two targets are one block", () => {
    const { b, data, end } = xdpFunc("g");
    const next = b.block("next");
    const p = b.ptrAdd(data, 14n);
    b.guard(p, 20, end, next, next);
    b.place(next);
    b.ret(2n);
    optimize(b.fn);
    expect(printFunc(b.fn)).not.toContain("guard");
  });
});

describe("the optimizer converges in a few rounds", () => {
  const HEAD = `import type { XdpContext, XdpAction, u16, i8 } from "xdpc";
import { XDP_DROP, XDP_PASS } from "xdpc";
`;
  /** The last round in which a pass changed the program. */
  function rounds(body: string): number {
    const r = compile(HEAD + body, {
      file: "rounds.ts",
      emit: "object",
      keepIr: true,
      irAfter: "all",
    });
    expect(r.diagnostics).toEqual([]);
    return Math.max(...[...r.programs![0]!.ir!.matchAll(/\(round (\d+)\)/g)].map((m) => +m[1]!));
  }

  it("drops a chain of dead branches in one run of dce (an unrolled loop of dead breaks: fuzz seed 21838)", () => {
    // Each trip's `br` goes to the loop's end either way once the last trip is empty;
    // peeled one per round, this took 19 rounds.
    const src = `export function f(ctx: XdpContext): XdpAction {
  const v = ctx.load8(20);
  if (v === null) return XDP_PASS;
  for (let i = 0; i < 16; i++) {
    if ((v as i8) < 127) break;
  }
  return XDP_DROP;
}`;
    expect(rounds(src)).toBeLessThanOrEqual(3);
  });

  it("merges every guard of a loop of parses in one run of guards (fuzz seed 46095)", () => {
    const src = `export function f(ctx: XdpContext): XdpAction {
  for (let i = 0; i < 16; i++) {
    const ic = ctx.icmp6();
    if (ic !== null) ic.checksum = ic.type as u16;
  }
  return XDP_PASS;
}`;
    expect(rounds(src)).toBeLessThanOrEqual(3);
  });
});

describe("packet pointers and loops", () => {
  // A 40-trip loop of checked loads between a load of 16 and a test of ctx.len against it.
  const LOOP = `for (let i: u32 = 0; i < 40; i++) {
    const b = ctx.load32(72);
    if (b === null) return XDP_ABORTED;
    if (b === i) return XDP_DROP;
  }`;
  const afterLoop = (stmt: string) => `import type { XdpContext, XdpAction, u32 } from "xdpc";
import { XDP_ABORTED, XDP_DROP, XDP_PASS } from "xdpc";
export function f(ctx: XdpContext): XdpAction {
  const a = ctx.load32(16);
  if (a === null) return XDP_ABORTED;
  ${stmt}
  if (ctx.len !== a) return XDP_ABORTED;
  return XDP_PASS;
}`;
  it("code after a loop loads data afresh, not the pointer from before it (fuzz seed 37099)", () => {
    // Every packet pointer loaded from ctx has one verifier id: a `data` kept from before
    // the loop for the `ctx.len` after it took the range of each trip's checks, and the
    // loop's states differed in it (1M processed instructions; 693k after).
    const r = compile(afterLoop(LOOP), { file: "after.ts", emit: "object", keepIr: true });
    expect(r.diagnostics).toEqual([]);
    const after = r.programs![0]!.ir!.split(/^endloop\d+:$/m)[1]!.split(/^\S+:$/m)[0]!;
    expect(after).toMatch(/= load32 \[%ctx\.0\]\n/);
    expect(after).toMatch(/= load32 \[%ctx\.0 \+ 4\]\n/);
  });

  it("so does code after the statement the loop is in (fuzz seed 58163)", () => {
    // The memo of data was hidden in the loop's own scope only: the `ctx.len` after the
    // `if` around the loop read the data loaded before the `if`.
    const r = compile(afterLoop(`if (a > 5) {\n${LOOP}\n  }`), {
      file: "after.ts",
      emit: "object",
      keepIr: true,
    });
    expect(r.diagnostics).toEqual([]);
    const len = r.programs![0]!.ir!.split(/^\S+:$/m).find((b) => b.includes("sub64"))!;
    expect(len).toMatch(/= load32 \[%ctx\.0\]\n/);
    expect(len).toMatch(/= load32 \[%ctx\.0 \+ 4\]\n/);
  });

  it("a view from before a loop is re-derived after it from its offset (fuzz seeds 60707, 62963)", () => {
    // The UDP view at a constant offset from data shares data's verifier id, so kept live
    // around the loop it took the range of each trip's checks. After the loop it is data
    // loaded afresh plus the offset, read from a stack slot (an unknown to the verifier,
    // the same in every state) and checked again: the view's own pointer is dead there.
    const src = `import type { XdpContext, XdpAction, u32 } from "xdpc";
import { XDP_ABORTED, XDP_DROP, XDP_PASS } from "xdpc";
export function f(ctx: XdpContext): XdpAction {
  const u = ctx.udp();
  if (u === null) return XDP_PASS;
  ${LOOP}
  u.dstPort = 53;
  return XDP_PASS;
}`;
    const r = compile(src, { file: "view.ts", emit: "object", keepIr: true });
    expect(r.diagnostics).toEqual([]);
    const [before, after] = r.programs![0]!.ir!.split(/^endloop\d+:$/m) as [string, string];
    const view = /^ {2}(%u\.\d+):pkt = /m.exec(before)![1]!;
    expect(after).toMatch(/= load32 \[%ctx\.0\]\n/);
    expect(after).toMatch(/:i64 = load32 \[\$udp\.off\.\d+ \+ 4\]\n/);
    expect(after).toMatch(/guard %\d+ \+ 8 <= %\d+ \?/);
    // The store goes through a register set after the loop; the view's own is not read.
    const base = /store16 \[(%u\.\d+) \+ 2\]/.exec(after)![1]!;
    expect(after).toContain(`${base}:pkt = %`);
    expect(after).not.toContain(`${view} `);
    expect(after).not.toContain(`${view}\n`);
  });
});

describe("loops: invariant code, unswitching, idle loops", () => {
  const HEAD = `import type { XdpContext, XdpAction, u8, u32 } from "xdpc";
import { XDP_DROP, XDP_PASS, PerCpuArray } from "xdpc";
const m = new PerCpuArray<u32>({ maxEntries: 1 });
`;
  function ir(body: string): string {
    const r = compile(HEAD + body, { file: "loops.ts", emit: "object", keepIr: true });
    expect(r.diagnostics).toEqual([]);
    return r.programs![0]!.ir!;
  }
  /** The blocks from the loop's first to its latch (the one that steps the counter). */
  const loopOf = (text: string) => text.slice(text.search(/^body\d+:$/m));

  it("keeps packet pointers the loop's body reads in the body (rule 4)", () => {
    const text = ir(`export function f(ctx: XdpContext): XdpAction {
  for (let i: u32 = 0; i < 30; i++) {
    const b = ctx.load8(40);
    if (b === null) return XDP_PASS;
    m.update(0, b + ctx.len);
  }
  return XDP_DROP;
}`);
    // ctx.len is data_end - data from the body's own pointers, which its guard uses:
    // neither moves, or a packet pointer would be live around the loop.
    const body = loopOf(text);
    expect(body).toMatch(/load32 \[%ctx\.0\]\n/);
    expect(body).toMatch(/sub64/);
    // Without a packet access in the body, ctx.len moves out with its pointers.
    const len = ir(`export function f(ctx: XdpContext): XdpAction {
  for (let i: u32 = 0; i < 30; i++) m.update(0, ctx.len + i);
  return XDP_DROP;
}`);
    expect(loopOf(len)).not.toMatch(/sub64|%ctx/);
  });

  it("does not move context loads out of a loop that moves the packet", () => {
    const text = ir(`export function f(ctx: XdpContext): XdpAction {
  for (let i: u32 = 0; i < 30; i++) {
    m.update(0, ctx.len);
    if (ctx.adjustTail(1)) return XDP_PASS;
  }
  return XDP_DROP;
}`);
    expect(loopOf(text)).toMatch(/sub64/);
  });

  it("keeps a value the loop compares with its counter in the loop (fuzz seed 66993)", () => {
    // Kept in a register, ctx.rxQueue was narrowed against another bound each trip: the
    // states at the head differed in its range (1M processed instructions).
    const text = ir(`export function f(ctx: XdpContext): XdpAction {
  for (let i: u32 = 0; i < 30; i++) {
    if (i < ctx.rxQueue) m.update(0, i);
  }
  return XDP_DROP;
}`);
    expect(loopOf(text)).toMatch(/load32 \[%ctx\.0 \+ 16\]/);
    // Compared with a constant where the branch leaves the loop, it moves: the first
    // trip's test decides the others.
    const cst = ir(`export function f(ctx: XdpContext): XdpAction {
  for (let i: u32 = 0; i < 30; i++) {
    m.update(0, i);
    if (ctx.rxQueue < 7) break;
  }
  return XDP_DROP;
}`);
    expect(loopOf(cst)).not.toMatch(/load32 \[%ctx\.0 \+ 16\]/);
    // Not where both sides stay in the loop: the first trip's outcome would split the
    // states of every later one (fuzz seed 127126).
    const inside = ir(`export function f(ctx: XdpContext): XdpAction {
  for (let i: u32 = 0; i < 30; i++) {
    if (ctx.rxQueue < 7) m.update(0, i);
  }
  return XDP_DROP;
}`);
    expect(loopOf(inside)).toMatch(/load32 \[%ctx\.0 \+ 16\]/);
  });

  it("keeps a loop with an effect, or whose values are read after it", () => {
    const eff = ir(`export function f(ctx: XdpContext): XdpAction {
  for (let i: u32 = 0; i < 30; i++) m.update(0, i);
  return XDP_DROP;
}`);
    expect(eff).toMatch(/br ult32 %i\.\d+, 30/);
    const used = ir(`export function f(ctx: XdpContext): XdpAction {
  let s: u32 = 0;
  for (let i: u32 = 0; i < 30; i++) s += i * 3;
  return s === 7 ? XDP_DROP : XDP_PASS;
}`);
    expect(used).toMatch(/br ult32 %i\.\d+, 30/);
  });

  it("unswitches an invariant exit only from the run every trip starts with", () => {
    // The test on i decides whether the invariant one runs: it stays in the loop.
    const text = ir(`export function f(ctx: XdpContext): XdpAction {
  const q = ctx.rxQueue;
  for (let i: u32 = 0; i < 30; i++) {
    m.update(0, i);
    if (q > 3) return XDP_DROP;
  }
  return XDP_PASS;
}`);
    expect(loopOf(text)).toMatch(/br ugt32 %\S+, 3/);
    const idle = ir(`export function f(ctx: XdpContext): XdpAction {
  const q = ctx.rxQueue;
  for (let i: u32 = 0; i < 30; i++) {
    if (q > 3) return XDP_DROP;
  }
  return XDP_PASS;
}`);
    expect(idle).not.toMatch(/^body\d+:$/m);
    expect(idle).toMatch(/br ugt32 %\S+, 3/);
  });
});

describe("dead stores into stack slots (slots.ts)", () => {
  /** A struct's slot reused as a map key: the struct's stores are dead, the key's are not. */
  function reused() {
    const { b, ctx } = xdpFunc("f");
    const s = b.slot(8, 8, "st");
    const q = b.load(4, ctx, 16);
    b.store(8, s, 0, 11n);
    b.store(8, s, 0, q);
    b.store(4, s, 0, 16n);
    b.store(4, s, 4, q);
    b.call(1, [{ map: "m" }, { slot: s, off: 0 }]);
    b.ret(2n);
    return { f: b.fn, s };
  }
  const stores = (f: ReturnType<typeof reused>["f"]) =>
    f.blocks.flatMap((bl) => bl.insts).filter((i) => i.op === "store").length;

  it("drops stores whose bytes are all written again before a read", () => {
    const { f } = reused();
    expect(forwardStores(f)).toBe(true);
    expect(stores(f)).toBe(2);
    expect(printFunc(f)).not.toMatch(/store64/);
  });

  it("keeps a store any of whose bytes is read, and every store to a slot whose address is taken", () => {
    const { b, ctx } = xdpFunc("f");
    const s = b.slot(8, 8, "st");
    const q = b.load(4, ctx, 16);
    b.store(8, s, 0, q);
    b.store(4, s, 0, 16n); // bytes 4–7 of the first store are still read below
    const v = b.load(8, s, 0);
    b.ret(v);
    forwardStores(b.fn);
    expect(stores(b.fn)).toBe(2);

    const { f, s: slot } = reused();
    f.blocks[0]!.insts.unshift({ op: "addr", dst: { id: 999, ty: "stack" }, of: { slot, off: 0 } });
    forwardStores(f);
    expect(stores(f)).toBe(4);
  });
});

describe("what a loop counts is unknown after it (rule 26)", () => {
  const HEAD = `import type { XdpContext, XdpAction, u32, u64 } from "xdpc";
import { XDP_DROP, XDP_PASS, ArrayMap } from "xdpc";
`;
  function ir(body: string, skip: string[] = []): string {
    const r = compile(HEAD + body, {
      file: "hides.ts",
      emit: "object",
      keepIr: true,
      skipPasses: skip,
    });
    expect(r.diagnostics).toEqual([]);
    return r.programs![0]!.ir!;
  }
  const counting = (after: string) => `export function f(ctx: XdpContext): XdpAction {
  let n: u32 = 0;
  let big: u64 = 5;
  for (let i: u32 = 0; i < 30; i++) {
    if (ctx.ipv6() !== null) { n++; big += 2; }
  }
  ${after}
}`;

  it("reads exact counts back from bytes 4–7 before a branch on them", () => {
    const text = ir(counting("if (n + (big as u32) > 7) return XDP_DROP;\n  return XDP_PASS;"));
    expect(text).toMatch(
      /store32 \[\$n\.hid\.\d+ \+ 4\], %n\.1\n {2}%n\.1:i32 = load32 \[\$n\.hid\.\d+ \+ 4\]/,
    );
    // 64 bits: the high half from bytes 4–7 of an 8-byte spill, never a 4-byte store of big >> 32.
    expect(text).toMatch(/store64 \[\$big\.hid\.\d+ \+ 8\], %big\.2/);
    expect(text).toMatch(/load32 \[\$big\.hid\.\d+ \+ 12\]/);
    expect(text).toMatch(/%big\.2:i64 = or64/);
    expect(text).not.toMatch(/lshr64 %big/);
  });

  it("drops the read-back where the counts only go to a map value", () => {
    const src = `interface C { n: u32; big: u64 }
const cm = new ArrayMap<C>({ maxEntries: 1 });
export function f(ctx: XdpContext): XdpAction {
  const c = cm.lookup(0);
  if (c === null) return XDP_PASS;
  let n: u32 = 0;
  let big: u64 = 5;
  for (let i: u32 = 0; i < 30; i++) {
    if (ctx.ipv6() !== null) { n++; big += 2; }
  }
  c.n = n;
  c.big = big;
  return XDP_PASS;
}`;
    expect(ir(src)).not.toMatch(/\[\$(n|big)\.hid/);
    // The pass is what drops it: without it the read-backs stay.
    expect(ir(src, ["hides"])).toMatch(/load32 \[\$n\.hid/);
  });

  it("drops the read-back of a local no path knows exactly", () => {
    // zeros adds a packet byte's test (rule 3 makes it `zeros += flag`): a range on
    // every path, never one value.
    const text = ir(`export function f(ctx: XdpContext): XdpAction {
  let zeros: u32 = 0;
  for (let i: u32 = 0; i < 30; i++) {
    const b = ctx.load8(42 + i);
    if (b === null) break;
    if (b === 0) zeros++;
  }
  if (zeros > 16) return XDP_DROP;
  return XDP_PASS;
}`);
    expect(text).not.toMatch(/\[\$zeros\.hid/);
  });
});

describe("VLAN tag tests in loops (rule 21)", () => {
  function optimized(body: string) {
    const src = `import type { XdpContext, XdpAction, u32 } from "xdpc";
import { XDP_PASS, ArrayMap } from "xdpc";
const m = new ArrayMap<u32>({ maxEntries: 4 });
export function f(ctx: XdpContext): XdpAction {
${body}
  return XDP_PASS;
}`;
    const f = lowered(src, "tags.ts");
    optimize(f);
    return f;
  }
  const tagTests = (f: ReturnType<typeof optimized>) =>
    f.blocks.filter((b) => b.term?.op === "br" && b.term.elseFirst);

  it("the last tag test keeps its mark through the passes, on the loop's cycle (fuzz seed 54496)", () => {
    // The backend makes the no-tag branch the fall-through in a loop: the verifier's
    // first path then skips the tag's forks on every trip.
    const f = optimized(`  for (let i: u32 = 0; i < 30; i++) {
    if (ctx.vlan() !== null) m.update(0, i);
  }`);
    const marked = tagTests(f);
    expect(marked.length).toBe(1);
    const t = marked[0]!.term as { op: "br"; b: unknown };
    // 802.1ad's TPID, 0x88a8, compared unswapped (the peephole swaps the constant).
    expect(t.b).toBe(0xa888n);
    expect(cyclicBlocks(f).has(marked[0]!)).toBe(true);
    // The entry is on no cycle.
    expect(cyclicBlocks(f).has(f.blocks[0]!)).toBe(false);
  });

  it("outside a loop the mark stays, but its block is on no cycle", () => {
    const f = optimized(`  if (ctx.vlan() !== null) m.update(0, 1);`);
    expect(tagTests(f).length).toBe(1);
    expect(cyclicBlocks(f).size).toBe(0);
  });
});
