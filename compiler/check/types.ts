// The checker's type model: what every expression of a filter evaluates to.
// Types are plain immutable objects; integer, bool, void, null, context and action
// types are interned (compare with `===` or sameType()). Struct types are created
// once per declaration, so struct identity is reference identity too.
//
// Memory model the backend relies on:
// - int/bool/action values are scalars (bool is 0/1, one byte in memory).
// - struct, fixedArray and header values are *references* to memory: a stack slot
//   (struct literal), a map value (lookup), packet data (header accessor) or a
//   global. Copies happen only where result.ts says so (struct literal, storing a
//   struct into a field/element, passing it to a map's update/output).
// - nullable(T) is a reference (or, for integer T, a scalar plus a hit flag) that
//   may be null; it is only produced by header accessors, map lookups and checked
//   raw loads, and must be narrowed before use.

export type IntBits = 8 | 16 | 32 | 64;

export interface IntType {
  readonly kind: "int";
  readonly bits: IntBits;
  readonly signed: boolean;
  /** `u8` … `i64` */
  readonly name: string;
}
export interface BoolType {
  readonly kind: "bool";
}
export interface VoidType {
  readonly kind: "void";
}
/** The type of the `null` literal; only ever compared against a nullable. */
export interface NullType {
  readonly kind: "null";
}

export interface StructField {
  readonly name: string;
  readonly type: Type;
  /** Byte offset inside the struct, as clang lays it out (natural alignment). */
  readonly offset: number;
  readonly size: number;
  /**
   * Only for built-in structs mirroring a kernel struct (FibLookupParams): the field is
   * stored in network byte order and/or with an odd width (6-byte MACs), accessed like
   * a header field (see HeaderField) at `offset`. Fields may alias (C unions).
   */
  readonly wire?: HeaderField;
}
/** `interface S { … }` / `type S = { … }`: a C struct with natural alignment. */
export interface StructType {
  readonly kind: "struct";
  readonly name: string;
  readonly fields: readonly StructField[];
  /** sizeof, including tail padding. */
  readonly size: number;
  /** alignof: the largest field alignment (1 for an empty struct). */
  readonly align: number;
}
/** `FixedArray<T, N>`: N elements of T, no header, C array layout. */
export interface FixedArrayType {
  readonly kind: "fixedArray";
  readonly elem: Type;
  readonly length: number;
  readonly size: number;
  readonly align: number;
}
/** `T | null`. T is a header view, struct, or integer (map lookups of integer values, raw loads). */
export interface NullableType {
  readonly kind: "nullable";
  readonly inner: Type;
}

export type HeaderKind = "eth" | "vlan" | "ipv4" | "ipv6" | "tcp" | "udp" | "icmp" | "icmp6";

/**
 * One field of a header view, described on the wire. The value in host order is
 *   (load `width` bytes big-endian at header start + `offset`) >> shift & mask
 * and a write is the inverse read-modify-write (only the masked bits change).
 * `mask` is null when the field is the whole loaded unit (no shift, no mask).
 * Eth MAC addresses are 6-byte big-endian numbers (width 6) held in a u64.
 * Array fields (Ipv6 addresses) have width = array size, shift 0, mask null and
 * are accessed byte-wise (no byte swap; they are byte arrays).
 */
export interface HeaderField {
  readonly name: string;
  /** The host-order value type (an int, or FixedArray<u8, 16> for IPv6 addresses). */
  readonly type: Type;
  readonly offset: number;
  readonly width: 1 | 2 | 4 | 6 | 16;
  readonly shift: number;
  readonly mask: bigint | null;
  /** false for fields whose change would invalidate the accessor rules (version, ihl, dataOffset). */
  readonly writable: boolean;
}
/**
 * A view of one header in packet data (network byte order on the wire).
 * `header` is the view kind; icmp and icmp6 accessors share the "icmp" view.
 */
export interface HeaderType {
  readonly kind: "header";
  readonly header: HeaderKind;
  /** `Ipv4Header`, … as named in stdlib. */
  readonly name: string;
  /** Bytes the accessor guarantees are present (minimum header length). */
  readonly size: number;
  readonly fields: readonly HeaderField[];
}
/** The ELF section a tc program goes to: `TcContext`'s type argument (§9.1). */
export type TcSection = "tc" | "tcx/ingress" | "tcx/egress";
/**
 * `XdpContext` (struct xdp_md) or `TcContext` (struct __sk_buff): a program's `ctx`. A
 * `TcContext<"tcx/ingress">` is the same type as `TcContext` (sameType compares the
 * hook), so a helper typed `c: TcContext` takes it; only a program's section reads it.
 */
export interface ContextType {
  readonly kind: "context";
  readonly hook: "xdp" | "tc";
  readonly section?: TcSection;
}
/** `XskPacket`: one AF_XDP frame handed to a handler. */
export interface XskPacketType {
  readonly kind: "xskPacket";
}

export type MapKind =
  | "ArrayMap"
  | "PerCpuArray"
  | "HashMap"
  | "PerCpuHash"
  | "LruHash"
  | "LruPerCpuHash"
  | "LpmTrie"
  | "DevMap"
  | "DevMapHash"
  | "CpuMap"
  | "XskMap"
  | "RingBuf";

/**
 * The type of a map declaration. Maps are never values: their name may only be the
 * object of a method call. key is u32 for array-like maps; value is u32 for DevMap
 * (ifindex), CpuMap (queue size) and XskMap (socket fd); for RingBuf, `value` is
 * the record type and key is null.
 */
export interface MapType {
  readonly kind: "map";
  readonly mapKind: MapKind;
  readonly key: Type | null;
  readonly value: Type;
  readonly maxEntries: number;
  readonly pinned: boolean;
  /** XskMap only: the exported handler bound to frames redirected into it. */
  readonly handler: string | null;
}

/**
 * `XdpAction` (XDP_* verdicts, u32 at run time), `XskVerdict` (XSK_DROP / XSK_TX, u32)
 * or `TcAction` (TC_ACT_* / TCX_*, i32 at run time: TC_ACT_UNSPEC is -1).
 */
export interface ActionType {
  readonly kind: "action";
  readonly of: "xdp" | "xsk" | "tc";
}

export type Type =
  | IntType
  | BoolType
  | VoidType
  | NullType
  | StructType
  | FixedArrayType
  | NullableType
  | HeaderType
  | ContextType
  | XskPacketType
  | MapType
  | ActionType;

// ---------------------------------------------------------------- interned types

function int(bits: IntBits, signed: boolean): IntType {
  return Object.freeze({ kind: "int", bits, signed, name: `${signed ? "i" : "u"}${bits}` });
}
export const u8 = int(8, false);
export const u16 = int(16, false);
export const u32 = int(32, false);
export const u64 = int(64, false);
export const i8 = int(8, true);
export const i16 = int(16, true);
export const i32 = int(32, true);
export const i64 = int(64, true);
export const intTypes: readonly IntType[] = [u8, u16, u32, u64, i8, i16, i32, i64];

export function intType(bits: IntBits, signed: boolean): IntType {
  return intTypes.find((t) => t.bits === bits && t.signed === signed)!;
}

export const boolType: BoolType = Object.freeze({ kind: "bool" });
export const voidType: VoidType = Object.freeze({ kind: "void" });
export const nullType: NullType = Object.freeze({ kind: "null" });
export const contextType: ContextType = Object.freeze({ kind: "context", hook: "xdp" });
export const tcContextType: ContextType = Object.freeze({ kind: "context", hook: "tc" });
/** `TcContext<S>` for each section; "tc" is `tcContextType` itself. */
export const tcContextTypes: Readonly<Record<TcSection, ContextType>> = Object.freeze({
  tc: tcContextType,
  "tcx/ingress": Object.freeze({ kind: "context", hook: "tc", section: "tcx/ingress" } as const),
  "tcx/egress": Object.freeze({ kind: "context", hook: "tc", section: "tcx/egress" } as const),
});
export const xskPacketType: XskPacketType = Object.freeze({ kind: "xskPacket" });
export const xdpActionType: ActionType = Object.freeze({ kind: "action", of: "xdp" });
export const xskVerdictType: ActionType = Object.freeze({ kind: "action", of: "xsk" });
export const tcActionType: ActionType = Object.freeze({ kind: "action", of: "tc" });

/** The integer a verdict is in arithmetic, ordering and memory (§2.4). */
export function actionInt(t: ActionType): IntType {
  return t.of === "tc" ? i32 : u32;
}

export function nullable(inner: Type): NullableType {
  return { kind: "nullable", inner };
}

export function fixedArray(elem: Type, length: number): FixedArrayType {
  const { size, align } = sizeAlign(elem);
  return { kind: "fixedArray", elem, length, size: size * length, align };
}

// ---------------------------------------------------------------- queries

export function isInt(t: Type): t is IntType {
  return t.kind === "int";
}

/** Range of values an integer type holds. */
export function intRange(t: IntType): { min: bigint; max: bigint } {
  const b = BigInt(t.bits);
  return t.signed
    ? { min: -(1n << (b - 1n)), max: (1n << (b - 1n)) - 1n }
    : { min: 0n, max: (1n << b) - 1n };
}

export function fits(value: bigint, t: IntType): boolean {
  const r = intRange(t);
  return value >= r.min && value <= r.max;
}

/** Reduce a mathematical value to type t (two's complement wrap), as the hardware would. */
export function wrap(value: bigint, t: IntType): bigint {
  return t.signed ? BigInt.asIntN(t.bits, value) : BigInt.asUintN(t.bits, value);
}

/** C integer promotion: narrower than 32 bits becomes u32 / i32. */
export function promote(t: IntType): IntType {
  return t.bits < 32 ? (t.signed ? i32 : u32) : t;
}

/** The type a bare constant takes with no context: u32, else u64; i32, else i64 when negative. */
export function defaultIntType(value: bigint): IntType | null {
  for (const t of value < 0n ? [i32, i64] : [u32, u64]) if (fits(value, t)) return t;
  return null;
}

/** Size and alignment of a type stored in memory (struct field, map key/value, stack). */
export function sizeAlign(t: Type): { size: number; align: number } {
  switch (t.kind) {
    case "int":
      return { size: t.bits / 8, align: t.bits / 8 };
    case "bool":
      return { size: 1, align: 1 };
    case "action":
      return { size: 4, align: 4 };
    case "struct":
    case "fixedArray":
      return { size: t.size, align: t.align };
    case "header":
      return { size: t.size, align: 1 };
    default:
      return { size: 0, align: 1 };
  }
}

export function sameType(a: Type, b: Type): boolean {
  if (a === b) return true;
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case "int":
      return a.bits === (b as IntType).bits && a.signed === (b as IntType).signed;
    case "fixedArray":
      return (
        a.length === (b as FixedArrayType).length && sameType(a.elem, (b as FixedArrayType).elem)
      );
    case "nullable":
      return sameType(a.inner, (b as NullableType).inner);
    case "header":
      return a.header === (b as HeaderType).header;
    case "action":
      return a.of === (b as ActionType).of;
    case "context":
      return a.hook === (b as ContextType).hook;
    case "struct":
    case "map":
      return false; // identity only
    default:
      return true;
  }
}

/** How a type is written in messages: `u32`, `Ipv4Header | null`, `FixedArray<u8, 16>`. */
export function typeToString(t: Type): string {
  switch (t.kind) {
    case "int":
      return t.name;
    case "bool":
      return "bool";
    case "void":
      return "void";
    case "null":
      return "null";
    case "struct":
      return t.name;
    case "fixedArray":
      return `FixedArray<${typeToString(t.elem)}, ${t.length}>`;
    case "nullable":
      return `${typeToString(t.inner)} | null`;
    case "header":
      return t.name;
    case "context":
      return t.hook !== "tc" ? "XdpContext" : t.section ? `TcContext<"${t.section}">` : "TcContext";
    case "xskPacket":
      return "XskPacket";
    case "map":
      return t.mapKind;
    case "action":
      return t.of === "xdp" ? "XdpAction" : t.of === "tc" ? "TcAction" : "XskVerdict";
  }
}

const refTypes = new Map<string, StructType>();
/**
 * `Ref<V>` (lookupRef's result): a one-field view `{ value: V }` of an integer map value,
 * so `r.value += 1` writes the map in place.
 */
export function refType(v: IntType): StructType {
  let t = refTypes.get(v.name);
  if (!t) {
    const size = v.bits / 8;
    t = Object.freeze({
      kind: "struct",
      name: `Ref<${v.name}>`,
      fields: [{ name: "value", type: v, offset: 0, size }],
      size,
      align: size,
    });
    refTypes.set(v.name, t);
  }
  return t;
}
