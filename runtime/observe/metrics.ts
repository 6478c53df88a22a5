// A Prometheus endpoint for running filters (prom-client). Every scrape samples the
// kernel (runtime/observe/stats.ts): verdict counters, integer counters of array maps and
// integer globals, and the program's run count and run time from kernel BPF stats
// (turned on for as long as the endpoint runs). Bound to 127.0.0.1 unless told otherwise.
import { createServer, type Server } from "node:http";
import { Counter, Gauge, Registry } from "prom-client";
import { closeFd } from "../../native/bpf.ts";
import { enableRunTimeStats } from "../../native/info.ts";
import { sample, type Snapshot } from "./stats.ts";
import type { ProgramMaps } from "./maps.ts";

export interface MetricsTarget {
  /** Label `iface`. */
  iface: string;
  /** Re-resolved at every scrape, so that a replaced filter's new program and maps are read. */
  open(): ProgramMaps;
}

const num = (b: bigint) => Number(b);

/** A registry whose metrics read the targets at scrape time. */
export function filterRegistry(targets: MetricsTarget[]): Registry {
  const registry = new Registry();
  // One scrape samples every target once; all metrics of that scrape read this cache.
  let cache: Promise<{ t: MetricsTarget; s: Snapshot }[]> | undefined;
  const snapshots = () => {
    cache ??= Promise.resolve().then(() =>
      targets.flatMap((t) => {
        let pm: ProgramMaps | undefined;
        try {
          pm = t.open();
          return [{ t, s: sample(pm) }];
        } catch {
          return []; // nothing attached (any more): no series for this interface
        } finally {
          pm?.close();
        }
      }),
    );
    // Cleared after the scrape's collectors have all awaited it.
    setImmediate(() => (cache = undefined));
    return cache;
  };

  new Counter({
    name: "xdpc_verdicts_total",
    help: "Packets per XDP verdict (needs a verdict-stats build, the xdpc load default)",
    labelNames: ["iface", "program", "verdict"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const { t, s } of await snapshots())
        for (const x of s.samples)
          if (x.kind === "verdict")
            this.inc({ iface: t.iface, program: s.progName, verdict: x.name }, num(x.value));
    },
  });
  new Gauge({
    name: "xdpc_map_value",
    help: "Integer entries of array and per-CPU array maps (per-CPU values summed); field is the struct field, if any",
    labelNames: ["iface", "program", "map", "key", "field"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const { t, s } of await snapshots())
        for (const x of s.samples)
          if (x.kind === "counter")
            this.set(
              { iface: t.iface, program: s.progName, map: x.map, key: x.key, field: x.field },
              num(x.value),
            );
    },
  });
  new Gauge({
    name: "xdpc_global_value",
    help: "Integer global variables (.bss/.data) of the filter",
    labelNames: ["iface", "program", "name"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const { t, s } of await snapshots())
        for (const x of s.samples)
          if (x.kind === "global")
            this.set({ iface: t.iface, program: s.progName, name: x.name }, num(x.value));
    },
  });
  new Counter({
    name: "xdpc_program_runs_total",
    help: "Times the XDP program ran (kernel BPF stats)",
    labelNames: ["iface", "program", "id"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const { t, s } of await snapshots())
        this.inc({ iface: t.iface, program: s.progName, id: String(s.progId) }, num(s.runCount));
    },
  });
  new Counter({
    name: "xdpc_program_run_seconds_total",
    help: "Time spent in the XDP program (kernel BPF stats)",
    labelNames: ["iface", "program", "id"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const { t, s } of await snapshots())
        this.inc(
          { iface: t.iface, program: s.progName, id: String(s.progId) },
          num(s.runTimeNs) / 1e9,
        );
    },
  });
  return registry;
}

export interface MetricsServer {
  /** e.g. http://127.0.0.1:9435/metrics */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** "9435", ":9435", "0.0.0.0:9435", "[::1]:9435" → host and port; the host defaults to 127.0.0.1. */
export function parseListenAddress(addr: string): { host: string; port: number } {
  const m = /^(?:(?:\[([^\]]+)\]|([^:[\]]*)):)?(\d+)$/.exec(addr.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535))
    throw new Error(`bad listen address '${addr}' (expected [HOST:]PORT, e.g. 127.0.0.1:9435)`);
  return { host: m[1] ?? (m[2] || "127.0.0.1"), port };
}

/**
 * Serves GET /metrics. Kernel run-time stats are on while it runs (an
 * enableRunTimeStats fd held until close()); when that is refused the run metrics stay 0.
 */
export async function serveMetrics(
  registry: Registry,
  addr = "127.0.0.1:9435",
): Promise<MetricsServer> {
  const { host, port } = parseListenAddress(addr);
  let statsFd = -1;
  try {
    statsFd = enableRunTimeStats();
  } catch {
    // Older kernels or missing CAP_SYS_ADMIN: counters still work.
  }
  const server: Server = createServer((req, res) => {
    if (req.method !== "GET" || !req.url?.startsWith("/metrics")) {
      res.writeHead(404, { "content-type": "text/plain" }).end("xdpc: metrics are at /metrics\n");
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      (e: unknown) =>
        res.writeHead(500, { "content-type": "text/plain" }).end(`${(e as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  const realPort = typeof bound === "object" && bound ? bound.port : port;
  const shown = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shown}:${realPort}/metrics`,
    port: realPort,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        if (statsFd >= 0) closeFd(statsFd);
        statsFd = -1;
      }),
  };
}
