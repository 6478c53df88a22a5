export * from "./constants.ts";
export { ElfWriter, type ElfSection, type ElfSymbol } from "./writer.ts";
export {
  parseElf,
  type ElfFile,
  type ElfSectionInfo,
  type ElfSymbolInfo,
  type ElfRelocation,
} from "./reader.ts";
export * from "./types.ts";
export * from "./object.ts";
export { summarizeObject } from "./summary.ts";
