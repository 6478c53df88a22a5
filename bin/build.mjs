// Bundles the CLI into dist/xdpc.js so that `xdpc --help` starts without a
// TypeScript loader. Native and heavy packages stay external and load lazily.
import { build } from "esbuild";

await build({
  entryPoints: ["runtime/cli/main.ts"],
  outfile: "dist/xdpc.js",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  external: ["koffi", "binaryen", "prom-client"],
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
  logLevel: "warning",
});
