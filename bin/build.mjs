// Bundles the CLI into dist/ so that `xdpc` starts without a TypeScript loader.
// Code splitting keeps start-up small: each command's module (and the compiler or
// runtime behind it) is a chunk loaded only when that command runs. Native and heavy
// packages stay external and load lazily.
//
// `xdpc/testing` (runtime/testing/index.ts) is a second entry of the same build
// (dist/testing.js, sharing chunks with the CLI); its declarations, dist/testing.d.ts,
// are runtime/testing/api.ts's, emitted by the TypeScript compiler. `xdpc/runtime`
// (runtime/control/index.ts, the control-plane library) is built the same way.
//
// Also builds the browser playground (docs/playground.md) into dist/playground/: the
// page and one classic script holding the compiler, binaryen and the Wasm host, so
// that it works from file:// as well as served by `xdpc playground`.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

rmSync("dist", { recursive: true, force: true });
await build({
  entryPoints: {
    xdpc: "runtime/cli/main.ts",
    testing: "runtime/testing/index.ts",
    runtime: "runtime/control/index.ts",
  },
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

{
  const ts = (await import("typescript")).default;
  /** An entry's declarations: its api.ts through the TypeScript compiler, plus `tail`. */
  const declarations = (entry, api, tail) => {
    const out = ts.transpileDeclaration(readFileSync(api, "utf8"), {
      fileName: "api.ts",
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext },
      reportDiagnostics: true,
    });
    if (out.diagnostics?.length)
      throw new Error(
        `build: ${api}: ${ts.flattenDiagnosticMessageText(out.diagnostics[0].messageText, "\n")}`,
      );
    writeFileSync(
      `dist/${entry}.d.ts`,
      `// The types of \`xdpc/${entry}\` (generated from ${api} by bin/build.mjs).\n` +
        out.outputText +
        tail,
    );
  };
  declarations(
    "testing",
    "runtime/testing/api.ts",
    "/** Compiles (a .ts) or reads the filter and loads it on the engine: see docs/testing.md. */\n" +
      "export declare const testFilter: TestFilter;\n",
  );
  declarations(
    "runtime",
    "runtime/control/api.ts",
    "/** Reads a filter or object into a spec: see docs/control.md. */\n" +
      "export declare const open: Open;\n" +
      "export declare const ip: Ip;\n" +
      "export declare const metricsRegistry: MetricsRegistry;\n" +
      "/** Where `pinned: true` maps of library-loaded collections are pinned unless `pinRoot` says otherwise. */\n" +
      "export declare const DEFAULT_LIBRARY_PIN_ROOT: string;\n",
  );
}

/**
 * What the playground bundle needs beyond plain bundling:
 * - `binaryen`: its ES module ends with a top-level await of its factory, which a
 *   classic script cannot hold. The bundle gets the module with that last statement
 *   replaced: the default export is bound once the factory resolves, and
 *   `xdpc:binaryen` exports the promise (the compiler touches binaryen only inside
 *   compileWasm, which the playground awaits it before). binaryen embeds its Wasm, so
 *   nothing is fetched. Its Node-only branch (`import("node:module")`) stays an
 *   external import that a browser never reaches.
 * - `xdpc:presets`: the example filters of filters/, read at build time.
 * Any other Node built-in reached from the playground fails the build (platform browser).
 */
const playgroundModules = {
  name: "xdpc-playground",
  setup(b) {
    const binaryenPath = createRequire(import.meta.url).resolve("binaryen");
    b.onResolve({ filter: /^binaryen$/ }, () => ({ path: binaryenPath, namespace: "binaryen" }));
    b.onResolve({ filter: /^xdpc:binaryen$/ }, () => ({
      path: binaryenPath,
      namespace: "binaryen",
    }));
    b.onResolve({ filter: /^node:module$/ }, (args) =>
      args.namespace === "binaryen" ? { path: "node:module", external: true } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "binaryen" }, () => {
      const src = readFileSync(binaryenPath, "utf8");
      const tail = /var ([\w$]+)=await ([\w$]+)\(\),([\w$]+)=\1;export\{\3 as default\};\s*$/;
      const m = tail.exec(src);
      if (!m)
        throw new Error(`build: binaryen's module no longer ends as expected (${binaryenPath})`);
      const contents =
        src.slice(0, m.index) +
        `let binaryen;\nexport const binaryenReady = ${m[2]}().then((b) => { binaryen = b; });\n` +
        `export { binaryen as default };\n`;
      return { contents, loader: "js" };
    });
    b.onResolve({ filter: /^xdpc:presets$/ }, () => ({ path: "presets", namespace: "xdpc" }));
    b.onLoad({ filter: /^presets$/, namespace: "xdpc" }, () => {
      const names = readdirSync("filters").filter(
        (f) => f.endsWith(".ts") && !f.endsWith(".test.ts"),
      );
      const presets = names
        .sort()
        .map((name) => ({ name, source: readFileSync(join("filters", name), "utf8") }));
      return {
        contents: `export const PRESETS = ${JSON.stringify(presets)};`,
        loader: "js",
        watchFiles: names.map((n) => join("filters", n)),
      };
    });
  },
};

mkdirSync("dist/playground", { recursive: true });
await build({
  entryPoints: ["playground/main.ts"],
  outfile: "dist/playground/playground.js",
  bundle: true,
  platform: "browser",
  format: "iife",
  target: "es2022",
  plugins: [playgroundModules],
  legalComments: "eof",
  logLevel: "warning",
  logOverride: { "empty-import-meta": "silent" },
});
copyFileSync("playground/index.html", "dist/playground/index.html");
