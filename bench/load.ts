// `xdpc load` wall time and replace latency, against
// iproute2 (`ip link set dev X xdp obj F.o sec xdp`) and xdp-loader on the same
// object, on the sending end of a lab veth (inside the lab namespace, so the host's
// interfaces are never touched). Every command runs as a user would run it, through
// `nsenter --net=/run/netns/LAB`, as a fresh process, interleaved round by round so
// drift hits all alike. Figures:
// - attach: spawn → exit of a load onto an interface with no program;
// - replace: a load onto an interface that runs the same tool's program, timed from
//   spawn until the kernel reports the new program id attached (polled every 0.1 ms)
//   and until the process exits;
// - in-process: loadFilter() replacing (the library API, warm), and the swap syscall
//   alone — bpf_xdp_attach with XDP_FLAGS_REPLACE and the old program's fd, the call
//   loadFilter makes — between two loaded programs.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeFd, loadRawProgram } from "../native/bpf.ts";
import { ifNameToIndex } from "../native/ifname.ts";
import { median, notMeasured, type Maybe } from "./stats.ts";
import { REPO } from "./twins.ts";

const CLI = join(REPO, "bin/xdpc.js");
// mov r0, 1 (XDP_DROP); exit
const BARE_DROP = Uint8Array.from([0xb7, 0, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);

export interface LoadRow {
  /** The command, as a user types it (F = the filter, X = the interface). */
  tool: string;
  /** Onto an interface with no XDP program: spawn → exit (median ms). */
  attachMs: Maybe<number>;
  /** Onto an interface running this tool's program: spawn → new program id attached (median ms). */
  replaceAttachedMs: Maybe<number>;
  /** The same replacing load: spawn → exit (median ms). */
  replaceExitMs: Maybe<number>;
}

export interface LoadResult {
  filter: string;
  runs: number;
  /** xdpc's rows (.ts, .o), iproute2's, xdp-loader's, and the floor (nsenter + `node -e 0`). */
  rows: LoadRow[];
  /** `loadFilter()` replacing a program in-process (warm; median ms). */
  apiReplaceMs: Maybe<number>;
  /** bpf_xdp_attach with XDP_FLAGS_REPLACE alone on the veth (median µs). */
  swapUs: Maybe<number>;
  /** CPU time (user + system) the process spent per swap, mean µs: the rest of swapUs is waiting in the kernel. */
  swapCpuUs: Maybe<number>;
  swaps: number;
}

export interface LoadOptions {
  /** Example filter without pinned maps (iproute2 and xdp-loader would pin those on the host's bpffs). */
  filter: string;
  runs: number;
  apiRuns: number;
  swaps: number;
  lab?: string;
  labIndex?: number;
}

type LabApi = {
  netns: typeof import("../runtime/lab/netns.ts");
  loader: typeof import("../runtime/load/loader.ts");
  filter: typeof import("../runtime/cli/filter.ts");
  xdp: typeof import("../native/xdp.ts");
};

const sleepMs = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** A zombie (exited, not yet reaped: the event loop is busy polling) or a reaped process. */
function exited(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.startsWith("Z");
  } catch {
    return true;
  }
}

export function loadUnavailableReason(): string | null {
  if (typeof process.getuid === "function" && process.getuid() !== 0)
    return "needs root (network namespaces, veth, XDP attach)";
  if (!existsSync(join(REPO, "dist/xdpc.js"))) return "dist/xdpc.js is missing (run npm run build)";
  return null;
}

const hasTool = (t: string) => spawnSync("sh", ["-c", `command -v ${t}`]).status === 0;

export async function measureLoad(opts: LoadOptions): Promise<Maybe<LoadResult>> {
  const why = loadUnavailableReason();
  if (why) return notMeasured(why);
  let api: LabApi;
  try {
    api = {
      netns: await import("../runtime/lab/netns.ts"),
      loader: await import("../runtime/load/loader.ts"),
      filter: await import("../runtime/cli/filter.ts"),
      xdp: await import("../native/xdp.ts"),
    };
  } catch (e) {
    return notMeasured(`the runtime does not load: ${(e as Error).message.split("\n")[0]}`);
  }
  const { netns, loader, xdp } = api;
  const work = mkdtempSync(join(tmpdir(), "xdpc-bench-load-"));
  const pinRoot = `/sys/fs/bpf/xdpcbench-${process.pid}`;
  // iproute2's object loader makes its directories (ip, tc/globals, xdp) on the host's
  // bpffs; whatever this run adds there is removed at the end.
  const bpffsBefore = new Set(existsSync("/sys/fs/bpf") ? readdirSync("/sys/fs/bpf") : []);
  const runDir = join(work, "run");
  const env = { ...process.env, XDPC_PIN_ROOT: pinRoot, XDPC_RUN_DIR: runDir };
  try {
    const ts = join(REPO, "filters", `${opts.filter}.ts`);
    const obj = join(work, `${opts.filter}.o`);
    const b = spawnSync(process.execPath, [CLI, "build", ts, "-o", obj], { encoding: "utf8" });
    if (b.status !== 0) return notMeasured(`xdpc build failed: ${b.stderr.split("\n")[0]}`);
    return await netns.withLab(
      opts.lab ?? "xdpcbload",
      async (spec) => {
        const ns = netns.netnsPath(spec.name);
        const X = spec.peerIf;
        const inLab = <T>(fn: () => T) => netns.runInNetns(spec.name, fn);
        const ifindex = inLab(() => ifNameToIndex(X));
        const attachedId = () => inLab(() => xdp.xdpQuery(ifindex).progId);
        const sh = (cmd: string, args: string[]) =>
          spawnSync("nsenter", [`--net=${ns}`, "--", cmd, ...args], {
            cwd: REPO,
            env,
            encoding: "utf8",
          });
        const must = (cmd: string, args: string[]) => {
          const r = sh(cmd, args);
          if (r.status !== 0)
            throw new Error(`${cmd} ${args.join(" ")}: ${(r.stderr || r.stdout).split("\n")[0]}`);
        };
        const clear = () => {
          if (attachedId()) must("ip", ["link", "set", "dev", X, "xdp", "off"]);
        };

        /** A cold command onto a bare interface: spawn → exit, ms. */
        const attach = (cmd: string, args: string[]): number => {
          clear();
          const t = process.hrtime.bigint();
          const r = sh(cmd, args);
          const ms = Number(process.hrtime.bigint() - t) / 1e6;
          if (r.status !== 0)
            throw new Error(`${cmd} ${args.join(" ")}: ${(r.stderr || r.stdout).split("\n")[0]}`);
          if (!attachedId()) throw new Error(`${cmd} exited 0 but nothing is attached to ${X}`);
          return ms;
        };
        /** A cold replacing command: spawn → new id attached, and spawn → exit, ms. */
        const replace = async (cmd: string, args: string[]) => {
          const old = attachedId();
          if (!old) throw new Error(`nothing attached to ${X} to replace`);
          const t = process.hrtime.bigint();
          const child = spawn("nsenter", [`--net=${ns}`, "--", cmd, ...args], {
            cwd: REPO,
            env,
            stdio: ["ignore", "ignore", "pipe"],
          });
          let stderr = "";
          child.stderr!.on("data", (d) => (stderr += String(d)));
          const done = new Promise<number>((res) => child.on("close", (code) => res(code ?? -1)));
          let attachedMs = NaN;
          const deadline = Date.now() + 30_000;
          inLab(() => {
            for (;;) {
              const id = xdp.xdpQuery(ifindex).progId;
              if (id && id !== old) {
                attachedMs = Number(process.hrtime.bigint() - t) / 1e6;
                return;
              }
              if (exited(child.pid!) || Date.now() > deadline) return;
              sleepMs(0.1);
            }
          });
          const code = await done;
          const exitMs = Number(process.hrtime.bigint() - t) / 1e6;
          if (code !== 0)
            throw new Error(`${cmd} ${args.join(" ")} exited ${code}: ${stderr.split("\n")[0]}`);
          if (!Number.isFinite(attachedMs))
            throw new Error(`${cmd} exited 0 but program ${old} is still attached to ${X}`);
          return { attachedMs, exitMs };
        };

        type Tool = {
          tool: string;
          attach: [string, string[]];
          replace?: [string, string[]];
          noReplace?: string;
          cleanup?: [string, string[]];
        };
        const xdpcLoad = (f: string): [string, string[]] => [
          process.execPath,
          [CLI, "load", "--iface", X, f],
        ];
        const tools: Tool[] = [
          { tool: "xdpc load --iface X F.ts", attach: xdpcLoad(ts), replace: xdpcLoad(ts) },
          { tool: "xdpc load --iface X F.o", attach: xdpcLoad(obj), replace: xdpcLoad(obj) },
          {
            tool: "ip link set dev X xdp obj F.o sec xdp (replace: ip -force …)",
            attach: ["ip", ["link", "set", "dev", X, "xdp", "obj", obj, "sec", "xdp"]],
            replace: ["ip", ["-force", "link", "set", "dev", X, "xdp", "obj", obj, "sec", "xdp"]],
          },
        ];
        if (hasTool("xdp-loader"))
          tools.push({
            tool: "xdp-loader load -m native X F.o",
            attach: ["xdp-loader", ["load", "-m", "native", X, obj]],
            noReplace:
              "xdp-loader has no replace: a second load adds a program to its dispatcher or fails",
            cleanup: ["xdp-loader", ["unload", X, "--all"]],
          });
        const floor = "nsenter --net … node -e 0 (the floor)";
        const times = new Map<string, { attach: number[]; attached: number[]; exit: number[] }>();
        const failed = new Map<string, string>();
        const slot = (k: string) => {
          let s = times.get(k);
          if (!s) times.set(k, (s = { attach: [], attached: [], exit: [] }));
          return s;
        };
        for (let round = 0; round < opts.runs; round++) {
          const t = process.hrtime.bigint();
          const r = sh(process.execPath, ["-e", "0"]);
          if (r.status === 0) slot(floor).attach.push(Number(process.hrtime.bigint() - t) / 1e6);
          for (const tool of tools) {
            if (failed.has(tool.tool)) continue;
            try {
              slot(tool.tool).attach.push(attach(...tool.attach));
              if (tool.replace) {
                const m = await replace(...tool.replace);
                slot(tool.tool).attached.push(m.attachedMs);
                slot(tool.tool).exit.push(m.exitMs);
              }
            } catch (e) {
              failed.set(tool.tool, (e as Error).message.split("\n")[0]!);
            } finally {
              if (tool.cleanup) sh(...tool.cleanup);
              if (tool.tool.startsWith("xdpc")) sh(process.execPath, [CLI, "unload", "--iface", X]);
              clear();
            }
          }
        }
        const med = (tool: string, xs: number[] | undefined, none?: string): Maybe<number> => {
          const f = failed.get(tool);
          if (f) return notMeasured(f);
          if (none) return notMeasured(none);
          return xs && xs.length ? median(xs) : notMeasured("no run completed");
        };
        const rows: LoadRow[] = tools.map((tl) => ({
          tool: tl.tool,
          attachMs: med(tl.tool, times.get(tl.tool)?.attach),
          replaceAttachedMs: med(tl.tool, times.get(tl.tool)?.attached, tl.noReplace),
          replaceExitMs: med(tl.tool, times.get(tl.tool)?.exit, tl.noReplace),
        }));
        if (!hasTool("xdp-loader"))
          rows.push({
            tool: "xdp-loader load -m native X F.o",
            attachMs: notMeasured("xdp-loader is not installed"),
            replaceAttachedMs: notMeasured("xdp-loader is not installed"),
            replaceExitMs: notMeasured("xdp-loader is not installed"),
          });
        const floorRuns = times.get(floor)?.attach ?? [];
        rows.push({
          tool: floor,
          attachMs: floorRuns.length ? median(floorRuns) : notMeasured("nsenter failed"),
          replaceAttachedMs: notMeasured("not a load"),
          replaceExitMs: notMeasured("not a load"),
        });

        // In-process: the library API (XDPC_RUN_DIR is read per call), then the swap alone.
        let apiReplaceMs: Maybe<number>;
        const savedRunDir = process.env.XDPC_RUN_DIR;
        process.env.XDPC_RUN_DIR = runDir;
        try {
          const ms: number[] = [];
          inLab(() => {
            loader.loadFilter({ iface: X, input: api.filter.filterInput(obj), pinRoot });
            for (let i = 0; i < opts.apiRuns + 2; i++) {
              const t = process.hrtime.bigint();
              const r = loader.loadFilter({
                iface: X,
                input: api.filter.filterInput(obj),
                pinRoot,
              });
              if (i >= 2) ms.push(Number(process.hrtime.bigint() - t) / 1e6);
              if (r.replaced === undefined) throw new Error("loadFilter did not replace");
            }
            loader.unloadFilter(X, { pinRoot });
          });
          apiReplaceMs = median(ms);
        } catch (e) {
          apiReplaceMs = notMeasured(`loadFilter: ${(e as Error).message.split("\n")[0]}`);
        } finally {
          if (savedRunDir === undefined) delete process.env.XDPC_RUN_DIR;
          else process.env.XDPC_RUN_DIR = savedRunDir;
        }

        let swapUs: Maybe<number>;
        let swapCpuUs: Maybe<number>;
        const a = loadRawProgram(BARE_DROP, { name: "bench_swap_a" });
        const bb = loadRawProgram(BARE_DROP, { name: "bench_swap_b" });
        try {
          clear();
          const us: number[] = [];
          let cpu = 0;
          inLab(() => {
            xdp.xdpAttach(ifindex, a.fd, xdp.XDP_FLAGS_DRV_MODE | xdp.XDP_FLAGS_UPDATE_IF_NOEXIST);
            let [cur, next] = [a.fd, bb.fd];
            try {
              let c0 = process.cpuUsage();
              for (let i = 0; i < opts.swaps + 10; i++) {
                if (i === 10) c0 = process.cpuUsage();
                const t = process.hrtime.bigint();
                xdp.xdpAttach(ifindex, next, xdp.XDP_FLAGS_DRV_MODE, cur);
                if (i >= 10) us.push(Number(process.hrtime.bigint() - t) / 1e3);
                [cur, next] = [next, cur];
              }
              const c = process.cpuUsage(c0);
              cpu = (c.user + c.system) / opts.swaps;
            } finally {
              xdp.xdpDetach(ifindex, xdp.XDP_FLAGS_DRV_MODE, cur);
            }
          });
          swapUs = median(us);
          swapCpuUs = cpu;
        } catch (e) {
          swapUs = notMeasured(`swap: ${(e as Error).message.split("\n")[0]}`);
          swapCpuUs = swapUs;
        } finally {
          closeFd(a.fd);
          closeFd(bb.fd);
        }
        return {
          filter: opts.filter,
          runs: opts.runs,
          rows,
          apiReplaceMs,
          swapUs,
          swapCpuUs,
          swaps: opts.swaps,
        };
      },
      opts.labIndex ?? 43,
    );
  } catch (e) {
    return notMeasured(`lab failed: ${(e as Error).message.split("\n")[0]}`);
  } finally {
    rmSync(pinRoot, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
    removeNewDirs("/sys/fs/bpf", bpffsBefore);
  }
}

/** What iproute2's object loader makes on bpffs: directories tc/globals, and ip and xdp linking to tc. */
const IPROUTE2_BPFFS = ["tc", "ip", "xdp"];

/**
 * Removes iproute2's entries under `root` that were not there before: empty
 * directory trees and dangling links only, never a pin, and never anything of another
 * process (tests running meanwhile make their own directories there).
 */
function removeNewDirs(root: string, before: Set<string>): void {
  if (!existsSync(root)) return;
  const prune = (d: string): boolean => {
    let empty = true;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory() && prune(join(d, e.name))) continue;
      empty = false;
    }
    if (!empty) return false;
    try {
      rmdirSync(d);
      return true;
    } catch {
      return false;
    }
  };
  const ours = (e: { name: string }) => IPROUTE2_BPFFS.includes(e.name) && !before.has(e.name);
  for (const e of readdirSync(root, { withFileTypes: true }))
    if (e.isDirectory() && ours(e)) prune(join(root, e.name));
  // ip and xdp link to tc: dangling now that tc is gone.
  for (const e of readdirSync(root, { withFileTypes: true }))
    if (e.isSymbolicLink() && ours(e) && !existsSync(join(root, e.name)))
      rmSync(join(root, e.name), { force: true });
}
