// `xdpc playground`: the CLI (bin/xdpc.js, built) serves dist/playground on 127.0.0.1 —
// only the page's files, GET/HEAD only, with the cross-origin isolation headers — and
// stops on SIGINT/SIGTERM; a taken port or a missing build is a one-line error.
import { afterAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, statSync } from "node:fs";
import { createServer, request } from "node:http";
import { join } from "node:path";
import { freePort, servePlayground, XDPC_BIN as BIN, type Served } from "../support/playground.ts";
import { repo, stagePackage } from "../support/unprivileged.ts";

const DIST = join(repo, "dist/playground");

const running: Served[] = [];
afterAll(async () => {
  for (const s of running) await s.stop("SIGKILL");
});
async function serve(port: number, opts?: Parameters<typeof servePlayground>[1]): Promise<Served> {
  const s = await servePlayground(port, opts);
  running.push(s);
  return s;
}

/** A raw HTTP request: the path is sent as written (fetch would normalize `..`). */
function raw(
  port: number,
  method: string,
  path: string,
): Promise<{
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

const ISOLATION = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
  "cross-origin-resource-policy": "same-origin",
};

describe("xdpc playground", () => {
  it("serves the page's files with their types and the isolation headers, then stops on SIGTERM", async () => {
    const port = await freePort();
    const s = await serve(port);
    expect(s.err()).toBe("");
    expect(s.out()).toBe(`xdpc playground: http://127.0.0.1:${port}/ (Ctrl-C or SIGTERM stops)\n`);

    const files: [string, string, string][] = [
      ["/", "index.html", "text/html; charset=utf-8"],
      ["/index.html", "index.html", "text/html; charset=utf-8"],
      ["/index.html?preset=icmp_echo.ts", "index.html", "text/html; charset=utf-8"],
      ["/playground.js", "playground.js", "text/javascript; charset=utf-8"],
    ];
    for (const [path, file, type] of files) {
      const r = await fetch(s.base + path);
      expect(r.status, path).toBe(200);
      expect(r.headers.get("content-type"), path).toBe(type);
      for (const [h, v] of Object.entries(ISOLATION))
        expect(r.headers.get(h), `${path} ${h}`).toBe(v);
      const body = Buffer.from(await r.arrayBuffer());
      expect(body.equals(readFileSync(join(DIST, file))), path).toBe(true);
      expect(Number(r.headers.get("content-length"))).toBe(body.length);
    }

    // HEAD: the same headers, no body.
    const head = await raw(port, "HEAD", "/playground.js");
    expect(head.status).toBe(200);
    expect(head.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(Number(head.headers["content-length"])).toBe(statSync(join(DIST, "playground.js")).size);
    expect(head.body.length).toBe(0);

    // Nothing outside the fixed list, however the path is spelled.
    for (const path of [
      "/../package.json",
      "/..%2fpackage.json",
      "/%2e%2e/%2e%2e/package.json",
      "/dist/playground/index.html",
      "/package.json",
      "/index.html/",
      "//index.html",
      "/INDEX.HTML",
      "/playground.js.map",
      "/favicon.ico",
      "/constructor",
      "/__proto__",
    ]) {
      const r = await raw(port, "GET", path);
      expect(r.status, path).toBe(404);
      expect(r.body.toString(), path).toBe("not found\n");
      expect(r.headers["cross-origin-resource-policy"], path).toBe("same-origin");
    }
    for (const method of ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"]) {
      const r = await raw(port, method, "/index.html");
      expect(r.status, method).toBe(405);
      expect(r.headers.allow, method).toBe("GET, HEAD");
    }

    expect(await s.stop("SIGTERM")).toBe(0);
    expect(s.out()).toMatch(/\nxdpc playground: stopped\n$/);
    expect(s.err()).toBe("");
    await expect(fetch(s.base + "/")).rejects.toThrow();
  });

  it("stops on SIGINT (Ctrl-C) with exit 0 while a connection is kept alive", async () => {
    const s = await serve(await freePort());
    const r = await fetch(s.base + "/index.html", { keepalive: true });
    expect(r.status).toBe(200);
    await r.arrayBuffer();
    expect(await s.stop("SIGINT")).toBe(0);
    expect(s.out().split("\n").at(-2)).toBe("xdpc playground: stopped");
  });

  it("says in one line that the port is taken, exit 1", async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = spawnSync("node", [BIN, "playground", "--port", String(port)], {
        encoding: "utf8",
        timeout: 20_000,
      });
      expect(r.status).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe(
        `xdpc: error: cannot serve the playground on 127.0.0.1:${port}: the port is in use (pick another with --port)\n`,
      );
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  it("rejects a bad --port in one line, exit 2", () => {
    for (const bad of ["http", "-1", "65536", "80.5"]) {
      const r = spawnSync("node", [BIN, "playground", "--port", bad], { encoding: "utf8" });
      expect(r.status, bad).toBe(2);
      expect(r.stderr, bad).toBe(
        `xdpc: error: --port expects a port number 0-65535, got '${bad}'\n`,
      );
    }
  });

  it("serves the page from the package as npm installs it, as an unprivileged user", async () => {
    const staged = stagePackage();
    try {
      const port = await freePort();
      const s = await serve(port, { bin: staged.bin, nobody: true });
      expect(s.out()).toBe(
        `xdpc playground: http://127.0.0.1:${port}/ (Ctrl-C or SIGTERM stops)\n`,
      );
      for (const [path, file] of [
        ["/", "index.html"],
        ["/playground.js", "playground.js"],
      ]) {
        const r = await fetch(s.base + path);
        expect(r.status, path).toBe(200);
        const body = Buffer.from(await r.arrayBuffer());
        expect(body.equals(readFileSync(join(DIST, file!))), path).toBe(true);
      }
      expect(await s.stop("SIGTERM")).toBe(0);
      expect(s.err()).toBe("");
    } finally {
      rmSync(staged.root, { recursive: true, force: true });
    }
  });

  it("says in one line that the playground is not built", () => {
    const staged = stagePackage();
    try {
      rmSync(join(staged.pkg, "dist/playground"), { recursive: true });
      const r = spawnSync("node", [staged.bin, "playground", "--port", "0"], {
        encoding: "utf8",
        timeout: 20_000,
      });
      expect(r.status).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe(
        `xdpc: error: ${join(staged.pkg, "dist/playground/index.html")} is missing: the playground is not built (run \`npm run build\` in the xdpc checkout)\n`,
      );
    } finally {
      rmSync(staged.root, { recursive: true, force: true });
    }
  });
});
