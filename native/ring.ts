// A BPF ring buffer's pages mapped into this process (mmap of the map fd, as libbpf's
// ring_buffer__add does): the consumer position page, read-write; the producer
// position page and the data area mapped twice in a row, read-only, so a record that
// wraps around the end reads as one contiguous range.
import { koffi, NativeError } from "./lib.ts";
import { sys } from "./sys.ts";

import { libcMmap, MAP_SHARED, PROT_READ, PROT_WRITE, type Ptr } from "./mmap.ts";

export interface RingMapping {
  /** The consumer position (u64, little-endian), written by the consumer. */
  consumer: DataView;
  /** The producer position (u64), written by the kernel. */
  producer: DataView;
  /** The data area, `2 * size` bytes: the ring followed by itself. */
  data: Uint8Array;
  unmap(): void;
}

/** Maps ring buffer `fd` of `size` data bytes (a power of two, a multiple of the page). */
export const mapRing = sys("mapRing", function mapRing(fd: number, size: number): RingMapping {
  const c = libcMmap();
  const k = koffi();
  const failed = (p: Ptr) =>
    !p || BigInt(k.address(p as never) as unknown as bigint) === 0xffffffffffffffffn;
  const cons = c.mmap(null, c.pageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (failed(cons))
    throw new NativeError("cannot map the ring buffer's consumer page", k.errno() || 22, "mmap");
  const prodLen = c.pageSize + 2 * size;
  const prod = c.mmap(null, prodLen, PROT_READ, MAP_SHARED, fd, c.pageSize);
  if (failed(prod)) {
    const errno = k.errno() || 22;
    c.munmap(cons, c.pageSize);
    throw new NativeError("cannot map the ring buffer's data", errno, "mmap");
  }
  const all = k.view(prod as never, prodLen) as ArrayBuffer;
  let mapped = true;
  return {
    consumer: new DataView(k.view(cons as never, 8) as ArrayBuffer),
    producer: new DataView(all, 0, 8),
    data: new Uint8Array(all, c.pageSize, 2 * size),
    unmap() {
      if (!mapped) return;
      mapped = false;
      c.munmap(prod, prodLen);
      c.munmap(cons, c.pageSize);
    },
  };
});
