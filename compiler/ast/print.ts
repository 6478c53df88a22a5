// AST → TypeScript source. Parentheses come from Paren nodes; the printer adds
// more only where the tree could not be written otherwise (hand-built trees), using
// the parser's own precedence rules, so parse(print(ast)) gives back the same tree.
import type { Block, Expr, FieldDecl, Program, Stmt, TopItem, TypeNode } from "./nodes.ts";
import { PREC } from "./precedence.ts";

const AS_PREC = PREC.as!;
const ASSIGN = 1;
const COND = 2;
const UNARY = 16;
const POSTFIX = 17;

function prec(e: Expr): number {
  switch (e.kind) {
    case "Assign":
      return ASSIGN;
    case "Conditional":
      return COND;
    case "Binary":
      return PREC[e.op]!;
    case "As":
      return AS_PREC;
    case "Unary":
      return UNARY;
    case "Update":
      return e.prefix ? UNARY : POSTFIX;
    default:
      return 18;
  }
}

export function printProgram(p: Program): string {
  return p.items.map(printItem).join("\n\n") + "\n";
}

function exp(exported: boolean): string {
  return exported ? "export " : "";
}

function printItem(item: TopItem): string {
  switch (item.kind) {
    case "ImportDecl": {
      const specs = item.specifiers.map((s) => {
        const name =
          s.imported.name === s.local.name
            ? s.imported.name
            : `${s.imported.name} as ${s.local.name}`;
        return s.typeOnly ? `type ${name}` : name;
      });
      return `import ${item.typeOnly ? "type " : ""}{ ${specs.join(", ")} } from ${str(item.source.value)};`;
    }
    case "InterfaceDecl":
      return `${exp(item.exported)}interface ${item.name.name} ${printFields(item.fields, "")}`;
    case "TypeAliasDecl":
      return `${exp(item.exported)}type ${item.name.name} = ${printType(item.type, "")};`;
    case "EnumDecl": {
      const members = item.members.map(
        (m) => `  ${m.name.name}${m.init ? ` = ${printExpr(m.init, 0)}` : ""},`,
      );
      return `${exp(item.exported)}${item.isConst ? "const " : ""}enum ${item.name.name} {\n${members.join("\n")}\n}`;
    }
    default:
      return printStmt(item, "");
  }
}

function printFields(fields: FieldDecl[], indent: string): string {
  if (fields.length === 0) return "{}";
  const inner = indent + "  ";
  const lines = fields.map(
    (f) => `${inner}${f.name.name}${f.optional ? "?" : ""}: ${printType(f.type, inner)};`,
  );
  return `{\n${lines.join("\n")}\n${indent}}`;
}

export function printType(t: TypeNode, indent = ""): string {
  switch (t.kind) {
    case "TypeRef":
      return t.args.length
        ? `${t.name.name}<${t.args.map((a) => printType(a, indent)).join(", ")}>`
        : t.name.name;
    case "TypeLiteral":
      return printFields(t.fields, indent);
    case "UnionType":
      return t.types.map((a) => printType(a, indent)).join(" | ");
    case "NullType":
      return "null";
    case "LiteralType":
      return String(t.value);
    case "StringType":
      return JSON.stringify(t.value);
  }
}

function printBlock(b: Block, indent: string): string {
  if (b.body.length === 0) return "{}";
  const inner = indent + "  ";
  return `{\n${b.body.map((s) => inner + printStmt(s, inner)).join("\n")}\n${indent}}`;
}

/** A statement body after `if (…)`, `else` or `for (…)`. */
function printBody(s: Stmt, indent: string): string {
  return s.kind === "Block"
    ? ` ${printBlock(s, indent)}`
    : `\n${indent}  ${printStmt(s, indent + "  ")}`;
}

function printStmt(s: Stmt, indent: string): string {
  switch (s.kind) {
    case "VarDecl":
      return `${exp(s.exported)}${printVarDecl(s)};`;
    case "FunctionDecl": {
      const params = s.params.map((p) =>
        p.type ? `${p.name.name}: ${printType(p.type, indent)}` : p.name.name,
      );
      const ret = s.returnType ? `: ${printType(s.returnType, indent)}` : "";
      return `${exp(s.exported)}function ${s.name.name}(${params.join(", ")})${ret} ${printBlock(s.body, indent)}`;
    }
    case "Block":
      return printBlock(s, indent);
    case "ExprStmt": {
      const text = printExpr(s.expr, 0);
      // A leading `{` or `function` would start a block or a declaration.
      return /^(\{|function\b|class\b|let\s*\[)/.test(text) ? `(${text});` : `${text};`;
    }
    case "IfStmt": {
      const head = `if (${printExpr(s.test, 0)})`;
      if (!s.else) return head + printBody(s.then, indent);
      // An else after an open inner `if` would attach to it: brace (hand-built trees only).
      const then = endsWithOpenIf(s.then)
        ? ` {\n${indent}  ${printStmt(s.then, indent + "  ")}\n${indent}}`
        : printBody(s.then, indent);
      const sep = then.endsWith("}") ? " " : `\n${indent}`;
      const els =
        s.else.kind === "IfStmt" ? ` ${printStmt(s.else, indent)}` : printBody(s.else, indent);
      return `${head}${then}${sep}else${els}`;
    }
    case "SwitchStmt": {
      const inner = indent + "  ";
      const cases = s.cases.map((c) => {
        const head = c.test ? `case ${printExpr(c.test, 0)}:` : "default:";
        return `${inner}${head}${c.body.map((b) => `\n${inner}  ${printStmt(b, inner + "  ")}`).join("")}`;
      });
      return `switch (${printExpr(s.discriminant, 0)}) {\n${cases.join("\n")}\n${indent}}`;
    }
    case "ForStmt": {
      const init =
        s.init === null
          ? ""
          : s.init.kind === "VarDecl"
            ? printVarDecl(s.init)
            : printExpr(s.init, 0);
      const test = s.test ? ` ${printExpr(s.test, 0)}` : "";
      const update = s.update ? ` ${printExpr(s.update, 0)}` : "";
      return `for (${init};${test};${update})${printBody(s.body, indent)}`;
    }
    case "BreakStmt":
      return "break;";
    case "ContinueStmt":
      return "continue;";
    case "ReturnStmt":
      return s.value ? `return ${printExpr(s.value, 0)};` : "return;";
    case "EmptyStmt":
      return ";";
    case "Unsupported":
      return `/* unsupported: ${s.what} */`;
  }
}

function endsWithOpenIf(s: Stmt): boolean {
  if (s.kind === "IfStmt") return s.else === null || endsWithOpenIf(s.else);
  if (s.kind === "ForStmt") return endsWithOpenIf(s.body);
  return false;
}

function printVarDecl(d: {
  declKind: string;
  name: { name: string };
  type: TypeNode | null;
  init: Expr | null;
}): string {
  const type = d.type ? `: ${printType(d.type)}` : "";
  const init = d.init ? ` = ${printExpr(d.init, 0)}` : "";
  return `${d.declKind} ${d.name.name}${type}${init}`;
}

function str(value: string): string {
  return JSON.stringify(value)
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/**
 * Prints `e` where the parser's binary loop would accept only operators binding
 * tighter than `min` (0 = any expression without commas).
 */
export function printExpr(e: Expr, min: number): string {
  const p = prec(e);
  if (p < UNARY && p <= min) return `(${printExpr(e, 0)})`;
  switch (e.kind) {
    case "NumberLit":
      return e.raw;
    case "BoolLit":
      return String(e.value);
    case "NullLit":
      return "null";
    case "StringLit":
      return str(e.value);
    case "Name":
      return e.name;
    case "Member": {
      const obj = operand(e.object);
      return `${e.object.kind === "NumberLit" ? `${obj} ` : obj}.${e.property.name}`;
    }
    case "Index":
      return `${operand(e.object)}[${printExpr(e.index, 0)}]`;
    case "Call": {
      const targs = e.typeArgs.length ? `<${e.typeArgs.map((t) => printType(t)).join(", ")}>` : "";
      return `${operand(e.callee)}${targs}(${e.args.map((a) => printExpr(a, 0)).join(", ")})`;
    }
    case "New": {
      const targs = e.typeArgs.length ? `<${e.typeArgs.map((t) => printType(t)).join(", ")}>` : "";
      return `new ${e.callee.name}${targs}(${e.args.map((a) => printExpr(a, 0)).join(", ")})`;
    }
    case "Unary": {
      const inner = unaryOperand(e.operand);
      // `- -x` and `+ +x` must not become `--x` / `++x`.
      const sep = (e.op === "-" || e.op === "+") && inner.startsWith(e.op) ? " " : "";
      return `${e.op}${sep}${inner}`;
    }
    case "Update":
      return e.prefix ? `${e.op}${unaryOperand(e.target)}` : `${operand(e.target)}${e.op}`;
    case "Binary": {
      return `${printLeft(e.left, p, min)} ${e.op} ${printExpr(e.right, p)}`;
    }
    case "As":
      return `${printLeft(e.expr, AS_PREC, min)} as ${printType(e.type)}`;
    case "Conditional":
      return `${printExpr(e.test, COND)} ? ${printExpr(e.then, 0)} : ${printExpr(e.else, 0)}`;
    case "Assign":
      return `${printExpr(e.target, COND)} ${e.op} ${printExpr(e.value, 0)}`;
    case "NonNull":
      return `${operand(e.expr)}!`;
    case "Paren":
      return `(${printExpr(e.expr, 0)})`;
    case "ObjectLit":
      return e.props.length === 0
        ? "{}"
        : `{ ${e.props.map((pr) => (pr.value.kind === "Name" && pr.value.name === pr.name.name && pr.value.span === pr.name.span ? pr.name.name : `${pr.name.name}: ${printExpr(pr.value, 0)}`)).join(", ")} }`;
    case "ArrayLit":
      return `[${e.elements.map((x) => printExpr(x, 0)).join(", ")}]`;
    case "Unsupported":
      return `/* unsupported: ${e.what} */`;
  }
}

/**
 * The left operand of a left-associative operator of precedence `p`, built in a loop
 * accepting operators above `min`: a binary needs parentheses only when it binds
 * looser than `p`; an `as` only when the loop would not have accepted it.
 */
function printLeft(l: Expr, p: number, min: number): string {
  if (l.kind === "Binary" && PREC[l.op]! < p) return `(${printExpr(l, 0)})`;
  if (l.kind === "Binary" || l.kind === "As") return printExpr(l, min);
  return printExpr(l, p);
}

/** Operand of a member access, call, index, `!` or postfix update: must be a primary. */
function operand(e: Expr): string {
  return prec(e) < 18 ? `(${printExpr(e, 0)})` : printExpr(e, 0);
}

function unaryOperand(e: Expr): string {
  return prec(e) < UNARY ? `(${printExpr(e, 0)})` : printExpr(e, 0);
}
