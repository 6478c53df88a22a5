// RingBuf records → JavaScript objects. The ring is read the way libbpf's
// ring_buffer does it — the consumer page mapped read-write, the producer page and the
// data area (mapped twice, so a record that wraps reads contiguously) read-only — but
// one record at a time, so that a reader that stops (`--count`) leaves every record it
// did not deliver in the ring. Each record is decoded with the RingBuf<T> record type
// the compiler writes into BTF (typedef xdpc_record__<map>). Records are drained on a
// timer — never a blocking poll, which would stall Node's event loop — and delivered as
// "event" emissions and through an async iterator.
// Memory order: plain loads/stores, which are acquire/release on x86-64 (TSO); the
// busy bit of a record header is checked as the kernel's protocol requires.
import { EventEmitter } from "node:events";
import { NativeError } from "../../native/lib.ts";
import { mapRing, type RingMapping } from "../../native/ring.ts";
import { closeFd } from "../../native/bpf.ts";
import { mapInfo, mapFdById, progFdById, progInfo } from "../../native/info.ts";
import type { LoadedObject } from "../../native/object.ts";
import { readObject, RECORD_TYPEDEF_PREFIX, type ObjectInfo } from "../../compiler/elf/object.ts";
import { typeDescFromBtf, type TypeDesc } from "../../compiler/elf/types.ts";
import { Kind } from "../../compiler/btf/kinds.ts";
import type { Btf } from "../../compiler/btf/reader.ts";
import { BPF_MAP_TYPE } from "../../compiler/uapi/bpf.ts";
import { kernelBtf } from "./maps.ts";
import { ValueCodec, type JsValue } from "./values.ts";

const BUSY_BIT = 0x80000000;
const DISCARD_BIT = 0x40000000;
const HDR_SZ = 8;

/** One mapped BPF ring buffer, consumed a record at a time. */
export class RingConsumer {
  private readonly ring: RingMapping;
  private readonly consView: DataView;
  private readonly prodView: DataView;
  private readonly data: Uint8Array;
  private readonly dataView: DataView;
  private readonly mask: number;
  private open = true;

  constructor(
    fd: number,
    readonly size: number,
  ) {
    this.ring = mapRing(fd, size);
    this.consView = this.ring.consumer;
    this.prodView = this.ring.producer;
    this.data = this.ring.data;
    this.dataView = new DataView(this.data.buffer, this.data.byteOffset, this.data.byteLength);
    this.mask = size - 1;
  }

  /** The next committed record (a copy), skipping discarded ones; null when none is ready. */
  next(): Uint8Array | null {
    if (!this.open) return null;
    for (;;) {
      const consPos = this.consView.getBigUint64(0, true);
      const prodPos = this.prodView.getBigUint64(0, true);
      if (consPos >= prodPos) return null;
      const off = Number(consPos & BigInt(this.mask));
      const hdr = this.dataView.getUint32(off, true);
      if (hdr & BUSY_BIT) return null; // reserved, not committed yet
      const len = hdr & ~(BUSY_BIT | DISCARD_BIT) & 0xffffffff;
      const record = hdr & DISCARD_BIT ? null : this.data.slice(off + HDR_SZ, off + HDR_SZ + len);
      // Release the space: header and record, rounded up to 8 bytes.
      this.consView.setBigUint64(0, consPos + BigInt((len + HDR_SZ + 7) & ~7), true);
      if (record) return record;
    }
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.ring.unmap();
  }
}

/** The record type of ring buffer `map` from a BTF, when the compiler recorded one. */
export function recordTypeFromBtf(btf: Btf, map: string): TypeDesc | undefined {
  // The kernel truncates map names to 15 characters; the typedef keeps the full one.
  const t =
    btf.types.find((x) => x.kind === Kind.TYPEDEF && x.name === RECORD_TYPEDEF_PREFIX + map) ??
    (map.length === 15
      ? btf.types.find(
          (x) => x.kind === Kind.TYPEDEF && x.name.startsWith(RECORD_TYPEDEF_PREFIX + map),
        )
      : undefined);
  return t && t.kind === Kind.TYPEDEF ? typeDescFromBtf(btf, t.type) : undefined;
}

export interface RingEvent {
  /** The decoded record, or `{ bytes: "hex…" }` when the record type is unknown. */
  record: JsValue;
  size: number;
}

export interface EventReaderOptions {
  /** How often the ring is drained (ms); default 50. */
  intervalMs?: number;
  /** Close this fd with the reader (when the reader opened it). */
  ownsFd?: boolean;
}

/**
 * Reads one ring buffer. Emits "event" (RingEvent) and "error"; iterate with
 * `for await (const e of reader)`. Call start() to drain on a timer, or consume()
 * yourself; close() when done.
 */
export class EventReader extends EventEmitter {
  readonly codec: ValueCodec | null;
  private readonly ring: RingConsumer;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly waiting: ((r: IteratorResult<RingEvent>) => void)[] = [];
  private readonly queue: RingEvent[] = [];
  private iterating = false;

  constructor(
    readonly fd: number,
    readonly name: string,
    record: TypeDesc | undefined,
    private readonly opts: EventReaderOptions = {},
  ) {
    super();
    const info = mapInfo(fd);
    if (info.type !== BPF_MAP_TYPE.RINGBUF)
      throw new NativeError(`map ${name} is not a ring buffer`, 22, "mmap");
    this.codec = record ? new ValueCodec(record) : null;
    this.ring = new RingConsumer(fd, info.maxEntries);
  }

  /** A ring buffer of a loaded object, typed from the object file. */
  static fromObject(
    obj: LoadedObject,
    file: Uint8Array | ObjectInfo,
    name: string,
    opts: EventReaderOptions = {},
  ): EventReader {
    const info = file instanceof Uint8Array ? readObject(file) : file;
    const m = info.maps.find((x) => x.name === name);
    const record = m?.recordType && info.btf ? typeDescFromBtf(info.btf, m.recordType) : undefined;
    return new EventReader(obj.mapFd(name), name, record, opts);
  }

  /** Opens a ring buffer by map id; the record type comes from the BTF of the program `progId` that uses it. */
  static fromId(mapId: number, progId?: number, opts: EventReaderOptions = {}): EventReader {
    const fd = mapFdById(mapId);
    try {
      const name = mapInfo(fd).name;
      let record: TypeDesc | undefined;
      if (progId) {
        const pfd = progFdById(progId);
        try {
          const btfId = progInfo(pfd).btfId;
          if (btfId) record = recordTypeFromBtf(kernelBtf(btfId), name);
        } finally {
          closeFd(pfd);
        }
      }
      return new EventReader(fd, name, record, { ...opts, ownsFd: true });
    } catch (e) {
      closeFd(fd);
      throw e;
    }
  }

  decode(bytes: Uint8Array): RingEvent {
    if (this.codec && bytes.length >= this.codec.size)
      return { record: this.codec.decode(bytes), size: bytes.length };
    return { record: { bytes: Buffer.from(bytes).toString("hex") }, size: bytes.length };
  }

  private deliver(e: RingEvent): void {
    this.emit("event", e);
    if (!this.iterating) return;
    const w = this.waiting.shift();
    if (w) w({ value: e, done: false });
    else this.queue.push(e);
  }

  /**
   * Delivers the records available now (at most `max`); returns how many. A listener
   * may close() the reader: the records after the one it got stay in the ring.
   */
  consume(max = Infinity): number {
    let n = 0;
    while (!this.closed && n < max) {
      const bytes = this.ring.next();
      if (!bytes) break;
      n++;
      this.deliver(this.decode(bytes));
    }
    return n;
  }

  /** Drains the ring every intervalMs until close(). */
  start(): this {
    if (this.timer || this.closed) return this;
    this.timer = setInterval(() => {
      try {
        this.consume();
      } catch (e) {
        this.emit("error", e);
      }
    }, this.opts.intervalMs ?? 50);
    return this;
  }

  [Symbol.asyncIterator](): AsyncIterator<RingEvent> {
    this.iterating = true;
    this.start();
    return {
      next: () => {
        const e = this.queue.shift();
        if (e) return Promise.resolve({ value: e, done: false });
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.waiting.push(resolve));
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.ring.close();
    if (this.opts.ownsFd) closeFd(this.fd);
    for (const w of this.waiting.splice(0)) w({ value: undefined, done: true });
    this.emit("close");
  }
}
