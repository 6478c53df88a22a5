// BTF wire-format constants (include/uapi/linux/btf.h) and the decoded type model
// shared by the writer and the reader.

export const BTF_MAGIC = 0xeb9f;
export const BTF_VERSION = 1;
export const BTF_HEADER_LEN = 24;

export enum Kind {
  UNKN = 0,
  INT = 1,
  PTR = 2,
  ARRAY = 3,
  STRUCT = 4,
  UNION = 5,
  ENUM = 6,
  FWD = 7,
  TYPEDEF = 8,
  VOLATILE = 9,
  CONST = 10,
  RESTRICT = 11,
  FUNC = 12,
  FUNC_PROTO = 13,
  VAR = 14,
  DATASEC = 15,
  FLOAT = 16,
  DECL_TAG = 17,
  TYPE_TAG = 18,
  ENUM64 = 19,
}

export const KIND_NAMES = [
  "UNKNOWN",
  "INT",
  "PTR",
  "ARRAY",
  "STRUCT",
  "UNION",
  "ENUM",
  "FWD",
  "TYPEDEF",
  "VOLATILE",
  "CONST",
  "RESTRICT",
  "FUNC",
  "FUNC_PROTO",
  "VAR",
  "DATASEC",
  "FLOAT",
  "DECL_TAG",
  "TYPE_TAG",
  "ENUM64",
] as const;

/** INT encoding bits. */
export const BTF_INT_SIGNED = 1;
export const BTF_INT_CHAR = 2;
export const BTF_INT_BOOL = 4;

/** FUNC linkage (stored in vlen) and VAR linkage. */
export type FuncLinkage = "static" | "global" | "extern";
export type VarLinkage = "static" | "global" | "extern";
export const LINKAGE_NAMES: readonly string[] = ["static", "global", "extern"];

export interface BtfMember {
  name: string;
  type: number;
  /** Offset from the start of the struct, in bits. */
  bitOffset: number;
  /** Bitfield width in bits; 0 for an ordinary member. */
  bitSize: number;
}

export interface BtfParam {
  name: string;
  type: number;
}

export interface BtfEnumValue {
  name: string;
  value: bigint;
}

export interface BtfVarSecinfo {
  type: number;
  offset: number;
  size: number;
}

/** One decoded BTF type. `id` 0 is void and never appears in a type list. */
export type BtfType =
  | {
      id: number;
      kind: Kind.INT;
      name: string;
      size: number;
      encoding: number;
      bitOffset: number;
      bits: number;
    }
  | {
      id: number;
      kind: Kind.PTR | Kind.TYPEDEF | Kind.VOLATILE | Kind.CONST | Kind.RESTRICT | Kind.TYPE_TAG;
      name: string;
      type: number;
    }
  | { id: number; kind: Kind.ARRAY; name: string; type: number; indexType: number; nelems: number }
  | {
      id: number;
      kind: Kind.STRUCT | Kind.UNION;
      name: string;
      size: number;
      kindFlag: boolean;
      members: BtfMember[];
    }
  | {
      id: number;
      kind: Kind.ENUM | Kind.ENUM64;
      name: string;
      size: number;
      signed: boolean;
      values: BtfEnumValue[];
    }
  | { id: number; kind: Kind.FWD; name: string; union: boolean }
  | { id: number; kind: Kind.FUNC; name: string; type: number; linkage: number }
  | { id: number; kind: Kind.FUNC_PROTO; name: string; returnType: number; params: BtfParam[] }
  | { id: number; kind: Kind.VAR; name: string; type: number; linkage: number }
  | { id: number; kind: Kind.DATASEC; name: string; size: number; vars: BtfVarSecinfo[] }
  | { id: number; kind: Kind.FLOAT; name: string; size: number }
  | { id: number; kind: Kind.DECL_TAG; name: string; type: number; componentIdx: number };
