// Small table-driven cases of the backend's stages, in the style of esbuild's
// expectPrinted: a function body in, the text of one stage out, compared exactly.
// `expectLowered` is lowerFunction's IR before any pass; `expectSelected` is the
// eBPF after the passes, instruction selection and register allocation. Cheap (no
// kernel): add a case here when a stage's output for a construct matters.
import { describe, expect, it } from "vitest";
import { parse } from "../../compiler/syntax/index.ts";
import { check } from "../../compiler/check/index.ts";
import { lowerFunction } from "../../compiler/ir/lower.ts";
import { printFunc } from "../../compiler/ir/print.ts";
import { optimize } from "../../compiler/ir/passes/index.ts";
import { selectInstructions } from "../../compiler/bpf/isel.ts";
import { allocateRegisters } from "../../compiler/bpf/regalloc.ts";
import { emitProgram } from "../../compiler/bpf/emit.ts";
import { disassemble } from "../../compiler/bpf/disasm.ts";

const HEAD = `import { XdpContext, XdpAction, XDP_PASS, XDP_DROP, ArrayMap, ktimeNs, u32, u64 } from "xdpc";
const counts = new ArrayMap<u64>({ maxEntries: 4 });
`;

function lowered(body: string) {
  const source = `${HEAD}export function f(ctx: XdpContext): XdpAction {\n${body}\n}\n`;
  const checked = check(parse(source, "case.ts").program);
  expect(checked.diagnostics.map((d) => d.message)).toEqual([]);
  return lowerFunction(
    checked.module,
    checked.module.functions.find((x) => x.name === "f")!,
  );
}

const lines = (text: string) =>
  text
    .trim()
    .split("\n")
    .map((l) => l.trimEnd());

function expectLowered(body: string, ir: string) {
  expect(lines(printFunc(lowered(body)))).toEqual(lines(ir));
}

function expectSelected(body: string, asm: string) {
  const f = lowered(body);
  optimize(f);
  const mf = selectInstructions(f);
  allocateRegisters(mf);
  expect(disassemble(emitProgram(mf).insns)).toEqual(lines(asm));
}

describe("lowering", () => {
  it("a constant verdict", () => {
    expectLowered(
      "return XDP_PASS;",
      `
func f(%ctx.0:ctx) {
entry0:
  ret 2
}`,
    );
  });

  it("ctx.len is data_end - data, truncated to 32 bits; ?: joins in one vreg", () => {
    expectLowered(
      "const n: u32 = ctx.len; return n > 100 ? XDP_DROP : XDP_PASS;",
      `
func f(%ctx.0:ctx) {
entry0:
  %1:pkt = load32 [%ctx.0]
  %2:pktEnd = load32 [%ctx.0 + 4]
  %3:i64 = %2
  %4:i64 = %1
  %5:i64 = sub64 %3, %4
  %6:i32 = zext3232 %5
  %n.7:i32 = %6
  br ugt32 %n.7, 100 ? cthen1 : celse2
cthen1:
  %8:i32 = 1
  jmp cjoin3
celse2:
  %8:i32 = 2
  jmp cjoin3
cjoin3:
  ret %8
}`,
    );
  });

  it("map increment: key in a stack slot, lookup, null check, atomic add", () => {
    expectLowered(
      "counts.increment(1); return XDP_PASS;",
      `
func f(%ctx.0:ctx) {
  slot $key.0 size 4 align 8
entry0:
  store32 [$key.0], 1
  %1:mapValue = call 1(map counts, &$key.0)
  br ne64 %1, 0 ? inc1 : incdone3
inc1:
  atomic.add64 [%1], 1
  jmp incdone3
incdone3:
  ret 2
}`,
    );
  });
});

describe("instruction selection and register allocation", () => {
  it("a constant verdict is r0 = imm; exit", () => {
    expectSelected("return XDP_PASS;", "r0 = 2\nexit");
  });

  // ctx.len against a constant is a packet guard, data + 101 > data_end (bounds.ts).
  it("a comparison branches on the inverted condition", () => {
    expectSelected(
      "const n: u32 = ctx.len; return n > 100 ? XDP_DROP : XDP_PASS;",
      `
r2 = *(u32 *)(r1 + 0)
r1 = *(u32 *)(r1 + 4)
r2 += 101
if r2 > r1 goto +2
r0 = 1
exit
r0 = 2
exit`,
    );
  });

  // Rule 21: in a loop the verifier's first path walks every trip before it takes up a
  // pending branch, so the tag test falls through to no tag (fuzz seed 54496). A
  // constant ending its stack slot is stored as 8 bytes there, but not a 4-byte one:
  // an array map's constant key (here) is known to the verifier only as a 4-byte spill.
  // Outside a loop neither changes.
  // Rule 23: in a loop nest whose branches, counted once per trip, could leave the
  // verifier half of its 8,192 pending branches, each branch falls through to the side
  // that starts the next trip through fewer forks. Here the guard's failure path (a
  // `jle` over a `goto`): the first walk forks once per trip, not three times.
  it("in a crowded loop, the first path starts the next trip soonest", () => {
    expectSelected(
      `for (let i: u32 = 0; i < 2000; i++) {
  if (ctx.vlan() !== null) counts.update(1, 0);
}
return XDP_PASS;`,
      `
r6 = r1
w7 = 0
r1 = *(u32 *)(r6 + 0)
r2 = *(u32 *)(r6 + 4)
r3 = r1
r3 += 18
if r3 <= r2 goto +1
goto +15
r1 = *(u16 *)(r1 + 12)
if w1 != 129 goto +1
goto +2
if w1 == 43144 goto +1
goto +10
*(u32 *)(r10 - 8) = 1
*(u64 *)(r10 - 16) = 0
r1 = 0 ll
r2 = r10
r2 += -8
r3 = r10
r3 += -16
r4 = 0
call 2
w7 += 1
if w7 < 2000 goto -23
r0 = 2
exit`,
    );
  });

  // Rule 25: in a loop, a register stored as a map key fills its 8-byte chunk unless a
  // loop counter gives it: k, which differs from path to path, is then no constant key
  // the verifier would make precise; i keeps its own 4 bytes, and its lookups their
  // dropped null branch.
  it("in a loop, a variable key fills its chunk and a counter key keeps 4 bytes", () => {
    expectSelected(
      `let k: u32 = 0;
for (let i: u32 = 0; i < 20; i++) {
  if (ctx.len > 60) k += 1;
  counts.increment(k);
  counts.increment(i);
}
return XDP_PASS;`,
      `
r6 = r1
w7 = 0
w8 = 0
r1 = *(u32 *)(r6 + 0)
r2 = *(u32 *)(r6 + 4)
r1 += 61
if r1 > r2 goto +3
w1 = w7
w1 += 1
w7 = w1
*(u64 *)(r10 - 8) = r7
r1 = 0 ll
r2 = r10
r2 += -8
call 1
if r0 == 0 goto +2
r1 = 1
lock *(u64 *)(r0 + 0) += r1
*(u32 *)(r10 - 8) = r8
r1 = 0 ll
r2 = r10
r2 += -8
call 1
if r0 == 0 goto +2
r1 = 1
lock *(u64 *)(r0 + 0) += r1
w8 += 1
if w8 < 20 goto -27
r0 = 2
exit`,
    );
  });

  it("in a loop, a VLAN tag test falls through to no tag", () => {
    expectSelected(
      `for (let i: u32 = 0; i < 20; i++) {
  if (ctx.vlan() !== null) counts.update(1, 0);
}
return XDP_PASS;`,
      `
r6 = r1
w7 = 0
r1 = *(u32 *)(r6 + 0)
r2 = *(u32 *)(r6 + 4)
r3 = r1
r3 += 18
if r3 > r2 goto +14
r1 = *(u16 *)(r1 + 12)
if w1 == 129 goto +2
if w1 == 43144 goto +1
goto +10
*(u32 *)(r10 - 8) = 1
*(u64 *)(r10 - 16) = 0
r1 = 0 ll
r2 = r10
r2 += -8
r3 = r10
r3 += -16
r4 = 0
call 2
w7 += 1
if w7 < 20 goto -21
r0 = 2
exit`,
    );
    expectSelected(
      "if (ctx.vlan() !== null) counts.update(1, 0);\nreturn XDP_PASS;",
      `
r2 = *(u32 *)(r1 + 0)
r1 = *(u32 *)(r1 + 4)
r3 = r2
r3 += 18
if r3 > r1 goto +13
r1 = *(u16 *)(r2 + 12)
if w1 == 129 goto +1
if w1 != 43144 goto +10
*(u32 *)(r10 - 8) = 1
*(u64 *)(r10 - 16) = 0
r1 = 0 ll
r2 = r10
r2 += -8
r3 = r10
r3 += -16
r4 = 0
call 2
r0 = 2
exit`,
    );
  });

  it("a value live across a helper call is kept in a callee-saved register", () => {
    expectSelected(
      "const t: u64 = ktimeNs(); counts.increment(1); return t > 5 ? XDP_PASS : XDP_DROP;",
      `
call 5
r6 = r0
*(u32 *)(r10 - 8) = 1
r1 = 0 ll
r2 = r10
r2 += -8
call 1
if r0 == 0 goto +2
r1 = 1
lock *(u64 *)(r0 + 0) += r1
if r6 <= 5 goto +2
r0 = 2
exit
r0 = 1
exit`,
    );
  });
});
