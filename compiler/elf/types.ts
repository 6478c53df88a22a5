// The small plain-data type language that ObjectSpec uses to describe map keys and
// values, global variables and function prototypes. The backend maps its checked
// types onto it; buildObject turns it into BTF (deduplicated structurally).
//
//   { kind: "int", bits: 8|16|32|64, signed }  → BTF INT named u8..u64 / i8..i64
//                                                (or `name` when given, e.g. "int")
//   { kind: "bool" }                            → BTF INT "bool", 1 byte, encoding BOOL
//   { kind: "struct" | "union", name?, size, members: [{ name, type, offset, bitSize? }] }
//        offset is in BYTES from the start; for a bitfield member (bitSize > 0) give
//        `bitOffset` (bits) instead. Layout is the caller's (C layout, as clang lays it out).
//   { kind: "array", elem, length }             → BTF ARRAY indexed by __ARRAY_SIZE_TYPE__
//   { kind: "typedef", name, type }             → BTF TYPEDEF
//   { kind: "enum", name?, size: 4|8, signed?, values: [{ name, value }] }
//   { kind: "ptr", to }                         → BTF PTR (`to` may be void)
//   { kind: "void" }                            → type id 0 (function returns, void *)
//   { kind: "const" | "volatile", type }        → BTF CONST / VOLATILE
import { BtfBuilder, type MemberSpec } from "../btf/writer.ts";
import { BTF_INT_BOOL, BTF_INT_SIGNED, Kind } from "../btf/kinds.ts";
import type { Btf } from "../btf/reader.ts";

export type TypeDesc =
  | { kind: "void" }
  | { kind: "int"; bits: 8 | 16 | 32 | 64; signed: boolean; name?: string }
  | { kind: "bool" }
  | { kind: "struct" | "union"; name?: string; size: number; members: MemberDesc[] }
  | { kind: "array"; elem: TypeDesc; length: number }
  | { kind: "typedef"; name: string; type: TypeDesc }
  | {
      kind: "enum";
      name?: string;
      size: 4 | 8;
      signed?: boolean;
      values: { name: string; value: number | bigint }[];
    }
  | { kind: "ptr"; to: TypeDesc }
  | { kind: "const" | "volatile"; type: TypeDesc };

export interface MemberDesc {
  name: string;
  type: TypeDesc;
  /** Byte offset (ordinary members). */
  offset?: number;
  /** Bit offset (bitfields, or instead of `offset`). */
  bitOffset?: number;
  bitSize?: number;
}

// Shorthands for the backend and tests.
export const u8: TypeDesc = { kind: "int", bits: 8, signed: false };
export const u16: TypeDesc = { kind: "int", bits: 16, signed: false };
export const u32: TypeDesc = { kind: "int", bits: 32, signed: false };
export const u64: TypeDesc = { kind: "int", bits: 64, signed: false };
export const i32: TypeDesc = { kind: "int", bits: 32, signed: true };
export const i64: TypeDesc = { kind: "int", bits: 64, signed: true };
export const bool: TypeDesc = { kind: "bool" };
export const voidType: TypeDesc = { kind: "void" };
/** C `int`, the return type of XDP programs. */
export const cInt: TypeDesc = { kind: "int", bits: 32, signed: true, name: "int" };
/** `__u32` as clang names the context structs' fields. */
const u32Typedef: TypeDesc = {
  kind: "typedef",
  name: "__u32",
  type: { kind: "int", bits: 32, signed: false, name: "unsigned int" },
};
/** `struct xdp_md` as in <linux/bpf.h> (fields typed __u32 like clang emits them). */
export const xdpMd: TypeDesc = {
  kind: "struct",
  name: "xdp_md",
  size: 24,
  members: [
    "data",
    "data_end",
    "data_meta",
    "ingress_ifindex",
    "rx_queue_index",
    "egress_ifindex",
  ].map((name, i) => ({
    name,
    type: u32Typedef,
    offset: i * 4,
  })),
};

/**
 * `struct __sk_buff`, the context of tc programs, up to data_end (the fields xdpc reads;
 * the kernel matches a program's context argument by the struct's name).
 */
export const skBuff: TypeDesc = {
  kind: "struct",
  name: "__sk_buff",
  size: 84,
  members: [
    "len",
    "pkt_type",
    "mark",
    "queue_mapping",
    "protocol",
    "vlan_present",
    "vlan_tci",
    "vlan_proto",
    "priority",
    "ingress_ifindex",
    "ifindex",
    "tc_index",
    "cb0",
    "cb1",
    "cb2",
    "cb3",
    "cb4",
    "hash",
    "tc_classid",
    "data",
    "data_end",
  ].map((name, i) => ({
    name,
    type: u32Typedef,
    offset: i * 4,
  })),
};

export function sizeOf(t: TypeDesc): number {
  switch (t.kind) {
    case "void":
      return 0;
    case "int":
      return t.bits / 8;
    case "bool":
      return 1;
    case "struct":
    case "union":
      return t.size;
    case "array":
      return sizeOf(t.elem) * t.length;
    case "typedef":
    case "const":
    case "volatile":
      return sizeOf(t.type);
    case "enum":
      return t.size;
    case "ptr":
      return 8;
  }
}

export function alignOf(t: TypeDesc): number {
  switch (t.kind) {
    case "void":
      return 1;
    case "int":
      return t.bits / 8;
    case "bool":
      return 1;
    case "struct":
    case "union":
      return Math.max(1, ...t.members.map((m) => alignOf(m.type)));
    case "array":
      return alignOf(t.elem);
    case "typedef":
    case "const":
    case "volatile":
      return alignOf(t.type);
    case "enum":
      return t.size;
    case "ptr":
      return 8;
  }
}

/** Interns TypeDescs into a BtfBuilder: structurally equal descriptions share one id. */
export class BtfTypes {
  private readonly cache = new Map<string, number>();
  private arraySizeType = 0;

  constructor(readonly btf: BtfBuilder) {}

  /** The `__ARRAY_SIZE_TYPE__` index type clang uses for every ARRAY. */
  indexType(): number {
    this.arraySizeType ||= this.btf.addInt("__ARRAY_SIZE_TYPE__", 4, 0);
    return this.arraySizeType;
  }

  id(t: TypeDesc): number {
    if (t.kind === "void") return 0;
    const key = JSON.stringify(t, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
    const known = this.cache.get(key);
    if (known !== undefined) return known;
    const id = this.make(t);
    this.cache.set(key, id);
    return id;
  }

  private make(t: Exclude<TypeDesc, { kind: "void" }>): number {
    const b = this.btf;
    switch (t.kind) {
      case "int":
        return b.addInt(
          t.name ?? `${t.signed ? "i" : "u"}${t.bits}`,
          t.bits / 8,
          t.signed ? BTF_INT_SIGNED : 0,
        );
      case "bool":
        return b.addInt("bool", 1, BTF_INT_BOOL);
      case "struct":
      case "union": {
        const members: MemberSpec[] = t.members.map((m) => {
          const bitOffset = m.bitOffset ?? (m.offset ?? 0) * 8;
          if (bitOffset + (m.bitSize || sizeOf(m.type) * 8) > t.size * 8) {
            throw new Error(
              `type ${t.name ?? "(anon)"}: member ${m.name} extends past size ${t.size}`,
            );
          }
          return { name: m.name, type: this.id(m.type), bitOffset, bitSize: m.bitSize ?? 0 };
        });
        return t.kind === "struct"
          ? b.addStruct(t.name ?? "", t.size, members)
          : b.addUnion(t.name ?? "", t.size, members);
      }
      case "array":
        return b.addArray(this.id(t.elem), this.indexType(), t.length);
      case "typedef":
        return b.addTypedef(t.name, this.id(t.type));
      case "enum":
        return b.addEnum(t.name ?? "", t.size, t.values, t.signed ?? false);
      case "ptr":
        return b.addPtr(this.id(t.to));
      case "const":
        return b.addConst(this.id(t.type));
      case "volatile":
        return b.addVolatile(this.id(t.type));
    }
  }
}

/**
 * The TypeDesc of a BTF type (the inverse of BtfTypes.id, up to names): lets the
 * runtime decode map keys/values of any object, ours or clang's. CV modifiers are
 * dropped; pointers to functions or unsupported kinds become `void`.
 */
export function typeDescFromBtf(btf: Btf, id: number, depth = 0): TypeDesc {
  if (depth > 64) throw new Error(`BTF type ${id}: nesting too deep`);
  const t = btf.byId(id);
  if (!t) return voidType;
  switch (t.kind) {
    case Kind.INT: {
      if (t.encoding & BTF_INT_BOOL) return bool;
      const bits = t.size * 8;
      if (bits !== 8 && bits !== 16 && bits !== 32 && bits !== 64)
        throw new Error(`BTF INT ${t.name}: unsupported size ${t.size}`);
      const signed = (t.encoding & BTF_INT_SIGNED) !== 0;
      const d: TypeDesc = { kind: "int", bits, signed };
      return t.name === `${signed ? "i" : "u"}${bits}` ? d : { ...d, name: t.name };
    }
    case Kind.PTR:
      return { kind: "ptr", to: typeDescFromBtf(btf, t.type, depth + 1) };
    case Kind.ARRAY:
      return { kind: "array", elem: typeDescFromBtf(btf, t.type, depth + 1), length: t.nelems };
    case Kind.STRUCT:
    case Kind.UNION:
      return {
        kind: t.kind === Kind.STRUCT ? "struct" : "union",
        ...(t.name ? { name: t.name } : {}),
        size: t.size,
        members: t.members.map((m) =>
          m.bitSize || m.bitOffset % 8
            ? {
                name: m.name,
                type: typeDescFromBtf(btf, m.type, depth + 1),
                bitOffset: m.bitOffset,
                ...(m.bitSize ? { bitSize: m.bitSize } : {}),
              }
            : {
                name: m.name,
                type: typeDescFromBtf(btf, m.type, depth + 1),
                offset: m.bitOffset / 8,
              },
        ),
      };
    case Kind.ENUM:
    case Kind.ENUM64:
      return {
        kind: "enum",
        ...(t.name ? { name: t.name } : {}),
        size: t.size === 8 ? 8 : 4,
        signed: t.signed,
        values: t.values.map((v) => ({
          name: v.name,
          value: t.kind === Kind.ENUM ? Number(v.value) : v.value,
        })),
      };
    case Kind.TYPEDEF:
      return { kind: "typedef", name: t.name, type: typeDescFromBtf(btf, t.type, depth + 1) };
    case Kind.CONST:
    case Kind.VOLATILE:
    case Kind.RESTRICT:
    case Kind.TYPE_TAG:
    case Kind.VAR:
      return typeDescFromBtf(btf, t.type, depth + 1);
    default:
      return voidType;
  }
}
