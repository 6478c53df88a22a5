// TypeScript's binary binding powers, shared by the parser (precedence climbing) and
// the printer (parenthesising hand-built trees), so the two cannot drift apart.

/** Binding powers; higher binds tighter. `as` binds like a relational operator. */
export const PREC: Readonly<Record<string, number>> = {
  "??": 4,
  "||": 5,
  "&&": 6,
  "|": 7,
  "^": 8,
  "&": 9,
  "==": 10,
  "!=": 10,
  "===": 10,
  "!==": 10,
  "<": 11,
  ">": 11,
  "<=": 11,
  ">=": 11,
  instanceof: 11,
  in: 11,
  as: 11,
  satisfies: 11,
  "<<": 12,
  ">>": 12,
  ">>>": 12,
  "+": 13,
  "-": 13,
  "*": 14,
  "/": 14,
  "%": 14,
  "**": 15,
};
