// The WebAssembly backend: compileToWasm (checked module → .wasm with metadata) and the
// ABI the module and its host (runtime/wasm) share. docs/wasm.md describes it.
export { compileToWasm, WASM_FEATURES, type WasmOptions, type WasmOutput } from "./compile.ts";
export { readMeta, META_SECTION, type WasmMeta, type WasmMapMeta } from "./abi.ts";
