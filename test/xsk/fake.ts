// A fake kernel side for the batch loop: the four rings in ordinary memory of the
// handler's shared memory (no socket, no mmap), with the control block written by the
// same code the runtime uses. The test plays the kernel: it takes chunks from the fill
// ring, writes frames into them and publishes RX descriptors, then collects the TX ring
// and completes it — so the generated loop is checked frame by frame, and timed hot.
import { CTL, rxBatchExport, rxRunExport } from "../../compiler/wasm/xsk-abi.ts";
import { readMeta } from "../../compiler/wasm/abi.ts";
import type { MmapOffsets } from "../../native/xsk.ts";
import {
  handlerLayout,
  initData,
  instantiateHandler,
  type HandlerLayout,
} from "../../runtime/xsk/module.ts";
import { SharedMaps } from "../../runtime/xsk/maps.ts";
import { initControlBlock, xskFootprint } from "../../runtime/xsk/sockets.ts";

/** Offsets shaped like the kernel's (producer, consumer on their own cache lines, flags, descriptors). */
export const FAKE_OFFSETS: MmapOffsets = (() => {
  const r = { producer: 0, consumer: 128, flags: 192, desc: 256 };
  return { rx: r, tx: r, fr: r, cr: r };
})();

/** The headroom the kernel leaves in copy mode (XDP_PACKET_HEADROOM). */
export const RX_HEADROOM = 256;

export class FakeRings {
  readonly memory: WebAssembly.Memory;
  readonly batch: (ctl: number, budget: number) => number;
  /** The worker's run loop: up to `batches` batches, `spins` checks of an empty RX ring. */
  readonly run: (ctl: number, budget: number, batches: number, spins: number) => number;
  readonly ctl: number;
  private readonly lay: ReturnType<typeof xskFootprint>;
  private readonly mask: number;
  private readonly layout: HandlerLayout;
  private readonly mod: WebAssembly.Module;

  constructor(
    wasm: Uint8Array,
    handler: string,
    readonly ringSize = 256,
    readonly frames = 2 * ringSize,
    rodata?: Uint8Array,
    /** CTL.flags RELEASE_PLAIN (default: the runtime's choice for this machine). */
    plainStores?: boolean,
  ) {
    const mod = new WebAssembly.Module(wasm);
    const meta = readMeta(mod)!;
    const layout = handlerLayout(meta, 1);
    this.layout = layout;
    this.mod = mod;
    this.lay = xskFootprint(
      { ringSize, frames, frameSize: 4096, queues: 1 },
      FAKE_OFFSETS,
      layout.end,
    );
    const pages = Math.ceil(this.lay.end / 65536);
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    initData(meta, this.memory, rodata, layout);
    this.ctl = this.lay.ctl;
    initControlBlock(this.memory, this.lay, 0, FAKE_OFFSETS, {
      ringSize,
      frames,
      frameSize: 4096,
      queue: 0,
      ifindex: 1,
      plainStores,
    });
    this.mask = ringSize - 1;
    const inst = instantiateHandler(mod, this.memory, layout, 0, () => {});
    this.batch = inst.exports[rxBatchExport(handler)] as (c: number, n: number) => number;
    this.run = inst.exports[rxRunExport(handler)] as FakeRings["run"];
    this.batch(this.ctl, 0); // the first call fills the fill ring from the free stack
  }

  /** The handler's maps, through a control-plane instance (as XskRunner.maps()). */
  maps(): SharedMaps {
    const inst = instantiateHandler(this.mod, this.memory, this.layout, 1, () => {});
    return new SharedMaps(this.layout.maps, this.memory, inst.exports, this.layout.scratch);
  }

  private get view() {
    return new DataView(this.memory.buffer);
  }
  private u32(at: number) {
    return this.view.getUint32(at, true);
  }
  private setU32(at: number, v: number) {
    this.view.setUint32(at, v >>> 0, true);
  }
  counter(field: number): bigint {
    return this.view.getBigUint64(this.ctl + field, true);
  }

  /** The kernel receiving `frames`: each into a chunk from the fill ring, then one RX descriptor each. */
  receive(frames: readonly Uint8Array[]): void {
    const r = this.lay.rings[0]!;
    const o = FAKE_OFFSETS;
    let frCons = this.u32(r.fr + o.fr.consumer);
    const frProd = this.u32(r.fr + o.fr.producer);
    let rxProd = this.u32(r.rx + o.rx.producer);
    const bytes = new Uint8Array(this.memory.buffer);
    for (const f of frames) {
      if (frCons === frProd) throw new Error("fill ring empty");
      const chunk = Number(
        this.view.getBigUint64(r.fr + o.fr.desc + (frCons & this.mask) * 8, true),
      );
      frCons++;
      const addr = chunk + RX_HEADROOM;
      bytes.set(f, this.lay.umem + addr);
      const d = r.rx + o.rx.desc + (rxProd & this.mask) * 16;
      this.view.setBigUint64(d, BigInt(addr), true);
      this.setU32(d + 8, f.length);
      this.setU32(d + 12, 0);
      rxProd++;
    }
    this.setU32(r.fr + o.fr.consumer, frCons);
    this.setU32(r.rx + o.rx.producer, rxProd);
  }

  /** The kernel sending what is on the TX ring: the frames' bytes, then their completions. */
  transmit(): Uint8Array[] {
    const r = this.lay.rings[0]!;
    const o = FAKE_OFFSETS;
    let cons = this.u32(r.tx + o.tx.consumer);
    const prod = this.u32(r.tx + o.tx.producer);
    let crProd = this.u32(r.cr + o.cr.producer);
    const out: Uint8Array[] = [];
    for (; cons !== prod; cons++) {
      const d = r.tx + o.tx.desc + (cons & this.mask) * 16;
      const addr = Number(this.view.getBigUint64(d, true));
      const len = this.u32(d + 8);
      out.push(
        new Uint8Array(this.memory.buffer).slice(this.lay.umem + addr, this.lay.umem + addr + len),
      );
      this.view.setBigUint64(r.cr + o.cr.desc + (crProd & this.mask) * 8, BigInt(addr), true);
      crProd++;
    }
    this.setU32(r.tx + o.tx.consumer, cons);
    this.setU32(r.cr + o.cr.producer, crProd);
    return out;
  }

  /** The kernel's need_wakeup flag of the TX ring (set: a TX kick is wanted). */
  setTxNeedWakeup(on: boolean): void {
    this.setU32(this.lay.rings[0]!.tx + FAKE_OFFSETS.tx.flags, on ? 1 : 0);
  }

  /** Frames on the fill ring + on the free stack (every frame not in flight). */
  idleFrames(): number {
    const r = this.lay.rings[0]!;
    const o = FAKE_OFFSETS;
    const fill = this.u32(r.fr + o.fr.producer) - this.u32(r.fr + o.fr.consumer);
    return fill + this.u32(this.ctl + CTL.freeCount);
  }
}
