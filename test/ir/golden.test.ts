// Golden IR per pass: for each pass, a small filter whose IR that pass rewrites, and
// the IR just before and just after the pass first changes it, as `xdpc build
// --dump-ir=all` shows them. A diff here is a change in what the pass does; review
// it like code (`npx vitest run -u test/ir/golden.test.ts` rewrites the files).
import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { compile } from "../../compiler/driver/index.ts";
import { optimize, PASSES } from "../../compiler/ir/passes/index.ts";
import { printFunc } from "../../compiler/ir/print.ts";
import type { Func } from "../../compiler/ir/ir.ts";
import { xdpFunc } from "../support/ir.ts";

const HEAD = `import type { XdpContext, XdpAction, FixedArray, u8, u32 } from "xdpc";
import { XDP_DROP, XDP_PASS, XDP_TX, PerCpuArray, HashMap, zeroed } from "xdpc";
`;

/** An out-parameter of an inlined helper, then a checked load at its offset. */
const OUT_PARAM = `interface Cur {
  off: u32;
}
function skipTag(ctx: XdpContext, out: Cur): void {
  const et = ctx.load16(12);
  if (et !== null && et === 0x8100) out.off = 18;
}
export function prog(ctx: XdpContext): XdpAction {
  const c: Cur = { off: 14 };
  skipTag(ctx, c);
  const p = ctx.load8(c.off + 9);
  if (p === null) return XDP_PASS;
  return p === 17 ? XDP_DROP : XDP_PASS;
}`;

/** Per pass: a program it has work in. */
const CASES: Record<string, string> = {
  hides: `interface C {
  n: u32;
}
const counts = new HashMap<u32, C>({ maxEntries: 1 });
export function prog(ctx: XdpContext): XdpAction {
  const c = counts.lookup(0);
  if (c === null) return XDP_PASS;
  let n: u32 = 0;
  for (let i: u32 = 0; i < 20; i++) {
    if (ctx.ipv6() !== null) n++;
  }
  c.n = n;
  return XDP_PASS;
}`,
  returns: `const seen = new HashMap<u32, u32>({ maxEntries: 16 });
function note(ctx: XdpContext, verdict: XdpAction): XdpAction {
  const n = seen.lookup(verdict);
  if (n === null) return XDP_PASS;
  seen.update(verdict, n + 1);
  return verdict;
}
export function prog(ctx: XdpContext): XdpAction {
  const p = ctx.load8(23);
  if (p === null) return XDP_PASS;
  return note(ctx, p === 17 ? XDP_DROP : XDP_TX);
}`,
  cse: `let g: u32 = 5;
export function prog(ctx: XdpContext): XdpAction {
  if (g === g) return XDP_DROP;
  return XDP_PASS;
}`,
  fold: `export function prog(ctx: XdpContext): XdpAction {
  let k: u32 = 3;
  k = k * 4 + 1;
  if (k === 13) return XDP_DROP;
  return XDP_PASS;
}`,
  simplify: `function isVlan(proto: u32): boolean {
  return proto === 0x8100 || proto === 0x88a8;
}
export function prog(ctx: XdpContext): XdpAction {
  const eth = ctx.eth();
  if (eth === null) return XDP_DROP;
  if (isVlan(eth.proto)) return XDP_DROP;
  return XDP_PASS;
}`,
  peephole: `const hits = new PerCpuArray<u32>({ maxEntries: 1 });
export function prog(ctx: XdpContext): XdpAction {
  let n: u32 = 0;
  for (let i = 0; i < 4; i++) {
    const b = ctx.load8(i);
    if (b !== null && b === 0) n += 1;
  }
  const v = hits.lookupRef(0);
  if (v !== null) v.value = n;
  return XDP_PASS;
}`,
  // off is 14 or 18: off + 9 stays far below 0xffff - 1, so the offset guard goes.
  ranges: `export function prog(ctx: XdpContext): XdpAction {
  let off: u32 = 14;
  const et = ctx.load16(12);
  if (et !== null && et === 0x8100) off = 18;
  const p = ctx.load8(off + 9);
  if (p === null) return XDP_DROP;
  return p === 17 ? XDP_DROP : XDP_PASS;
}`,
  // Loads at off + c and one length test: one guard on data + off covering 20 bytes.
  bounds: `export function prog(ctx: XdpContext): XdpAction {
  let off: u32 = 14;
  const et = ctx.load16(12);
  if (et !== null && et === 0x8100) off = 18;
  const v = ctx.load8(off);
  const t = ctx.load16(off + 2);
  const d = ctx.load32(off + 16);
  if (ctx.len < off + 20 || v === null || t === null || d === null) return XDP_PASS;
  return v + t + d === 0 ? XDP_DROP : XDP_PASS;
}`,
  // c.off read back is what either path stored.
  slots: OUT_PARAM,
  // Two tail calls of one helper, differing in a constant: one copy, fed a parameter.
  tails: `const counts = new PerCpuArray<u32>({ maxEntries: 4 });
function count(action: u32): XdpAction {
  const v = counts.lookupRef(action);
  if (v === null) return XDP_PASS;
  v.value += 1;
  return action === 1 ? XDP_DROP : XDP_PASS;
}
export function prog(ctx: XdpContext): XdpAction {
  const eth = ctx.eth();
  if (eth === null) return count(1);
  if (eth.proto === 0x0800) return count(2);
  return count(3);
}`,
  // Bytes copied one at a time from the packet into a struct: one 4-byte load and store.
  widen: `interface Addr {
  b: FixedArray<u8, 4>;
}
const seen = new HashMap<Addr, u32>({ maxEntries: 16 });
export function prog(ctx: XdpContext): XdpAction {
  const a = zeroed<Addr>();
  if (ctx.len < 34) return XDP_PASS;
  for (let i = 0; i < 4; i++) {
    const v = ctx.load8(26 + i);
    if (v === null) return XDP_PASS;
    a.b[i] = v;
  }
  return seen.lookup(a) === null ? XDP_PASS : XDP_DROP;
}`,
  // A MAC address swap: each 6-byte field is stored from the registers it was loaded
  // into, not from the byte-swapped 48-bit value.
  bytes: `export function prog(ctx: XdpContext): XdpAction {
  const eth = ctx.eth();
  if (eth === null) return XDP_PASS;
  const d = eth.dst;
  eth.dst = eth.src;
  eth.src = d;
  return XDP_PASS;
}`,
  // Header bytes moved at fixed offsets: each access addresses data + offset directly.
  addrs: `export function prog(ctx: XdpContext): XdpAction {
  if (ctx.len < 34) return XDP_PASS;
  const a = ctx.load8(26);
  if (a === null) return XDP_PASS;
  ctx.store8(30, a);
  return XDP_TX;
}`,
  // ctx.len's low byte moves out of the loop; the test on it leaves on the first trip or
  // never, so it moves too, and the loop that is left does nothing.
  loops: `export function prog(ctx: XdpContext): XdpAction {
  for (let i = 0; i < 30; i++) {
    if ((ctx.len as u8) === 7) return XDP_DROP;
  }
  return XDP_PASS;
}`,
  dce: `export function prog(ctx: XdpContext): XdpAction {
  const eth = ctx.eth();
  if (eth === null) return XDP_DROP;
  const unused = eth.proto + 1;
  return XDP_PASS;
}`,
  gvn: `export function prog(ctx: XdpContext): XdpAction {
  if ((ctx.len as u8) !== 0) return XDP_PASS;
  if ((ctx.len as u8) > 3) return XDP_TX;
  return XDP_DROP;
}`,
};

/**
 * Hand-built IR for passes that lowering leaves no work to (its header accessors
 * already check a parse chain once): eth, then IPv4 checked again from data.
 */
const BUILT: Record<string, () => Func> = {
  guards: () => {
    const { b, data, end } = xdpFunc("prog");
    const pass = b.block("pass");
    const ethOk = b.block("ethok");
    b.guard(data, 14, end, ethOk, pass);
    b.place(ethOk);
    const proto = b.load(2, data, 12);
    const isIp = b.block("isip");
    b.br("ne", 32, proto, 0x0008n, pass, isIp);
    b.place(isIp);
    const ip = b.ptrAdd(data, 14n);
    const ipOk = b.block("ipok");
    b.guard(ip, 20, end, ipOk, pass);
    b.place(ipOk);
    b.ret(1n);
    b.place(pass);
    b.ret(2n);
    return b.fn;
  },
};

function builtStages(f: Func): [string, string][] {
  const all: [string, string][] = [["; prog as built", printFunc(f)]];
  optimize(f, {
    observe: (pass, round, g) => all.push([`; prog after ${pass} (round ${round})`, printFunc(g)]),
  });
  return all;
}

/** The `--dump-ir=all` trace split into stages: [label, IR text]. */
function stages(source: string): [string, string][] {
  const out = compile(source, {
    file: "golden.ts",
    emit: "object",
    keepIr: true,
    irAfter: "all",
  });
  const errors = out.diagnostics.filter((d) => d.severity === "error");
  expect(errors.map((d) => d.message)).toEqual([]);
  const text = out.programs!.map((p) => p.ir!).join("");
  return text
    .split(/^(?=; )/m)
    .map((s) => [s.slice(0, s.indexOf("\n")), s.slice(s.indexOf("\n") + 1)] as [string, string]);
}

describe("golden IR per pass", () => {
  it("has a case for every pass", () => {
    expect([...Object.keys(CASES), ...Object.keys(BUILT)].sort()).toEqual(
      PASSES.map((p) => p.name).sort(),
    );
  });
  const cases: (readonly [string, () => [string, string][]])[] = [
    ...Object.entries(CASES).map(([p, body]) => [p, () => stages(HEAD + body)] as const),
    ...Object.entries(BUILT).map(([p, build]) => [p, () => builtStages(build())] as const),
  ];
  for (const [pass, run] of cases)
    it(`${pass}: the IR before and after its first change`, async () => {
      const all = run();
      const k = all.findIndex(([label]) => label.includes(` after ${pass} `));
      expect(k, `${pass} changed nothing`).toBeGreaterThan(0);
      const [beforeLabel, before] = all[k - 1]!;
      const [afterLabel, after] = all[k]!;
      await expect(`${beforeLabel}\n${before}\n${afterLabel}\n${after}`).toMatchFileSnapshot(
        join(import.meta.dirname, "__snapshots__", `${pass}.ir.txt`),
      );
    });
});
