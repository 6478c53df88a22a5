// The WebAssembly backend: compileToWasm (checked module → .wasm with metadata) and
// WasmHost (a JS host that runs it). docs/wasm.md describes the ABI.
export { compileToWasm, WASM_FEATURES, type WasmOptions, type WasmOutput } from "./compile.ts";
export { readMeta, META_SECTION, type WasmMeta, type WasmMapMeta } from "./layout.ts";
export { WasmHost, WasmHostError, missingHelpers, HOST_HELPERS, FRAME_HEADROOM } from "./host.ts";
export type { RunResult, WasmHostOptions } from "./host.ts";
