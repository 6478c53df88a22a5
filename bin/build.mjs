// Bundles the CLI into dist/ so that `xdpc` starts without a TypeScript loader.
// Code splitting keeps start-up small: each command's module (and the compiler or
// runtime behind it) is a chunk loaded only when that command runs. Native and heavy
// packages stay external and load lazily.
import { build } from "esbuild";
import { rmSync } from "node:fs";

rmSync("dist", { recursive: true, force: true });
await build({
  entryPoints: { xdpc: "runtime/cli/main.ts" },
  outdir: "dist",
  bundle: true,
  splitting: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  chunkNames: "chunks/[name]-[hash]",
  external: ["koffi", "binaryen", "prom-client"],
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
  logLevel: "warning",
});
