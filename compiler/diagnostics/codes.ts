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
  CannotFindName: { code: 2001, text: "cannot find name '{0}'" },
  NotImported: { code: 2002, text: "'{0}' is exported by \"xdpc\"; import it first" },
  UnknownImport: { code: 2003, text: "module \"xdpc\" has no export named '{0}'" },
  UnknownModule: { code: 2004, text: 'filters can only import from "xdpc", not "{0}"' },
  DuplicateDeclaration: { code: 2005, text: "'{0}' is already declared in this scope" },
  UnknownType: { code: 2006, text: "cannot find type '{0}'" },
  NotAType: { code: 2007, text: "'{0}' is a value, not a type" },
  TypeArgCount: { code: 2008, text: "'{0}' expects {1} type argument(s), got {2}" },
  UnsupportedType: { code: 2009, text: "type '{0}' is not supported in filters{1}" },
  OptionalField: {
    code: 2010,
    text: "optional field '{0}' is not supported; every struct field is always present",
  },
  RecursiveType: { code: 2011, text: "type '{0}' refers to itself" },
  FixedArrayLength: { code: 2012, text: "FixedArray length must be a positive integer literal" },
  TypeMismatch: { code: 2013, text: "type {0} is not assignable to {1}" },
  NarrowingNeedsCast: {
    code: 2014,
    text: "{0} does not implicitly narrow to {1}; write 'as {1}' to truncate",
  },
  ConstantDoesNotFit: { code: 2015, text: "constant {0} does not fit {1}" },
  MixedSignedness: {
    code: 2016,
    text: "cannot mix signed and unsigned operands ({0} and {1}); convert one with 'as'",
  },
  SignednessNeedsCast: {
    code: 2017,
    text: "{0} does not implicitly convert to {1} (signedness differs); write 'as {1}'",
  },
  OperatorType: { code: 2018, text: "operator '{0}' cannot be applied to {1}" },
  OperatorTypes: { code: 2019, text: "operator '{0}' cannot be applied to {1} and {2}" },
  PossiblyNull: {
    code: 2020,
    text: "'{0}' may be null; check it with '=== null' or '!== null' first",
  },
  NonNullAssertion: {
    code: 2021,
    text: "non-null assertions ('!') are not supported; narrow with 'if (x === null) return …' instead",
  },
  NoSuchField: { code: 2022, text: "type {0} has no field '{1}'" },
  ReadOnlyField: { code: 2023, text: "'{0}' is read-only" },
  AssignToConst: { code: 2024, text: "cannot assign to '{0}' because it is {1}" },
  InvalidAssignTarget: {
    code: 2025,
    text: "invalid assignment target; only variables, fields and FixedArray elements can be assigned",
  },
  NotCallable: { code: 2026, text: "'{0}' is not a function" },
  ArgCount: { code: 2027, text: "'{0}' expects {1} argument(s), got {2}" },
  MissingParamType: { code: 2028, text: "parameter '{0}' needs a type annotation" },
  MissingReturnType: {
    code: 2029,
    text: "function '{0}' returns a value; annotate its return type",
  },
  StructLiteralNeedsType: {
    code: 2030,
    text: "object literal needs a struct type from its context; annotate the variable",
  },
  ArrayLiteralNeedsType: {
    code: 2060,
    text: "an array literal is only allowed where a FixedArray is expected (a field, a key, an annotated variable)",
  },
  ArrayLiteralLength: {
    code: 2061,
    text: "the array literal has {0} element(s) but {1} has {2}",
  },
  MissingStructField: { code: 2031, text: "missing field '{0}' of {1}" },
  UnknownStructField: { code: 2032, text: "{0} has no field '{1}'" },
  IndexOutOfRange: { code: 2033, text: "index {0} is out of range for {1}" },
  NotIndexable: { code: 2034, text: "type {0} cannot be indexed; only FixedArray can" },
  StringNotAllowed: {
    code: 2035,
    text: "strings are only allowed as the format of trace() and the name of param()",
  },
  NullableNotAllowed: {
    code: 2036,
    text: "'{0}' is not allowed here; 'T | null' only holds header views, map lookups and checked loads",
  },
  VoidValue: { code: 2037, text: "this call returns void and has no value" },
  ConditionType: {
    code: 2038,
    text: "a condition must be bool, an integer or a nullable value, not {0}",
  },
  InvalidCast: { code: 2039, text: "cannot convert {0} to {1} with 'as'" },
  NotAValue: { code: 2040, text: "'{0}' is {1} and cannot be used as a value{2}" },
  UnknownMethod: { code: 2041, text: "{0} has no method '{1}'" },
  MissingReturnValue: { code: 2042, text: "'return' needs a value of type {0}" },
  UnexpectedReturnValue: { code: 2043, text: "function '{0}' returns void; remove the value" },
  NotConstant: { code: 2044, text: "{0} must be a compile-time constant" },
  ConstNeedsInit: { code: 2045, text: "'const {0}' needs an initializer" },
  CannotInferType: { code: 2046, text: "'{0}' needs a type annotation or an initializer" },
  UsedBeforeDeclaration: { code: 2047, text: "'{0}' is used before its declaration" },
  TypeNotAllowedHere: { code: 2048, text: "{0} is not allowed as {1}" },
  LiteralTooLarge: { code: 2049, text: "literal {0} does not fit in 64 bits" },
  DuplicateField: { code: 2050, text: "duplicate field '{0}'" },
  AssignInExpression: {
    code: 2051,
    text: "assignments and '++'/'--' are statements here, not values",
  },
  NoTypeArgs: { code: 2052, text: "'{0}' takes no type arguments" },
  IntegerRequired: { code: 2053, text: "{0} must be an integer, not {1}" },

  // --- 3xxx: language rules ---------------------------------------------------
  MapMaxEntries: { code: 3001, text: "map '{0}' needs 'maxEntries', a constant greater than 0" },
  MapMaxEntriesInvalid: {
    code: 3002,
    text: "maxEntries must be a constant greater than 0, got {0}",
  },
  MapOptionUnknown: { code: 3003, text: "unknown option '{0}' for {1}" },
  LpmKey: {
    code: 3004,
    text: "LpmTrie key {0} must be a struct whose first field is 'prefixlen: u32'",
  },
  XskHandlerInvalid: {
    code: 3005,
    text: "'{0}' is not an exported AF_XDP handler '(pkt: XskPacket): XskVerdict'",
  },
  MapNotTopLevel: { code: 3006, text: "maps must be declared at top level with 'const'" },
  MapTypeArg: { code: 3007, text: "map {0} type {1} must be an integer, a struct or a FixedArray" },
  ParamMisplaced: {
    code: 3008,
    text: "param() is only allowed as the initializer of a top-level const",
  },
  ParamType: { code: 3009, text: "param<T>: T must be an integer type or bool, not {0}" },
  ParamName: {
    code: 3010,
    text: "the name of a param() must be a string literal of letters, digits and '_'",
  },
  ParamDuplicate: { code: 3011, text: "load-time parameter '{0}' is declared twice" },
  ParamExportName: {
    code: 3049,
    text: "an exported parameter is set by its name: export it as '{0}' (its param() name), or name it '{1}' in param()",
  },
  ParamForm: { code: 3012, text: 'write param<T>("name", default) with an explicit type argument' },
  TopLevelInit: {
    code: 3013,
    text: "top-level const '{0}' must be a compile-time constant, a map or a param()",
  },
  GlobalType: { code: 3014, text: "global variable '{0}' must be an integer or bool, not {1}" },
  LoopShape: {
    code: 3015,
    text: "loops must have the form 'for (let i = <const>; i < <const>; i++)': {0}",
  },
  LoopCounterAssigned: {
    code: 3016,
    text: "the loop counter '{0}' cannot be assigned inside the loop",
  },
  Recursion: { code: 3017, text: "recursion is not supported: {0}" },
  ExportedSignature: {
    code: 3018,
    text: "exported function '{0}' must be an XDP program '(ctx: XdpContext): XdpAction', a tc program '(ctx: TcContext): TcAction' or an AF_XDP handler '(pkt: XskPacket): XskVerdict'",
  },
  MissingReturn: { code: 3019, text: "function '{0}' does not return a value on every path" },
  ViewInvalidated: {
    code: 3020,
    text: "'{0}' is a packet view obtained before {1}, which moves packet data; call the accessor again",
  },
  NestedFunction: {
    code: 3021,
    text: "nested functions are not supported; move '{0}' to the top level",
  },
  SwitchFallthrough: {
    code: 3022,
    text: "this case falls through into the next one; end it with 'break' or 'return'",
  },
  DuplicateCase: { code: 3023, text: "duplicate case value {0}" },
  BreakOutside: { code: 3024, text: "'{0}' outside a loop{1}" },
  TraceFormat: { code: 3025, text: "trace() needs a format string literal as its first argument" },
  TraceArgs: { code: 3026, text: "trace() takes at most 3 values after the format, got {0}" },
  IncrementValue: { code: 3027, text: "increment() needs an integer value type; '{0}' holds {1}" },
  AtomicAddTarget: {
    code: 3028,
    text: "atomicAdd() needs a u32 or u64 field of a map value, or a global variable",
  },
  RingBufSize: {
    code: 3029,
    text: "RingBuf maxEntries is its size in bytes: a power of two ≥ 4096, got {0}",
  },
  RedirectFallback: {
    code: 3030,
    text: "the redirect fallback must be XDP_ABORTED, XDP_DROP, XDP_PASS or XDP_TX",
  },
  RedirectOptions: {
    code: 3050,
    text: "redirect()'s options are an object literal { ingress: true | false } (a constant)",
  },
  CsumReplaceSize: {
    code: 3051,
    text: "the size of l3CsumReplace()/l4CsumReplace() must be the constant 2 or 4 (bytes changed)",
  },
  CsumReplaceOptions: {
    code: 3052,
    text: "l4CsumReplace()'s options are an object literal { pseudoHeader?, mangledZero? } of constant booleans",
  },
  StoreBytesSource: {
    code: 3060,
    text: "storeBytes() stores a struct, FixedArray or header view, not {0} (store8/16/32 store integers)",
  },
  StoreBytesOptions: {
    code: 3061,
    text: "storeBytes()'s options are an object literal { recomputeCsum?, invalidateHash? } of constant booleans",
  },
  TcSection: {
    code: 3070,
    text: 'the section of a TcContext is "tc", "tcx/ingress" or "tcx/egress" (a string literal){0}',
  },
  TcxVerdict: {
    code: 3071,
    text: "{0} is not a tcx verdict: a tcx program returns TCX_NEXT (-1), TCX_PASS (0), TCX_DROP (2) or TCX_REDIRECT (7), and the kernel runs any other value as TCX_NEXT",
  },
  UnsupportedHere: { code: 3031, text: "{0} is not supported in filters{1}" },
  MapNotValue: { code: 3032, text: "map '{0}' can only be used by calling its methods" },
  ContextOnly: { code: 3033, text: "{0} is only available in {1}" },
  LoopCounterOverflow: {
    code: 3034,
    text: "the loop counter would overflow {0} before the loop ends",
  },
  ZeroedType: {
    code: 3035,
    text: "zeroed<T>() needs a struct or FixedArray type argument (or a struct type from its context)",
  },
  TraceCount: {
    code: 3036,
    text: "the trace() format has {0} conversion(s) but {1} value(s) follow it",
  },
  LookupRefValue: {
    code: 3038,
    text: "lookupRef() needs an integer value type; '{0}' holds {1} (lookup() already gives a view of a struct)",
  },
  CsumDiffOperand: {
    code: 3039,
    text: "csumDiff() takes structs, FixedArrays or header views whose size is a multiple of 4 (or null), up to 512 bytes; got {0}",
  },
  CsumLength: {
    code: 3040,
    text: "the length of ctx.csum() must be a constant multiple of 4 from 4 to 512",
  },
  VlanTags: {
    code: 3041,
    text: "the VLAN tag depth of {0}() must be a constant from 0 to 8",
  },
  Ipv6ExtCount: {
    code: 3042,
    text: "the extension-header count of skipIpv6Ext() must be a constant from 1 to 16",
  },
  RunConfigField: {
    code: 3043,
    text: "unknown runConfig field '{0}': a run config has 'priority' and 'chainCallActions'",
  },
  RunConfigPriority: {
    code: 3044,
    text: "the runConfig priority must be a constant integer from 0 to 1000{0}",
  },
  RunConfigAction: {
    code: 3045,
    text: "chainCallActions must be an array of XDP actions (XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT){0}",
  },
  RunConfigDuplicate: { code: 3046, text: "{0} appears twice in runConfig" },
  RunConfigProgram: {
    code: 3047,
    text: "runConfig names '{0}', which is not an XDP program of this file{1}",
  },
  RunConfigTarget: {
    code: 3048,
    text: "runConfig {0}",
  },
  MapSharedWithHandler: {
    code: 3053,
    text: "map '{0}' is used by {1} and by AF_XDP handler '{2}': the program's map is a kernel map, the handler's lives in its Wasm memory, and nothing keeps the two in step; give each side its own map",
  },
  TraceConversion: {
    code: 3037,
    text: "unsupported conversion '{0}' in a trace() format; use %d, %i, %u, %x (optionally with l or ll), %c or %%",
  },

  // --- 4xxx: backend and object files -------------------------------------------
  BackendUnsupported: { code: 4001, text: "{0}: not supported by the eBPF backend yet" },
  StackTooLarge: { code: 4002, text: "'{0}' needs more than 512 bytes of stack" },
  BackendInternal: { code: 4003, text: "internal compiler error in the eBPF backend: {0}" },
  WasmUnsupported: { code: 4101, text: "{0}: not supported by the WebAssembly backend yet" },

  // --- 5xxx: verifier and kernel ------------------------------------------------
  VerifierRejected: { code: 5001, text: "{0}" },
  VerifierRejectedNoLine: { code: 5002, text: "the kernel verifier rejected program '{0}': {1}" },

  // --- 6xxx: command line and runtime -------------------------------------------
  FileNotFound: { code: 6001, text: "cannot read '{0}': {1}" },
} satisfies Record<string, MessageDef>;

export type MessageId = keyof typeof messages;
