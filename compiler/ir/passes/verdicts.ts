// Opt-in verdict counting (`verdictStats`): the kernel does not count XDP verdicts,
// so every return of a program is routed through one exit block that adds 1 to
// slot `verdict` of a hidden PerCpuArray<u64> (one entry per XDP action) before
// returning. Per-CPU slots need no atomics; a verdict outside 0..4 (not produced by
// the language) misses the lookup and is not counted.
import type { Func, Inst, Term, VReg, Block, Slot } from "../ir.ts";
import { isImm } from "../ir.ts";
import { BPF_FUNC, VERDICT_MAP } from "../../uapi/bpf.ts";

export function countVerdicts(f: Func, mapName = VERDICT_MAP): void {
  const rets = f.blocks.filter((b) => b.term?.op === "ret");
  if (!rets.length) return;
  const vreg = (ty: VReg["ty"], name?: string): VReg =>
    name === undefined ? { id: f.nextVReg++, ty } : { id: f.nextVReg++, ty, name };
  const block = (label: string): Block => {
    const b: Block = { id: f.nextBlock++, label, insts: [], term: null };
    f.blocks.push(b);
    return b;
  };
  const verdict = vreg("i32", "verdict");
  const slot: Slot = { id: f.nextSlot++, size: 4, align: 8, name: "verdictkey" };
  f.slots.push(slot);
  const count = block("countverdict");
  const hit = block("verdicthit");
  const exit = block("exit");
  const span = rets[0]!.term!.span ?? f.span;
  const at = <T extends Inst | Term>(x: T): T => (span ? { ...x, span } : x);

  for (const b of rets) {
    const t = b.term as Extract<Term, { op: "ret" }>;
    const v = t.value;
    // Verdicts are 32-bit; a 64-bit vreg (helper results) is truncated like the kernel reads r0 (u32).
    const i: Inst =
      !isImm(v) && v.ty !== "i32"
        ? { op: "un", kind: "zext32", w: 32, dst: verdict, a: v }
        : { op: "mov", dst: verdict, src: isImm(v) ? BigInt.asUintN(32, v) : v };
    b.insts.push(t.span ? { ...i, span: t.span } : i);
    b.term = t.span ? { op: "jmp", target: count, span: t.span } : { op: "jmp", target: count };
  }
  const p = vreg("mapValue");
  count.insts.push(
    at({ op: "store", size: 4, base: slot, off: 0, src: verdict }),
    at({
      op: "call",
      helper: BPF_FUNC.map_lookup_elem,
      dst: p,
      args: [{ map: mapName }, { slot, off: 0 }],
    }),
  );
  count.term = at({ op: "br", cc: "ne", w: 64, a: p, b: 0n, then: hit, else: exit });
  const old = vreg("i64");
  const next = vreg("i64");
  hit.insts.push(
    at({ op: "load", size: 8, dst: old, base: p, off: 0 }),
    at({ op: "bin", kind: "add", w: 64, dst: next, a: old, b: 1n }),
    at({ op: "store", size: 8, base: p, off: 0, src: next }),
  );
  hit.term = at({ op: "jmp", target: exit });
  exit.term = at({ op: "ret", value: verdict });
}
