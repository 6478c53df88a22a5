// `xdpc run --iface IF FILE.ts`: loads the filter as `xdpc load` does, then runs its
// AF_XDP handler in worker threads until SIGINT or SIGTERM (foreground, for a terminal
// or a systemd service), then unloads it. A `kill -9` leaves the XDP program attached:
// its XskMap entries vanish with the sockets, so its fallback action applies, and the
// next `xdpc run` or `xdpc unload` replaces or removes it.
import { readFileSync } from "node:fs";
import { Option, type Command } from "commander";
import { compile, compileWasm, hasErrors } from "../../compiler/driver/index.ts";
import { readObject } from "../../compiler/elf/object.ts";
import { closeFd } from "../../native/bpf.ts";
import { mapFdById } from "../../native/info.ts";
import { mapLookup } from "../../native/object.ts";
import { loadFilter, unloadFilter, type ModeOption } from "../load/loader.ts";
import { splitAssignment } from "../load/params.ts";
import { objectMapTypes } from "../observe/maps.ts";
import { claimControlPath, queueTotals, serveControl, type ControlServer } from "../xsk/control.ts";
import { XskRunner, type QueueCounters } from "../xsk/run.ts";
import type { XskMode } from "../xsk/sockets.ts";
import type { CommandImpl } from "./types.ts";
import { CliError, EXIT } from "./errors.ts";
import { loaderFailure, xskFailure } from "./failure.ts";
import { filterInput } from "./filter.ts";
import { note } from "./shared.ts";
import { printDiagnostics, summary } from "./report.ts";

const collect = (v: string, prev: string[]) => [...prev, v];
const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new CliError(`${name} expects a number, got '${v}'`, EXIT.usage);
  return n;
};
const list = (name: string) => (v: string) => v.split(",").map(int(name));

function totals(c: QueueCounters[]) {
  return c.map(queueTotals).map((q) => ({
    queue: q.queue,
    worker: q.worker,
    rx: Number(q.rx),
    tx: Number(q.tx),
    drop: Number(q.drop),
    txFull: Number(q.txFull),
    kernelDrops: Number(q.kernelDrops),
  }));
}

export const runCommand: CommandImpl = {
  configure(cmd: Command) {
    cmd
      .argument("<file>", "filter source (.ts) with an XskMap bound to an AF_XDP handler")
      .requiredOption("-i, --iface <name>", "network interface")
      .addOption(
        new Option("-m, --mode <mode>", "XDP mode of the program (as for xdpc load)")
          .choices(["native", "generic", "auto"])
          .default("auto"),
      )
      .addOption(
        new Option(
          "--xsk-mode <mode>",
          "AF_XDP mode: zero-copy when the driver has it (auto), or insist",
        )
          .choices(["auto", "copy", "zerocopy"])
          .default("auto"),
      )
      .option(
        "-s, --set <name=value>",
        "set a load-time parameter (repeatable)",
        collect,
        [] as string[],
      )
      .option(
        "-w, --workers <n>",
        "worker threads (default: one per queue, capped at the CPUs)",
        int("--workers"),
      )
      .option(
        "-q, --queues <list>",
        "queues to open sockets on, e.g. 0,1 (default: all)",
        list("--queues"),
      )
      .option("--cpus <list>", "pin worker i to the i-th CPU of this list", list("--cpus"))
      .option(
        "--ring-size <n>",
        "entries of each AF_XDP ring (a power of two)",
        int("--ring-size"),
        2048,
      )
      .option("--frames <n>", "UMEM frames per queue (default 2 × ring size)", int("--frames"))
      .option("--batch <n>", "frames per batch", int("--batch"), 64)
      .option("--pin-root <dir>", "bpffs directory for pins (default /sys/fs/bpf/xdpc)")
      .option("--force", "replace an XDP program that xdpc did not load")
      .option("--json", "JSON lines: the start, worker failures, the final counters");
  },
  async run(cmd, args) {
    const file = args[0] as string;
    const o = cmd.opts() as {
      iface: string;
      mode: ModeOption;
      xskMode: XskMode;
      set: string[];
      workers?: number;
      queues?: number[];
      cpus?: number[];
      ringSize: number;
      frames?: number;
      batch: number;
      pinRoot?: string;
      force?: boolean;
      json?: boolean;
    };
    const say = (obj: Record<string, unknown>, text: string) =>
      process.stdout.write(o.json ? JSON.stringify(obj) + "\n" : text + "\n");
    const params: Record<string, string> = {};
    for (const s of o.set) {
      const kv = splitAssignment(s);
      if (!kv) throw new CliError(`--set expects name=value, got '${s}'`, EXIT.usage);
      params[kv[0]] = kv[1];
    }
    if (!file.endsWith(".ts"))
      throw new CliError(
        `xdpc run needs the filter's source (.ts): its handlers compile to Wasm`,
        EXIT.usage,
      );
    let source: string;
    try {
      source = readFileSync(file, "utf8");
    } catch (e) {
      throw new CliError(
        `cannot read '${file}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    const out = compile(source, { file, emit: "object" });
    printDiagnostics(out.diagnostics, source, "text");
    if (hasErrors(out.diagnostics) || !out.checked) {
      process.stderr.write(
        summary(1, out.diagnostics.filter((d) => d.severity === "error").length) + "\n",
      );
      return EXIT.failed;
    }
    const bound = out.checked.module.maps.filter((m) => m.kind === "XskMap" && m.handler);
    if (bound.length === 0)
      throw new CliError(
        `'${file}' has no XskMap bound to a handler; use xdpc load for a kernel-only filter`,
      );
    if (bound.length > 1)
      throw new CliError(
        `'${file}' binds handlers to ${bound.length} XskMaps (${bound.map((m) => m.name).join(", ")}); xdpc run supports one for now`,
      );
    const xsk = bound[0]!;
    const handler = xsk.handler!.name;
    const wasm = await compileWasm(out, { only: "handler", rxBatch: true });
    if (wasm) printDiagnostics(wasm.diagnostics, source, "text");
    if (!wasm?.binary) return EXIT.failed;

    // One run per interface: a live one is refused, a killed one's socket removed.
    let ctlPath: string;
    try {
      ctlPath = await claimControlPath(o.iface);
    } catch (e) {
      xskFailure(e);
    }
    let r;
    try {
      r = loadFilter({
        iface: o.iface,
        input: filterInput(file),
        mode: o.mode,
        params,
        pinRoot: o.pinRoot,
        force: o.force,
      });
    } catch (e) {
      loaderFailure(e);
    }
    for (const n of r.notices) note(n);
    const unload = () => {
      try {
        unloadFilter(o.iface, { pinRoot: o.pinRoot });
      } catch (e) {
        note(`could not unload '${o.iface}': ${(e as Error).message}`);
      }
    };
    const mapFd = (name: string) => {
      const m = r.maps.find((x) => x.name === name);
      return m ? mapFdById(m.id) : -1;
    };
    const xskFd = mapFd(xsk.name);
    // The handler's load-time parameters: the image the kernel program got (same layout).
    const roName = r.maps.find((m) => m.name.endsWith(".rodata"));
    let rodata: Uint8Array | undefined;
    if (roName) {
      const fd = mapFd(roName.name);
      rodata = mapLookup(fd, new Uint8Array(4), roName.valueSize) ?? undefined;
      closeFd(fd);
    }
    let runner: XskRunner;
    try {
      runner = await XskRunner.start({
        ifname: o.iface,
        ifindex: r.ifindex,
        xskMapFd: xskFd,
        wasm: wasm.binary,
        handler,
        queues: o.queues,
        workers: o.workers,
        cpus: o.cpus,
        mode: o.xskMode,
        ringSize: o.ringSize,
        frames: o.frames,
        batch: o.batch,
        rodata,
        onTrace: (line) => process.stderr.write(`${line}\n`),
        onWorkerError: (w, m) => {
          if (o.json)
            process.stdout.write(
              JSON.stringify({ event: "worker-error", worker: w, message: m }) + "\n",
            );
          process.stderr.write(`xdpc: warning: AF_XDP worker ${w} failed: ${m}; restarting it\n`);
        },
      });
    } catch (e) {
      closeFd(xskFd);
      unload();
      xskFailure(e);
    }
    let control: ControlServer;
    try {
      const info = readObject(out.object!);
      control = await serveControl(ctlPath, {
        hello: { iface: o.iface, handler, progId: r.progId, workers: runner.workers },
        counters: () => runner.counters(),
        restarts: () => runner.restartCounts(),
        maps: () => runner.maps(),
        types: (name) => objectMapTypes(info, name),
      });
    } catch (e) {
      await runner.stop();
      closeFd(xskFd);
      unload();
      throw new CliError(`cannot listen on ${ctlPath}: ${(e as Error).message}`);
    }
    const c = runner.counters();
    say(
      {
        event: "running",
        iface: o.iface,
        progId: r.progId,
        handler,
        queues: c.map((q) => q.queue),
        workers: runner.workers,
        zeroCopy: runner.zeroCopy,
        pid: process.pid,
        control: ctlPath,
      },
      `${o.iface}: ${r.progName} (id ${r.progId}) attached in ${r.mode} mode; handler ${handler} on ` +
        `queue${c.length === 1 ? "" : "s"} ${c.map((q) => q.queue).join(",")} in ${runner.workers} worker${runner.workers === 1 ? "" : "s"} ` +
        `(${runner.zeroCopy ? "zero-copy" : "copy"} mode); Ctrl-C or SIGTERM stops`,
    );
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once("SIGINT", () => resolve("SIGINT"));
      process.once("SIGTERM", () => resolve("SIGTERM"));
    });
    await control.close();
    await runner.stop();
    const final = totals(runner.counters());
    closeFd(xskFd);
    unload();
    say(
      { event: "stopped", signal, queues: final },
      final
        .map(
          (q) =>
            `queue ${q.queue}: ${q.rx} frames, ${q.tx} XSK_TX, ${q.drop} XSK_DROP` +
            (q.txFull ? `, ${q.txFull} dropped (TX ring full)` : "") +
            (q.kernelDrops ? `, ${q.kernelDrops} dropped by the kernel` : ""),
        )
        .join("\n") + `\n${o.iface}: stopped (${signal}); filter unloaded`,
    );
    return EXIT.ok;
  },
};
