// The JS side of the maps a Wasm module uses. Keys are compared in JS; values live in
// the module's linear memory, because a lookup hands the program a pointer it reads
// and writes through (a view, as on the kernel side). Semantics and error codes
// follow the kernel's map implementations (kernel/bpf/{arraymap,hashtab,lpm_trie,
// ringbuf}.c) for one CPU: per-CPU maps have a single lane.

export const EINVAL = 22;
export const ENOENT = 2;
export const EEXIST = 17;
export const E2BIG = 7;
export const EAGAIN = 11;

/** Allocates 8-aligned ranges of linear memory for map values. */
export interface Heap {
  alloc(bytes: number): number;
  bytes(): Uint8Array;
}

export interface HostMap {
  readonly name: string;
  /** Address of the value for `key` in linear memory, or 0. */
  lookup(key: Uint8Array): number;
  /** 0 or a negative errno, like the kernel helper. */
  update(key: Uint8Array, value: Uint8Array, flags: number): number;
  delete(key: Uint8Array): number;
  /** Every entry, keys and copies of the values (arrays: every index). */
  entries(): [Uint8Array, Uint8Array][];
}

import { valueStride as stride } from "../../compiler/wasm/abi.ts";
import { BPF_EXIST, BPF_NOEXIST } from "../../compiler/uapi/bpf.ts";
import { toHex as keyOf } from "./platform.ts";

export class ArrayStore implements HostMap {
  /** Address of value 0; the module indexes from here itself (compiler/wasm/abi.ts INLINE_ARRAY_KINDS). */
  readonly base: number;
  constructor(
    readonly name: string,
    private readonly heap: Heap,
    private readonly valueSize: number,
    private readonly maxEntries: number,
  ) {
    this.base = heap.alloc(stride(valueSize) * maxEntries);
  }
  private index(key: Uint8Array): number {
    return new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true);
  }
  lookup(key: Uint8Array): number {
    const i = this.index(key);
    return i < this.maxEntries ? this.base + i * stride(this.valueSize) : 0;
  }
  update(key: Uint8Array, value: Uint8Array, flags: number): number {
    if (flags > BPF_EXIST) return -EINVAL;
    const i = this.index(key);
    if (i >= this.maxEntries) return -E2BIG;
    if (flags === BPF_NOEXIST) return -EEXIST; // every index exists
    this.heap.bytes().set(value.subarray(0, this.valueSize), this.lookup(key));
    return 0;
  }
  delete(): number {
    return -EINVAL;
  }
  entries(): [Uint8Array, Uint8Array][] {
    const out: [Uint8Array, Uint8Array][] = [];
    const mem = this.heap.bytes();
    for (let i = 0; i < this.maxEntries; i++) {
      const k = new Uint8Array(4);
      new DataView(k.buffer).setUint32(0, i, true);
      const at = this.base + i * stride(this.valueSize);
      out.push([k, mem.slice(at, at + this.valueSize)]);
    }
    return out;
  }
}

/** Hash maps (plain, per-CPU, LRU): a JS Map from key to a preallocated value slot. */
export class HashStore implements HostMap {
  private readonly slots: number[] = [];
  /** Insertion order doubles as recency order for LRU maps (a hit moves the key last). */
  private readonly table = new Map<string, { key: Uint8Array; at: number }>();
  constructor(
    readonly name: string,
    private readonly heap: Heap,
    private readonly valueSize: number,
    private readonly maxEntries: number,
    private readonly lru: boolean,
  ) {
    const base = heap.alloc(stride(valueSize) * maxEntries);
    for (let i = maxEntries - 1; i >= 0; i--) this.slots.push(base + i * stride(valueSize));
  }
  lookup(key: Uint8Array): number {
    const k = keyOf(key);
    const e = this.table.get(k);
    if (!e) return 0;
    if (this.lru) {
      this.table.delete(k);
      this.table.set(k, e);
    }
    return e.at;
  }
  /** `shown`: the key bytes entries() reports, when they differ from the identity (LPM). */
  update(key: Uint8Array, value: Uint8Array, flags: number, shown?: Uint8Array): number {
    if (flags > BPF_EXIST) return -EINVAL;
    const k = keyOf(key);
    let e = this.table.get(k);
    if (e && flags === BPF_NOEXIST) return -EEXIST;
    if (!e && flags === BPF_EXIST) return -ENOENT;
    if (!e) {
      if (!this.slots.length) {
        if (!this.lru) return -E2BIG;
        const [oldest, victim] = this.table.entries().next().value!;
        this.table.delete(oldest);
        this.slots.push(victim.at);
      }
      e = { key: key.slice(), at: this.slots.pop()! };
    } else this.table.delete(k);
    if (shown) e.key = shown.slice();
    this.table.set(k, e);
    const mem = this.heap.bytes();
    mem.fill(0, e.at, e.at + stride(this.valueSize));
    mem.set(value.subarray(0, this.valueSize), e.at);
    return 0;
  }
  delete(key: Uint8Array): number {
    const k = keyOf(key);
    const e = this.table.get(k);
    if (!e) return -ENOENT;
    this.table.delete(k);
    this.slots.push(e.at);
    return 0;
  }
  entries(): [Uint8Array, Uint8Array][] {
    const mem = this.heap.bytes();
    return [...this.table.values()].map((e) => [e.key, mem.slice(e.at, e.at + this.valueSize)]);
  }
}

/** Longest-prefix-match trie keys: { prefixlen: u32 (LE), data[keySize - 4] (network order) }. */
export class LpmStore implements HostMap {
  private readonly inner: HashStore;
  private readonly bits: number;
  /** Prefix lengths in use → entries with that length; lookups try only these. */
  private readonly lengths = new Map<number, number>();
  private sorted: number[] = [];
  constructor(
    readonly name: string,
    heap: Heap,
    private readonly keySize: number,
    valueSize: number,
    maxEntries: number,
  ) {
    this.inner = new HashStore(name, heap, valueSize, maxEntries, false);
    this.bits = (keySize - 4) * 8;
  }
  /** The key with the bits past its prefix cleared: equal prefixes are one entry. */
  private canonical(key: Uint8Array, prefixlen: number): Uint8Array {
    const k = key.slice(0, this.keySize);
    new DataView(k.buffer).setUint32(0, prefixlen, true);
    for (let bit = prefixlen; bit < this.bits; bit++) k[4 + (bit >> 3)]! &= ~(0x80 >> (bit & 7));
    return k;
  }
  private prefixlen(key: Uint8Array): number {
    return new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true);
  }
  lookup(key: Uint8Array): number {
    const p = Math.min(this.prefixlen(key), this.bits);
    for (const len of this.sorted) {
      if (len > p) continue;
      const at = this.inner.lookup(this.canonical(key, len));
      if (at) return at;
    }
    return 0;
  }
  update(key: Uint8Array, value: Uint8Array, flags: number): number {
    const p = this.prefixlen(key);
    if (p > this.bits) return -EINVAL;
    const k = this.canonical(key, p);
    const fresh = this.inner.lookup(k) === 0;
    // The kernel keeps the key's bytes as given (past the prefix too) and reports them.
    const r = this.inner.update(k, value, flags, key.slice(0, this.keySize));
    if (r === 0 && fresh) this.count(p, 1);
    return r;
  }
  delete(key: Uint8Array): number {
    const p = this.prefixlen(key);
    if (p > this.bits) return -EINVAL;
    const r = this.inner.delete(this.canonical(key, p));
    if (r === 0) this.count(p, -1);
    return r;
  }
  entries(): [Uint8Array, Uint8Array][] {
    return this.inner.entries();
  }
  private count(len: number, by: number): void {
    const n = (this.lengths.get(len) ?? 0) + by;
    if (n > 0) this.lengths.set(len, n);
    else this.lengths.delete(len);
    this.sorted = [...this.lengths.keys()].sort((a, b) => b - a);
  }
}

/** A ring buffer nobody drains until `drain()`: records take their size + an 8-byte header, rounded to 8. */
export class RingBufStore {
  readonly records: Uint8Array[] = [];
  private used = 0;
  constructor(
    readonly name: string,
    private readonly capacity: number,
  ) {}
  output(record: Uint8Array): number {
    const need = Math.ceil((record.length + 8) / 8) * 8;
    // The kernel keeps the producer less than the ring's size ahead of the consumer
    // (new_prod_pos - cons_pos > mask fails): a ring is never filled to its last byte.
    if (this.used + need >= this.capacity) return -EAGAIN;
    this.used += need;
    this.records.push(record.slice());
    return 0;
  }
  drain(): Uint8Array[] {
    const out = this.records.splice(0);
    this.used = 0;
    return out;
  }
}

/**
 * DevMap, CpuMap and XskMap: programs only redirect through them, so the host keeps
 * which indices hold an entry (an ifindex, a queue size, a socket) and their bytes.
 */
export class RedirectStore implements HostMap {
  private readonly slots = new Map<number, Uint8Array>();
  /** DevMap/DevMapHash: where each entry's value lives in memory, for program lookups. */
  private readonly addrs = new Map<number, number>();
  private readonly free: number[] = [];
  constructor(
    readonly name: string,
    private readonly maxEntries: number,
    private readonly values?: { heap: Heap; valueSize: number; hashed: boolean },
  ) {}
  private index(key: Uint8Array): number {
    return new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true);
  }
  /** DevMap/DevMapHash entries can be looked up (the value's address); CpuMap/XskMap not. */
  lookup(key: Uint8Array): number {
    return this.values ? (this.addrs.get(this.index(key)) ?? 0) : 0;
  }
  has(index: number): boolean {
    return this.slots.has(index >>> 0);
  }
  update(key: Uint8Array, value: Uint8Array, flags: number): number {
    if (flags > BPF_EXIST) return -EINVAL;
    const i = this.index(key);
    const hashed = this.values?.hashed ?? false;
    if (!hashed && i >= this.maxEntries) return -E2BIG;
    if (hashed) {
      if (flags === BPF_NOEXIST && this.slots.has(i)) return -EEXIST;
      if (flags === BPF_EXIST && !this.slots.has(i)) return -ENOENT;
      if (!this.slots.has(i) && this.slots.size >= this.maxEntries) return -E2BIG;
    } else if (flags === BPF_NOEXIST) return -EEXIST;
    this.slots.set(i, value.slice());
    if (this.values) {
      const { heap, valueSize } = this.values;
      let at = this.addrs.get(i);
      if (at === undefined) {
        at = this.free.pop() ?? heap.alloc(valueSize);
        this.addrs.set(i, at);
      }
      heap.bytes().set(value.subarray(0, valueSize), at);
    }
    return 0;
  }
  delete(key: Uint8Array): number {
    const i = this.index(key);
    if (!this.values?.hashed && i >= this.maxEntries) return -EINVAL;
    const at = this.addrs.get(i);
    if (at !== undefined) {
      this.addrs.delete(i);
      this.free.push(at);
    }
    return this.slots.delete(i) ? 0 : -ENOENT;
  }
  entries(): [Uint8Array, Uint8Array][] {
    return [...this.slots].map(([i, v]) => {
      const k = new Uint8Array(4);
      new DataView(k.buffer).setUint32(0, i, true);
      return [k, v.slice()];
    });
  }
}
