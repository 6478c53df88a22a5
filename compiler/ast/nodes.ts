// Plain AST node types. Every node has a `kind` tag and a span into the source.
// The parser builds these; the checker never mutates them but records facts about
// them in side tables keyed by node (see compiler/check).
import type { Span } from "../diagnostics/span.ts";

export interface Ident {
  kind: "Ident";
  span: Span;
  name: string;
}

// ---------------------------------------------------------------- type syntax

/** `u32`, `FixedArray<u8, 16>`, `HashMap<K, V>`, `Ipv4Prefix` */
export interface TypeRef {
  kind: "TypeRef";
  span: Span;
  name: Ident;
  args: TypeNode[];
  /**
   * Set when the parser replaced type syntax outside the subset (`u8[]`, `A & B`, …)
   * with this node after reporting it; `name` holds the source text. Later phases
   * treat it as an error type and report nothing more about it.
   */
  recovered?: boolean;
}
/** `{ a: u32; b: u16 }` */
export interface TypeLiteral {
  kind: "TypeLiteral";
  span: Span;
  fields: FieldDecl[];
}
/** `T | null` */
export interface UnionType {
  kind: "UnionType";
  span: Span;
  types: TypeNode[];
}
/** `null` in a type position */
export interface NullType {
  kind: "NullType";
  span: Span;
}
/** A numeric literal in a type position, e.g. the `16` of `FixedArray<u8, 16>`. */
export interface LiteralType {
  kind: "LiteralType";
  span: Span;
  value: bigint;
}
/** A string literal in a type position: only the section of `TcContext<"tcx/ingress">`. */
export interface StringType {
  kind: "StringType";
  span: Span;
  value: string;
}
export type TypeNode = TypeRef | TypeLiteral | UnionType | NullType | LiteralType | StringType;

export interface FieldDecl {
  kind: "FieldDecl";
  span: Span;
  name: Ident;
  type: TypeNode;
  optional: boolean; // `a?: u32` — rejected by the checker, kept for a precise message
}

// ---------------------------------------------------------------- top level

export interface ImportSpecifier {
  kind: "ImportSpecifier";
  span: Span;
  imported: Ident;
  local: Ident; // same node as `imported` unless `A as B`
  typeOnly: boolean;
}
export interface ImportDecl {
  kind: "ImportDecl";
  span: Span;
  specifiers: ImportSpecifier[];
  source: StringLit;
  typeOnly: boolean;
}
export interface InterfaceDecl {
  kind: "InterfaceDecl";
  span: Span;
  name: Ident;
  fields: FieldDecl[];
  exported: boolean;
}
export interface TypeAliasDecl {
  kind: "TypeAliasDecl";
  span: Span;
  name: Ident;
  type: TypeNode;
  exported: boolean;
}
export interface EnumMember {
  kind: "EnumMember";
  span: Span;
  name: Ident;
  init: Expr | null;
}
export interface EnumDecl {
  kind: "EnumDecl";
  span: Span;
  name: Ident;
  members: EnumMember[];
  isConst: boolean; // `enum` without `const` is reported, then checked the same
  exported: boolean;
}
/** `const x: T = e` / `let x = e`, at top level or in a block. */
export interface VarDecl {
  kind: "VarDecl";
  span: Span;
  declKind: "const" | "let";
  name: Ident;
  type: TypeNode | null;
  init: Expr | null;
  exported: boolean;
}
export interface Param {
  kind: "Param";
  span: Span;
  name: Ident;
  type: TypeNode | null; // null is an error reported by the checker
}
export interface FunctionDecl {
  kind: "FunctionDecl";
  span: Span;
  name: Ident;
  params: Param[];
  returnType: TypeNode | null;
  body: Block;
  exported: boolean;
}

/**
 * A construct outside the subset that the parser recognised and skipped. The parser
 * has already reported it (XDP1010/1011); later phases ignore it.
 */
export interface Unsupported {
  kind: "Unsupported";
  span: Span;
  what: string; // "classes", "arrow functions", …
}

export type TopItem =
  ImportDecl | InterfaceDecl | TypeAliasDecl | EnumDecl | VarDecl | FunctionDecl | Unsupported;

export interface Program {
  kind: "Program";
  span: Span;
  file: string;
  items: TopItem[];
}

// ---------------------------------------------------------------- statements

export interface Block {
  kind: "Block";
  span: Span;
  body: Stmt[];
}
export interface ExprStmt {
  kind: "ExprStmt";
  span: Span;
  expr: Expr;
}
export interface IfStmt {
  kind: "IfStmt";
  span: Span;
  test: Expr;
  then: Stmt;
  else: Stmt | null;
}
export interface SwitchCase {
  kind: "SwitchCase";
  span: Span;
  test: Expr | null; // null for `default:`
  body: Stmt[];
}
export interface SwitchStmt {
  kind: "SwitchStmt";
  span: Span;
  discriminant: Expr;
  cases: SwitchCase[];
}
/** `for (init; test; update) body` — the checker enforces the bounded shape. */
export interface ForStmt {
  kind: "ForStmt";
  span: Span;
  init: VarDecl | Expr | null;
  test: Expr | null;
  update: Expr | null;
  body: Stmt;
}
export interface BreakStmt {
  kind: "BreakStmt";
  span: Span;
}
export interface ContinueStmt {
  kind: "ContinueStmt";
  span: Span;
}
export interface ReturnStmt {
  kind: "ReturnStmt";
  span: Span;
  value: Expr | null;
}
export interface EmptyStmt {
  kind: "EmptyStmt";
  span: Span;
}

export type Stmt =
  | VarDecl
  | FunctionDecl // nested functions: rejected by the checker ("nested functions")
  | Block
  | ExprStmt
  | IfStmt
  | SwitchStmt
  | ForStmt
  | BreakStmt
  | ContinueStmt
  | ReturnStmt
  | EmptyStmt
  | Unsupported;

// ---------------------------------------------------------------- expressions

export interface NumberLit {
  kind: "NumberLit";
  span: Span;
  value: bigint;
  raw: string;
}
export interface BoolLit {
  kind: "BoolLit";
  span: Span;
  value: boolean;
}
export interface NullLit {
  kind: "NullLit";
  span: Span;
}
/** Only legal as a `trace` format or a `param` name; the checker enforces it. */
export interface StringLit {
  kind: "StringLit";
  span: Span;
  value: string;
}
export interface Name {
  kind: "Name";
  span: Span;
  name: string;
}
export interface Member {
  kind: "Member";
  span: Span;
  object: Expr;
  property: Ident;
}
export interface Index {
  kind: "Index";
  span: Span;
  object: Expr;
  index: Expr;
}
export interface Call {
  kind: "Call";
  span: Span;
  callee: Expr;
  typeArgs: TypeNode[];
  args: Expr[];
}
export interface New {
  kind: "New";
  span: Span;
  callee: Ident;
  typeArgs: TypeNode[];
  args: Expr[];
}
export type UnaryOp = "-" | "+" | "!" | "~";
export interface Unary {
  kind: "Unary";
  span: Span;
  op: UnaryOp;
  operand: Expr;
}
export type BinaryOp =
  | "+"
  | "-"
  | "*"
  | "/"
  | "%"
  | "<<"
  | ">>"
  | ">>>"
  | "&"
  | "|"
  | "^"
  | "=="
  | "!="
  | "==="
  | "!=="
  | "<"
  | "<="
  | ">"
  | ">="
  | "&&"
  | "||";
export interface Binary {
  kind: "Binary";
  span: Span;
  op: BinaryOp;
  left: Expr;
  right: Expr;
}
export type AssignOp =
  "=" | "+=" | "-=" | "*=" | "/=" | "%=" | "<<=" | ">>=" | ">>>=" | "&=" | "|=" | "^=";
export interface Assign {
  kind: "Assign";
  span: Span;
  op: AssignOp;
  target: Expr; // Name, Member or Index; anything else is a checker error
  value: Expr;
}
export interface Update {
  kind: "Update";
  span: Span;
  op: "++" | "--";
  prefix: boolean;
  target: Expr;
}
export interface Conditional {
  kind: "Conditional";
  span: Span;
  test: Expr;
  then: Expr;
  else: Expr;
}
/** `e as T` */
export interface As {
  kind: "As";
  span: Span;
  expr: Expr;
  type: TypeNode;
}
/** `e!` — accepted by the parser; the checker rejects it with a hint to narrow instead. */
export interface NonNull {
  kind: "NonNull";
  span: Span;
  expr: Expr;
}
export interface Paren {
  kind: "Paren";
  span: Span;
  expr: Expr;
}
export interface ObjectProp {
  kind: "ObjectProp";
  span: Span;
  name: Ident;
  value: Expr; // shorthand `{ a }` is a Name with the same name
}
export interface ObjectLit {
  kind: "ObjectLit";
  span: Span;
  props: ObjectProp[];
}

/** `[a, b, …]`: only where a FixedArray is expected (a byte-array key, a field). */
export interface ArrayLit {
  kind: "ArrayLit";
  span: Span;
  elements: Expr[];
}

export type Expr =
  | NumberLit
  | BoolLit
  | NullLit
  | StringLit
  | Name
  | Member
  | Index
  | Call
  | New
  | Unary
  | Binary
  | Assign
  | Update
  | Conditional
  | As
  | NonNull
  | Paren
  | ObjectLit
  | ArrayLit
  | Unsupported;

export type Node =
  | Program
  | TopItem
  | Stmt
  | Expr
  | TypeNode
  | Ident
  | FieldDecl
  | ImportSpecifier
  | EnumMember
  | Param
  | SwitchCase
  | ObjectProp;
