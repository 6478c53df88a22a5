// Load-time parameters: the `.rodata` variables of an object (`param<T>(name, default)`
// in a filter, `const volatile` in C), found through the BTF DATASEC `.rodata`, and
// the `--set name=value` strings that overwrite them before load. Pure data: no FFI.
import { Kind } from "../../compiler/btf/kinds.ts";
import type { Btf } from "../../compiler/btf/reader.ts";
import { typeDescFromBtf, type TypeDesc } from "../../compiler/elf/types.ts";

export interface ParamDef {
  name: string;
  offset: number;
  size: number;
  /** "u16", "i32", "bool", … */
  typeName: string;
  kind: "int" | "bool";
  bits: number;
  signed: boolean;
  /** The default value from the object, in the form --set accepts. */
  defaultValue: string;
}

function scalar(t: TypeDesc): { kind: "int" | "bool"; bits: number; signed: boolean } | undefined {
  if (t.kind === "typedef" || t.kind === "const" || t.kind === "volatile") return scalar(t.type);
  if (t.kind === "bool") return { kind: "bool", bits: 8, signed: false };
  if (t.kind === "int") return { kind: "int", bits: t.bits, signed: t.signed };
  if (t.kind === "enum") return { kind: "int", bits: t.size * 8, signed: t.signed ?? false };
  return undefined;
}

function readValue(
  bytes: Uint8Array,
  p: Pick<ParamDef, "offset" | "bits" | "signed" | "kind">,
): string {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (p.offset + p.bits / 8 > bytes.byteLength) return "0";
  if (p.kind === "bool") return dv.getUint8(p.offset) ? "true" : "false";
  switch (p.bits) {
    case 8:
      return String(p.signed ? dv.getInt8(p.offset) : dv.getUint8(p.offset));
    case 16:
      return String(p.signed ? dv.getInt16(p.offset, true) : dv.getUint16(p.offset, true));
    case 32:
      return String(p.signed ? dv.getInt32(p.offset, true) : dv.getUint32(p.offset, true));
    default:
      return String(p.signed ? dv.getBigInt64(p.offset, true) : dv.getBigUint64(p.offset, true));
  }
}

/** A symbol of the object (ObjectInfo.globals): where a variable really lies. */
export interface DataSymbol {
  name: string;
  section: string;
  offset: number;
}

/**
 * The settable parameters: scalar variables of the `.rodata` DATASEC. `initial` is
 * the section's bytes (for defaults). Variables of other types (strings, structs)
 * are not settable from the command line and are left out. Offsets come from the
 * object's `symbols` when given: clang leaves the DATASEC's offsets 0 in an object
 * (relocations in .rel.BTF, which libbpf fills from the symbol table at open), so
 * a C object's second parameter would otherwise land on its first.
 */
export function paramsOf(
  btf: Btf | undefined,
  initial: Uint8Array,
  symbols: readonly DataSymbol[] = [],
): ParamDef[] {
  if (!btf) return [];
  const sec = btf.types.find((t) => t.kind === Kind.DATASEC && t.name === ".rodata");
  if (!sec || sec.kind !== Kind.DATASEC) return [];
  const out: ParamDef[] = [];
  for (const vi of sec.vars) {
    const v = btf.byId(vi.type);
    if (!v || v.kind !== Kind.VAR) continue;
    let s;
    try {
      s = scalar(typeDescFromBtf(btf, v.type));
    } catch {
      s = undefined;
    }
    if (!s || s.bits / 8 !== vi.size) continue;
    const sym = symbols.find((g) => g.section === ".rodata" && g.name === v.name);
    const def = { name: v.name, offset: sym ? sym.offset : vi.offset, size: vi.size, ...s };
    out.push({
      ...def,
      typeName: s.kind === "bool" ? "bool" : `${s.signed ? "i" : "u"}${s.bits}`,
      defaultValue: readValue(initial, def),
    });
  }
  return out;
}

/** `name=value` → [name, value]; undefined when there is no `=` or no name. */
export function splitAssignment(s: string): [string, string] | undefined {
  const eq = s.indexOf("=");
  if (eq <= 0) return undefined;
  return [s.slice(0, eq).trim(), s.slice(eq + 1).trim()];
}

/** Decimal, hex (0x), octal (0o), binary (0b), with `_` separators, optionally negative. */
function parseInteger(text: string): bigint | undefined {
  const m = /^(-)?(0x[0-9a-f_]+|0o[0-7_]+|0b[01_]+|[0-9][0-9_]*)$/i.exec(text);
  if (!m || /_$|__|^[-]?0[xob]_/i.test(text)) return undefined;
  const v = BigInt(m[2]!.replace(/_/g, ""));
  return m[1] ? -v : v;
}

const describe = (p: ParamDef) => `${p.name}: ${p.typeName} = ${p.defaultValue}`;

export function listParams(defs: readonly ParamDef[]): string {
  return defs.length ? defs.map(describe).join(", ") : "none";
}

/**
 * The `.rodata` bytes with every `--set` applied, or a one-line error naming the
 * parameter and the valid ones.
 */
export function applyParams(
  defs: readonly ParamDef[],
  initial: Uint8Array,
  sets: Readonly<Record<string, string>>,
): { bytes: Uint8Array; values: Record<string, string> } | { error: string } {
  const bytes = new Uint8Array(initial);
  const dv = new DataView(bytes.buffer);
  const values: Record<string, string> = {};
  for (const [name, text] of Object.entries(sets)) {
    const p = defs.find((d) => d.name === name);
    if (!p) {
      return {
        error: defs.length
          ? `unknown parameter '${name}' (parameters: ${listParams(defs)})`
          : `unknown parameter '${name}': this filter has no parameters`,
      };
    }
    if (p.kind === "bool") {
      const b = /^(true|1)$/i.test(text) ? 1 : /^(false|0)$/i.test(text) ? 0 : -1;
      if (b < 0)
        return {
          error: `invalid value '${text}' for parameter '${describe(p)}': expected true or false`,
        };
      dv.setUint8(p.offset, b);
      values[name] = b ? "true" : "false";
      continue;
    }
    const v = parseInteger(text);
    if (v === undefined) {
      return {
        error: `invalid value '${text}' for parameter '${describe(p)}': expected an integer (decimal or 0x hex)`,
      };
    }
    const lo = p.signed ? -(1n << BigInt(p.bits - 1)) : 0n;
    const hi = p.signed ? (1n << BigInt(p.bits - 1)) - 1n : (1n << BigInt(p.bits)) - 1n;
    if (v < lo || v > hi) {
      return {
        error: `value ${text} is out of range for parameter '${describe(p)}' (${lo}..${hi})`,
      };
    }
    const u = BigInt.asUintN(p.bits, v);
    for (let i = 0; i < p.bits / 8; i++) bytes[p.offset + i] = Number((u >> BigInt(8 * i)) & 0xffn);
    values[name] = v.toString();
  }
  return { bytes, values };
}
