// The playground bundle's entry (bin/build.mjs bundles it as one classic script, so
// the page works from file:// too): the engine for scripts and tests as
// `globalThis.xdpcPlayground`, and the page when there is one.
import * as engine from "./engine.ts";
import { boot } from "./ui.ts";

(globalThis as { xdpcPlayground?: typeof engine }).xdpcPlayground = engine;
if (typeof document !== "undefined") {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
}
