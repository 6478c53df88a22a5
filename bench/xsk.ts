// AF_XDP fake-ring microbenchmark (no kernel, hot cache): the generated batch loop
// (`xdpc_rx_batch_<handler>`, one JS→Wasm call per 64 frames) against a JavaScript
// loop that calls the handler once per frame (WasmHost.runInPlace), over the same
// frames in a UMEM region. The "kernel" side only moves ring indices between laps, so
// what is timed is the consumer: ring walking, the handler, TX or recycle, refill.
// `npm run bench` reports it in the AF_XDP section; alone: node --import tsx bench/xsk.ts
import { compile, compileWasm } from "../compiler/driver/index.ts";
import { CTL } from "../compiler/wasm/xsk-abi.ts";
import { buildFrame } from "../runtime/packets/build.ts";
import { WasmHost } from "../runtime/wasm/instance.ts";
import { FakeRings, RX_HEADROOM } from "../test/xsk/fake.ts";
import { STEER } from "../test/xsk/support.ts";
import { median } from "./stats.ts";

const BATCH = 64;
const RING = 2048;

const frame = (dport: number) =>
  buildFrame({
    srcMac: "02:00:c6:12:00:02",
    dstMac: "02:00:c6:12:00:01",
    src: "198.18.0.2",
    dst: "198.18.0.1",
    l4: { proto: "udp", sport: 4000, dport },
  });

/** ns per frame of the batch loop: RX ring pre-filled once; each lap the fake kernel publishes BATCH more and consumes fill/TX. */
function batchLoop(wasm: Uint8Array, dport: number, laps: number, runs = 7): number {
  const rings = new FakeRings(wasm, "echo", RING, 2 * RING);
  rings.receive(Array.from({ length: RING }, () => frame(dport)));
  const v = new DataView(rings.memory.buffer);
  const ctl = rings.ctl;
  const at = (f: number) => v.getUint32(ctl + f, true);
  const rxProd = at(CTL.rxProducer);
  const frProd = at(CTL.frProducer);
  const frCons = at(CTL.frConsumer);
  const txProd = at(CTL.txProducer);
  const txCons = at(CTL.txConsumer);
  // Rewind RX so each lap re-publishes descriptors already in the ring.
  const base = v.getUint32(rxProd, true);
  v.setUint32(rxProd, base - RING, true);
  v.setUint32(at(CTL.rxConsumer), base - RING, true);
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < laps; i++) {
      v.setUint32(rxProd, v.getUint32(rxProd, true) + BATCH, true);
      rings.batch(ctl, BATCH);
      v.setUint32(frCons, v.getUint32(frProd, true), true); // the kernel takes the refill
      v.setUint32(txCons, v.getUint32(txProd, true), true); // and sends what was queued
    }
    times.push(Number(process.hrtime.bigint() - t0) / (laps * BATCH));
  }
  return median(times);
}

/** ns per frame with one JS→Wasm call per frame over frames in a UMEM region (WasmHost.runInPlace). */
function perFrameJs(wasm: Uint8Array, dport: number, laps: number, runs = 7): number {
  const host = new WasmHost(wasm, { umemBytes: RING * 4096 });
  const umem = host.umem!;
  const f = frame(dport);
  for (let k = 0; k < RING; k++) host.bytes().set(f, umem.offset + k * 4096 + RX_HEADROOM);
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < laps; i++)
      for (let k = 0; k < BATCH; k++)
        host.runInPlace("echo", {
          offset: umem.offset + ((i * BATCH + k) % RING) * 4096 + RX_HEADROOM,
          len: f.length,
          headroom: RX_HEADROOM,
          tailroom: 4096 - RX_HEADROOM - f.length,
        });
    times.push(Number(process.hrtime.bigint() - t0) / (laps * BATCH));
  }
  return median(times);
}

export interface XskFakeRow {
  path: string;
  /** ns per frame of the generated batch loop (one JS→Wasm call per batch). */
  batchNs: number;
  /** ns per frame of JavaScript calling the handler once per frame. */
  perFrameNs: number;
}

export interface XskFakeResult {
  rows: XskFakeRow[];
  batch: number;
  frames: number;
  runs: number;
}

/** The fake-ring figures: `laps` batches of 64 per timed run, median of `runs`. */
export async function measureXskFake(laps = 20_000, runs = 7): Promise<XskFakeResult> {
  const out = compile(STEER, { file: "steer.ts", emit: "object" });
  const wasm = (await compileWasm(out, { only: "handler", rxBatch: true }))!.binary!;
  // Warm-up: Wasm tiers up from its baseline compiler after a while; time optimised code only.
  batchLoop(wasm, 9, laps, 1);
  perFrameJs(wasm, 9, laps, 1);
  const row = (path: string, dport: number): XskFakeRow => ({
    path,
    batchNs: batchLoop(wasm, dport, laps, runs),
    perFrameNs: perFrameJs(wasm, dport, laps, runs),
  });
  return {
    rows: [row("XSK_DROP (port 9)", 9), row("XSK_TX, rewritten (port 7)", 7)],
    batch: BATCH,
    frames: laps * BATCH,
    runs,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await measureXskFake();
  process.stdout.write(
    `fake rings, hot cache, batch ${r.batch}, median of ${r.runs} × ${r.frames} frames (ns per frame)\n` +
      `| handler path | batch loop in Wasm | JS calling the handler per frame |\n|---|---|---|\n` +
      r.rows
        .map((x) => `| ${x.path} | ${x.batchNs.toFixed(1)} | ${x.perFrameNs.toFixed(1)} |`)
        .join("\n") +
      "\n",
  );
}
