#!/usr/bin/env node
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dist = fileURLToPath(new URL("../dist/xdpc.js", import.meta.url));
if (!existsSync(dist)) {
  process.stderr.write("xdpc: dist/xdpc.js is missing; run `npm run build` in the xdpc checkout\n");
  process.exit(2);
}
const { main } = await import(dist);
process.exitCode = await main(process.argv.slice(2));
