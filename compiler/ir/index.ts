export * from "./ir.ts";
export { Builder } from "./builder.ts";
export { printFunc, printInst, printTerm } from "./print.ts";
export {
  optimize,
  foldConstants,
  eliminateDeadCode,
  simplifyCfg,
  mergeGuards,
} from "./passes/index.ts";
