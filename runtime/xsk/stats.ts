// The AF_XDP handler's verdict counters in `xdpc stats`: per queue (one socket, owned
// by one worker) and per worker, totals and rates between two samples taken over the
// control socket of the `xdpc run` on the interface.
import type { ControlStats, QueueTotals } from "./control.ts";

const FIELDS = ["rx", "tx", "drop", "txFull", "kernelDrops"] as const;
type Field = (typeof FIELDS)[number];

export interface HandlerSample {
  timeNs: bigint;
  stats: ControlStats;
}

export interface CounterRate {
  total: bigint;
  perSecond: number;
}

export type HandlerCounters = Record<Field, CounterRate>;

export interface HandlerLine {
  handler: string;
  queues: ({ queue: number; worker: number } & HandlerCounters)[];
  workers: ({ worker: number; queues: number[]; restarts: number } & HandlerCounters)[];
}

const round = (x: number) => Math.round(x * 10) / 10;

/** Rates of `cur` over `prev` (0 for the first sample; a counter that went down counts from zero). */
export function handlerRates(
  handler: string,
  prev: HandlerSample | undefined,
  cur: HandlerSample,
): HandlerLine {
  const dt = prev ? Number(cur.timeNs - prev.timeNs) / 1e9 : 0;
  const before = new Map(prev?.stats.queues.map((q) => [q.queue, q]));
  const counters = (q: QueueTotals, p: QueueTotals | undefined): HandlerCounters => {
    const out = {} as HandlerCounters;
    for (const f of FIELDS) {
      const then = p?.[f];
      const now = q[f];
      out[f] = {
        total: now,
        perSecond: dt > 0 && then !== undefined ? Number(now >= then ? now - then : now) / dt : 0,
      };
    }
    return out;
  };
  const queues = cur.stats.queues.map((q) => ({
    queue: q.queue,
    worker: q.worker,
    ...counters(q, before.get(q.queue)),
  }));
  const workers = [...new Set(queues.map((q) => q.worker))]
    .sort((a, b) => a - b)
    .map((w) => {
      const own = queues.filter((q) => q.worker === w);
      const sum = {} as HandlerCounters;
      for (const f of FIELDS)
        sum[f] = {
          total: own.reduce((a, q) => a + q[f].total, 0n),
          perSecond: own.reduce((a, q) => a + q[f].perSecond, 0),
        };
      return {
        worker: w,
        queues: own.map((q) => q.queue),
        restarts: cur.stats.restarts[w] ?? 0,
        ...sum,
      };
    });
  return { handler, queues, workers };
}

const jsonCounters = (c: HandlerCounters) =>
  Object.fromEntries(
    FIELDS.map((f) => [f, { total: c[f].total, perSecond: round(c[f].perSecond) }]),
  );

/** The `handler` member of a `xdpc stats --json` line. */
export function handlerJson(line: HandlerLine): Record<string, unknown> {
  return {
    name: line.handler,
    queues: line.queues.map((q) => ({ queue: q.queue, worker: q.worker, ...jsonCounters(q) })),
    workers: line.workers.map((w) => ({
      worker: w.worker,
      queues: w.queues,
      restarts: w.restarts,
      ...jsonCounters(w),
    })),
  };
}

/** The table rows `xdpc stats` adds on a terminal: one per worker and verdict. */
export function handlerTable(line: HandlerLine): string {
  const out = [`AF_XDP handler ${line.handler}`];
  for (const w of line.workers)
    out.push(
      `  worker ${w.worker} (queue${w.queues.length === 1 ? "" : "s"} ${w.queues.join(",")}): ` +
        FIELDS.map((f) => `${f} ${w[f].total} (${w[f].perSecond.toFixed(0)}/s)`).join(", ") +
        (w.restarts ? `, restarted ${w.restarts}×` : ""),
    );
  return out.join("\n");
}
