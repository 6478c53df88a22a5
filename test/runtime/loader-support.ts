// Shared by the loader tests: a private network namespace with a veth pair, the CLI
// run inside it (nsenter --net, so bpffs and /run stay shared), private pin and
// state directories, and iproute2 as the independent oracle of what is attached.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

export interface Lab {
  ns: string;
  iface: string;
  peer: string;
  pinRoot: string;
  runDir: string;
  tmp: string;
  env: NodeJS.ProcessEnv;
}

export function makeLab(tag: string): Lab {
  const ns = `xdpct${tag}${process.pid % 100000}`;
  const iface = "xdpct0";
  const peer = "xdpct1";
  const tmp = mkdtempSync(join(tmpdir(), "xdpct-"));
  const pinRoot = `/sys/fs/bpf/xdpct-${tag}-${process.pid}`;
  const runDir = join(tmp, "run");
  mkdirSync(runDir);
  const ip = (...a: string[]) => execFileSync("ip", a, { stdio: ["ignore", "ignore", "pipe"] });
  ip("netns", "add", ns);
  ip("-n", ns, "link", "add", iface, "type", "veth", "peer", "name", peer);
  ip("-n", ns, "addr", "add", "198.18.10.1/30", "dev", iface);
  ip("-n", ns, "addr", "add", "198.18.10.2/30", "dev", peer);
  ip("-n", ns, "link", "set", iface, "up");
  ip("-n", ns, "link", "set", peer, "up");
  ip("-n", ns, "link", "set", "lo", "up");
  const env = { ...process.env, XDPC_PIN_ROOT: pinRoot, XDPC_RUN_DIR: runDir };
  return { ns, iface, peer, pinRoot, runDir, tmp, env };
}

export function destroyLab(lab: Lab | undefined): void {
  if (!lab) return;
  spawnSync("ip", ["netns", "del", lab.ns]);
  rmSync(lab.pinRoot, { recursive: true, force: true });
  rmSync(lab.tmp, { recursive: true, force: true });
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function xdpc(lab: Lab, args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const r = spawnSync("nsenter", [`--net=/run/netns/${lab.ns}`, "node", join(ROOT, "bin/xdpc.js"), ...args], {
    cwd: ROOT,
    env: { ...lab.env, ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function spawnXdpc(lab: Lab, args: string[]): ChildProcess {
  return spawn("nsenter", [`--net=/run/netns/${lab.ns}`, "node", join(ROOT, "bin/xdpc.js"), ...args], {
    cwd: ROOT,
    env: lab.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** The XDP program id iproute2 reports for `dev` in the lab (0 when none). */
export function attachedId(lab: Lab, dev = lab.iface): number {
  const out = execFileSync("ip", ["-n", lab.ns, "-j", "link", "show", "dev", dev], { encoding: "utf8" });
  const link = (JSON.parse(out) as { xdp?: { prog?: { id: number }; attached?: { prog: { id: number } }[] } }[])[0];
  return link?.xdp?.prog?.id ?? link?.xdp?.attached?.[0]?.prog.id ?? 0;
}

export function attachedMode(lab: Lab, dev = lab.iface): number {
  const out = execFileSync("ip", ["-n", lab.ns, "-j", "link", "show", "dev", dev], { encoding: "utf8" });
  return (JSON.parse(out) as { xdp?: { mode: number } }[])[0]?.xdp?.mode ?? 0;
}

/** Builds a filter into an object with the CLI (`xdpc build -o`). */
export function buildObject(lab: Lab, source: string, name: string): string {
  const out = join(lab.tmp, name);
  const r = spawnSync("node", [join(ROOT, "bin/xdpc.js"), "build", "-o", out, source], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`xdpc build failed: ${r.stderr}`);
  return out;
}

export const hasClang = (() => spawnSync("clang", ["--version"]).status === 0)();

/** Compiles C to an object with clang (-g: BTF line info for verifier messages). */
export function clangObject(lab: Lab, name: string, source: string, target = "bpf"): string {
  const c = join(lab.tmp, `${name}.c`);
  const o = join(lab.tmp, `${name}.o`);
  writeFileSync(c, source);
  execFileSync("clang", ["-g", "-O2", `-target`, target, "-I/usr/include/x86_64-linux-gnu", "-c", c, "-o", o]);
  return o;
}

export function exists(p: string): boolean {
  return existsSync(p);
}

export function npmBuild(): void {
  execFileSync("npm", ["run", "build"], { cwd: ROOT, stdio: "ignore" });
}
