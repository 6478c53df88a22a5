// Map keys and values ↔ JavaScript, driven by the compiler's type metadata (a
// TypeDesc, from the object's BTF or the kernel's). The rules users see:
//   - integers of ≤ 32 bits are numbers, 64-bit integers bigints, bool booleans;
//   - structs are objects, FixedArray (and C arrays) are arrays;
//   - a u32 (or FixedArray<u8, 4>) field with an address-like name is an IPv4
//     address: printed "198.18.0.1", accepted as that string or as a number; a
//     FixedArray<u8, 16> with such a name is an IPv6 address (textual form);
//   - LpmTrie keys store every integer after `prefixlen` big-endian (docs/language.md);
//     a key of shape { prefixlen, <one address> } is printed and accepted as a CIDR
//     string "198.18.0.0/15" (or "2001:db8::/32").
// Any u32 also accepts a dotted string as input (unambiguous). Encoding a value that
// does not fit its type throws ValueError naming the field path.
import { isIPv4, isIPv6 } from "node:net";
import { sizeOf, type TypeDesc } from "../../compiler/elf/types.ts";

export type JsValue = number | bigint | boolean | string | JsValue[] | { [field: string]: JsValue };

/** A user value that does not fit the map's type; `path` names the field (`.addr`, `[3]`). */
export class ValueError extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(path ? `${path}: ${message}` : message);
    this.name = "ValueError";
  }
}

/** Field names treated as addresses (case-insensitive, whole name or a suffix like `srcAddr`/`dst_ip`). */
const ADDRESS_NAME =
  /^(addr|address|ip|ip4|ip6|ipv4|ipv6|src|dst|saddr|daddr|nexthop|gateway|gw)$|(addr|address|ip|ip4|ip6)$/i;

export function isAddressName(name: string): boolean {
  return ADDRESS_NAME.test(name);
}

export interface CodecOptions {
  /** LpmTrie key: integers after the first field are stored big-endian. */
  lpmKey?: boolean;
  /** Treat a top-level u32 as an address (e.g. a hash map keyed by source IP). */
  address?: boolean;
  /**
   * Numbers and arrays only, as the filter's own types say (the typed library API):
   * no address text, no CIDR form. Strings are still accepted as input.
   */
  plain?: boolean;
}

type Node =
  | { k: "int"; size: 1 | 2 | 4 | 8; signed: boolean; be: boolean; addr: boolean }
  | { k: "bool" }
  | { k: "struct"; size: number; union: boolean; fields: Field[] }
  | { k: "array"; elem: Node; length: number; stride: number; ip: 0 | 4 | 16 }
  | { k: "opaque"; size: number };

interface Field {
  name: string;
  off: number;
  node: Node;
  /** Bitfield: bit offset from the struct start and width; 0 for ordinary members. */
  bitOff: number;
  bits: number;
}

function strip(t: TypeDesc): TypeDesc {
  while (t.kind === "typedef" || t.kind === "const" || t.kind === "volatile") t = t.type;
  return t;
}

function build(
  t0: TypeDesc,
  name: string,
  be: boolean,
  addrHint: boolean,
  opts: CodecOptions,
  top: boolean,
): Node {
  const t = strip(t0);
  switch (t.kind) {
    case "int":
      return {
        k: "int",
        size: (t.bits / 8) as 1 | 2 | 4 | 8,
        signed: t.signed,
        be,
        addr: t.bits === 32 && !t.signed && addrHint && !opts.plain,
      };
    case "enum":
      return { k: "int", size: t.size, signed: !!t.signed, be, addr: false };
    case "bool":
      return { k: "bool" };
    case "ptr":
      return { k: "int", size: 8, signed: false, be: false, addr: false };
    case "struct":
    case "union": {
      const fields: Field[] = t.members.map((m, i) => {
        // LpmTrie: fields after prefixlen (top level only) are big-endian.
        const fieldBe = top && !!opts.lpmKey && i > 0;
        const node = build(m.type, m.name, fieldBe, isAddressName(m.name), opts, false);
        if (m.bitSize)
          return { name: m.name, off: 0, node, bitOff: m.bitOffset ?? 0, bits: m.bitSize };
        const off = m.offset ?? (m.bitOffset ?? 0) / 8;
        return { name: m.name, off, node, bitOff: 0, bits: 0 };
      });
      return { k: "struct", size: t.size, union: t.kind === "union", fields };
    }
    case "array": {
      const elem = build(t.elem, name, false, false, opts, false);
      const e = strip(t.elem);
      const u8 = e.kind === "int" && e.bits === 8 && !e.signed;
      const ip =
        u8 && addrHint && !opts.plain && (t.length === 4 || t.length === 16)
          ? (t.length as 4 | 16)
          : 0;
      return { k: "array", elem, length: t.length, stride: sizeOf(t.elem), ip };
    }
    default:
      return { k: "opaque", size: sizeOf(t) };
  }
}

function nodeSize(n: Node): number {
  switch (n.k) {
    case "int":
      return n.size;
    case "bool":
      return 1;
    case "struct":
      return n.size;
    case "array":
      return n.stride * n.length;
    case "opaque":
      return n.size;
  }
}

// ------------------------------------------------------------------ addresses

export function ipv4ToNumber(s: string): number {
  const parts = s.split(".");
  if (parts.length !== 4 || !isIPv4(s)) throw new ValueError(`'${s}' is not an IPv4 address`, "");
  return parts.reduce((n, p) => n * 256 + Number(p), 0) >>> 0;
}

export function numberToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export function ipv6ToBytes(s: string): number[] {
  if (!isIPv6(s)) throw new ValueError(`'${s}' is not an IPv6 address`, "");
  let text = s;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipv4ToNumber(v4[1]!);
    text = text.slice(0, v4.index) + `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, tail] = text.split("::") as [string, string | undefined];
  const hs = head ? head.split(":") : [];
  const ts = tail ? tail.split(":") : [];
  const groups =
    tail === undefined ? hs : [...hs, ...Array(8 - hs.length - ts.length).fill("0"), ...ts];
  return groups.flatMap((g) => {
    const v = parseInt(g, 16);
    return [v >> 8, v & 255];
  });
}

export function bytesToIpv6(b: ArrayLike<number>): string {
  const g = Array.from({ length: 8 }, (_, i) => ((b[2 * i]! << 8) | b[2 * i + 1]!) >>> 0);
  // RFC 5952: compress the longest run (≥ 2) of zero groups.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

// ------------------------------------------------------------------ codec

/** Encodes and decodes one key or value type. */
export class ValueCodec {
  readonly size: number;
  private readonly root: Node;
  /** The CIDR form of an LpmTrie key: the address field and its width in bits. */
  readonly cidr: { field: string; bits: 32 | 128 } | null;

  constructor(
    readonly type: TypeDesc,
    readonly options: CodecOptions = {},
  ) {
    this.root = build(type, "", false, !!options.address, options, true);
    this.size = nodeSize(this.root);
    this.cidr = null;
    const r = this.root;
    if (
      options.lpmKey &&
      !options.plain &&
      r.k === "struct" &&
      r.fields.length === 2 &&
      !r.fields.some((f) => f.bits)
    ) {
      const [p, a] = r.fields as [Field, Field];
      const isU32 = (n: Node) => n.k === "int" && n.size === 4 && !n.signed;
      const u8s = (n: Node, len: number) =>
        n.k === "array" && n.length === len && n.elem.k === "int" && n.elem.size === 1;
      if (isU32(p.node)) {
        if (isU32(a.node)) this.cidr = { field: a.name, bits: 32 };
        else if (u8s(a.node, 16)) this.cidr = { field: a.name, bits: 128 };
        else if (u8s(a.node, 4)) this.cidr = { field: a.name, bits: 32 };
      }
    }
  }

  decode(bytes: Uint8Array, offset = 0): JsValue {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length - offset < this.size)
      throw new ValueError(`need ${this.size} bytes, have ${bytes.length - offset}`, "");
    if (this.cidr) {
      const r = this.root as Extract<Node, { k: "struct" }>;
      const prefix = dv.getUint32(offset + r.fields[0]!.off, true);
      const a = r.fields[1]!;
      const addr =
        a.node.k === "int"
          ? numberToIpv4(dv.getUint32(offset + a.off, false))
          : this.cidr.bits === 32
            ? Array.from(bytes.subarray(offset + a.off, offset + a.off + 4)).join(".")
            : bytesToIpv6(bytes.subarray(offset + a.off, offset + a.off + 16));
      return `${addr}/${prefix}`;
    }
    return decodeNode(this.root, dv, offset);
  }

  encode(value: unknown): Uint8Array {
    const out = new Uint8Array(this.size);
    this.encodeInto(value, out, 0);
    return out;
  }

  encodeInto(value: unknown, out: Uint8Array, offset: number): void {
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    if (this.cidr && typeof value === "string") {
      value = this.parseCidr(value);
    }
    encodeNode(this.root, value, dv, offset, "");
  }

  /** "198.18.0.0/15" → { prefixlen: 15, addr: ... } (host bits must be zero, as the kernel ignores them). */
  private parseCidr(s: string): JsValue {
    const c = this.cidr!;
    const r = this.root as Extract<Node, { k: "struct" }>;
    const m = /^([^/]+)(?:\/(\d+))?$/.exec(s.trim());
    if (!m) throw new ValueError(`'${s}' is not a CIDR prefix like 198.18.0.0/15`, "");
    const bits = m[2] === undefined ? c.bits : Number(m[2]);
    if (bits > c.bits) throw new ValueError(`prefix length ${bits} is longer than ${c.bits}`, "");
    const addrNode = r.fields[1]!.node;
    let addr: JsValue;
    if (c.bits === 32) {
      const n = ipv4ToNumber(m[1]!);
      addr = addrNode.k === "int" ? n : [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
    } else {
      addr = ipv6ToBytes(m[1]!);
    }
    return { [r.fields[0]!.name]: bits, [c.field]: addr };
  }

  /** Parses command-line text: JSON (numbers, strings, objects, arrays), a dotted IPv4, a CIDR, or a bare integer. */
  parse(text: string): JsValue {
    const t = text.trim();
    if (this.cidr && /^[0-9a-fA-F:.]+(\/\d+)?$/.test(t) && (t.includes(".") || t.includes(":")))
      return t;
    if (/^-?(0x[0-9a-f]+|\d+)$/i.test(t)) {
      const b = BigInt(t.startsWith("-") ? -BigInt(t.slice(1)) : BigInt(t));
      return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(b)
        : b;
    }
    if (isIPv4(t) || isIPv6(t)) return t;
    if (t === "true" || t === "false") return t === "true";
    try {
      return parseJson(t);
    } catch (e) {
      throw new ValueError(`cannot parse '${text}': ${(e as Error).message}`, "");
    }
  }

  /** The type's zero value, decoded (what an absent per-CPU slot or a fresh array entry holds). */
  zero(): JsValue {
    return this.decode(new Uint8Array(this.size));
  }
}

function decodeNode(n: Node, dv: DataView, off: number): JsValue {
  switch (n.k) {
    case "int": {
      const le = !n.be;
      let v: number | bigint;
      switch (n.size) {
        case 1:
          v = n.signed ? dv.getInt8(off) : dv.getUint8(off);
          break;
        case 2:
          v = n.signed ? dv.getInt16(off, le) : dv.getUint16(off, le);
          break;
        case 4:
          v = n.signed ? dv.getInt32(off, le) : dv.getUint32(off, le);
          break;
        case 8:
          v = n.signed ? dv.getBigInt64(off, le) : dv.getBigUint64(off, le);
          break;
      }
      return n.addr ? numberToIpv4(v as number) : v;
    }
    case "bool":
      return dv.getUint8(off) !== 0;
    case "struct": {
      const o: { [k: string]: JsValue } = {};
      for (const f of n.fields) {
        if (f.bits) o[f.name] = readBits(dv, off, f);
        else o[f.name] = decodeNode(f.node, dv, off + f.off);
      }
      return o;
    }
    case "array": {
      if (n.ip) {
        const b = new Uint8Array(dv.buffer, dv.byteOffset + off, n.ip);
        return n.ip === 4 ? Array.from(b).join(".") : bytesToIpv6(b);
      }
      return Array.from({ length: n.length }, (_, i) => decodeNode(n.elem, dv, off + i * n.stride));
    }
    case "opaque":
      return Array.from(new Uint8Array(dv.buffer, dv.byteOffset + off, n.size))
        .map((b) => b.toString(16).padStart(2, "0"))
        .join("");
  }
}

function readBits(dv: DataView, base: number, f: Field): number | bigint {
  let acc = 0n;
  const first = base + Math.floor(f.bitOff / 8);
  const last = base + Math.floor((f.bitOff + f.bits - 1) / 8);
  for (let i = last; i >= first; i--) acc = (acc << 8n) | BigInt(dv.getUint8(i));
  let v = (acc >> BigInt(f.bitOff % 8)) & ((1n << BigInt(f.bits)) - 1n);
  if (f.node.k === "int" && f.node.signed) v = BigInt.asIntN(f.bits, v);
  if (f.node.k === "bool") return v ? 1 : 0;
  return f.node.k === "int" && f.node.size === 8 ? v : Number(v);
}

function writeBits(dv: DataView, base: number, f: Field, v: bigint): void {
  const first = base + Math.floor(f.bitOff / 8);
  const last = base + Math.floor((f.bitOff + f.bits - 1) / 8);
  let acc = 0n;
  for (let i = last; i >= first; i--) acc = (acc << 8n) | BigInt(dv.getUint8(i));
  const shift = BigInt(f.bitOff % 8);
  const mask = ((1n << BigInt(f.bits)) - 1n) << shift;
  acc = (acc & ~mask) | ((BigInt.asUintN(f.bits, v) << shift) & mask);
  for (let i = first; i <= last; i++) {
    dv.setUint8(i, Number(acc & 0xffn));
    acc >>= 8n;
  }
}

/** A JS integer-ish input as a bigint, or a ValueError. */
function toBigInt(v: unknown, path: string, addr: boolean): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number") {
    if (!Number.isInteger(v)) throw new ValueError(`${v} is not an integer`, path);
    return BigInt(v);
  }
  if (typeof v === "boolean") return v ? 1n : 0n;
  if (typeof v === "string") {
    const s = v.trim();
    if (isIPv4(s)) return BigInt(ipv4ToNumber(s));
    if (/^-?(0x[0-9a-f]+|0b[01]+|\d+)$/i.test(s))
      return s.startsWith("-") ? -BigInt(s.slice(1)) : BigInt(s);
    throw new ValueError(`'${v}' is not ${addr ? "an IPv4 address or " : "an "}integer`, path);
  }
  throw new ValueError(
    `expected ${addr ? "an IPv4 address or " : "an "}integer, got ${describe(v)}`,
    path,
  );
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `${typeof v} ${String(v)}`;
}

function checkRange(b: bigint, bits: number, signed: boolean, path: string): bigint {
  const lo = signed ? -(1n << BigInt(bits - 1)) : 0n;
  const hi = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  if (b < lo || b > hi)
    throw new ValueError(`${b} does not fit ${signed ? "i" : "u"}${bits} (${lo}..${hi})`, path);
  return b;
}

function encodeNode(n: Node, v: unknown, dv: DataView, off: number, path: string): void {
  switch (n.k) {
    case "int": {
      const b = checkRange(toBigInt(v, path, n.addr), n.size * 8, n.signed, path);
      const le = !n.be;
      const u = BigInt.asUintN(n.size * 8, b);
      switch (n.size) {
        case 1:
          dv.setUint8(off, Number(u));
          break;
        case 2:
          dv.setUint16(off, Number(u), le);
          break;
        case 4:
          dv.setUint32(off, Number(u), le);
          break;
        case 8:
          dv.setBigUint64(off, u, le);
          break;
      }
      return;
    }
    case "bool": {
      if (typeof v !== "boolean" && v !== 0 && v !== 1)
        throw new ValueError(`expected a boolean, got ${describe(v)}`, path);
      dv.setUint8(off, v ? 1 : 0);
      return;
    }
    case "struct": {
      if (typeof v !== "object" || v === null || Array.isArray(v))
        throw new ValueError(
          `expected an object with fields ${n.fields.map((f) => f.name).join(", ")}, got ${describe(v)}`,
          path,
        );
      const o = v as Record<string, unknown>;
      const names = new Set(n.fields.map((f) => f.name));
      for (const k of Object.keys(o))
        if (!names.has(k))
          throw new ValueError(`no field '${k}' (fields: ${[...names].join(", ")})`, path);
      if (n.union && Object.keys(o).length > 1)
        throw new ValueError("a union takes one member", path);
      // Missing fields stay zero, like a C designated initializer.
      for (const f of n.fields) {
        if (!(f.name in o)) continue;
        const p = `${path}.${f.name}`;
        if (f.bits) {
          const b = toBigInt(o[f.name], p, false);
          const signed = f.node.k === "int" && f.node.signed;
          writeBits(dv, off, f, checkRange(b, f.bits, signed, p));
        } else encodeNode(f.node, o[f.name], dv, off + f.off, p);
      }
      return;
    }
    case "array": {
      if (n.ip && typeof v === "string") {
        const bytes = n.ip === 4 ? numberToIpv4Bytes(ipv4ToNumber(v)) : ipv6ToBytes(v);
        bytes.forEach((x, i) => dv.setUint8(off + i, x));
        return;
      }
      if (!Array.isArray(v))
        throw new ValueError(`expected an array of ${n.length}, got ${describe(v)}`, path);
      if (v.length > n.length)
        throw new ValueError(`${v.length} elements for an array of ${n.length}`, path);
      v.forEach((x, i) => encodeNode(n.elem, x, dv, off + i * n.stride, `${path}[${i}]`));
      return;
    }
    case "opaque": {
      if (typeof v !== "string" || !/^([0-9a-f]{2})*$/i.test(v) || v.length !== n.size * 2)
        throw new ValueError(`expected ${n.size} bytes as hex`, path);
      for (let i = 0; i < n.size; i++)
        dv.setUint8(off + i, parseInt(v.slice(2 * i, 2 * i + 2), 16));
      return;
    }
  }
}

function numberToIpv4Bytes(n: number): number[] {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
}

// ------------------------------------------------------------------ JSON with bigints

/** A marker no user string is expected to hold; a per-process random part makes collisions practically impossible. */
const BIG = `xdpc-bigint-${Math.random().toString(36).slice(2)}:`;

/** JSON text where bigints are written as plain integers (JSON numbers have no size limit). */
export function stringifyJson(v: unknown, indent?: number): string {
  const text = JSON.stringify(
    v,
    (_k, x) => (typeof x === "bigint" ? BIG + x.toString() : x),
    indent,
  );
  return text.replace(new RegExp(`"${BIG}(-?\\d+)"`, "g"), (_m, digits: string) => digits);
}

/** JSON.parse that keeps integers beyond 2^53 exact (as bigints). */
export function parseJson(text: string): JsValue {
  // Quote big integer literals outside strings, then turn them back into bigints.
  const tagged = text.replace(/("(?:[^"\\]|\\.)*")|(-?\d{16,})(?![\d.eE])/g, (_m, str, big) =>
    str ? str : `"${BIG}${big}"`,
  );
  return JSON.parse(tagged, (_k, x) =>
    typeof x === "string" && x.startsWith(BIG) ? maybeBig(x.slice(BIG.length)) : x,
  ) as JsValue;
}

function maybeBig(s: string): number | bigint {
  const b = BigInt(s);
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(b)
    : b;
}

/** Sums per-CPU values field by field (integers add, booleans or, addresses and strings keep the first). */
export function sumValues(values: JsValue[]): JsValue {
  if (!values.length) throw new Error("nothing to sum");
  const first = values[0]!;
  if (typeof first === "number") return values.reduce<number>((a, b) => a + (b as number), 0);
  if (typeof first === "bigint") return values.reduce<bigint>((a, b) => a + (b as bigint), 0n);
  if (typeof first === "boolean") return values.some((x) => x === true);
  if (typeof first === "string") return first;
  if (Array.isArray(first))
    return first.map((_, i) => sumValues(values.map((v) => (v as JsValue[])[i]!)));
  const o: { [k: string]: JsValue } = {};
  for (const k of Object.keys(first))
    o[k] = sumValues(values.map((v) => (v as { [k: string]: JsValue })[k]!));
  return o;
}
