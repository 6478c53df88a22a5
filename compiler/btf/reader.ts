// Parses `.BTF` and `.BTF.ext` sections back into the decoded model, and prints
// BTF the way `bpftool btf dump file X` does (the golden summaries and tests
// compare against bpftool's own output).
import {
  BTF_INT_BOOL,
  BTF_INT_CHAR,
  BTF_INT_SIGNED,
  BTF_MAGIC,
  KIND_NAMES,
  Kind,
  LINKAGE_NAMES,
  type BtfType,
} from "./kinds.ts";
import { readCString } from "./strings.ts";

export interface Btf {
  /** Types in id order; `types[i].id === i + 1`. */
  types: BtfType[];
  strings: Uint8Array;
  /** The string at an offset of the string table. */
  str(off: number): string;
  /** The type with this id (undefined for 0 = void). */
  byId(id: number): BtfType | undefined;
  /** The first type with this name (and kind, when given). */
  find(name: string, kind?: Kind): BtfType | undefined;
}

export function parseBtf(bytes: Uint8Array): Btf {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 24 || dv.getUint16(0, true) !== BTF_MAGIC)
    throw new Error("not a little-endian BTF section");
  const hdrLen = dv.getUint32(4, true);
  const typeOff = hdrLen + dv.getUint32(8, true);
  const typeLen = dv.getUint32(12, true);
  const strOff = hdrLen + dv.getUint32(16, true);
  const strLen = dv.getUint32(20, true);
  if (typeOff + typeLen > bytes.length || strOff + strLen > bytes.length)
    throw new Error("BTF section truncated");
  const strings = bytes.subarray(strOff, strOff + strLen);
  const str = (off: number) => readCString(strings, off);
  const types: BtfType[] = [];
  let p = typeOff;
  const end = typeOff + typeLen;
  const u32 = () => {
    const v = dv.getUint32(p, true);
    p += 4;
    return v;
  };
  while (p < end) {
    const id = types.length + 1;
    const name = str(u32());
    const inf = u32();
    const sizeOrType = u32();
    const kind = (inf >>> 24) & 0x1f;
    const vlen = inf & 0xffff;
    const kindFlag = inf >>> 31 === 1;
    switch (kind) {
      case Kind.INT: {
        const x = u32();
        types.push({
          id,
          kind,
          name,
          size: sizeOrType,
          encoding: (x >>> 24) & 0xf,
          bitOffset: (x >>> 16) & 0xff,
          bits: x & 0xff,
        });
        break;
      }
      case Kind.PTR:
      case Kind.TYPEDEF:
      case Kind.VOLATILE:
      case Kind.CONST:
      case Kind.RESTRICT:
      case Kind.TYPE_TAG:
        types.push({ id, kind, name, type: sizeOrType });
        break;
      case Kind.FUNC:
        types.push({ id, kind, name, type: sizeOrType, linkage: vlen });
        break;
      case Kind.ARRAY:
        types.push({ id, kind, name, type: u32(), indexType: u32(), nelems: u32() });
        break;
      case Kind.STRUCT:
      case Kind.UNION: {
        const members = [];
        for (let i = 0; i < vlen; i++) {
          const mName = str(u32());
          const type = u32();
          const off = u32();
          members.push(
            kindFlag
              ? { name: mName, type, bitOffset: off & 0xffffff, bitSize: off >>> 24 }
              : { name: mName, type, bitOffset: off, bitSize: 0 },
          );
        }
        types.push({ id, kind, name, size: sizeOrType, kindFlag, members });
        break;
      }
      case Kind.ENUM:
      case Kind.ENUM64: {
        const values = [];
        for (let i = 0; i < vlen; i++) {
          const vName = str(u32());
          let value: bigint;
          if (kind === Kind.ENUM) {
            const raw = u32();
            value = kindFlag ? BigInt(raw | 0) : BigInt(raw);
          } else {
            const lo = BigInt(u32());
            const hi = BigInt(u32());
            value = (hi << 32n) | lo;
            if (kindFlag) value = BigInt.asIntN(64, value);
          }
          values.push({ name: vName, value });
        }
        types.push({ id, kind, name, size: sizeOrType, signed: kindFlag, values });
        break;
      }
      case Kind.FWD:
        types.push({ id, kind, name, union: kindFlag });
        break;
      case Kind.FUNC_PROTO: {
        const params = [];
        for (let i = 0; i < vlen; i++) params.push({ name: str(u32()), type: u32() });
        types.push({ id, kind, name, returnType: sizeOrType, params });
        break;
      }
      case Kind.VAR:
        types.push({ id, kind, name, type: sizeOrType, linkage: u32() });
        break;
      case Kind.DATASEC: {
        const vars = [];
        for (let i = 0; i < vlen; i++) vars.push({ type: u32(), offset: u32(), size: u32() });
        types.push({ id, kind, name, size: sizeOrType, vars });
        break;
      }
      case Kind.FLOAT:
        types.push({ id, kind, name, size: sizeOrType });
        break;
      case Kind.DECL_TAG:
        types.push({ id, kind, name, type: sizeOrType, componentIdx: u32() | 0 });
        break;
      default:
        throw new Error(`BTF type [${id}]: unknown kind ${kind}`);
    }
  }
  return {
    types,
    strings,
    str,
    byId: (tid) => (tid >= 1 ? types[tid - 1] : undefined),
    find: (n, k) => types.find((t) => t.name === n && (k === undefined || t.kind === k)),
  };
}

export interface BtfExtFuncInfo {
  section: string;
  records: { insnOff: number; typeId: number }[];
}

export interface BtfExtLineInfo {
  section: string;
  records: { insnOff: number; file: string; lineText: string; line: number; col: number }[];
}

export interface BtfExt {
  funcInfo: BtfExtFuncInfo[];
  lineInfo: BtfExtLineInfo[];
}

export function parseBtfExt(bytes: Uint8Array, btf: Btf): BtfExt {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 24 || dv.getUint16(0, true) !== BTF_MAGIC)
    throw new Error("not a little-endian BTF.ext section");
  const hdrLen = dv.getUint32(4, true);
  const blocks = <T>(off: number, len: number, minRec: number, rec: (p: number) => T) => {
    const out: { section: string; records: T[] }[] = [];
    if (len === 0) return out;
    let p = hdrLen + off;
    const end = p + len;
    if (end > bytes.length) throw new Error("BTF.ext section truncated");
    const recSize = dv.getUint32(p, true);
    if (recSize < minRec) throw new Error(`BTF.ext record size ${recSize} is below ${minRec}`);
    p += 4;
    while (p < end) {
      const section = btf.str(dv.getUint32(p, true));
      const n = dv.getUint32(p + 4, true);
      p += 8;
      if (p + n * recSize > end)
        throw new Error(`BTF.ext ${section}: ${n} records overrun the section`);
      const records: T[] = [];
      for (let i = 0; i < n; i++, p += recSize) records.push(rec(p));
      out.push({ section, records });
    }
    return out;
  };
  const funcInfo = blocks(dv.getUint32(8, true), dv.getUint32(12, true), 8, (p) => ({
    insnOff: dv.getUint32(p, true),
    typeId: dv.getUint32(p + 4, true),
  }));
  const lineInfo = blocks(dv.getUint32(16, true), dv.getUint32(20, true), 16, (p) => {
    const lc = dv.getUint32(p + 12, true);
    return {
      insnOff: dv.getUint32(p, true),
      file: btf.str(dv.getUint32(p + 4, true)),
      lineText: btf.str(dv.getUint32(p + 8, true)),
      line: lc >>> 10,
      col: lc & 0x3ff,
    };
  });
  return { funcInfo, lineInfo };
}

const q = (s: string) => `'${s || "(anon)"}'`;

function intEncoding(e: number): string {
  if (e === 0) return "(none)";
  if (e === BTF_INT_SIGNED) return "SIGNED";
  if (e === BTF_INT_CHAR) return "CHAR";
  if (e === BTF_INT_BOOL) return "BOOL";
  return "UNKN";
}

/** One type as bpftool prints it (without the trailing newline). */
export function formatBtfType(btf: Btf, t: BtfType): string {
  const head = `[${t.id}] ${KIND_NAMES[t.kind]} ${q(t.name)}`;
  switch (t.kind) {
    case Kind.INT:
      return `${head} size=${t.size} bits_offset=${t.bitOffset} nr_bits=${t.bits} encoding=${intEncoding(t.encoding)}`;
    case Kind.PTR:
    case Kind.TYPEDEF:
    case Kind.VOLATILE:
    case Kind.CONST:
    case Kind.RESTRICT:
    case Kind.TYPE_TAG:
      return `${head} type_id=${t.type}`;
    case Kind.ARRAY:
      return `${head} type_id=${t.type} index_type_id=${t.indexType} nr_elems=${t.nelems}`;
    case Kind.STRUCT:
    case Kind.UNION:
      return [
        `${head} size=${t.size} vlen=${t.members.length}`,
        ...t.members.map(
          (m) =>
            `\t${q(m.name)} type_id=${m.type} bits_offset=${m.bitOffset}${m.bitSize ? ` bitfield_size=${m.bitSize}` : ""}`,
        ),
      ].join("\n");
    case Kind.ENUM:
    case Kind.ENUM64:
      return [
        `${head} encoding=${t.signed ? "SIGNED" : "UNSIGNED"} size=${t.size} vlen=${t.values.length}`,
        // bpftool prints 64-bit enumerators with a C suffix.
        ...t.values.map(
          (v) =>
            `\t${q(v.name)} val=${v.value}${t.kind === Kind.ENUM64 ? (t.signed ? "LL" : "ULL") : ""}`,
        ),
      ].join("\n");
    case Kind.FWD:
      return `${head} fwd_kind=${t.union ? "union" : "struct"}`;
    case Kind.FUNC:
      return `${head} type_id=${t.type} linkage=${LINKAGE_NAMES[t.linkage] ?? "UNKN"}`;
    case Kind.FUNC_PROTO:
      return [
        `${head} ret_type_id=${t.returnType} vlen=${t.params.length}`,
        ...t.params.map((p) => `\t${q(p.name)} type_id=${p.type}`),
      ].join("\n");
    case Kind.VAR:
      return `${head} type_id=${t.type}, linkage=${LINKAGE_NAMES[t.linkage] ?? "UNKN"}`;
    case Kind.DATASEC:
      return [
        `${head} size=${t.size} vlen=${t.vars.length}`,
        ...t.vars.map((v) => {
          const vt = btf.byId(v.type);
          return `\ttype_id=${v.type} offset=${v.offset} size=${v.size}${vt ? ` (${KIND_NAMES[vt.kind]} ${q(vt.name)})` : ""}`;
        }),
      ].join("\n");
    case Kind.FLOAT:
      return `${head} size=${t.size}`;
    case Kind.DECL_TAG:
      return `${head} type_id=${t.type} component_idx=${t.componentIdx}`;
  }
}

/** The whole type list, as `bpftool btf dump file X` prints it. */
export function formatBtf(btf: Btf): string {
  return btf.types.map((t) => formatBtfType(btf, t) + "\n").join("");
}

/** Size in bytes of a type, following modifiers and typedefs (0 for void/func). */
export function btfSizeOf(btf: Btf, id: number): number {
  for (let depth = 0; depth < 64; depth++) {
    const t = btf.byId(id);
    if (!t) return 0;
    switch (t.kind) {
      case Kind.INT:
      case Kind.STRUCT:
      case Kind.UNION:
      case Kind.ENUM:
      case Kind.ENUM64:
      case Kind.DATASEC:
      case Kind.FLOAT:
        return t.size;
      case Kind.PTR:
        return 8;
      case Kind.ARRAY:
        return t.nelems * btfSizeOf(btf, t.type);
      case Kind.TYPEDEF:
      case Kind.VOLATILE:
      case Kind.CONST:
      case Kind.RESTRICT:
      case Kind.TYPE_TAG:
      case Kind.VAR:
        id = t.type;
        continue;
      default:
        return 0;
    }
  }
  throw new Error(`BTF type ${id}: modifier chain too deep`);
}

/** Follows typedefs and CV modifiers to the underlying type. */
export function btfResolve(btf: Btf, id: number): BtfType | undefined {
  for (let depth = 0; depth < 64; depth++) {
    const t = btf.byId(id);
    if (!t) return undefined;
    if (
      t.kind === Kind.TYPEDEF ||
      t.kind === Kind.VOLATILE ||
      t.kind === Kind.CONST ||
      t.kind === Kind.RESTRICT ||
      t.kind === Kind.TYPE_TAG
    ) {
      id = t.type;
      continue;
    }
    return t;
  }
  throw new Error(`BTF type ${id}: modifier chain too deep`);
}
