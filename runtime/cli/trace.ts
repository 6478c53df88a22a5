// `xdpc trace`: stream the kernel's trace_pipe, where `trace("fmt", …)` in a filter
// (bpf_trace_printk) writes. Mounts tracefs when neither usual path has it.
import type { Command } from "commander";
import { execFileSync } from "node:child_process";
import { closeSync, constants, existsSync, openSync, readSync } from "node:fs";
import type { CommandImpl } from "./types.ts";
import { CliError, EXIT } from "./errors.ts";

export const TRACE_PIPES = [
  "/sys/kernel/tracing/trace_pipe",
  "/sys/kernel/debug/tracing/trace_pipe",
];

/** The trace_pipe path, mounting tracefs on /sys/kernel/tracing when needed. */
export function tracePipe(): string {
  const found = TRACE_PIPES.find((p) => existsSync(p));
  if (found) return found;
  try {
    execFileSync("mount", ["-t", "tracefs", "nodev", "/sys/kernel/tracing"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
  } catch (e) {
    const msg = (e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message;
    throw new CliError(
      `no trace_pipe, and tracefs cannot be mounted on /sys/kernel/tracing (needs CAP_SYS_ADMIN): ${msg}`,
    );
  }
  if (!existsSync(TRACE_PIPES[0]!))
    throw new CliError("tracefs mounted but has no trace_pipe (kernel without CONFIG_TRACING?)");
  return TRACE_PIPES[0]!;
}

/** ` <idle>-0 [001] d.s31 1234.5: bpf_trace_printk: hello` → the message part (or the line when it is not a printk). */
export function traceMessage(line: string): string {
  const m = /bpf_trace_printk: (.*)$/.exec(line);
  return m ? m[1]! : line;
}

export const traceCommand: CommandImpl = {
  configure(cmd: Command) {
    cmd
      .option("--raw", "print trace_pipe lines as they are (task, CPU, timestamp)")
      .option("-n, --count <n>", "stop after n lines")
      .option("--timeout <ms>", "stop after this many milliseconds");
  },
  async run(cmd) {
    const o = cmd.opts() as { raw?: boolean; count?: string; timeout?: string };
    const count = o.count === undefined ? Infinity : Number(o.count);
    if (!(count >= 1))
      throw new CliError(`--count expects a positive number, got '${o.count}'`, EXIT.usage);
    const path = tracePipe();
    // Non-blocking reads polled on a timer: a blocking read of an idle trace_pipe would
    // pin a libuv thread that even process.exit waits for.
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      throw new CliError(`cannot read ${path}: ${(e as Error).message}`);
    }
    let stopped = false;
    const stop = () => (stopped = true);
    const deadline = o.timeout ? Date.now() + Number(o.timeout) : Infinity;
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    const buf = Buffer.alloc(1 << 16);
    let partial = "";
    let n = 0;
    try {
      while (!stopped && n < count && Date.now() < deadline) {
        let got = 0;
        try {
          got = readSync(fd, buf, 0, buf.length, null);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "EAGAIN")
            throw new CliError(`cannot read ${path}: ${(e as Error).message}`);
        }
        if (got === 0) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        const lines = (partial + buf.toString("utf8", 0, got)).split("\n");
        partial = lines.pop()!;
        for (const line of lines) {
          if (n >= count) break;
          n++;
          process.stdout.write((o.raw ? line : traceMessage(line)) + "\n");
        }
      }
    } finally {
      closeSync(fd);
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    }
    return EXIT.ok;
  },
};
