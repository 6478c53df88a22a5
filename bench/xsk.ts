// AF_XDP fake-ring microbenchmark (no kernel, hot cache): the generated batch loop
// (`xdpc_rx_batch_<handler>`, one JS→Wasm call per 64 frames) against a JavaScript
// loop that calls the handler once per frame (WasmHost.runInPlace), over the same
// frames in a UMEM region. The "kernel" side only moves ring indices between laps, so
// what is timed is the consumer: ring walking, the handler, TX or recycle, refill.
// `npm run bench` reports it in the AF_XDP section; alone: node --import tsx bench/xsk.ts
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile, compileWasm } from "../compiler/driver/index.ts";
import { CTL } from "../compiler/wasm/xsk-abi.ts";
import { buildFrame } from "../runtime/packets/build.ts";
import { WasmHost } from "../runtime/wasm/instance.ts";
import { FakeRings, RX_HEADROOM } from "../test/xsk/fake.ts";
import { COUNTING, STEER } from "../test/xsk/support.ts";
import { isMeasured, median, notMeasured, type Maybe } from "./stats.ts";
import { buildC } from "./xsk_live.ts";
import { REPO } from "./twins.ts";

const BATCH = 64;
const RING = 2048;

// sport = dport: a reply has the request's ports, so the frame the handler rewrote in
// place is, the next lap, a request again (a port-9 frame stays a port-9 frame).
const frame = (port: number) =>
  buildFrame({
    srcMac: "02:00:c6:12:00:02",
    dstMac: "02:00:c6:12:00:01",
    src: "198.18.0.2",
    dst: "198.18.0.1",
    l4: { proto: "udp", sport: port, dport: port },
    payload: new TextEncoder().encode("xdpc echo bench"),
  });

/** One row: a handler over copies of one frame, every frame ending with `verdict`. */
interface Case {
  path: string;
  source: string;
  handler: string;
  port: number;
  verdict: "tx" | "drop";
  /** The handler's .rodata (load-time parameters). */
  rodata?: Uint8Array;
}

const udpEcho = () => readFileSync(join(REPO, "filters/afxdp/udp_echo.ts"), "utf8");
// udp_echo's parameters: limit, window_ms (the longest window: no reset while timed).
const echoParams = (limit: number) => new Uint8Array(new Uint32Array([limit, 0xffffffff]).buffer);

function cases(): Case[] {
  return [
    { path: "XSK_DROP (port 9)", source: STEER, handler: "echo", port: 9, verdict: "drop" },
    {
      path: "XSK_TX, rewritten (port 7)",
      source: STEER,
      handler: "echo",
      port: 7,
      verdict: "tx",
    },
    {
      path: "udp_echo: answered (bucket lookup, clock, checksum, XSK_TX)",
      source: udpEcho(),
      handler: "echo",
      port: 7,
      verdict: "tx",
      rodata: echoParams(0xffffffff),
    },
    {
      path: "udp_echo: rate-limited (bucket lookup, clock, XSK_DROP)",
      source: udpEcho(),
      handler: "echo",
      port: 7,
      verdict: "drop",
      rodata: echoParams(0),
    },
    {
      path: "maps: HashMap lookup + HashMap and PerCpuArray increments (XSK_DROP)",
      source: COUNTING,
      handler: "count",
      port: 9, // test/xsk/control.test.ts's handler: the source port per flow
      verdict: "drop",
    },
  ];
}

/**
 * ns per frame of the batch loop. The RX ring is filled once; each lap the fake kernel
 * re-publishes BATCH of its descriptors, takes the refill and the TX ring, and completes
 * as many TX frames as the lap sent (completion descriptors written once), so the loop
 * walks all four rings as it would live. Throws unless every frame got `verdict`.
 */
function batchLoop(c: Case, wasm: Uint8Array, laps: number, runs = 7): number {
  const rings = new FakeRings(wasm, c.handler, RING, 2 * RING, c.rodata);
  rings.receive(Array.from({ length: RING }, () => frame(c.port)));
  const v = new DataView(rings.memory.buffer);
  const ctl = rings.ctl;
  const at = (f: number) => v.getUint32(ctl + f, true);
  const rxProd = at(CTL.rxProducer);
  const frProd = at(CTL.frProducer);
  const frCons = at(CTL.frConsumer);
  const txProd = at(CTL.txProducer);
  const txCons = at(CTL.txConsumer);
  const crProd = at(CTL.crProducer);
  // Rewind RX so each lap re-publishes descriptors already in the ring.
  const base = v.getUint32(rxProd, true);
  v.setUint32(rxProd, base - RING, true);
  v.setUint32(at(CTL.rxConsumer), base - RING, true);
  // Completions name the same chunks: descriptor i of the completion ring is RX's i.
  for (let i = 0; i < RING; i++)
    v.setBigUint64(at(CTL.crDesc) + i * 8, v.getBigUint64(at(CTL.rxDesc) + i * 16, true), true);
  const counted = () => rings.counter(c.verdict === "tx" ? CTL.tx : CTL.drop);
  const before = counted();
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < laps; i++) {
      v.setUint32(rxProd, v.getUint32(rxProd, true) + BATCH, true);
      const tx0 = v.getUint32(txProd, true);
      rings.batch(ctl, BATCH);
      v.setUint32(frCons, v.getUint32(frProd, true), true); // the kernel takes the refill,
      const sent = v.getUint32(txProd, true) - tx0;
      v.setUint32(txCons, v.getUint32(txProd, true), true); // sends what was queued
      v.setUint32(crProd, v.getUint32(crProd, true) + sent, true); // and completes it
    }
    times.push(Number(process.hrtime.bigint() - t0) / (laps * BATCH));
  }
  const got = counted() - before;
  if (got !== BigInt(laps * BATCH * runs))
    throw new Error(`${c.path}: ${got} of ${laps * BATCH * runs} frames got ${c.verdict}`);
  return median(times);
}

/**
 * ns per frame with one JS→Wasm call per frame over frames in a UMEM region
 * (WasmHost.runInPlace); null where the JS host cannot run the handler (its maps live
 * in the workers' memory layout only).
 */
function perFrameJs(c: Case, wasm: Uint8Array, laps: number, runs = 7): number | null {
  let host: WasmHost;
  try {
    host = new WasmHost(wasm, { umemBytes: RING * 4096 });
  } catch {
    return null;
  }
  const umem = host.umem!;
  const f = frame(c.port);
  for (let k = 0; k < RING; k++) host.bytes().set(f, umem.offset + k * 4096 + RX_HEADROOM);
  const run = (i: number, k: number) =>
    host.runInPlace(c.handler, {
      offset: umem.offset + ((i * BATCH + k) % RING) * 4096 + RX_HEADROOM,
      len: f.length,
      headroom: RX_HEADROOM,
      tailroom: 4096 - RX_HEADROOM - f.length,
    });
  try {
    run(0, 0);
  } catch {
    return null;
  }
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < laps; i++) for (let k = 0; k < BATCH; k++) run(i, k);
    times.push(Number(process.hrtime.bigint() - t0) / (laps * BATCH));
  }
  return median(times);
}

export interface XskFakeRow {
  path: string;
  /** ns per frame of the generated batch loop (one JS→Wasm call per batch). */
  batchNs: number;
  /** ns per frame of JavaScript calling the handler once per frame (null: not possible). */
  perFrameNs: number | null;
}

export interface XskFakeResult {
  rows: XskFakeRow[];
  /** The C consumer's batch (bench/xsk_batch.h) over fake rings, on the XSK_DROP row's frames. */
  c: Maybe<{ ns: number; compiler: string }>;
  batch: number;
  frames: number;
  runs: number;
}

/**
 * The C consumer's figure: bench/xsk_fake.c runs the live consumer's batch code over
 * rings and frames in its own memory, as batchLoop does for the Wasm loop (same ring
 * size, laps, batch and frame as the XSK_DROP row).
 */
function cFake(work: string, laps: number, runs: number): Maybe<{ ns: number; compiler: string }> {
  const bin = buildC(work, "xsk_fake");
  if (!isMeasured(bin)) return bin;
  const r = spawnSync(bin.path, [String(RING), String(laps), String(runs)], { encoding: "utf8" });
  if (r.status !== 0)
    return notMeasured(`xsk_fake failed: ${(r.stderr || r.error?.message || "").trim()}`);
  return {
    ns: (JSON.parse(r.stdout) as { nsPerFrame: number }).nsPerFrame,
    compiler: bin.compiler,
  };
}

/** The fake-ring figures: `laps` batches of 64 per timed run, median of `runs`. */
export async function measureXskFake(
  laps = 20_000,
  runs = 7,
  work?: string,
): Promise<XskFakeResult> {
  const built = new Map<string, Uint8Array>();
  const wasmOf = async (source: string) => {
    let w = built.get(source);
    if (!w) {
      const out = compile(source, { file: "bench.ts", emit: "object" });
      w = (await compileWasm(out, { only: "handler", rxBatch: true }))!.binary!;
      built.set(source, w);
    }
    return w;
  };
  const rows: XskFakeRow[] = [];
  for (const c of cases()) {
    const wasm = await wasmOf(c.source);
    // Warm-up: Wasm tiers up from its baseline compiler after a while; time optimised code only.
    batchLoop(c, wasm, laps, 1);
    perFrameJs(c, wasm, laps, 1);
    rows.push({
      path: c.path,
      batchNs: batchLoop(c, wasm, laps, runs),
      perFrameNs: perFrameJs(c, wasm, laps, runs),
    });
  }
  const dir = work ?? mkdtempSync(join(tmpdir(), "xdpc-xskfake-"));
  try {
    return { rows, c: cFake(dir, laps, runs), batch: BATCH, frames: laps * BATCH, runs };
  } finally {
    if (!work) rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await measureXskFake();
  process.stdout.write(
    `fake rings, hot cache, batch ${r.batch}, median of ${r.runs} × ${r.frames} frames (ns per frame)\n` +
      `| handler path | batch loop in Wasm | JS calling the handler per frame |\n|---|---|---|\n` +
      r.rows
        .map(
          (x) =>
            `| ${x.path} | ${x.batchNs.toFixed(1)} | ${x.perFrameNs === null ? "–" : x.perFrameNs.toFixed(1)} |`,
        )
        .join("\n") +
      `\nC consumer's batch over fake rings (bench/xsk_fake.c, XSK_DROP frames): ${isMeasured(r.c) ? r.c.ns.toFixed(1) : r.c.notMeasured}\n`,
  );
}
