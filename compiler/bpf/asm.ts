// Assembler (and printer) for the ubpf-style syntax of the bpf_conformance suite:
//   mov32 %r0, 1      add %r1, %r2      ldxw %r0, [%r1+4]     stxdw [%r10-8], %r1
//   jeq %r1, 5, label  ja +2   ja32 label   lddw %r0, 0x1122334455667788
//   call 5   call %r2   call local fn   lock fetch add32 [%r10-4], %r1   exit
// Jump targets are `+N`/`-N` slot offsets or labels (`name:`); `exit` names the first
// exit, as upstream does. Errors carry the line number. This is a tool for tests and
// fixtures, not part of the filter language, so bad input throws AsmError.
import * as I from "./insn.ts";
import { type Insn, isLddw, slots } from "./insn.ts";
import { lddwValue } from "./encode.ts";

export class AsmError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
    this.name = "AsmError";
  }
}

const ALU_OPS: Record<string, number> = {
  add: I.BPF_ADD,
  sub: I.BPF_SUB,
  mul: I.BPF_MUL,
  div: I.BPF_DIV,
  sdiv: I.BPF_DIV,
  or: I.BPF_OR,
  and: I.BPF_AND,
  lsh: I.BPF_LSH,
  rsh: I.BPF_RSH,
  neg: I.BPF_NEG,
  mod: I.BPF_MOD,
  smod: I.BPF_MOD,
  xor: I.BPF_XOR,
  mov: I.BPF_MOV,
  arsh: I.BPF_ARSH,
};

const JMP_OPS: Record<string, number> = {
  jeq: I.BPF_JEQ,
  jgt: I.BPF_JGT,
  jge: I.BPF_JGE,
  jset: I.BPF_JSET,
  jne: I.BPF_JNE,
  jsgt: I.BPF_JSGT,
  jsge: I.BPF_JSGE,
  jlt: I.BPF_JLT,
  jle: I.BPF_JLE,
  jslt: I.BPF_JSLT,
  jsle: I.BPF_JSLE,
};

const SIZES: Record<string, number> = { b: I.BPF_B, h: I.BPF_H, w: I.BPF_W, dw: I.BPF_DW };

const ATOMIC_OPS: Record<string, number> = {
  add: I.BPF_ADD,
  and: I.BPF_AND,
  or: I.BPF_OR,
  xor: I.BPF_XOR,
};

interface Pending {
  insn: Insn;
  /** Label whose slot resolves this instruction's jump field. */
  label?: string;
  /** Which field receives the relative slot offset. */
  field: "off" | "imm";
  line: number;
}

/** Splits operands on commas/whitespace, keeping `[...]` memory operands whole. */
function operands(rest: string): string[] {
  return rest.match(/\[[^\]]*\]?|[^\s,]+/g) ?? [];
}

class LineAsm {
  constructor(readonly line: number) {}

  fail(msg: string): never {
    throw new AsmError(msg, this.line);
  }

  reg(tok: string | undefined): number {
    const m = /^%r(\d+)$/.exec(tok ?? "");
    if (!m || Number(m[1]) > 10) this.fail(`Invalid register: ${tok ?? "(missing)"}`);
    return Number(m[1]);
  }

  /** An integer literal: decimal (signed) or 0x hex, optionally negated. */
  int(tok: string | undefined, what: string): { value: bigint; hex: boolean } {
    const m = /^([+-]?)(0x[0-9a-f]+|\d+)$/i.exec(tok ?? "");
    if (!m) this.fail(`Invalid ${what}: ${tok ?? "(missing)"}`);
    const mag = BigInt(m[2]);
    return { value: m[1] === "-" ? -mag : mag, hex: /^0x/i.test(m[2]) };
  }

  /** 32-bit immediate: signed decimal, or hex up to 0xffffffff taken as its bit pattern. */
  imm32(tok: string | undefined): number {
    const { value, hex } = this.int(tok, "immediate");
    const lo = -(1n << 31n);
    const hi = hex ? (1n << 32n) - 1n : (1n << 31n) - 1n;
    if (value < lo || value > hi) this.fail(`Immediate out of 32-bit range: ${tok}`);
    return Number(BigInt.asIntN(32, value));
  }

  imm64(tok: string | undefined): bigint {
    const { value } = this.int(tok, "immediate");
    if (value < -(1n << 63n) || value > (1n << 64n) - 1n)
      this.fail(`Immediate out of 64-bit range: ${tok}`);
    return BigInt.asUintN(64, value);
  }

  /** 16-bit offset: signed decimal, or hex up to 0xffff taken as its bit pattern. */
  off16(sign: string, mag: string): number {
    const { value, hex } = this.int(mag, "offset");
    const v = sign === "-" ? -value : value;
    const hi = hex && sign !== "-" ? 0xffffn : 0x7fffn;
    if (v < -0x8000n || v > hi) this.fail(`Offset out of 16-bit range: ${sign}${mag}`);
    return Number(BigInt.asIntN(16, v));
  }

  memRef(tok: string | undefined): { reg: number; off: number } {
    const m = /^\[\s*(%r\d+)\s*(?:([+-])\s*(\w+)\s*)?\]$/.exec(tok ?? "");
    if (!m) this.fail(`Invalid memory operand: ${tok ?? "(missing)"}`);
    return { reg: this.reg(m[1]), off: m[2] ? this.off16(m[2], m[3]!) : 0 };
  }

  count(ops: string[], n: number, mnemonic: string): void {
    if (ops.length !== n) this.fail(`Invalid number of operands for ${mnemonic}`);
  }
}

function insn(code: number, dst = 0, src = 0, off = 0, imm = 0): Insn {
  return { code, dst, src, off, imm };
}

/** Target operand: `+N`/`-N` is an offset, anything else a label resolved later. */
function jumpTarget(a: LineAsm, tok: string | undefined, p: Pending): number {
  if (tok === undefined) a.fail("missing jump target");
  if (/^[+-]/.test(tok)) {
    const v = a.int(tok, "jump offset").value;
    const [lo, hi] = p.field === "off" ? [-0x8000n, 0x7fffn] : [-(1n << 31n), (1n << 31n) - 1n];
    if (v < lo || v > hi) a.fail(`Jump offset out of range: ${tok}`);
    return Number(v);
  }
  if (!/^[A-Za-z_.$][\w.$]*$/.test(tok)) a.fail(`Invalid label: ${tok}`);
  p.label = tok;
  return 0;
}

function assembleLine(a: LineAsm, mnemonic: string, ops: string[]): Pending {
  const p: Pending = { insn: insn(0), field: "off", line: a.line };
  const set = (i: Insn) => ((p.insn = i), p);

  if (mnemonic === "exit") {
    a.count(ops, 0, mnemonic);
    return set(insn(I.BPF_JMP | I.BPF_EXIT));
  }
  if (mnemonic === "ja" || mnemonic === "ja32") {
    a.count(ops, 1, mnemonic);
    if (mnemonic === "ja") return set(insn(I.BPF_JMP | I.BPF_JA, 0, 0, jumpTarget(a, ops[0], p)));
    p.field = "imm";
    return set(insn(I.BPF_JMP32 | I.BPF_JA, 0, 0, 0, jumpTarget(a, ops[0], p)));
  }
  if (mnemonic === "call") {
    const code = I.BPF_JMP | I.BPF_CALL;
    if (ops.length === 1 && ops[0]!.startsWith("%"))
      return set(insn(code | I.BPF_X, a.reg(ops[0])));
    if (ops.length === 1) return set(insn(code, 0, 0, 0, a.imm32(ops[0])));
    a.count(ops, 2, mnemonic);
    if (ops[0] === "helper") return set(insn(code, 0, 0, 0, a.imm32(ops[1])));
    if (ops[0] === "runtime") return set(insn(code, 0, 2, 0, a.imm32(ops[1])));
    if (ops[0] === "local") {
      p.field = "imm";
      return set(insn(code, 0, I.BPF_PSEUDO_CALL, 0, jumpTarget(a, ops[1], p)));
    }
    a.fail(`Invalid call mode: ${ops[0]}`);
  }
  if (mnemonic === "lock") {
    if (ops.length === 0) a.fail("Invalid number of operands for lock");
    const fetch = ops[0] === "fetch";
    const rest = fetch ? ops.slice(1) : ops;
    if (rest.length !== 3) a.fail("Invalid number of operands for lock");
    const m = /^(add|and|or|xor|xchg|cmpxchg)(32)?$/.exec(rest[0]!);
    if (!m) a.fail(`Invalid atomic operation: ${rest[0]}`);
    const { reg, off } = a.memRef(rest[1]);
    const src = a.reg(rest[2]);
    const code = I.BPF_STX | I.BPF_ATOMIC | (m[2] ? I.BPF_W : I.BPF_DW);
    let imm: number;
    if (m[1] === "xchg") imm = I.BPF_XCHG;
    else if (m[1] === "cmpxchg") imm = I.BPF_CMPXCHG;
    else imm = ATOMIC_OPS[m[1]!]! | (fetch ? I.BPF_FETCH : 0);
    return set(insn(code, reg, src, off, imm));
  }
  if (mnemonic === "lddw") {
    a.count(ops, 2, mnemonic);
    const v = a.imm64(ops[1]);
    return set({
      ...insn(I.BPF_LD | I.BPF_IMM | I.BPF_DW, a.reg(ops[0])),
      imm: Number(BigInt.asIntN(32, v)),
      imm64: v,
    });
  }
  let m = /^ldx(s?)(b|h|w|dw)$/.exec(mnemonic);
  if (m) {
    a.count(ops, 2, mnemonic);
    if (m[1] && m[2] === "dw") a.fail(`Invalid mnemonic: ${mnemonic}`);
    const { reg, off } = a.memRef(ops[1]);
    return set(
      insn(I.BPF_LDX | (m[1] ? I.BPF_MEMSX : I.BPF_MEM) | SIZES[m[2]!]!, a.reg(ops[0]), reg, off),
    );
  }
  m = /^st(x?)(b|h|w|dw)$/.exec(mnemonic);
  if (m) {
    a.count(ops, 2, mnemonic);
    const { reg, off } = a.memRef(ops[0]);
    if (m[1]) return set(insn(I.BPF_STX | I.BPF_MEM | SIZES[m[2]!]!, reg, a.reg(ops[1]), off));
    return set(insn(I.BPF_ST | I.BPF_MEM | SIZES[m[2]!]!, reg, 0, off, a.imm32(ops[1])));
  }
  m = /^(le|be|swap|bswap)(16|32|64)$/.exec(mnemonic);
  if (m) {
    a.count(ops, 1, mnemonic);
    const code =
      m[1] === "le"
        ? I.BPF_ALU | I.BPF_END | I.BPF_TO_LE
        : m[1] === "be"
          ? I.BPF_ALU | I.BPF_END | I.BPF_TO_BE
          : I.BPF_ALU64 | I.BPF_END | I.BPF_TO_LE;
    return set(insn(code, a.reg(ops[0]), 0, 0, Number(m[2])));
  }
  m = /^movsx(8|16|32)(32|64)$/.exec(mnemonic);
  if (m) {
    a.count(ops, 2, mnemonic);
    if (m[1] === "32" && m[2] === "32") a.fail(`Invalid mnemonic: ${mnemonic}`);
    const cls = m[2] === "32" ? I.BPF_ALU : I.BPF_ALU64;
    return set(insn(cls | I.BPF_MOV | I.BPF_X, a.reg(ops[0]), a.reg(ops[1]), Number(m[1])));
  }
  m = /^([a-z]+?)(32|64)?$/.exec(mnemonic);
  if (m && Object.hasOwn(ALU_OPS, m[1]!)) {
    const op = ALU_OPS[m[1]!]!;
    const cls = m[2] === "32" ? I.BPF_ALU : I.BPF_ALU64;
    const off = m[1] === "sdiv" || m[1] === "smod" ? 1 : 0;
    if (op === I.BPF_NEG) {
      a.count(ops, 1, mnemonic);
      return set(insn(cls | op, a.reg(ops[0])));
    }
    a.count(ops, 2, mnemonic);
    const dst = a.reg(ops[0]);
    if (ops[1]!.startsWith("%")) return set(insn(cls | op | I.BPF_X, dst, a.reg(ops[1]), off));
    return set(insn(cls | op | I.BPF_K, dst, 0, off, a.imm32(ops[1])));
  }
  if (m && m[2] !== "64" && Object.hasOwn(JMP_OPS, m[1]!)) {
    a.count(ops, 3, mnemonic);
    const cls = m[2] === "32" ? I.BPF_JMP32 : I.BPF_JMP;
    const op = JMP_OPS[m[1]!]!;
    const dst = a.reg(ops[0]);
    if (ops[1]!.startsWith("%"))
      return set(insn(cls | op | I.BPF_X, dst, a.reg(ops[1]), jumpTarget(a, ops[2], p)));
    const imm = a.imm32(ops[1]);
    return set(insn(cls | op | I.BPF_K, dst, 0, jumpTarget(a, ops[2], p), imm));
  }
  a.fail(`Invalid mnemonic: ${mnemonic}`);
}

export function assemble(text: string): Insn[] {
  const pending: Pending[] = [];
  const labels = new Map<string, number>();
  let slot = 0;
  text.split(/\r?\n/).forEach((raw, n) => {
    const a = new LineAsm(n + 1);
    let body = raw.replace(/#.*/, "").trim();
    // A line may start with a label and go on with an instruction.
    for (let lm; (lm = /^([A-Za-z_.$][\w.$]*):\s*/.exec(body)); body = body.slice(lm[0].length)) {
      if (labels.has(lm[1]!)) a.fail(`Duplicate label: ${lm[1]}`);
      labels.set(lm[1]!, slot);
    }
    if (!body) return;
    const sp = body.search(/\s/);
    const mnemonic = sp < 0 ? body : body.slice(0, sp);
    const p = assembleLine(a, mnemonic, operands(sp < 0 ? "" : body.slice(sp)));
    if (mnemonic === "exit" && !labels.has("exit")) labels.set("exit", slot);
    pending.push(p);
    slot += slots(p.insn);
  });
  // Resolve labels to slot offsets relative to the next instruction.
  let at = 0;
  for (const p of pending) {
    if (p.label !== undefined) {
      const t = labels.get(p.label);
      if (t === undefined) throw new AsmError(`Invalid label: ${p.label}`, p.line);
      const rel = t - at - 1;
      if (p.field === "off" && (rel < -0x8000 || rel > 0x7fff))
        throw new AsmError(`jump too far: ${p.label}`, p.line);
      p.insn[p.field] = rel;
    }
    at += slots(p.insn);
  }
  return pending.map((p) => p.insn);
}

const SIZE_SUFFIX: Record<number, string> = {
  [I.BPF_B]: "b",
  [I.BPF_H]: "h",
  [I.BPF_W]: "w",
  [I.BPF_DW]: "dw",
};
const ALU_NAMES = Object.fromEntries(
  Object.entries(ALU_OPS)
    .filter(([k]) => k !== "sdiv" && k !== "smod")
    .map(([k, v]) => [v, k]),
);
const JMP_NAMES = Object.fromEntries(Object.entries(JMP_OPS).map(([k, v]) => [v, k]));

function memText(reg: number, off: number): string {
  return off < 0 ? `[%r${reg}-${-off}]` : `[%r${reg}+${off}]`;
}

const rel = (n: number) => (n >= 0 ? `+${n}` : `${n}`);

/**
 * Prints one instruction in the conformance syntax, so that assemble(toAsm(x)) == x.
 * Returns undefined for encodings the syntax cannot express (e.g. reserved fields set).
 */
export function toAsmLine(i: Insn): string | undefined {
  const cls = I.insnClass(i.code);
  const size = i.code & 0x18;
  const mode = i.code & 0xe0;
  const op = i.code & 0xf0;
  const x = (i.code & I.BPF_X) !== 0;
  switch (cls) {
    case I.BPF_ALU:
    case I.BPF_ALU64: {
      const sfx = cls === I.BPF_ALU ? "32" : "";
      if (op === I.BPF_END) {
        const kind = cls === I.BPF_ALU64 ? (x ? undefined : "swap") : x ? "be" : "le";
        return kind && [16, 32, 64].includes(i.imm) ? `${kind}${i.imm} %r${i.dst}` : undefined;
      }
      if (op === I.BPF_NEG) return `neg${sfx} %r${i.dst}`;
      if (op === I.BPF_MOV && x && i.off !== 0)
        return `movsx${i.off}${cls === I.BPF_ALU ? "32" : "64"} %r${i.dst}, %r${i.src}`;
      let name = ALU_NAMES[op];
      if (name === undefined) return undefined;
      if ((op === I.BPF_DIV || op === I.BPF_MOD) && i.off === 1) name = "s" + name;
      return `${name}${sfx} %r${i.dst}, ${x ? `%r${i.src}` : i.imm}`;
    }
    case I.BPF_JMP:
    case I.BPF_JMP32: {
      const sfx = cls === I.BPF_JMP32 ? "32" : "";
      if (op === I.BPF_JA) return cls === I.BPF_JMP32 ? `ja32 ${rel(i.imm)}` : `ja ${rel(i.off)}`;
      if (cls === I.BPF_JMP && op === I.BPF_EXIT) return "exit";
      if (cls === I.BPF_JMP && op === I.BPF_CALL) {
        if (x) return `call %r${i.dst}`;
        if (i.src === I.BPF_PSEUDO_CALL) return `call local ${rel(i.imm)}`;
        if (i.src === 2) return `call runtime ${i.imm}`;
        return `call ${i.imm}`;
      }
      const name = JMP_NAMES[op];
      if (name === undefined) return undefined;
      return `${name}${sfx} %r${i.dst}, ${x ? `%r${i.src}` : i.imm}, ${rel(i.off)}`;
    }
    case I.BPF_LD:
      return isLddw(i) ? `lddw %r${i.dst}, 0x${lddwValue(i).toString(16)}` : undefined;
    case I.BPF_LDX:
      if (mode !== I.BPF_MEM && mode !== I.BPF_MEMSX) return undefined;
      return `ldx${mode === I.BPF_MEMSX ? "s" : ""}${SIZE_SUFFIX[size]} %r${i.dst}, ${memText(i.src, i.off)}`;
    case I.BPF_ST:
      return mode === I.BPF_MEM
        ? `st${SIZE_SUFFIX[size]} ${memText(i.dst, i.off)}, ${i.imm}`
        : undefined;
    case I.BPF_STX: {
      if (mode === I.BPF_MEM) return `stx${SIZE_SUFFIX[size]} ${memText(i.dst, i.off)}, %r${i.src}`;
      if (mode !== I.BPF_ATOMIC || (size !== I.BPF_W && size !== I.BPF_DW)) return undefined;
      const sfx = size === I.BPF_W ? "32" : "";
      const mem = memText(i.dst, i.off);
      if (i.imm === I.BPF_XCHG) return `lock xchg${sfx} ${mem}, %r${i.src}`;
      if (i.imm === I.BPF_CMPXCHG) return `lock cmpxchg${sfx} ${mem}, %r${i.src}`;
      const name = Object.entries(ATOMIC_OPS).find(([, v]) => v === (i.imm & ~I.BPF_FETCH))?.[0];
      if (name === undefined) return undefined;
      return `lock ${i.imm & I.BPF_FETCH ? "fetch " : ""}${name}${sfx} ${mem}, %r${i.src}`;
    }
  }
  return undefined;
}

/** The whole program in conformance syntax; throws on an instruction the syntax cannot express. */
export function toAsm(insns: readonly Insn[]): string {
  return insns
    .map((i, n) => {
      const line = toAsmLine(i);
      if (line === undefined)
        throw new AsmError(
          `instruction has no assembly form (code 0x${i.code.toString(16)})`,
          n + 1,
        );
      return line;
    })
    .join("\n");
}
