// A libbpf-style BTF writer (btf__add_int, btf__add_struct, ...): each add* call
// appends one type and returns its id; encode() produces the `.BTF` section bytes.
import {
  BTF_HEADER_LEN,
  BTF_MAGIC,
  BTF_VERSION,
  Kind,
  LINKAGE_NAMES,
  type BtfMember,
  type BtfParam,
  type BtfType,
  type BtfVarSecinfo,
  type FuncLinkage,
  type VarLinkage,
} from "./kinds.ts";
import { StringTable } from "./strings.ts";

export interface MemberSpec {
  name: string;
  type: number;
  /** Offset in bits from the start of the struct or union. */
  bitOffset: number;
  /** Bitfield width; omit or 0 for an ordinary member. */
  bitSize?: number;
}

export interface EnumValueSpec {
  name: string;
  value: number | bigint;
}

type NewType = BtfType extends infer T ? (T extends BtfType ? Omit<T, "id"> : never) : never;

export class BtfBuilder {
  readonly strings = new StringTable();
  private readonly list: BtfType[] = [];

  /** Number of types so far; the next id is `count + 1` (id 0 is void). */
  get count(): number {
    return this.list.length;
  }

  /** The types added so far, in id order. */
  types(): readonly BtfType[] {
    return this.list;
  }

  type(id: number): BtfType | undefined {
    return this.list[id - 1];
  }

  private push(t: NewType): number {
    const id = this.list.length + 1;
    this.strings.add(t.name);
    this.list.push({ ...t, id } as BtfType);
    return id;
  }

  private ref(id: number, what: string): number {
    if (!Number.isInteger(id) || id < 0 || id > this.list.length)
      throw new Error(`BTF ${what}: unknown type id ${id}`);
    return id;
  }

  /** `encoding` is a mask of BTF_INT_SIGNED / BTF_INT_CHAR / BTF_INT_BOOL. */
  addInt(name: string, size: number, encoding = 0): number {
    if (![1, 2, 4, 8, 16].includes(size)) throw new Error(`BTF INT ${name}: bad size ${size}`);
    return this.push({ kind: Kind.INT, name, size, encoding, bitOffset: 0, bits: size * 8 });
  }

  addFloat(name: string, size: number): number {
    return this.push({ kind: Kind.FLOAT, name, size });
  }

  addPtr(type: number): number {
    return this.push({ kind: Kind.PTR, name: "", type: this.ref(type, "PTR") });
  }

  addArray(elemType: number, indexType: number, nelems: number): number {
    return this.push({
      kind: Kind.ARRAY,
      name: "",
      type: this.ref(elemType, "ARRAY"),
      indexType: this.ref(indexType, "ARRAY index"),
      nelems,
    });
  }

  addStruct(name: string, size: number, members: readonly MemberSpec[]): number {
    return this.addComposite(Kind.STRUCT, name, size, members);
  }

  addUnion(name: string, size: number, members: readonly MemberSpec[]): number {
    return this.addComposite(Kind.UNION, name, size, members);
  }

  private addComposite(
    kind: Kind.STRUCT | Kind.UNION,
    name: string,
    size: number,
    members: readonly MemberSpec[],
  ): number {
    const ms: BtfMember[] = members.map((m) => {
      this.strings.add(m.name);
      return {
        name: m.name,
        type: this.ref(m.type, `member ${m.name}`),
        bitOffset: m.bitOffset,
        bitSize: m.bitSize ?? 0,
      };
    });
    // kind_flag switches every member offset to the (bitfield_size << 24 | bit_offset) form.
    const kindFlag = ms.some((m) => m.bitSize > 0);
    if (kindFlag && ms.some((m) => m.bitOffset >= 1 << 24))
      throw new Error(`BTF ${name}: bitfield struct too large`);
    return this.push({ kind, name, size, kindFlag, members: ms });
  }

  addEnum(name: string, size: number, values: readonly EnumValueSpec[], signed = false): number {
    const vs = values.map((v) => {
      this.strings.add(v.name);
      return { name: v.name, value: BigInt(v.value) };
    });
    const kind = size === 8 ? Kind.ENUM64 : Kind.ENUM;
    return this.push({ kind, name, size, signed, values: vs });
  }

  addFwd(name: string, union = false): number {
    return this.push({ kind: Kind.FWD, name, union });
  }

  addTypedef(name: string, type: number): number {
    return this.push({ kind: Kind.TYPEDEF, name, type: this.ref(type, `TYPEDEF ${name}`) });
  }

  addVolatile(type: number): number {
    return this.push({ kind: Kind.VOLATILE, name: "", type: this.ref(type, "VOLATILE") });
  }

  addConst(type: number): number {
    return this.push({ kind: Kind.CONST, name: "", type: this.ref(type, "CONST") });
  }

  addRestrict(type: number): number {
    return this.push({ kind: Kind.RESTRICT, name: "", type: this.ref(type, "RESTRICT") });
  }

  /** Return type 0 is void. */
  addFuncProto(returnType: number, params: readonly BtfParam[]): number {
    const ps = params.map((p) => {
      this.strings.add(p.name);
      return { name: p.name, type: this.ref(p.type, `param ${p.name}`) };
    });
    return this.push({
      kind: Kind.FUNC_PROTO,
      name: "",
      returnType: this.ref(returnType, "FUNC_PROTO return"),
      params: ps,
    });
  }

  addFunc(name: string, proto: number, linkage: FuncLinkage = "global"): number {
    const p = this.type(proto);
    if (!p || p.kind !== Kind.FUNC_PROTO)
      throw new Error(`BTF FUNC ${name}: type ${proto} is not a FUNC_PROTO`);
    return this.push({
      kind: Kind.FUNC,
      name,
      type: proto,
      linkage: LINKAGE_NAMES.indexOf(linkage),
    });
  }

  addVar(name: string, type: number, linkage: VarLinkage = "global"): number {
    return this.push({
      kind: Kind.VAR,
      name,
      type: this.ref(type, `VAR ${name}`),
      linkage: LINKAGE_NAMES.indexOf(linkage),
    });
  }

  /** Variables are stored sorted by offset, as libbpf and the kernel expect. */
  addDatasec(name: string, size: number, vars: readonly BtfVarSecinfo[]): number {
    const vs = [...vars].sort((a, b) => a.offset - b.offset);
    for (const v of vs) {
      const t = this.type(v.type);
      if (!t || t.kind !== Kind.VAR)
        throw new Error(`BTF DATASEC ${name}: type ${v.type} is not a VAR`);
    }
    return this.push({ kind: Kind.DATASEC, name, size, vars: vs });
  }

  addDeclTag(name: string, type: number, componentIdx = -1): number {
    return this.push({ kind: Kind.DECL_TAG, name, type: this.ref(type, "DECL_TAG"), componentIdx });
  }

  /** The `.BTF` section: header, type records, string table. */
  encode(): Uint8Array {
    const typeBytes = encodeTypes(this.list, this.strings);
    const str = this.strings.bytes();
    const out = new Uint8Array(BTF_HEADER_LEN + typeBytes.length + str.length);
    const dv = new DataView(out.buffer);
    dv.setUint16(0, BTF_MAGIC, true);
    dv.setUint8(2, BTF_VERSION);
    dv.setUint8(3, 0);
    dv.setUint32(4, BTF_HEADER_LEN, true);
    dv.setUint32(8, 0, true); // type_off (relative to the end of the header)
    dv.setUint32(12, typeBytes.length, true);
    dv.setUint32(16, typeBytes.length, true); // str_off
    dv.setUint32(20, str.length, true);
    out.set(typeBytes, BTF_HEADER_LEN);
    out.set(str, BTF_HEADER_LEN + typeBytes.length);
    return out;
  }
}

function info(kind: Kind, vlen: number, kindFlag = false): number {
  return ((kindFlag ? 1 : 0) << 31) | ((kind & 0x1f) << 24) | (vlen & 0xffff);
}

function encodeTypes(list: readonly BtfType[], strings: StringTable): Uint8Array {
  const words: number[] = [];
  const head = (name: string, inf: number, sizeOrType: number) =>
    words.push(strings.add(name), inf >>> 0, sizeOrType >>> 0);
  for (const t of list) {
    switch (t.kind) {
      case Kind.INT:
        head(t.name, info(t.kind, 0), t.size);
        words.push(((t.encoding & 0xf) << 24) | ((t.bitOffset & 0xff) << 16) | (t.bits & 0xff));
        break;
      case Kind.PTR:
      case Kind.TYPEDEF:
      case Kind.VOLATILE:
      case Kind.CONST:
      case Kind.RESTRICT:
      case Kind.TYPE_TAG:
        head(t.name, info(t.kind, 0), t.type);
        break;
      case Kind.FUNC:
        head(t.name, info(t.kind, t.linkage), t.type);
        break;
      case Kind.ARRAY:
        head(t.name, info(t.kind, 0), 0);
        words.push(t.type, t.indexType, t.nelems);
        break;
      case Kind.STRUCT:
      case Kind.UNION:
        head(t.name, info(t.kind, t.members.length, t.kindFlag), t.size);
        for (const m of t.members) {
          words.push(
            strings.add(m.name),
            m.type,
            t.kindFlag ? ((m.bitSize << 24) | m.bitOffset) >>> 0 : m.bitOffset,
          );
        }
        break;
      case Kind.ENUM:
        head(t.name, info(t.kind, t.values.length, t.signed), t.size);
        for (const v of t.values)
          words.push(strings.add(v.name), Number(BigInt.asUintN(32, v.value)));
        break;
      case Kind.ENUM64:
        head(t.name, info(t.kind, t.values.length, t.signed), t.size);
        for (const v of t.values) {
          const u = BigInt.asUintN(64, v.value);
          words.push(strings.add(v.name), Number(u & 0xffffffffn), Number(u >> 32n));
        }
        break;
      case Kind.FWD:
        head(t.name, info(t.kind, 0, t.union), 0);
        break;
      case Kind.FUNC_PROTO:
        head(t.name, info(t.kind, t.params.length), t.returnType);
        for (const p of t.params) words.push(strings.add(p.name), p.type);
        break;
      case Kind.VAR:
        head(t.name, info(t.kind, 0), t.type);
        words.push(t.linkage);
        break;
      case Kind.DATASEC:
        head(t.name, info(t.kind, t.vars.length), t.size);
        for (const v of t.vars) words.push(v.type, v.offset, v.size);
        break;
      case Kind.FLOAT:
        head(t.name, info(t.kind, 0), t.size);
        break;
      case Kind.DECL_TAG:
        head(t.name, info(t.kind, 0), t.type);
        words.push(t.componentIdx >>> 0);
        break;
    }
  }
  const out = new Uint8Array(words.length * 4);
  const dv = new DataView(out.buffer);
  words.forEach((w, i) => dv.setUint32(i * 4, w >>> 0, true));
  return out;
}
