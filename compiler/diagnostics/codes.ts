// Every diagnostic message in one table. Codes are stable: never renumber.
// Ranges: 1xxx syntax and unsupported constructs, 2xxx names and types,
// 3xxx language rules (maps, loops, recursion, packets), 4xxx backend and object
// files, 5xxx verifier and kernel, 6xxx command line and runtime.
// Templates use {0}, {1}, … for arguments.

import type { Severity } from "./diagnostic.ts";

export interface MessageDef {
  code: number;
  text: string;
  severity?: Severity;
}

export const messages = {
  // --- 1xxx: syntax -----------------------------------------------------------
  UnexpectedToken: { code: 1001, text: "unexpected {0}; expected {1}" },
  UnterminatedString: { code: 1002, text: "unterminated string literal" },
  InvalidCharacter: { code: 1003, text: "invalid character '{0}'" },
  InvalidNumber: { code: 1004, text: "invalid numeric literal '{0}'" },
  UnsupportedConstruct: { code: 1010, text: "{0} are not supported in filters" },
  UnsupportedConstructSingular: { code: 1011, text: "{0} is not supported in filters" },
  UnsupportedConstructHint: { code: 1012, text: "{0} are not supported in filters; {1}" },
  UnsupportedConstructSingularHint: { code: 1013, text: "{0} is not supported in filters; {1}" },
  UnterminatedComment: { code: 1005, text: "unterminated block comment" },
  UnterminatedTemplate: { code: 1006, text: "unterminated template literal" },
  NestingTooDeep: { code: 1007, text: "expression or statement nested too deeply" },
  MisplacedDeclaration: { code: 1008, text: "{0} can only appear at the top level of a filter" },
  InternalParserError: { code: 1009, text: "internal error in the parser: {0}" },

  // --- 2xxx: names and types (checker) ----------------------------------------

  // --- 3xxx: language rules ---------------------------------------------------

  // --- 4xxx: backend and object files -------------------------------------------
  BackendUnsupported: { code: 4001, text: "{0}: not supported by the eBPF backend yet" },
  StackTooLarge: { code: 4002, text: "'{0}' needs more than 512 bytes of stack" },
  BackendInternal: { code: 4003, text: "internal compiler error in the eBPF backend: {0}" },

  // --- 5xxx: verifier and kernel ------------------------------------------------

  // --- 6xxx: command line and runtime -------------------------------------------
  FileNotFound: { code: 6001, text: "cannot read '{0}': {1}" },
} satisfies Record<string, MessageDef>;

export type MessageId = keyof typeof messages;
