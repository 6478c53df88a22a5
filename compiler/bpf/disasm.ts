// Disassembler in the syntax llvm-objdump 14 prints for BPF ("r0 = 2", "if w1 == 5 goto -4",
// "lock *(u64 *)(r1 + 0) += r2", "r1 = 0 ll"), so our listings diff cleanly against clang's.
// Instructions LLVM 14 cannot decode (BPF_ST, jset, mod, and the v4 additions: sdiv/smod,
// movsx, ldsx, bswap, gotol) are printed the way later LLVM releases print them.
import * as I from "./insn.ts";
import { type Insn, isLddw, slots } from "./insn.ts";
import { lddwValue } from "./encode.ts";

export interface DisasmOptions {
  /** Names for jump targets, keyed by slot; used as `goto +3 <name>`. */
  labels?: ReadonlyMap<number, string>;
}

const ALU_SYM: Record<number, string> = {
  [I.BPF_ADD]: "+=",
  [I.BPF_SUB]: "-=",
  [I.BPF_MUL]: "*=",
  [I.BPF_DIV]: "/=",
  [I.BPF_OR]: "|=",
  [I.BPF_AND]: "&=",
  [I.BPF_LSH]: "<<=",
  [I.BPF_RSH]: ">>=",
  [I.BPF_MOD]: "%=",
  [I.BPF_XOR]: "^=",
  [I.BPF_MOV]: "=",
  [I.BPF_ARSH]: "s>>=",
};

const JMP_SYM: Record<number, string> = {
  [I.BPF_JEQ]: "==",
  [I.BPF_JGT]: ">",
  [I.BPF_JGE]: ">=",
  [I.BPF_JSET]: "&",
  [I.BPF_JNE]: "!=",
  [I.BPF_JSGT]: "s>",
  [I.BPF_JSGE]: "s>=",
  [I.BPF_JLT]: "<",
  [I.BPF_JLE]: "<=",
  [I.BPF_JSLT]: "s<",
  [I.BPF_JSLE]: "s<=",
};

const SIZE_NAME: Record<number, string> = {
  [I.BPF_W]: "32",
  [I.BPF_H]: "16",
  [I.BPF_B]: "8",
  [I.BPF_DW]: "64",
};

const UNKNOWN = "<unknown>";

function mem(reg: number, off: number): string {
  return off < 0 ? `(r${reg} - ${-off})` : `(r${reg} + ${off})`;
}

function target(off: number): string {
  return off >= 0 ? `+${off}` : `${off}`;
}

function alu(i: Insn): string {
  const is64 = I.insnClass(i.code) === I.BPF_ALU64;
  const r = is64 ? "r" : "w";
  const op = i.code & 0xf0;
  const useReg = (i.code & I.BPF_X) !== 0;
  if (op === I.BPF_NEG) return `${r}${i.dst} = -${r}${i.dst}`;
  if (op === I.BPF_END) {
    if (!(i.imm === 16 || i.imm === 32 || i.imm === 64)) return UNKNOWN;
    if (is64) return useReg ? UNKNOWN : `r${i.dst} = bswap${i.imm} r${i.dst}`;
    return `r${i.dst} = ${useReg ? "be" : "le"}${i.imm} r${i.dst}`;
  }
  let sym = ALU_SYM[op];
  if (sym === undefined) return UNKNOWN;
  if ((op === I.BPF_DIV || op === I.BPF_MOD) && i.off === 1) sym = "s" + sym;
  if (op === I.BPF_MOV && useReg && (i.off === 8 || i.off === 16 || (is64 && i.off === 32))) {
    return `${r}${i.dst} = (s${i.off})${r}${i.src}`;
  }
  return `${r}${i.dst} ${sym} ${useReg ? `${r}${i.src}` : i.imm}`;
}

function jmp(i: Insn, slot: number, opts: DisasmOptions): string {
  const cls = I.insnClass(i.code);
  const op = i.code & 0xf0;
  const useReg = (i.code & I.BPF_X) !== 0;
  const label = (off: number) => {
    const name = opts.labels?.get(slot + 1 + off);
    return name === undefined ? target(off) : `${target(off)} <${name}>`;
  };
  if (op === I.BPF_JA) {
    if (cls === I.BPF_JMP32) return `gotol ${label(i.imm)}`;
    return `goto ${label(i.off)}`;
  }
  if (cls === I.BPF_JMP && op === I.BPF_CALL) {
    // LLVM 14 reads callx's register from imm; later releases from dst.
    if (useReg) return `callx r${i.dst !== 0 ? i.dst : i.imm}`;
    return `call ${i.imm}`;
  }
  if (cls === I.BPF_JMP && op === I.BPF_EXIT) return "exit";
  const sym = JMP_SYM[op];
  if (sym === undefined) return UNKNOWN;
  const r = cls === I.BPF_JMP32 ? "w" : "r";
  return `if ${r}${i.dst} ${sym} ${useReg ? `${r}${i.src}` : i.imm} goto ${label(i.off)}`;
}

function atomic(i: Insn): string {
  const size = i.code & 0x18;
  if (size !== I.BPF_W && size !== I.BPF_DW) return UNKNOWN;
  const is64 = size === I.BPF_DW;
  const r = is64 ? "r" : "w";
  const ty = is64 ? "u64" : "u32";
  const addr = mem(i.dst, i.off);
  const src = `${r}${i.src}`;
  // xchg/cmpxchg print their address without the parentheses: xchg_64(r1 + 0, r2).
  const bare = addr.slice(1, -1);
  const sfx = is64 ? "_64" : "32_32";
  if (i.imm === I.BPF_XCHG) return `${src} = xchg${sfx}(${bare}, ${src})`;
  if (i.imm === I.BPF_CMPXCHG) return `${r}0 = cmpxchg${sfx}(${bare}, ${r}0, ${src})`;
  const names: Record<number, [string, string]> = {
    [I.BPF_ADD]: ["+=", "add"],
    [I.BPF_AND]: ["&=", "and"],
    [I.BPF_OR]: ["|=", "or"],
    [I.BPF_XOR]: ["^=", "xor"],
  };
  const n = names[i.imm & ~I.BPF_FETCH];
  if (!n) return UNKNOWN;
  if (i.imm & I.BPF_FETCH) return `${src} = atomic_fetch_${n[1]}((${ty} *)${addr}, ${src})`;
  // llvm-objdump 14 decodes the 32-bit add as the pre-alu32 XADDW, with a 64-bit register name.
  if (i.imm === I.BPF_ADD) return `lock *(${ty} *)${addr} += r${i.src}`;
  return `lock *(${ty} *)${addr} ${n[0]} ${src}`;
}

/** One instruction in llvm-objdump syntax. `slot` (its position in 8-byte slots) names jump targets. */
export function formatInsn(i: Insn, slot = 0, opts: DisasmOptions = {}): string {
  const cls = I.insnClass(i.code);
  const size = i.code & 0x18;
  const mode = i.code & 0xe0;
  switch (cls) {
    case I.BPF_ALU:
    case I.BPF_ALU64:
      return alu(i);
    case I.BPF_JMP:
    case I.BPF_JMP32:
      return jmp(i, slot, opts);
    case I.BPF_LD:
      if (isLddw(i)) {
        if (i.src !== 0)
          return `ld_pseudo\tr${i.dst}, ${i.src}, ${BigInt.asIntN(64, lddwValue(i))}`;
        return `r${i.dst} = ${BigInt.asIntN(64, lddwValue(i))} ll`;
      }
      if (mode === I.BPF_ABS) return `r0 = *(u${SIZE_NAME[size]} *)skb[${i.imm}]`;
      if (mode === I.BPF_IND) return `r0 = *(u${SIZE_NAME[size]} *)skb[r${i.src}]`;
      return UNKNOWN;
    case I.BPF_LDX:
      if (mode === I.BPF_MEM) return `r${i.dst} = *(u${SIZE_NAME[size]} *)${mem(i.src, i.off)}`;
      if (mode === I.BPF_MEMSX && size !== I.BPF_DW)
        return `r${i.dst} = *(s${SIZE_NAME[size]} *)${mem(i.src, i.off)}`;
      return UNKNOWN;
    case I.BPF_ST:
      if (mode === I.BPF_MEM) return `*(u${SIZE_NAME[size]} *)${mem(i.dst, i.off)} = ${i.imm}`;
      return UNKNOWN;
    case I.BPF_STX:
      if (mode === I.BPF_MEM) return `*(u${SIZE_NAME[size]} *)${mem(i.dst, i.off)} = r${i.src}`;
      if (mode === I.BPF_ATOMIC) return atomic(i);
      return UNKNOWN;
  }
  return UNKNOWN;
}

/** One line per instruction, no addresses. */
export function disassemble(insns: readonly Insn[], opts: DisasmOptions = {}): string[] {
  const out: string[] = [];
  let slot = 0;
  for (const i of insns) {
    out.push(formatInsn(i, slot, opts));
    slot += slots(i);
  }
  return out;
}

export interface ListingRelocation {
  /** ELF relocation type name, e.g. R_BPF_64_64. */
  type: string;
  symbol: string;
}

export interface ListingOptions {
  /** Function/label names by slot: printed as `0000000000000000 <name>:` headers and jump annotations. */
  symbols?: ReadonlyMap<number, string>;
  /** Relocations by slot, printed after their instruction like `llvm-objdump -r`. */
  relocations?: ReadonlyMap<number, ListingRelocation>;
  /** Source text by slot, printed before the instruction as `; text` like `llvm-objdump -S`. */
  source?: ReadonlyMap<number, string>;
}

const hex16 = (n: number) => n.toString(16).padStart(16, "0");

/**
 * A listing in the layout of `llvm-objdump -d --no-show-raw-insn` (plus -r/-S when
 * relocations/source are given): `      12:\tr1 = 0 ll`, one row per instruction.
 */
export function formatListing(insns: readonly Insn[], opts: ListingOptions = {}): string[] {
  const out: string[] = [];
  const dis: DisasmOptions = { labels: opts.symbols };
  let slot = 0;
  for (const i of insns) {
    const name = opts.symbols?.get(slot);
    if (name !== undefined) {
      if (out.length > 0) out.push("");
      out.push(`${hex16(slot * 8)} <${name}>:`);
    }
    const src = opts.source?.get(slot);
    if (src !== undefined) out.push(`; ${src}`);
    out.push(`${String(slot).padStart(8)}:\t${formatInsn(i, slot, dis)}`);
    const rel = opts.relocations?.get(slot);
    if (rel) out.push(`\t\t${hex16(slot * 8)}:  ${rel.type}\t${rel.symbol}`);
    slot += slots(i);
  }
  return out;
}
