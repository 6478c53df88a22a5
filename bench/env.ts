// The machine a benchmark ran on, recorded next to its figures.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, release } from "node:os";
import { defaultTransport } from "../runtime/lab/generator.ts";

export interface BenchEnv {
  date: string;
  kernel: string;
  cpu: string;
  cpus: number;
  node: string;
  clang: string;
  /** How the lab's generator put frames on the veth (runtime/lab/generator.ts). */
  generator?: string;
  command: string;
}

function firstLine(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
      .split("\n")[0]!
      .trim();
  } catch {
    return `${cmd} not available`;
  }
}

function cpuModel(): string {
  try {
    const m = readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.+)$/m);
    if (m) return m[1]!.trim();
  } catch {
    // not Linux: fall through
  }
  return cpus()[0]?.model ?? "unknown";
}

function generatorTransport(): string {
  try {
    return defaultTransport() === "live" ? "live frames" : "packet socket";
  } catch (e) {
    return `unknown (${(e as Error).message.split("\n")[0]})`;
  }
}

export function benchEnv(command: string): BenchEnv {
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    kernel: `${firstLine("uname", ["-sr"]) || release()}`,
    cpu: cpuModel(),
    cpus: cpus().length,
    node: process.version,
    clang: firstLine("clang", ["--version"]),
    generator: generatorTransport(),
    command,
  };
}
