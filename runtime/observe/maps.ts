// Typed maps: a kernel map fd plus the key/value types from the compiler's metadata
// (the object file's BTF, or the BTF the kernel holds for the map), giving
// get/set/delete/iterate with JavaScript values (runtime/observe/values.ts).
// Also: finding the maps of the XDP program attached to an interface.
import { NativeError } from "../../native/lib.ts";
import { kernelBtfBytes } from "../../native/btf.ts";
import { xdpQuery } from "../../native/xdp.ts";
import { ifNameToIndex } from "../../native/ifname.ts";
import { closeFd } from "../../native/bpf.ts";
import {
  mapInfo,
  mapFdById,
  progFdById,
  progInfo,
  type MapInfo as KernelMapInfo,
} from "../../native/info.ts";
import {
  mapDelete,
  mapDeleteBatch,
  mapLookup,
  mapLookupBatch,
  mapUpdateBatch,
  mapNextKey,
  mapUpdate,
  possibleCpus,
  type LoadedObject,
} from "../../native/object.ts";
import { readObject, type ObjectInfo } from "../../compiler/elf/object.ts";
import {
  BPF_ANY,
  BPF_MAP_TYPE,
  MAP_TYPE_NAMES,
  XDP_ACTION_NAMES,
} from "../../compiler/uapi/bpf.ts";
import { typeDescFromBtf, type TypeDesc } from "../../compiler/elf/types.ts";
import { Kind } from "../../compiler/btf/kinds.ts";
import { parseBtf, type Btf } from "../../compiler/btf/reader.ts";
import { sumValues, ValueCodec, type JsValue } from "./values.ts";

const { ARRAY, PERCPU_ARRAY, PERCPU_HASH, LRU_PERCPU_HASH, LPM_TRIE, RINGBUF } = BPF_MAP_TYPE;
const PERCPU = new Set<number>([PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH]);
const ARRAY_LIKE = new Set<number>([ARRAY, PERCPU_ARRAY]);

/** XDP actions as `xdpc stats` names them: "aborted", "drop", "pass", "tx", "redirect". */
export const VERDICT_NAMES = XDP_ACTION_NAMES.map((n) => n.slice(4).toLowerCase());

export interface MapMeta {
  name: string;
  /** BPF_MAP_TYPE_* */
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  /** Kernel map id, when known. */
  id?: number;
  key?: TypeDesc;
  value?: TypeDesc;
}

export function mapTypeName(type: number): string {
  return MAP_TYPE_NAMES[type] ?? `type_${type}`;
}

/** A type for a key/value with no BTF: a number of the right width, or raw bytes. */
function fallbackType(size: number): TypeDesc {
  if (size === 1 || size === 2 || size === 4 || size === 8)
    return { kind: "int", bits: (size * 8) as 8 | 16 | 32 | 64, signed: false };
  return { kind: "array", elem: { kind: "int", bits: 8, signed: false }, length: size };
}

// ------------------------------------------------------------------ BTF

/** The map value type of a global-data map is a DATASEC: decode it as a struct of its variables. */
export function typeDescOf(btf: Btf, id: number): TypeDesc {
  const t = btf.byId(id);
  if (t?.kind === Kind.DATASEC) {
    return {
      kind: "struct",
      name: t.name,
      size: t.size,
      members: t.vars.map((v) => {
        const vt = btf.byId(v.type);
        return {
          name: vt && "name" in vt ? vt.name : `off${v.offset}`,
          type: typeDescFromBtf(btf, v.type),
          offset: v.offset,
        };
      }),
    };
  }
  return typeDescFromBtf(btf, id);
}

/** The key and value types an object's BTF gives map `name` (none without BTF or `__type`). */
export function objectMapTypes(info: ObjectInfo, name: string): Pick<MapMeta, "key" | "value"> {
  const m = info.maps.find((x) => x.name === name);
  if (!m || !info.btf) return {};
  return {
    ...(m.keyType ? { key: typeDescOf(info.btf, m.keyType) } : {}),
    ...(m.valueType ? { value: typeDescOf(info.btf, m.valueType) } : {}),
  };
}

/**
 * The codecs of a map's keys and values: from its BTF types when it has them, else a
 * number of the right width or raw bytes. Every typed map (kernel or Wasm host) uses them.
 */
export function mapCodecs(
  meta: Pick<MapMeta, "type" | "keySize" | "valueSize" | "key" | "value">,
  opts: { plain?: boolean } = {},
): { key: ValueCodec; value: ValueCodec } {
  const plain = !!opts.plain;
  return {
    key: new ValueCodec(meta.key ?? fallbackType(meta.keySize), {
      lpmKey: meta.type === LPM_TRIE,
      plain,
    }),
    value: new ValueCodec(meta.value ?? fallbackType(meta.valueSize), { plain }),
  };
}

/** The BTF object the kernel holds under `id` (a program's or map's), parsed. */
export function kernelBtf(id: number): Btf {
  return parseBtf(kernelBtfBytes(id));
}

// ------------------------------------------------------------------ TypedMap

export interface MapEntry {
  key: JsValue;
  value: JsValue;
  /** Per-CPU maps: the value on each possible CPU (`value` is their sum). */
  perCpu?: JsValue[];
}

export class TypedMap {
  readonly key: ValueCodec;
  readonly value: ValueCodec;
  readonly perCpu: boolean;
  readonly cpus: number;
  private readonly stride: number;
  private closed = false;

  constructor(
    readonly fd: number,
    readonly meta: MapMeta,
    private readonly ownsFd = false,
    codec: { plain?: boolean } = {},
  ) {
    ({ key: this.key, value: this.value } = mapCodecs(meta, codec));
    if (
      meta.type !== RINGBUF &&
      (this.key.size !== meta.keySize || this.value.size !== meta.valueSize)
    )
      throw new Error(
        `map ${meta.name}: BTF types are ${this.key.size}/${this.value.size} bytes, the kernel map ${meta.keySize}/${meta.valueSize}`,
      );
    this.perCpu = PERCPU.has(meta.type);
    this.cpus = this.perCpu ? possibleCpus() : 1;
    this.stride = this.perCpu ? Math.ceil(meta.valueSize / 8) * 8 : meta.valueSize;
  }

  get name(): string {
    return this.meta.name;
  }
  get typeName(): string {
    return mapTypeName(this.meta.type);
  }
  /** Arrays have every key 0..maxEntries-1 and no delete. */
  get isArray(): boolean {
    return ARRAY_LIKE.has(this.meta.type);
  }
  get iterable(): boolean {
    return this.meta.type !== RINGBUF;
  }

  /** Opens a map by fd (taking ownership when asked): types from the kernel's BTF for it, when it has some. */
  static fromFd(fd: number, opts: { ownsFd?: boolean; btf?: Btf } = {}): TypedMap {
    return new TypedMap(fd, metaFromKernel(mapInfo(fd), opts.btf), opts.ownsFd ?? false);
  }

  static fromId(id: number): TypedMap {
    const fd = mapFdById(id);
    try {
      return TypedMap.fromFd(fd, { ownsFd: true });
    } catch (e) {
      closeFd(fd);
      throw e;
    }
  }

  /** A map of a loaded object, typed from the same object file's BTF (the fd stays the object's). */
  static fromObject(
    obj: LoadedObject,
    file: Uint8Array | ObjectInfo,
    name: string,
    codec: { plain?: boolean } = {},
  ): TypedMap {
    const info = file instanceof Uint8Array ? readObject(file) : file;
    const m = info.maps.find((x) => x.name === name);
    const fd = obj.mapFd(name);
    const km = mapInfo(fd);
    if (!m || !info.btf) return new TypedMap(fd, metaFromKernel(km), false, codec);
    return new TypedMap(
      fd,
      {
        ...kernelFields(km),
        name, // the object's, which the kernel truncates to 15 characters
        ...objectMapTypes(info, name),
      },
      false,
      codec,
    );
  }

  private live(): void {
    if (this.closed) throw new Error(`map ${this.name} is closed`);
  }

  encodeKey(key: unknown): Uint8Array {
    return this.key.encode(typeof key === "string" && !this.key.cidr ? this.key.parse(key) : key);
  }

  /** The raw value bytes for a key (per-CPU: all CPUs), or null when absent. */
  lookupRaw(key: Uint8Array): Uint8Array | null {
    this.live();
    return mapLookup(this.fd, key, this.stride * this.cpus);
  }

  private decodeCpus(raw: Uint8Array): JsValue[] {
    return Array.from({ length: this.cpus }, (_, c) => this.value.decode(raw, c * this.stride));
  }

  /** The value (per-CPU maps: summed over CPUs), or null when the key is absent. */
  get(key: unknown): JsValue | null {
    const raw = this.lookupRaw(this.encodeKey(key));
    if (!raw) return null;
    return this.perCpu ? sumValues(this.decodeCpus(raw)) : this.value.decode(raw);
  }

  /** Per-CPU maps: one value per possible CPU; other maps: a one-element array. */
  getPerCpu(key: unknown): JsValue[] | null {
    const raw = this.lookupRaw(this.encodeKey(key));
    return raw ? this.decodeCpus(raw) : null;
  }

  /**
   * Sets a value. On per-CPU maps one value goes to CPU 0 and the other CPUs get the
   * type's zero, so that get() — the sum — reads back what was set (and `0` resets
   * every CPU); `{ perCpu: true }` takes an array with one value per CPU instead.
   */
  set(key: unknown, value: unknown, opts: { flags?: number; perCpu?: boolean } = {}): void {
    this.live();
    mapUpdate(
      this.fd,
      this.encodeKey(key),
      this.encodeValue(value, !!opts.perCpu),
      opts.flags ?? BPF_ANY,
    );
  }

  /** Deletes a key; false when absent. Arrays have no delete (their entries always exist). */
  delete(key: unknown): boolean {
    this.live();
    if (this.isArray)
      throw new NativeError(
        `map ${this.name} is an array: entries cannot be deleted (set them to 0)`,
        22,
        "bpf_map_delete_elem",
      );
    return mapDelete(this.fd, this.encodeKey(key));
  }

  /** Encodes a value for set() (per-CPU maps: `value` is one value per CPU when `perCpu`). */
  private encodeValue(value: unknown, perCpu: boolean): Uint8Array {
    const buf = new Uint8Array(this.stride * this.cpus);
    if (perCpu) {
      if (!Array.isArray(value) || value.length !== this.cpus)
        throw new Error(`map ${this.name}: a per-CPU value needs ${this.cpus} elements`);
      value.forEach((v, c) => this.value.encodeInto(v, buf, c * this.stride));
    } else {
      this.value.encodeInto(value, buf, 0);
    }
    return buf;
  }

  /**
   * Sets many entries with BPF_MAP_UPDATE_BATCH where the kernel has it for this map
   * type, else one by one; the first refused element throws (the ones before it are set).
   */
  setMany(
    entries: Iterable<readonly [unknown, unknown]>,
    opts: { flags?: number; perCpu?: boolean } = {},
  ): void {
    this.live();
    const all = [...entries];
    if (all.length === 0) return;
    const ks = this.meta.keySize;
    const vs = this.stride * this.cpus;
    const keys = new Uint8Array(ks * all.length);
    const values = new Uint8Array(vs * all.length);
    all.forEach(([k, v], i) => {
      keys.set(this.encodeKey(k), i * ks);
      values.set(this.encodeValue(v, !!opts.perCpu), i * vs);
    });
    const flags = opts.flags ?? BPF_ANY;
    if (!noUpdateBatch.has(this.meta.type)) {
      const { ret, count } = mapUpdateBatch(this.fd, keys, values, all.length, flags);
      if (ret >= 0) return;
      if (!(count === 0 && (ret === -22 || ret === -524 || ret === -95)))
        throw new NativeError("map batch update failed", -ret, "bpf_map_update_batch");
      noUpdateBatch.add(this.meta.type);
    }
    for (let i = 0; i < all.length; i++)
      mapUpdate(
        this.fd,
        keys.subarray(i * ks, (i + 1) * ks),
        values.subarray(i * vs, (i + 1) * vs),
        flags,
      );
  }

  /** Deletes many keys (BPF_MAP_DELETE_BATCH where the kernel has it); returns how many were present. */
  deleteMany(keys: Iterable<unknown>): number {
    this.live();
    if (this.isArray) this.delete(0); // throws: array entries cannot be deleted
    let rest = [...keys].map((k) => this.encodeKey(k));
    const ks = this.meta.keySize;
    let deleted = 0;
    while (rest.length && !noDeleteBatch.has(this.meta.type)) {
      const packed = new Uint8Array(ks * rest.length);
      rest.forEach((k, i) => packed.set(k, i * ks));
      const { ret, count } = mapDeleteBatch(this.fd, packed, rest.length);
      deleted += count;
      if (ret >= 0) return deleted;
      if (ret === -2) {
        rest = rest.slice(count + 1); // that key was absent: go on after it
        continue;
      }
      if (count === 0 && (ret === -22 || ret === -524 || ret === -95)) {
        noDeleteBatch.add(this.meta.type);
        break;
      }
      throw new NativeError("map batch delete failed", -ret, "bpf_map_delete_batch");
    }
    for (const k of rest) if (mapDelete(this.fd, k)) deleted++;
    return deleted;
  }

  /** Raw keys in kernel order (bpf_map_get_next_key). */
  *rawKeys(): Generator<Uint8Array> {
    this.live();
    let k: Uint8Array | null = null;
    let n = 0;
    for (;;) {
      const next = mapNextKey(this.fd, k, this.meta.keySize);
      if (!next) return;
      yield next;
      k = next;
      // Arrays and full hash tables end by themselves; this only guards against a map that changes under us.
      if (++n > this.meta.maxEntries * 4 + 16) return;
    }
  }

  *keys(): Generator<JsValue> {
    for (const k of this.rawKeys()) yield this.key.decode(k);
  }

  /**
   * Every raw entry: with BPF_MAP_LOOKUP_BATCH where the kernel has it for this map
   * type (arrays, hashes: one syscall per chunk), else key by key (also with batchSize 0).
   */
  *rawEntries(opts: { batchSize?: number } = {}): Generator<[Uint8Array, Uint8Array]> {
    this.live();
    const batch = lookupBatch(
      this.fd,
      this.meta.keySize,
      this.stride * this.cpus,
      opts.batchSize ?? Math.min(this.meta.maxEntries, 1024),
    );
    if (batch) {
      yield* batch;
      return;
    }
    for (const k of this.rawKeys()) {
      const raw = this.lookupRaw(k);
      if (raw) yield [k, raw];
    }
  }

  /** Every entry (decoded; per-CPU values also given per CPU). Entries deleted meanwhile are skipped. */
  *entries(opts: { batchSize?: number } = {}): Generator<MapEntry> {
    for (const [k, raw] of this.rawEntries(opts)) {
      const key = this.key.decode(k);
      if (this.perCpu) {
        const perCpu = this.decodeCpus(raw);
        yield { key, value: sumValues(perCpu), perCpu };
      } else yield { key, value: this.value.decode(raw) };
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsFd) closeFd(this.fd);
  }
}

/** Map types whose batch lookup, update or delete this code has seen fail (ENOTSUPP/EINVAL): not asked again. */
const noBatch = new Set<number>();
const noUpdateBatch = new Set<number>();
const noDeleteBatch = new Set<number>();

/** Map types found to lack batch lookups so far (diagnostics and tests). */
export function batchlessMapTypes(): number[] {
  return [...noBatch].sort((x, y) => x - y);
}

/**
 * All entries by BPF_MAP_LOOKUP_BATCH, or null when the map type has no batch
 * support (the caller falls back to get_next_key). Reads the whole map eagerly.
 */
function lookupBatch(
  fd: number,
  keySize: number,
  valueSize: number,
  chunk: number,
): [Uint8Array, Uint8Array][] | null {
  const type = mapInfo(fd).type;
  if (noBatch.has(type) || chunk <= 0) return null;
  // The batch cursor is a bucket index for hashes, a key for arrays: room for either.
  const tokenSize = Math.max(keySize, 8);
  let inBatch: Buffer | null = null;
  const out: [Uint8Array, Uint8Array][] = [];
  for (;;) {
    const outBatch = Buffer.alloc(tokenSize);
    const keys = Buffer.alloc(keySize * chunk);
    const values = Buffer.alloc(valueSize * chunk);
    const { ret, count: n } = mapLookupBatch(fd, inBatch, outBatch, keys, values, chunk);
    if (ret === -28) {
      // ENOSPC: a hash bucket holds more entries than fit the chunk; retry it bigger.
      chunk *= 2;
      continue;
    }
    if (ret < 0 && ret !== -2) {
      if (out.length === 0 && (ret === -22 || ret === -524 || ret === -95)) {
        noBatch.add(type);
        return null;
      }
      throw new NativeError("map batch lookup failed", -ret, "bpf_map_lookup_batch");
    }
    for (let i = 0; i < n; i++)
      out.push([
        new Uint8Array(keys.subarray(i * keySize, (i + 1) * keySize)),
        new Uint8Array(values.subarray(i * valueSize, (i + 1) * valueSize)),
      ]);
    if (ret === -2) return out; // ENOENT: no more entries
    inBatch = outBatch;
  }
}

/** What the kernel says about a map, without its BTF types. */
function kernelFields(km: KernelMapInfo): MapMeta {
  return {
    name: km.name,
    type: km.type,
    keySize: km.keySize,
    valueSize: km.valueSize,
    maxEntries: km.maxEntries,
    flags: km.flags,
    id: km.id,
  };
}

function metaFromKernel(km: KernelMapInfo, btf?: Btf): MapMeta {
  const meta = kernelFields(km);
  if (km.btfId && (km.btfKeyTypeId || km.btfValueTypeId)) {
    const b = btf ?? kernelBtf(km.btfId);
    if (km.btfKeyTypeId) meta.key = typeDescOf(b, km.btfKeyTypeId);
    if (km.btfValueTypeId) meta.value = typeDescOf(b, km.btfValueTypeId);
  }
  return meta;
}

// ------------------------------------------------------------------ interfaces → programs → maps

/** The ifindex of a network interface, or a NativeError (ENODEV). */
export function ifindexOf(iface: string): number {
  const i = ifNameToIndex(iface);
  if (!i) throw new NativeError(`no network interface named '${iface}'`, 19, "if_nametoindex");
  return i;
}

/** The id of the XDP program attached to an interface (native before generic), or 0. */
export function attachedProgramId(iface: string | number): number {
  const q = xdpQuery(typeof iface === "number" ? iface : ifindexOf(iface));
  return q.progId || q.drvProgId || q.skbProgId || q.hwProgId;
}

export interface ProgramMaps {
  progId: number;
  progFd: number;
  progName: string;
  maps: TypedMap[];
  /** Closes the program fd and every map. */
  close(): void;
}

/** Opens a program by id and every map it uses, typed from the kernel's BTF. */
export function programMaps(progId: number): ProgramMaps {
  const progFd = progFdById(progId);
  const maps: TypedMap[] = [];
  try {
    const info = progInfo(progFd);
    for (const id of info.mapIds) maps.push(TypedMap.fromId(id));
    return {
      progId,
      progFd,
      progName: info.name,
      maps,
      close() {
        for (const m of maps) m.close();
        closeFd(progFd);
      },
    };
  } catch (e) {
    for (const m of maps) m.close();
    closeFd(progFd);
    throw e;
  }
}

/** The maps of the program attached to `iface`; a NativeError (ENOENT) when nothing is attached. */
export function interfaceMaps(iface: string): ProgramMaps {
  const id = attachedProgramId(iface);
  if (!id) throw new NativeError(`no XDP program is attached to ${iface}`, 2, "bpf_xdp_query_id");
  return programMaps(id);
}

/**
 * A map's user-facing name: the kernel truncates names to 15 characters and libbpf
 * names global-data maps `<obj>.bss`; match either exactly or by the visible prefix.
 */
export function findMap(maps: readonly TypedMap[], name: string): TypedMap | undefined {
  return (
    maps.find((m) => m.name === name) ??
    maps.find((m) => name.length > 15 && m.name === name.slice(0, 15)) ??
    maps.find((m) => /\.(bss|data|rodata)$/.test(m.name) && m.name.endsWith(name))
  );
}
