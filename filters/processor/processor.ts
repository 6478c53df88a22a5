// processor — a control plane written with `xdpc/runtime` (docs/control.md), the
// XDPProcessor pattern: it loads guard.ts, attaches it, keeps its blocklist in step with
// a file it watches, streams every drop to stdout as a JSON line, and reports pps, Gbps
// and per-verdict counters every interval. Ctrl-C or SIGTERM detaches it; so does the
// process dying any other way (the attachment is a link this process holds).
//
//   npx tsx filters/processor/processor.ts --iface eth0 --blocklist blocked.txt [--interval 5000]
//
// The blocklist file has one IPv4 prefix per line ("198.18.7.0/24", or an address for
// a /32); "#" starts a comment. Output lines: {"type":"attached",…}, {"type":"blocklist",
// "added":…,"removed":…,"total":…}, {"type":"drop",…}, {"type":"stats",…}, {"type":"error",…}.
import { readFileSync, watch } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { ip, open, type Collection, type Link, type StatsLine } from "xdpc/runtime";
import type * as Guard from "./guard.ts";

type Coll = Collection<typeof Guard>;
type Prefix = { prefixlen: number; addr: number };

const emit = (o: object) =>
  process.stdout.write(
    JSON.stringify(o, (_, v) => (typeof v === "bigint" ? Number(v) : v)) + "\n",
  );

const dotted = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");

/** The prefixes of a blocklist file, keyed "a.b.c.d/len"; a bad line is reported and skipped. */
export function parseBlocklist(text: string): Map<string, Prefix> {
  const out = new Map<string, Prefix>();
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) return;
    const m = /^(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?$/.exec(line);
    const len = m ? Number(m[2] ?? 32) : -1;
    if (!m || len > 32) {
      emit({ type: "error", message: `blocklist line ${i + 1}: '${line}' is not an IPv4 prefix` });
      return;
    }
    // Host bits cleared, as the kernel's trie ignores them anyway.
    const addr = len === 0 ? 0 : (ip(m[1]!) & (~0 << (32 - len))) >>> 0;
    out.set(`${dotted(addr)}/${len}`, { prefixlen: len, addr });
  });
  return out;
}

/** Makes the map hold exactly the file's prefixes: new ones added, gone ones removed, hits kept. */
function sync(coll: Coll, file: string): void {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    emit({ type: "error", message: `cannot read ${file}: ${(e as Error).message}` });
    return;
  }
  const want = parseBlocklist(text);
  const have = new Map([...coll.maps.blocked.keys()].map((k) => [`${dotted(k.addr)}/${k.prefixlen}`, k]));
  const added = [...want].filter(([k]) => !have.has(k)).map(([, p]) => [p, 0n] as const);
  const removed = [...have].filter(([k]) => !want.has(k)).map(([, p]) => p);
  coll.maps.blocked.updateBatch(added);
  coll.maps.blocked.deleteBatch(removed);
  emit({ type: "blocklist", added: added.length, removed: removed.length, total: want.size });
}

/** One stats line: packets and bits per second from the traffic counter, verdict totals. */
function report(line: StatsLine): void {
  const rate = (name: string) => line.counters.find((r) => r.name === name)?.perSecond ?? 0;
  const verdicts = Object.fromEntries(line.verdicts.map((v) => [v.name, v.total]));
  emit({
    type: "stats",
    time: line.time,
    pps: Math.round(rate("traffic[0].packets")),
    gbps: (rate("traffic[0].bytes") * 8) / 1e9,
    verdicts,
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      iface: { type: "string" },
      blocklist: { type: "string" },
      interval: { type: "string", default: "5000" },
    },
  });
  if (!values.iface || !values.blocklist) {
    process.stderr.write("usage: processor --iface IF --blocklist FILE [--interval MS]\n");
    process.exit(2);
  }
  const file = values.blocklist;
  const coll = open<typeof Guard>(join(import.meta.dirname, "guard.ts"), { verdictStats: true }).load();
  const link: Link = coll.programs.guard.attachXdp(values.iface);
  const stop = new AbortController();
  const shutdown = () => stop.abort();
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
  emit({ type: "attached", iface: link.iface, program: link.programId, mode: link.mode });

  sync(coll, file);
  // Watch the directory: editors replace files by renaming, which ends a watch on the file.
  let pending: NodeJS.Timeout | undefined;
  const watcher = watch(dirname(file), () => {
    clearTimeout(pending);
    pending = setTimeout(() => sync(coll, file), 50);
  });

  const events = (async () => {
    for await (const ev of coll.ringbuf("drops", { signal: stop.signal })) {
      const r = ev.record;
      emit({ type: "drop", src: dotted(r.src), dst: dotted(r.dst), len: r.len, proto: r.proto, ttl: r.ttl, hits: r.prefixHits });
    }
  })();
  const stats = (async () => {
    for await (const line of link.stats({ intervalMs: Number(values.interval), signal: stop.signal })) report(line);
  })();

  await Promise.all([events, stats]);
  watcher.close();
  clearTimeout(pending);
  link.close();
  coll.close();
  emit({ type: "stopped" });
}

if (process.argv[1] && import.meta.filename === process.argv[1]) await main();
