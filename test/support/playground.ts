// `xdpc playground` in tests: the built CLI (bin/xdpc.js) spawned on a given port, its
// output collected; `stop` sends a signal and waits for the exit.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:http";
import { join } from "node:path";
import { until } from "./wait.ts";
import { NOBODY, repo } from "./unprivileged.ts";

export const XDPC_BIN = join(repo, "bin/xdpc.js");

/** A port nothing listens on now (bound and released by this process). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

export interface Served {
  proc: ChildProcess;
  port: number;
  /** `http://127.0.0.1:PORT` */
  base: string;
  out(): string;
  err(): string;
  /** Resolves with the exit code. */
  exit: Promise<number | null>;
  /** Sends `signal` (if still running) and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `xdpc playground --port PORT` (this checkout's, or `opts.bin`; as nobody with
 * `opts.nobody`: setpriv, no capabilities) and waits for its first line (the URL) or its exit.
 */
export async function servePlayground(
  port: number,
  opts: { bin?: string; nobody?: boolean } = {},
): Promise<Served> {
  const argv = [process.execPath, opts.bin ?? XDPC_BIN, "playground", "--port", String(port)];
  const [cmd, ...args] = opts.nobody
    ? [
        "setpriv",
        "--reuid",
        String(NOBODY),
        "--regid",
        String(NOBODY),
        "--clear-groups",
        "--",
        ...argv,
      ]
    : argv;
  const proc = spawn(cmd!, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (err += d));
  let exited = false;
  const exit = new Promise<number | null>((r) =>
    proc.on("exit", (code) => {
      exited = true;
      r(code);
    }),
  );
  try {
    await until(() => out.includes("\n") || exited, 20_000, "xdpc playground to start");
  } catch (e) {
    proc.kill("SIGKILL");
    throw e;
  }
  return {
    proc,
    port,
    base: `http://127.0.0.1:${port}`,
    out: () => out,
    err: () => err,
    exit,
    stop(signal = "SIGTERM") {
      if (!exited) proc.kill(signal);
      return exit;
    },
  };
}
