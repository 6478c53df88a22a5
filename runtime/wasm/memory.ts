// The shared memory of one Wasm instance and who owns which range of it. Offsets:
//   [0, 64)            never used, so that 0 is a null pointer
//   [64, ...)          data area: .rodata, .bss, .data (meta.sections)
//   stack              meta.stackSize bytes for this instance
//   map values         one range per map, allocated by the map stores (maps.ts)
//   frame              FRAME_HEADROOM bytes, then the frame (up to its capacity)
//   umem               optional, page-aligned: where an AF_XDP UMEM can live, so the
//                      kernel writes frames straight into the handlers' memory
// Everything is laid out first, then the memory is created at its final size (shared,
// fixed: workers and a UMEM registration keep the same buffer).
import type { WasmMeta } from "../../compiler/wasm/abi.ts";
import type { Heap } from "./maps.ts";

export const FRAME_HEADROOM = 256;
/**
 * What adjustHead may claim of the headroom: the kernel keeps sizeof(struct xdp_frame)
 * (40 bytes) at its start.
 */
export const USABLE_HEADROOM = FRAME_HEADROOM - 40;
/**
 * Bytes a frame may grow to with adjustTail, from its original start: a 4096-byte
 * buffer less headroom and skb_shared_info (320), as BPF_PROG_TEST_RUN and XDP drivers
 * lay out a page.
 */
export const FRAME_ROOM = 4096 - FRAME_HEADROOM - 320;
/** Where the data area starts (the module imports it as global `xdpc.data`). */
export const DATA_BASE = 64;
const PAGE = 65536;
const UMEM_ALIGN = 4096;

const align = (n: number, a: number) => Math.ceil(n / a) * a;

export interface UmemRegion {
  offset: number;
  size: number;
}

/** Hands out ranges in order, then creates the memory; `alloc` serves the map stores. */
export class MemoryLayout implements Heap {
  readonly stackBase: number;
  private top: number;
  private memory: WebAssembly.Memory | null = null;

  constructor(meta: Pick<WasmMeta, "dataSize" | "stackSize">) {
    this.stackBase = align(DATA_BASE + meta.dataSize, 8);
    this.top = this.stackBase + meta.stackSize;
  }

  alloc(bytes: number): number {
    const at = align(this.top, 8);
    this.top = at + bytes;
    return at;
  }

  /** Reserves the frame buffer with its headroom; returns where a frame starts. */
  reserveFrame(capacity: number): number {
    const base = align(this.top, 8) + FRAME_HEADROOM;
    this.top = base + capacity;
    return base;
  }

  /** Reserves a page-aligned UMEM region of at least `bytes` (rounded up to 4096). */
  reserveUmem(bytes: number): UmemRegion {
    const size = align(bytes, UMEM_ALIGN);
    const offset = align(this.top, UMEM_ALIGN);
    this.top = offset + size;
    return { offset, size };
  }

  /** Creates the memory at its final size; nothing can be reserved afterwards. */
  create(): WebAssembly.Memory {
    const pages = Math.ceil(this.top / PAGE);
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    return this.memory;
  }

  bytes(): Uint8Array {
    return new Uint8Array(this.memory!.buffer);
  }
}
