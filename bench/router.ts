// Forwarding through the router example against the kernel stack's forwarding, in the
// client ⇄ router ⇄ server lab (runtime/lab/router.ts), same traffic, one run: the
// client floods UDP to the server with the lab's generator; the router's veth
// runs filters/router/router.ts either with `egress` empty (every frame goes to the
// stack, which forwards it: the kernel's figure, with the same XDP program in front
// so that both paths pay for it alike) or with the egress interface allowed (the
// filter forwards); the server counts the frames delivered with the right next hop
// (test/router/sink.ts). Rounds alternate the two modes. The generator runs on CPU 0 and
// the router's receive side (its veth's NAPI, threaded) on CPU 1, so the router's
// on-CPU time per forwarded frame is a per-core figure for either path.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { napiThreads, onCpuNs, pinToCpu } from "./affinity.ts";
import { TrafficGenerator } from "../runtime/lab/generator.ts";
import { ifindex, runInNetns } from "../runtime/lab/netns.ts";
import { createRouterLab, routerLabSpec } from "../runtime/lab/router.ts";
import { buildFrame } from "../runtime/packets/build.ts";
import { open, type Collection, type Link } from "../runtime/control/index.ts";
import { REPO } from "./twins.ts";

export interface RouterRun {
  /** Frames the client sent. */
  sent: number;
  /** Frames the server received from the router with the right next hop. */
  delivered: number;
  seconds: number;
  /** On-CPU time of the router's NAPI thread, where both paths forward (ns). */
  routerCpuNs: number;
}

export interface RouterBenchResult {
  durationMs: number;
  /** The kernel stack forwarding (the filter passes everything). */
  kernel: RouterRun[];
  /** The filter forwarding. */
  xdp: RouterRun[];
}

const mac = (s: string) => BigInt("0x" + s.replace(/:/g, ""));
const sum = (v: unknown) =>
  Array.isArray(v) ? v.reduce((a: bigint, x) => a + BigInt(x as bigint), 0n) : BigInt(v as bigint);

export async function measureRouter(opts: {
  rounds: number;
  durationMs: number;
  /** The lab's name and index (runtime/lab/router.ts). */
  lab?: string;
  labIndex?: number;
}): Promise<RouterBenchResult> {
  const lab = routerLabSpec(opts.lab ?? "xrb", opts.labIndex ?? 31);
  const remove = createRouterLab(lab);
  let sink: Collection | undefined;
  let router: Collection | undefined;
  const links: Link[] = [];
  const gen = new TrafficGenerator(lab.client, lab.clientIf);
  try {
    const outIndex = ifindex(lab.routerOutIf, lab.router);
    sink = open(join(REPO, "test/router/sink.ts")).load({
      params: { serverMac: mac(lab.macs.server), routerMac: mac(lab.macs.routerOut), ttl: 63 },
    });
    router = open(join(REPO, "filters/router/router.ts")).load();
    links.push(runInNetns(lab.server, () => sink!.programs.sink!.attachXdp(lab.serverIf)));
    links.push(runInNetns(lab.router, () => router!.programs.router!.attachXdp(lab.routerInIf)));
    // Threaded NAPI, so the router's work runs in a kthread of its own that can be
    // pinned and timed (a veth has NAPI while an XDP program is attached). The
    // namespace's interfaces are in sysfs only as a sysfs mounted from inside it.
    const threaded = (ns: string, dev: string) =>
      execFileSync("nsenter", [
        `--net=/run/netns/${ns}`,
        "unshare",
        "--mount",
        "sh",
        "-c",
        `mount -t sysfs sysfs /sys && echo 1 > /sys/class/net/${dev}/threaded`,
      ]);
    threaded(lab.router, lab.routerInIf);
    threaded(lab.server, lab.serverIf);
    const routerThreads = napiThreads(lab.routerInIf);
    if (routerThreads.length === 0) throw new Error(`no NAPI thread for ${lab.routerInIf}`);
    for (const pid of routerThreads) pinToCpu(pid, 1);
    for (const pid of napiThreads(lab.serverIf)) pinToCpu(pid, 1);
    const frame = buildFrame({
      srcMac: lab.macs.client,
      dstMac: lab.macs.routerIn,
      src: lab.clientAddr,
      dst: lab.serverAddr,
      l4: { proto: "udp", sport: 4000, dport: 9 },
    });
    const delivered = () => sum(sink!.maps.seen!.lookup(0));
    const result: RouterBenchResult = { durationMs: opts.durationMs, kernel: [], xdp: [] };
    for (let round = 0; round < opts.rounds; round++) {
      for (const mode of round % 2 ? (["xdp", "kernel"] as const) : (["kernel", "xdp"] as const)) {
        runInNetns(lab.router, () => {
          if (mode === "xdp") router!.maps.egress!.update(outIndex, outIndex);
          else router!.maps.egress!.delete(outIndex);
        });
        sink.maps.seen!.update(0, 0n);
        const cpu0 = onCpuNs(routerThreads);
        const r = await gen.generate({
          mix: [{ name: "udp", frame, weight: 1 }],
          durationMs: opts.durationMs,
          chunk: 1 << 16,
          cpu: 0,
        });
        // Frames still in flight land within moments of the last run.
        let last = -1n;
        for (let i = 0; i < 20 && delivered() !== last; i++) {
          last = delivered();
          await new Promise((res) => setTimeout(res, 50));
        }
        result[mode].push({
          sent: r.sent,
          delivered: Number(delivered()),
          seconds: r.elapsedMs / 1e3,
          routerCpuNs: onCpuNs(routerThreads) - cpu0,
        });
      }
    }
    return result;
  } finally {
    gen.close();
    for (const l of links) l.close();
    sink?.close();
    router?.close();
    remove();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Forwarded frames per second of each run. */
export const forwardedPps = (runs: RouterRun[]) => runs.map((r) => r.delivered / r.seconds);

/** The medians the report shows: forwarded pps per path and their ratio. */
export function routerSummary(r: RouterBenchResult) {
  const kernel = median(forwardedPps(r.kernel));
  const xdp = median(forwardedPps(r.xdp));
  const share = (runs: RouterRun[]) => median(runs.map((x) => x.delivered / Math.max(1, x.sent)));
  return {
    kernel,
    xdp,
    ratio: xdp / kernel,
    /** Forwarded frames per second of router CPU (the per-core figure). */
    kernelCore: median(r.kernel.map((x) => (x.delivered * 1e9) / Math.max(1, x.routerCpuNs))),
    xdpCore: median(r.xdp.map((x) => (x.delivered * 1e9) / Math.max(1, x.routerCpuNs))),
    kernelDelivered: share(r.kernel),
    xdpDelivered: share(r.xdp),
    sentPps: median([...r.kernel, ...r.xdp].map((x) => x.sent / x.seconds)),
  };
}
