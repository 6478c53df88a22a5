// `xdpc demo --afxdp`: the split filter filters/afxdp/udp_echo.ts live. Its XDP program
// drops reflection attacks (echo from a well-known port) in the kernel and redirects
// echo requests to an AF_XDP socket, where its Wasm handler answers up to `limit`
// requests per client and window with XSK_TX and drops the rest. The demo brings up a
// lab, loads the filter on the receiving end, runs the handler as `xdpc run` does (a
// worker over a socket whose rings and UMEM live in the handler's Wasm memory), drives
// clients + attack from inside the lab, counts the replies that come back to the sender
// (an XDP program on the sender's end checks each reply's bytes), shows it all live,
// checks that every frame is accounted for, and removes everything it made — also on
// Ctrl-C, SIGTERM or an error.
import { join } from "node:path";
import { closeFd } from "../../native/bpf.ts";
import { mapFdById } from "../../native/info.ts";
import { mapLookup, openObject } from "../../native/object.ts";
import { buildFrame } from "../packets/build.ts";
import { packageRoot } from "../sys/root.ts";
import { queueTotals, type QueueTotals } from "../xsk/control.ts";
import { XskRunner } from "../xsk/run.ts";
import { attachNative } from "./control.ts";
import {
  claimDemoLab,
  DemoError,
  loadDemoFilter,
  perCpuSum,
  readDemoFilter,
  requireDemoCaps,
  undoList,
} from "./demo.ts";
import { BackgroundGenerator, type TrafficTemplate } from "./generator.ts";
import { runInNetns, type LabSpec } from "./netns.ts";

/** Index 61: 198.18.0.245/30, beside the XDP demo's lab. */
const AFXDP_LAB_INDEX = 61;
const FILTER = "udp_echo";
/** The clients: one /24, 256 addresses, 256 of the handler's buckets. */
const CLIENTS = "198.19.40.0/24";
const CLIENT_COUNT = 256;
const ATTACKERS = "198.19.128.0/17";

export interface AfxdpDemoBuild {
  /** The eBPF object (compiled with verdict counting). */
  object?: Uint8Array;
  /** The handler module with its batch loop (absent for the reply checker). */
  wasm?: Uint8Array;
  errors: string[];
}

export interface AfxdpDemoOptions {
  durationMs?: number;
  pps?: number;
  labName?: string;
  /** Address index of the lab (tests use their own). */
  labIndex?: number;
  out?: NodeJS.WritableStream & { isTTY?: boolean };
  live?: boolean;
  refreshMs?: number;
  /** Requests answered per client and second (the filter's `limit`, default 10). */
  limit?: number;
  /** Compiles a filter; `handler: true` adds the handler's Wasm module. */
  compile: (source: string, file: string, handler: boolean) => Promise<AfxdpDemoBuild>;
}

export interface AfxdpDemoSummary {
  sent: number;
  perTemplate: Record<string, number>;
  /** Attack datagrams the XDP program dropped (its `attacks` counter). */
  attacksDropped: number;
  /** Frames the XDP program redirected to the socket. */
  redirected: number;
  /** The handler's totals over all queues. */
  handled: QueueTotals;
  /** Replies the sender's end received, bytes checked. */
  replies: number;
  /** Frames back at the sender that are not a well-formed reply. */
  badReplies: number;
  progId: number;
  accounted: boolean;
}

/** The sender's check: counts replies from port 7 rewritten as udp_echo does (key 0), others (key 1); drops both. */
function replyChecker(lab: LabSpec): string {
  const ip = (s: string) => s.split(".").reduce((a, b) => a * 256 + Number(b), 0);
  return `import { XdpContext, XdpAction, XDP_DROP, XDP_PASS, ArrayMap, u64 } from "xdpc";
const replies = new ArrayMap<u64>({ maxEntries: 2 });
export function replyCheck(ctx: XdpContext): XdpAction {
  const eth = ctx.eth();
  const ip = ctx.ipv4();
  const udp = ctx.udp();
  if (eth === null || ip === null || udp === null || udp.srcPort !== 7) return XDP_PASS;
  if (eth.dst === 0x${lab.peerMac.replace(/:/g, "")} && ip.src === ${ip(lab.hostAddr)} &&
      (ip.dst & 0xffffff00) === ${ip(CLIENTS.split("/")[0]!)} && ip.ttl === 64 && udp.dstPort === 40000)
    replies.increment(0);
  else replies.increment(1);
  return XDP_DROP;
}
`;
}

/** Clients asking for echoes (random addresses of one /24) and a reflection attack from port 19. */
export function afxdpMix(lab: LabSpec): TrafficTemplate[] {
  const eth = { srcMac: lab.peerMac, dstMac: lab.hostMac, dst: lab.hostAddr };
  const payload = new TextEncoder().encode("xdpc echo demo");
  return [
    {
      name: "echo clients",
      weight: 1,
      randomSource: CLIENTS,
      frame: buildFrame({
        ...eth,
        src: "198.19.40.1",
        l4: { proto: "udp", sport: 40000, dport: 7 },
        payload,
      }),
    },
    {
      name: "reflection attack",
      weight: 3,
      randomSource: ATTACKERS,
      frame: buildFrame({
        ...eth,
        src: "198.19.200.19",
        l4: { proto: "udp", sport: 19, dport: 7 },
        payload,
      }),
    },
  ];
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const u64At = (fd: number, key: number) => {
  const v = mapLookup(fd, new Uint8Array(new Uint32Array([key]).buffer), 8);
  return v ? Number(new DataView(v.buffer, v.byteOffset).getBigUint64(0, true)) : 0;
};
const sumTotals = (qs: QueueTotals[]): QueueTotals =>
  qs.reduce(
    (a, q) => ({
      queue: -1,
      worker: -1,
      rx: a.rx + q.rx,
      tx: a.tx + q.tx,
      drop: a.drop + q.drop,
      txFull: a.txFull + q.txFull,
      kernelDrops: a.kernelDrops + q.kernelDrops,
    }),
    { queue: -1, worker: -1, rx: 0n, tx: 0n, drop: 0n, txFull: 0n, kernelDrops: 0n },
  );

/** Runs the AF_XDP demo and returns its summary; throws DemoError for user-facing failures. */
export async function runAfxdpDemo(opts: AfxdpDemoOptions): Promise<AfxdpDemoSummary> {
  const out = opts.out ?? process.stdout;
  const live = opts.live ?? !!out.isTTY;
  const durationMs = opts.durationMs ?? 5000;
  const pps = opts.pps ?? 200_000;
  const refreshMs = opts.refreshMs ?? 500;
  const limit = opts.limit ?? 10;
  const say = (s: string) => void out.write(s + "\n");
  requireDemoCaps("an AF_XDP socket");

  const path = join(packageRoot(), "filters", "afxdp", `${FILTER}.ts`);
  const source = readDemoFilter(path);
  const t0 = performance.now();
  const built = await opts.compile(source, path, true);
  if (!built.object || !built.wasm)
    throw new DemoError(`the demo filter does not compile:\n${built.errors.join("\n")}`);
  const { object, wasm } = built;
  say(
    `built ${FILTER}.ts → eBPF (${object.length} bytes) + Wasm handler (${wasm.length} bytes) in ${(performance.now() - t0).toFixed(0)} ms, no LLVM`,
  );

  // Everything below is undone by `cleanup`, in reverse order, whatever happens; on a
  // signal the sockets close with the process.
  const { undo, cleanup } = undoList();
  let madeSomething = false;
  let runner: XskRunner | undefined;
  try {
    const lab = claimDemoLab(opts.labName ?? "xdpcdemo", opts.labIndex ?? AFXDP_LAB_INDEX, undo);
    madeSomething = true;
    say(
      `lab ${lab.name}: ${lab.peerIf} (clients and attackers, in netns ${lab.name}) ⇄ ${lab.hostIf} ${lab.hostAddr} (echo server)`,
    );

    // The filter, through the loader (the `xdpc run` path), pins in a private root.
    const loaded = loadDemoFilter(lab, object, FILTER, "xdpc-xsk-demo-", undo, {
      limit: String(limit),
    });
    const mapFd = (name: string) => {
      const m = loaded.maps.find((r) => r.name === name || r.name.endsWith(name));
      if (!m) throw new DemoError(`the demo filter has no map '${name}'`);
      const fd = mapFdById(m.id);
      undo.push(() => closeFd(fd));
      return { fd, valueSize: m.valueSize };
    };
    const ro = mapFd(".rodata");
    const rodata = mapLookup(ro.fd, new Uint8Array(4), ro.valueSize) ?? undefined;
    say(
      `attached ${loaded.progName} (program id ${loaded.progId}) to ${lab.hostIf} in ${loaded.mode} mode`,
    );

    // The sender's reply checker.
    const check = await opts.compile(replyChecker(lab), "reply_check.ts", false);
    if (!check.object)
      throw new DemoError(`the reply checker does not compile:\n${check.errors.join("\n")}`);
    const checker = openObject(check.object, { name: "reply_check" });
    undo.push(() => checker.close());
    checker.load();
    const detach = runInNetns(lab.name, () =>
      attachNative(lab.peerIf, checker.programFd("replyCheck")),
    );
    undo.push(() => runInNetns(lab.name, () => detach()));
    const repliesFd = checker.mapFd("replies");

    // The handler: one worker on the lab's one queue, pinned away from the generator.
    const xsk = await XskRunner.start({
      ifname: lab.hostIf,
      ifindex: loaded.ifindex,
      xskMapFd: mapFd("sockets").fd,
      wasm,
      handler: "echo",
      ringSize: 4096,
      rodata,
      cpus: [1],
    });
    runner = xsk;
    undo.push(() => void xsk.stop());
    say(
      `handler echo (Wasm) on queue 0 in 1 worker, ${xsk.zeroCopy ? "zero-copy" : "copy"} mode; answers ${limit} requests per client per second`,
    );

    const attacks = mapFd("attacks");
    const verdicts = mapFd("xdpc_verdicts");
    const read = () => {
      const h = sumTotals(xsk.counters().map(queueTotals));
      return {
        attacks: perCpuSum(attacks.fd, 0, 8),
        redirected: perCpuSum(verdicts.fd, 4, 8),
        h,
        replies: u64At(repliesFd, 0),
        bad: u64At(repliesFd, 1),
      };
    };
    type Reading = ReturnType<typeof read>;

    const mix = afxdpMix(lab);
    say(
      `sending ${mix.map((t) => t.name).join(" + ")} (${CLIENT_COUNT} clients) at ${fmt(pps)} pps for ${(durationMs / 1000).toFixed(1)} s${live ? "" : " (one line per update)"}`,
    );
    let drawn = 0;
    const draw = (t: number, sent: number, c: Reading) => {
      const rows: [string, number][] = [
        ["dropped in the kernel (attack)", c.attacks],
        ["redirected to the handler", c.redirected],
        ["answered (XSK_TX)", Number(c.h.tx)],
        ["rate-limited (XSK_DROP)", Number(c.h.drop)],
        ["replies back at the clients", c.replies],
      ];
      if (!live) {
        say(
          `t=${(t / 1000).toFixed(1)}s sent=${sent} attacks=${c.attacks} redirected=${c.redirected} tx=${c.h.tx} drop=${c.h.drop} replies=${c.replies}`,
        );
        return;
      }
      const w = Math.max(...rows.map((r) => r[0].length));
      const lines = [
        `  t=${(t / 1000).toFixed(1)}s   sent ${fmt(sent)}`,
        ...rows.map(([l, n]) => `  ${l.padEnd(w)}  ${fmt(n).padStart(13)}`),
      ];
      out.write(
        (drawn ? `\x1b[${drawn}F` : "") + lines.map((l) => `\x1b[2K${l}`).join("\n") + "\n",
      );
      drawn = lines.length;
    };
    const started = performance.now();
    // Chunks below the fill ring: the worker refills it between bursts.
    const bg = BackgroundGenerator.start(lab.name, lab.peerIf, {
      mix,
      pps,
      durationMs,
      chunk: 2048,
      cpu: 0,
    });
    undo.push(() => bg.terminate());
    const timer = setInterval(
      () => draw(performance.now() - started, bg.progress().sent, read()),
      refreshMs,
    );
    let report;
    try {
      report = await bg.done;
    } finally {
      clearInterval(timer);
    }
    // Frames still in the veth or the rings are counted a little later: wait (bounded)
    // until every frame is accounted for or nothing moves.
    const echoes = report.perTemplate["echo clients"] ?? 0;
    const attackSent = report.perTemplate["reflection attack"] ?? 0;
    const done = (c: Reading) =>
      c.attacks === attackSent &&
      c.redirected === echoes &&
      Number(c.h.rx + c.h.kernelDrops) === echoes &&
      c.replies + c.bad === Number(c.h.tx);
    let c = read();
    for (
      let quiet = 0, end = performance.now() + 10_000;
      !done(c) && quiet < 10 && performance.now() < end;
    ) {
      await new Promise((r) => setTimeout(r, 50));
      const next = read();
      quiet =
        JSON.stringify(next, (_, v: unknown) => (typeof v === "bigint" ? `${v}` : v)) ===
        JSON.stringify(c, (_, v: unknown) => (typeof v === "bigint" ? `${v}` : v))
          ? quiet + 1
          : 0;
      c = next;
    }
    draw(performance.now() - started, report.sent, c);
    const gaps: string[] = [];
    const gap = (what: string, got: number, want: number) => {
      if (got !== want) gaps.push(`${what}: ${fmt(got)}, expected ${fmt(want)}`);
    };
    gap("attack datagrams dropped in the kernel", c.attacks, attackSent);
    gap("echo requests redirected", c.redirected, echoes);
    gap("handled + dropped by the kernel (rings full)", Number(c.h.rx + c.h.kernelDrops), echoes);
    gap("answered + rate-limited", Number(c.h.tx + c.h.drop), Number(c.h.rx));
    gap("replies back at the clients", c.replies, Number(c.h.tx));
    gap("malformed replies", c.bad, 0);
    const summary: AfxdpDemoSummary = {
      sent: report.sent,
      perTemplate: report.perTemplate,
      attacksDropped: c.attacks,
      redirected: c.redirected,
      handled: c.h,
      replies: c.replies,
      badReplies: c.bad,
      progId: loaded.progId,
      accounted: gaps.length === 0,
    };
    say("");
    say(`summary (${(report.elapsedMs / 1000).toFixed(1)} s)`);
    say(
      `  sent      ${fmt(report.sent).padStart(13)}   ${Object.entries(report.perTemplate)
        .map(([n, v]) => `${n} ${fmt(v)}`)
        .join(", ")}`,
    );
    say(
      `  kernel    ${fmt(c.attacks).padStart(13)}   attack datagrams dropped by ${loaded.progName}`,
    );
    say(`  handler   ${fmt(Number(c.h.rx)).padStart(13)}   requests handled in Wasm`);
    say(`    answered     ${fmt(Number(c.h.tx)).padStart(9)}   (XSK_TX, rewritten in place)`);
    say(
      `    rate-limited ${fmt(Number(c.h.drop)).padStart(9)}   (XSK_DROP: over ${limit} per client per second)`,
    );
    if (c.h.kernelDrops)
      say(
        `    kernel drops ${fmt(Number(c.h.kernelDrops)).padStart(9)}   (rings full before the worker ran)`,
      );
    say(`  replies   ${fmt(c.replies).padStart(13)}   back at the clients, bytes checked`);
    if (summary.accounted)
      say("  every frame accounted for: attacks dropped in the kernel, every answer came back");
    else {
      say("  ERROR: the counters do not add up:");
      for (const g of gaps) say(`    ${g}`);
    }
    return summary;
  } finally {
    await runner?.stop(); // the workers handle what has arrived, the sockets close
    cleanup();
    if (madeSomething) say(`cleaned up: lab, program, sockets, pins`);
  }
}
