// Shared by the AF_XDP tests: the filter they run, `xdpc run` as a process, and the lab
// an `xdpc run` test file runs it in.
import { afterAll, beforeAll } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLab, destroyLab, labSpec, type LabSpec } from "../../runtime/lab/netns.ts";
import { TrafficGenerator } from "../../runtime/lab/generator.ts";
import { findMap, interfaceMaps } from "../../runtime/observe/maps.ts";
import { npmBuild, ROOT } from "../runtime/loader-support.ts";
import { until } from "../support/wait.ts";

// UDP ports 7 and 9 go to the XskMap (the fallback, XDP_PASS, and the redirects are counted).
// The handler, port 7: reflect (MACs, addresses and ports swapped, TTL set to 7) and XSK_TX; anything else: XSK_DROP.
export const STEER = `import { XdpContext, XdpAction, XDP_PASS, ArrayMap, XskMap, XskPacket, XskVerdict, XSK_DROP, XSK_TX, u64 } from "xdpc";
const sockets = new XskMap({ maxEntries: 4, handler: echo });
const fallback = new ArrayMap<u64>({ maxEntries: 1 });
const redirected = new ArrayMap<u64>({ maxEntries: 1 });
export function steer(ctx: XdpContext): XdpAction {
  const udp = ctx.udp();
  if (udp === null) return XDP_PASS;
  if (udp.dstPort !== 7 && udp.dstPort !== 9) return XDP_PASS;
  const r = sockets.redirect(ctx.rxQueue, XDP_PASS);
  if (r === XDP_PASS) fallback.increment(0);
  else redirected.increment(0);
  return r;
}
export function echo(pkt: XskPacket): XskVerdict {
  const udp = pkt.udp();
  if (udp === null) return XSK_DROP;
  if (udp.dstPort !== 7) return XSK_DROP;
  const eth = pkt.eth();
  if (eth === null) return XSK_DROP;
  const mac = eth.src;
  eth.src = eth.dst;
  eth.dst = mac;
  const ip = pkt.ipv4();
  if (ip === null) return XSK_DROP;
  const a = ip.src;
  ip.src = ip.dst;
  ip.dst = a;
  ip.ttl = 7;
  const p = udp.srcPort;
  udp.srcPort = udp.dstPort;
  udp.dstPort = p;
  return XSK_TX;
}
`;

// UDP to port 9 goes to the handler: a source port in `blocked` is refused (counted in
// lane key 1 of `verdicts`), any other is counted per source port in `flows` (key 0).
export const COUNTING = `import { XdpContext, XdpAction, XDP_PASS, XskMap, XskPacket, XskVerdict, XSK_DROP,
  HashMap, PerCpuArray, u8, u16, u64 } from "xdpc";
const sockets = new XskMap({ maxEntries: 4, handler: count });
const flows = new HashMap<u16, u64>({ maxEntries: 64 });
const blocked = new HashMap<u16, u8>({ maxEntries: 16 });
const verdicts = new PerCpuArray<u64>({ maxEntries: 2 });
export function steer(ctx: XdpContext): XdpAction {
  const udp = ctx.udp();
  if (udp === null || udp.dstPort !== 9) return XDP_PASS;
  return sockets.redirect(ctx.rxQueue, XDP_PASS);
}
export function count(pkt: XskPacket): XskVerdict {
  const udp = pkt.udp();
  if (udp === null) return XSK_DROP;
  if (blocked.lookup(udp.srcPort) !== null) {
    verdicts.increment(1);
    return XSK_DROP;
  }
  flows.increment(udp.srcPort);
  verdicts.increment(0);
  return XSK_DROP;
}
`;

/** A running `xdpc run --json`: the process, its JSON lines so far, its exit (-1: killed by a signal). */
export interface RunProcess {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  exit: Promise<number | null>;
  stderr: () => string;
}

/** Starts `xdpc run --json ARGS…` and resolves once it says it runs (bounded wait). */
export async function startRun(args: string[], env: NodeJS.ProcessEnv): Promise<RunProcess> {
  const child = spawn("node", [join(ROOT, "bin/xdpc.js"), "run", "--json", ...args], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: Record<string, unknown>[] = [];
  let stderr = "";
  let buf = "";
  child.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      lines.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
      buf = buf.slice(i + 1);
    }
  });
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  const exit = new Promise<number | null>((resolve) =>
    child.on("exit", (code, signal) => {
      exited = true;
      resolve(signal ? -1 : code);
    }),
  );
  await until(
    () => {
      if (exited) throw new Error(`xdpc run exited: ${stderr}`);
      return lines.some((l) => l.event === "running");
    },
    60_000,
    "xdpc run to start",
  );
  return { child, lines, exit, stderr: () => stderr };
}

/** A lab of one `xdpc run` test file: its veth pair, pins, run directory and filter file. */
export interface RunLab {
  lab: LabSpec;
  tmp: string;
  pinRoot: string;
  /** XDPC_RUN_DIR: the run's records and control socket live under it. */
  runDir: string;
  /** The control socket of a run on the lab's host end. */
  sock: string;
  env: NodeJS.ProcessEnv;
  /** The filter file, holding `source`. */
  file: string;
  /** The generator in the peer namespace (set in beforeAll). */
  gen: TrafficGenerator;
  /** Key 0 of the attached program's kernel ArrayMap `name` (the filters' counters). */
  counter(name: string): number;
  /** `xdpc run --json --iface HOST ARGS… FILE`, killed after the file's tests if still running. */
  run(args?: string[]): Promise<RunProcess>;
}

/**
 * Registers beforeAll/afterAll for a lab NAME at INDEX with `queues` queues per veth end:
 * built CLI, fresh lab, the filter written, a generator; afterwards every run still
 * alive is killed and the lab, pins and files removed.
 */
export function useRunLab(o: {
  name: string;
  index: number;
  queues: number;
  source: string;
  pinRoot: string;
}): RunLab {
  const lab: LabSpec = { ...labSpec(o.name, o.index), queues: o.queues };
  const tmp = mkdtempSync(join(tmpdir(), `xdpc-${o.name}-`));
  const runDir = join(tmp, "run");
  const children: ChildProcess[] = [];
  const env = { ...process.env, XDPC_PIN_ROOT: o.pinRoot, XDPC_RUN_DIR: runDir };
  const r: RunLab = {
    lab,
    tmp,
    pinRoot: o.pinRoot,
    runDir,
    sock: join(runDir, "xsk", `${lab.hostIf}.sock`),
    env,
    file: join(tmp, "filter.ts"),
    gen: undefined as unknown as TrafficGenerator,
    counter(name) {
      const pm = interfaceMaps(lab.hostIf);
      try {
        return Number(findMap(pm.maps, name)!.get(0));
      } finally {
        pm.close();
      }
    },
    async run(args = []) {
      const p = await startRun(["--iface", lab.hostIf, ...args, r.file], env);
      children.push(p.child);
      return p;
    },
  };
  beforeAll(() => {
    npmBuild();
    destroyLab(lab);
    createLab(lab);
    writeFileSync(r.file, o.source);
    r.gen = new TrafficGenerator(lab.name, lab.peerIf);
  }, 120_000);
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    r.gen?.close();
    destroyLab(lab);
    rmSync(o.pinRoot, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });
  return r;
}
