// `xdpc playground [--port N]`: serves the browser playground (dist/playground, built by
// `npm run build`; docs/playground.md) on 127.0.0.1 until Ctrl-C or SIGTERM. Only the
// page's own files are served, from a fixed map of URL path → file (nothing else of the
// file system is reachable), GET and HEAD only, with cross-origin isolation headers so
// that the page's shared Wasm memory works in every browser.
import type { Command } from "commander";
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { join } from "node:path";
import { packageRoot } from "../sys/root.ts";
import type { CommandImpl } from "./types.ts";
import { CliError, EXIT } from "./errors.ts";

export const DEFAULT_PORT = 8780;
const HOST = "127.0.0.1";

/** URL path → [file in dist/playground, content type]. Nothing else is served. */
export const PLAYGROUND_FILES: Readonly<Record<string, readonly [string, string]>> = {
  "/": ["index.html", "text/html; charset=utf-8"],
  "/index.html": ["index.html", "text/html; charset=utf-8"],
  "/playground.js": ["playground.js", "text/javascript; charset=utf-8"],
};

/** Sent with every response: cross-origin isolation (crossOriginIsolated in the page). */
export const PLAYGROUND_HEADERS: Readonly<Record<string, string>> = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
  "X-Content-Type-Options": "nosniff",
  "Cache-Control": "no-cache",
};

interface PlaygroundOpts {
  port: string;
}

function parsePort(s: string): number {
  const n = /^\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isInteger(n) || n > 65535)
    throw new CliError(`--port expects a port number 0-65535, got '${s}'`, EXIT.usage);
  return n;
}

function plain(res: ServerResponse, status: number, text: string, extra = {}): void {
  res.writeHead(status, {
    ...PLAYGROUND_HEADERS,
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    ...extra,
  });
  res.end(res.req.method === "HEAD" ? undefined : text);
}

function handler(dir: string) {
  return (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "GET" && req.method !== "HEAD")
      return plain(res, 405, "method not allowed\n", { Allow: "GET, HEAD" });
    // The path as sent, without the query: no decoding or normalizing, so only the exact
    // spellings in PLAYGROUND_FILES match.
    const path = (req.url ?? "").split("?")[0]!;
    const entry = Object.hasOwn(PLAYGROUND_FILES, path) ? PLAYGROUND_FILES[path] : undefined;
    if (!entry) return plain(res, 404, "not found\n");
    const file = join(dir, entry[0]);
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      return plain(res, 404, "not found (rebuild the playground: npm run build)\n");
    }
    res.writeHead(200, {
      ...PLAYGROUND_HEADERS,
      "Content-Type": entry[1],
      "Content-Length": size,
    });
    if (req.method === "HEAD") return void res.end();
    createReadStream(file)
      .on("error", () => res.destroy())
      .pipe(res);
  };
}

function listenError(e: NodeJS.ErrnoException, port: number): CliError {
  const where = `${HOST}:${port}`;
  if (e.code === "EADDRINUSE")
    return new CliError(
      `cannot serve the playground on ${where}: the port is in use (pick another with --port)`,
    );
  if (e.code === "EACCES")
    return new CliError(
      `cannot serve the playground on ${where}: permission denied (pick a port above 1023 with --port)`,
    );
  return new CliError(`cannot serve the playground on ${where}: ${e.message}`);
}

export const playgroundCommand: CommandImpl = {
  configure(cmd: Command) {
    cmd.option("-p, --port <n>", `port on 127.0.0.1 (0: any free port)`, String(DEFAULT_PORT));
  },
  async run(cmd) {
    const opts = cmd.opts() as PlaygroundOpts;
    const port = parsePort(opts.port);
    const root = packageRoot();
    const dir = join(root, "dist", "playground");
    const missing = Object.values(PLAYGROUND_FILES)
      .map(([f]) => f)
      .filter((f) => !existsSync(join(dir, f)));
    if (missing.length)
      throw new CliError(
        `${join(dir, missing[0]!)} is missing: the playground is not built (run \`npm run build\` in the xdpc checkout)`,
      );

    const server = createServer(handler(dir));
    await new Promise<void>((resolve, reject) => {
      server.once("error", (e) => reject(listenError(e as NodeJS.ErrnoException, port)));
      server.listen(port, HOST, () => resolve());
    });
    const addr = server.address();
    const actual = typeof addr === "object" && addr ? addr.port : port;
    process.stdout.write(`xdpc playground: http://${HOST}:${actual}/ (Ctrl-C or SIGTERM stops)\n`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        resolve();
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    process.stdout.write("xdpc playground: stopped\n");
    return EXIT.ok;
  },
};
