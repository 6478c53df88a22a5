// RingBuf records → JavaScript objects. libbpf's ring_buffer consumes the ring (it
// mmaps the producer/consumer pages); each record is decoded with the RingBuf<T>
// record type the compiler writes into BTF (typedef xdpc_record__<map>). Records are
// drained on a timer with ring_buffer__consume — never a blocking poll, which would
// stall Node's event loop — and delivered as "event" emissions and via an async iterator.
import { EventEmitter } from "node:events";
import { koffi, library, NativeError } from "../native/lib.ts";
import { closeFd } from "../native/bpf.ts";
import { mapInfo, mapFdById, progFdById, progInfo } from "../native/info.ts";
import type { LoadedObject } from "../native/object.ts";
import { readObject, RECORD_TYPEDEF_PREFIX, type ObjectInfo } from "../compiler/elf/object.ts";
import { typeDescFromBtf, type TypeDesc } from "../compiler/elf/types.ts";
import { Kind } from "../compiler/btf/kinds.ts";
import type { Btf } from "../compiler/btf/reader.ts";
import { kernelBtf } from "./maps.ts";
import { ValueCodec, type JsValue } from "./values.ts";

const RINGBUF = 27;

type Ptr = unknown;
let api:
  | {
      create: (fd: number, cb: unknown, ctx: null, opts: null) => Ptr;
      consume: (rb: Ptr) => number;
      free: (rb: Ptr) => void;
      proto: unknown;
    }
  | undefined;

function bind() {
  if (api) return api;
  const k = koffi();
  const bpf = library("libbpf.so.1");
  k.opaque("xdpc_ring_buffer");
  const proto = k.proto("int xdpc_ring_buffer_sample_fn(void *ctx, void *data, size_t size)");
  api = {
    create: bpf.func(
      "xdpc_ring_buffer *ring_buffer__new(int map_fd, xdpc_ring_buffer_sample_fn *cb, void *ctx, void *opts)",
    ),
    consume: bpf.func("int ring_buffer__consume(xdpc_ring_buffer *rb)"),
    free: bpf.func("void ring_buffer__free(xdpc_ring_buffer *rb)"),
    proto,
  };
  return api;
}

/** The record type of ring buffer `map` from a BTF, when the compiler recorded one. */
export function recordTypeFromBtf(btf: Btf, map: string): TypeDesc | undefined {
  // The kernel truncates map names to 15 characters; the typedef keeps the full one.
  const t =
    btf.types.find((x) => x.kind === Kind.TYPEDEF && x.name === RECORD_TYPEDEF_PREFIX + map) ??
    (map.length === 15
      ? btf.types.find((x) => x.kind === Kind.TYPEDEF && x.name.startsWith(RECORD_TYPEDEF_PREFIX + map))
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
  private rb: Ptr;
  private cb: unknown;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Inside ring_buffer__consume: close() then defers freeing the ring until it returns. */
  private consuming = false;
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
    if (info.type !== RINGBUF) throw new NativeError(`map ${name} is not a ring buffer`, 22, "ring_buffer__new");
    this.codec = record ? new ValueCodec(record) : null;
    const a = bind();
    const k = koffi();
    this.cb = k.register((_ctx: unknown, data: unknown, size: number | bigint) => {
      const n = Number(size);
      if (this.closed) return -1; // closed by a listener: stop this consume (libbpf returns the error)
      const bytes = new Uint8Array(k.view(data as never, n) as ArrayBuffer).slice();
      this.deliver(this.decode(bytes));
      return 0;
    }, k.pointer(a.proto as never));
    this.rb = a.create(fd, this.cb, null, null);
    if (!this.rb) {
      k.unregister(this.cb as never);
      throw new NativeError(`cannot read ring buffer ${name}`, k.errno() || 22, "ring_buffer__new");
    }
  }

  /** A ring buffer of a loaded object, typed from the object file. */
  static fromObject(obj: LoadedObject, file: Uint8Array | ObjectInfo, name: string, opts: EventReaderOptions = {}): EventReader {
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
    if (this.codec && bytes.length >= this.codec.size) return { record: this.codec.decode(bytes), size: bytes.length };
    return { record: { bytes: Buffer.from(bytes).toString("hex") }, size: bytes.length };
  }

  private deliver(e: RingEvent): void {
    this.emit("event", e);
    if (!this.iterating) return;
    const w = this.waiting.shift();
    if (w) w({ value: e, done: false });
    else this.queue.push(e);
  }

  /** Drains every record available now; returns how many were read. */
  consume(): number {
    if (this.closed) return 0;
    this.consuming = true;
    let n: number;
    try {
      n = bind().consume(this.rb);
    } finally {
      this.consuming = false;
    }
    if (this.closed) {
      this.release();
      return Math.max(0, n);
    }
    if (n < 0) throw new NativeError(`reading ring buffer ${this.name} failed`, -n, "ring_buffer__consume");
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

  /** Frees the ring and the callback; never from inside the callback (libbpf is still using them). */
  private release(): void {
    if (this.rb === null) return;
    bind().free(this.rb);
    this.rb = null;
    koffi().unregister(this.cb as never);
    if (this.opts.ownsFd) closeFd(this.fd);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (!this.consuming) this.release();
    for (const w of this.waiting.splice(0)) w({ value: undefined, done: true });
    this.emit("close");
  }
}
