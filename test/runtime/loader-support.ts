// Shared by the loader tests: a private network namespace with a veth pair, the CLI
// run inside it (nsenter --net, so bpffs and /run stay shared), private pin and
// state directories, and iproute2 as the independent oracle of what is attached.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { flockExclusive, funlock } from "../../native/flock.ts";
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
  // No IPv6 chatter (DAD, MLD, RS): frames counted in tests are exactly the test's.
  execFileSync("nsenter", [
    `--net=/run/netns/${ns}`,
    "sysctl",
    "-qw",
    "net.ipv6.conf.all.disable_ipv6=1",
    "net.ipv6.conf.default.disable_ipv6=1",
  ]);
  ip("-n", ns, "link", "set", iface, "up");
  ip("-n", ns, "link", "set", peer, "up");
  ip("-n", ns, "link", "set", "lo", "up");
  const env = { ...process.env, XDPC_PIN_ROOT: pinRoot, XDPC_RUN_DIR: runDir };
  return { ns, iface, peer, pinRoot, runDir, tmp, env };
}

/**
 * The name xdpc files `dev` under: the interface name, or `name@ns<inode>` when the
 * loader can tell the lab's namespace from the host's (runtime/sys/netdev.ts interfaceKey).
 */
export function keyOf(lab: Lab, dev = lab.iface): string {
  for (const dir of [lab.pinRoot, join(lab.runDir, "filters")]) {
    if (!existsSync(dir)) continue;
    const hit = readdirSync(dir).find((e) => e === dev || e.startsWith(`${dev}@ns`));
    if (hit) return hit;
  }
  return dev;
}

export function destroyLab(lab: Lab | undefined): void {
  if (!lab) return;
  spawnSync("ip", ["netns", "del", lab.ns]);
  rmSync(lab.pinRoot, { recursive: true, force: true });
  rmSync(lab.tmp, { recursive: true, force: true });
}

export interface Run {
  code: number | null;
  signal?: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function xdpc(lab: Lab, args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const r = spawnSync(
    "nsenter",
    [`--net=/run/netns/${lab.ns}`, "node", join(ROOT, "bin/xdpc.js"), ...args],
    {
      cwd: ROOT,
      env: { ...lab.env, ...env },
      encoding: "utf8",
      timeout: 60_000,
    },
  );
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

export function spawnXdpc(lab: Lab, args: string[]): ChildProcess {
  return spawn(
    "nsenter",
    [`--net=/run/netns/${lab.ns}`, "node", join(ROOT, "bin/xdpc.js"), ...args],
    {
      cwd: ROOT,
      env: lab.env,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
}

/** The XDP program id iproute2 reports for `dev` in the lab (0 when none). */
export function attachedId(lab: Lab, dev = lab.iface): number {
  const out = execFileSync("ip", ["-n", lab.ns, "-j", "link", "show", "dev", dev], {
    encoding: "utf8",
  });
  const link = (
    JSON.parse(out) as { xdp?: { prog?: { id: number }; attached?: { prog: { id: number } }[] } }[]
  )[0];
  return link?.xdp?.prog?.id ?? link?.xdp?.attached?.[0]?.prog.id ?? 0;
}

/**
 * IPv4 packets the lab namespace's IP stack received (Ip InReceives of its
 * /proc/net/snmp). A veth's rx_packets is no oracle: it counts frames XDP dropped too.
 */
export function ipInReceives(lab: Lab): number {
  const snmp = execFileSync("nsenter", [`--net=/run/netns/${lab.ns}`, "cat", "/proc/net/snmp"], {
    encoding: "utf8",
  });
  const [names, values] = snmp.split("\n").filter((l) => l.startsWith("Ip: "));
  const i = names!.split(" ").indexOf("InReceives");
  return Number(values!.split(" ")[i]);
}

export function macOf(lab: Lab, dev = lab.iface): string {
  const out = execFileSync("ip", ["-n", lab.ns, "-j", "link", "show", "dev", dev], {
    encoding: "utf8",
  });
  return (JSON.parse(out) as { address: string }[])[0]!.address;
}

export function attachedMode(lab: Lab, dev = lab.iface): number {
  const out = execFileSync("ip", ["-n", lab.ns, "-j", "link", "show", "dev", dev], {
    encoding: "utf8",
  });
  return (JSON.parse(out) as { xdp?: { mode: number } }[])[0]?.xdp?.mode ?? 0;
}

/** Builds a filter into an object with the CLI (`xdpc build -o`). */
export function buildObject(lab: Lab, source: string, name: string): string {
  const out = join(lab.tmp, name);
  const r = spawnSync("node", [join(ROOT, "bin/xdpc.js"), "build", "-o", out, source], {
    cwd: ROOT,
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`xdpc build failed: ${r.stderr}`);
  return out;
}

export const hasClang = (() => spawnSync("clang", ["--version"]).status === 0)();

/** Compiles C to an object with clang (-g: BTF line info for verifier messages). */
export function clangObject(lab: Lab, name: string, source: string, target = "bpf"): string {
  const c = join(lab.tmp, `${name}.c`);
  const o = join(lab.tmp, `${name}.o`);
  writeFileSync(c, source);
  execFileSync("clang", [
    "-g",
    "-O2",
    `-target`,
    target,
    "-I/usr/include/x86_64-linux-gnu",
    "-c",
    c,
    "-o",
    o,
  ]);
  return o;
}

export function exists(p: string): boolean {
  return existsSync(p);
}

/**
 * Writes `source` (TypeScript importing the project by absolute path) and bundles
 * it like the CLI, since tsx cannot resolve chevrotain's CommonJS internals; run
 * the result with `node` (NODE_PATH set by runBundled).
 */
export async function bundleScript(lab: Lab, name: string, source: string): Promise<string> {
  const ts = join(lab.tmp, `${name}.ts`);
  const out = join(lab.tmp, `${name}.mjs`);
  writeFileSync(ts, source);
  const { buildSync } = await import("esbuild");
  buildSync({
    entryPoints: [ts],
    outfile: out,
    bundle: true,
    platform: "node",
    format: "esm",
    external: ["koffi", "binaryen", "prom-client"],
    nodePaths: [join(ROOT, "node_modules")],
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    logLevel: "error",
  });
  return out;
}

/** argv for running a bundled script inside the lab's namespace. */
export function bundledArgv(lab: Lab, script: string): string[] {
  return [
    `--net=/run/netns/${lab.ns}`,
    "env",
    `NODE_PATH=${join(ROOT, "node_modules")}`,
    "node",
    script,
  ];
}

/** Newest modification time of the sources the CLI bundle is built from. */
function newestSource(): number {
  let newest = 0;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts")) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of ["compiler", "runtime", "native", "stdlib"])
    if (existsSync(join(ROOT, d))) walk(join(ROOT, d));
  return newest;
}

/**
 * `npm run build` when dist/xdpc.js is older than a source, under an flock so that
 * test files running side by side never run the CLI while another rewrites it.
 */
export function npmBuild(): void {
  const fd = openSync(join(tmpdir(), "xdpc-test-build.lock"), "a");
  try {
    flockExclusive(fd, true);
    const dist = join(ROOT, "dist/xdpc.js");
    if (existsSync(dist) && statSync(dist).mtimeMs > newestSource()) return;
    execFileSync("npm", ["run", "build"], { cwd: ROOT, stdio: "ignore" });
  } finally {
    funlock(fd);
    closeSync(fd);
  }
}

export interface LiveTrafficOptions {
  count?: number;
  durationMs?: number;
  chunk?: number;
  /** Sending stops between chunks once this file exists. */
  stopFile?: string;
}

const trafficScripts = new WeakMap<Lab, Promise<string>>();

/**
 * Sends UDP frames (198.18.10.2:4000 → 198.18.10.5:9) out of the lab's peer into its
 * iface with the live-frames generator, in a process of its own: a live-frames test
 * run returns EINTR when a signal arrives, and a test process gets SIGCHLD from every
 * CLI it runs. Resolves with the generator's report.
 */
export async function liveTraffic(lab: Lab, opts: LiveTrafficOptions): Promise<{ sent: number }> {
  let script = trafficScripts.get(lab);
  if (!script) {
    script = bundleScript(
      lab,
      "gen",
      `import { TrafficGenerator } from "${ROOT}/runtime/lab/generator.ts";
import { buildFrame } from "${ROOT}/runtime/packets/build.ts";
import { existsSync } from "node:fs";
const [ns, dev, srcMac, dstMac, opts] = process.argv.slice(2);
const { stopFile, ...genOpts } = JSON.parse(opts);
const ac = new AbortController();
const poll = setInterval(() => stopFile && existsSync(stopFile) && ac.abort(), 20);
const frame = buildFrame({ srcMac, dstMac, src: "198.18.10.2", dst: "198.18.10.5", l4: { proto: "udp", sport: 4000, dport: 9 } });
const gen = new TrafficGenerator(ns, dev);
const report = await gen.generate({ mix: [{ name: "udp", frame, weight: 1 }], ...genOpts, signal: ac.signal });
clearInterval(poll);
gen.close();
process.stdout.write(JSON.stringify(report));
`,
    );
    trafficScripts.set(lab, script);
  }
  // The generator enters the namespace itself (setns), so it runs from the host side.
  const argv = bundledArgv(lab, await script).slice(1);
  const p = spawn(
    argv[0]!,
    [
      ...argv.slice(1),
      lab.ns,
      lab.peer,
      macOf(lab, lab.peer),
      macOf(lab, lab.iface),
      JSON.stringify(opts),
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  p.stdout!.on("data", (d) => (out += d));
  const code = await new Promise((r) => p.on("exit", r));
  if (code !== 0) throw new Error(`the traffic generator exited with ${code}`);
  return JSON.parse(out) as { sent: number };
}
