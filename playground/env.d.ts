// Modules bin/build.mjs provides to the playground bundle (they exist only there).
declare module "xdpc:presets" {
  export interface Preset {
    /** The example's file name in filters/ (e.g. "icmp_echo.ts"). */
    name: string;
    source: string;
  }
  export const PRESETS: readonly Preset[];
}
declare module "xdpc:binaryen" {
  /** Resolves when binaryen's Wasm has been instantiated (compileWasm needs it). */
  export const binaryenReady: Promise<void>;
}
