export * from "./kinds.ts";
export { StringTable, readCString } from "./strings.ts";
export { BtfBuilder, type MemberSpec, type EnumValueSpec } from "./writer.ts";
export { BtfExtBuilder, lineCol, type FuncInfo, type LineInfo } from "./ext.ts";
export * from "./reader.ts";
