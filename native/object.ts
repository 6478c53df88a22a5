// The libbpf bpf_object API: open an ELF object from memory, load it (the kernel
// verifier runs here), find programs and maps, set `.rodata` initial values, and
// map element operations by fd. libbpf's own messages are captured and attached to
// errors instead of going to stderr.
import { BPF_ANY } from "../compiler/uapi/bpf.ts";
import { sys } from "./sys.ts";
import { koffi, library, NativeError } from "./lib.ts";

type Ptr = unknown;

interface Api {
  openMem: (buf: Uint8Array, size: number, opts: unknown) => Ptr;
  load: (obj: Ptr) => number;
  close: (obj: Ptr) => void;
  findProgram: (obj: Ptr, name: string) => Ptr;
  nextProgram: (obj: Ptr, prev: Ptr) => Ptr;
  programName: (p: Ptr) => string;
  sectionName: (p: Ptr) => string;
  programFd: (p: Ptr) => number;
  setLogBuf: (p: Ptr, buf: Ptr, size: number) => number;
  setLogLevel: (p: Ptr, level: number) => number;
  setType: (p: Ptr, type: number) => number;
  setExpectedAttachType: (p: Ptr, type: number) => number;
  setAttachTarget: (p: Ptr, fd: number, name: string) => number;
  findMap: (obj: Ptr, name: string) => Ptr;
  nextMap: (obj: Ptr, prev: Ptr) => Ptr;
  mapName: (m: Ptr) => string;
  mapFd: (m: Ptr) => number;
  mapType: (m: Ptr) => number;
  mapKeySize: (m: Ptr) => number;
  mapValueSize: (m: Ptr) => number;
  mapMaxEntries: (m: Ptr) => number;
  setInitialValue: (m: Ptr, data: Uint8Array, size: number) => number;
  initialValue: (m: Ptr, psize: number[]) => Ptr;
  lookup: (fd: number, key: Uint8Array, value: Uint8Array) => number;
  update: (fd: number, key: Uint8Array, value: Uint8Array, flags: bigint) => number;
  del: (fd: number, key: Uint8Array) => number;
  nextKey: (fd: number, key: Uint8Array | null, next: Uint8Array) => number;
  possibleCpus: () => number;
  mapCreate: (
    type: number,
    name: string | null,
    keySize: number,
    valueSize: number,
    maxEntries: number,
    opts: Uint8Array | null,
  ) => number;
  OpenOpts: unknown;
}

let api: Api | undefined;
const BPF_PROG_TYPE_EXT = 28;
const BPF_PROG_TYPE_SCHED_CLS = 3;

/**
 * The program type and expected attach type of the sections libbpf 1.3 added for tcx
 * (BPF_TCX_INGRESS 46, BPF_TCX_EGRESS 47). libbpf 1.1 opens such a program with no type
 * and refuses to load it ("missing BPF prog type"), so openObject sets them itself, as
 * a newer libbpf would from the section name.
 */
export const TCX_SECTIONS: Readonly<Record<string, number>> = {
  "tcx/ingress": 46,
  "tcx/egress": 47,
};
/** Messages libbpf printed during the current open/load; undefined when not capturing. */
let captured: string[] | undefined;

function bind(): Api {
  if (api) return api;
  const k = koffi();
  const bpf = library("libbpf.so.1");
  const libc = library("libc.so.6");
  k.opaque("bpf_object");
  k.opaque("bpf_program");
  k.opaque("bpf_map");
  const OpenOpts = k.struct("xdpc_bpf_object_open_opts", {
    sz: "size_t",
    object_name: "const char *",
    relaxed_maps: "bool",
    pin_root_path: "const char *",
    _removed_attach_prog_fd: "uint32_t",
    kconfig: "const char *",
    btf_custom_path: "const char *",
    kernel_log_buf: "void *",
    kernel_log_size: "size_t",
    kernel_log_level: "uint32_t",
  });

  // Route libbpf's printf-style log through vsnprintf into `captured`.
  const vsnprintf = libc.func(
    "int vsnprintf(_Out_ uint8_t *buf, size_t n, const char *fmt, void *ap)",
  );
  const PrintFn = k.proto("int xdpc_libbpf_print_fn(int level, const char *fmt, void *ap)");
  const setPrint = bpf.func("void *libbpf_set_print(xdpc_libbpf_print_fn *fn)");
  const buf = Buffer.alloc(4096);
  const cb = k.register((level: number, fmt: string, ap: unknown) => {
    if (level > 1) return 0; // LIBBPF_DEBUG
    const n = vsnprintf(buf, buf.length, fmt, ap) as number;
    const msg = buf.toString("utf8", 0, Math.max(0, Math.min(n, buf.length - 1))).trimEnd();
    if (captured) captured.push(msg);
    else if (level === 0) process.stderr.write(`libbpf: ${msg}\n`);
    return 0;
  }, k.pointer(PrintFn));
  setPrint(cb);

  api = {
    openMem: bpf.func(
      "bpf_object *bpf_object__open_mem(const void *buf, size_t size, const xdpc_bpf_object_open_opts *opts)",
    ),
    load: bpf.func("int bpf_object__load(bpf_object *obj)"),
    close: bpf.func("void bpf_object__close(bpf_object *obj)"),
    findProgram: bpf.func(
      "bpf_program *bpf_object__find_program_by_name(bpf_object *obj, const char *name)",
    ),
    nextProgram: bpf.func(
      "bpf_program *bpf_object__next_program(bpf_object *obj, bpf_program *prev)",
    ),
    programName: bpf.func("const char *bpf_program__name(bpf_program *p)"),
    programFd: bpf.func("int bpf_program__fd(bpf_program *p)"),
    sectionName: bpf.func("const char *bpf_program__section_name(bpf_program *p)"),
    setLogBuf: bpf.func("int bpf_program__set_log_buf(bpf_program *p, void *buf, size_t size)"),
    setLogLevel: bpf.func("int bpf_program__set_log_level(bpf_program *p, uint32_t level)"),
    setType: bpf.func("int bpf_program__set_type(bpf_program *p, int type)"),
    setExpectedAttachType: bpf.func(
      "int bpf_program__set_expected_attach_type(bpf_program *p, int type)",
    ),
    setAttachTarget: bpf.func(
      "int bpf_program__set_attach_target(bpf_program *p, int fd, const char *name)",
    ),
    findMap: bpf.func("bpf_map *bpf_object__find_map_by_name(bpf_object *obj, const char *name)"),
    nextMap: bpf.func("bpf_map *bpf_object__next_map(bpf_object *obj, bpf_map *prev)"),
    mapName: bpf.func("const char *bpf_map__name(bpf_map *m)"),
    mapFd: bpf.func("int bpf_map__fd(bpf_map *m)"),
    mapType: bpf.func("int bpf_map__type(bpf_map *m)"),
    mapKeySize: bpf.func("uint32_t bpf_map__key_size(bpf_map *m)"),
    mapValueSize: bpf.func("uint32_t bpf_map__value_size(bpf_map *m)"),
    mapMaxEntries: bpf.func("uint32_t bpf_map__max_entries(bpf_map *m)"),
    setInitialValue: bpf.func(
      "int bpf_map__set_initial_value(bpf_map *m, const void *data, size_t size)",
    ),
    initialValue: bpf.func("void *bpf_map__initial_value(bpf_map *m, _Out_ size_t *psize)"),
    lookup: bpf.func("int bpf_map_lookup_elem(int fd, const void *key, _Out_ uint8_t *value)"),
    update: bpf.func(
      "int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)",
    ),
    del: bpf.func("int bpf_map_delete_elem(int fd, const void *key)"),
    nextKey: bpf.func("int bpf_map_get_next_key(int fd, const void *key, _Out_ uint8_t *next)"),
    possibleCpus: bpf.func("int libbpf_num_possible_cpus()"),
    mapCreate: bpf.func(
      "int bpf_map_create(int type, const char *name, uint32_t key_size, uint32_t value_size, uint32_t max_entries, const void *opts)",
    ),
    OpenOpts,
  };
  // Keep the callback alive for the life of the process (libbpf holds the pointer).
  (api as Api & { printCb?: unknown }).printCb = cb;
  return api;
}

/** Runs `fn` with libbpf's messages collected instead of printed (they explain a failed call). */
export const withCapture = sys("withCapture", function withCapture<T>(fn: () => T): {
  value: T;
  messages: string[];
} {
  bind(); // installs the print callback that collects the messages
  const prev = captured;
  captured = [];
  try {
    const value = fn();
    return { value, messages: captured };
  } finally {
    captured = prev;
  }
});

/** A rejected load: the verifier's log for each program that produced one, plus libbpf's messages. */
export class LoadError extends NativeError {
  constructor(
    what: string,
    errno: number,
    call: string,
    readonly logs: Record<string, string>,
    readonly messages: string[],
    detail = "",
  ) {
    super(what, errno, call, detail);
    this.name = "LoadError";
  }
  /** All verifier logs joined (most callers want just this). */
  get log(): string {
    return Object.values(this.logs).join("\n");
  }
}

export interface OpenOptions {
  /** Object name (prefix of internal map names such as `<name>.rodata`). */
  name?: string;
  /** Where maps with `pinning` are pinned; libbpf defaults to /sys/fs/bpf. */
  pinRoot?: string;
  /** Verifier log level for every program: 0 = log only on failure (default), 1, 2 = per-instruction. */
  logLevel?: number;
  /** Log buffer size per program (default 4 MiB). */
  logSize?: number;
  /**
   * Load every program as BPF_PROG_TYPE_EXT (freplace) replacing function `name` of the
   * loaded program `fd`, as libxdp's dispatcher loads its programs.
   */
  extensionOf?: { fd: number; name: string };
}

export interface MapInfo {
  name: string;
  fd: number;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

export interface LoadedObject {
  /** Loads every program and creates the maps; throws LoadError with the verifier log on rejection. */
  load(): void;
  readonly loaded: boolean;
  programNames(): string[];
  mapNames(): string[];
  programFd(name: string): number;
  /** The verifier log of a program (empty at logLevel 0 unless the load failed). */
  programLog(name: string): string;
  mapFd(name: string): number;
  map(name: string): MapInfo;
  /** Replaces a global-data map's (".rodata", ".data", ".bss") initial contents; before load only. */
  setInitialValue(map: string, bytes: Uint8Array): void;
  /** A copy of a map's initial contents (global-data maps). */
  initialValue(map: string): Uint8Array;
  /** The kernel's log from loading the object's BTF (non-empty when the kernel refused it). */
  btfLog(): string;
  /** libbpf's messages from open and load. */
  readonly messages: string[];
  close(): void;
}

/** Opens an ELF object from memory (no syscalls that load anything yet). */
export const openObject = sys(
  "openObject",
  function openObject(bytes: Uint8Array, opts: OpenOptions = {}): LoadedObject {
    const a = bind();
    const k = koffi();
    // Object-level log buffer: libbpf writes the kernel's BTF-load log here (programs have their own).
    const objLogSize = 1 << 20;
    const objLog = k.alloc("uint8_t", objLogSize);
    k.encode(objLog, "uint8_t", 0);
    const o = {
      sz: k.sizeof(a.OpenOpts as never),
      object_name: opts.name ?? null,
      relaxed_maps: false,
      pin_root_path: opts.pinRoot ?? null,
      _removed_attach_prog_fd: 0,
      kconfig: null,
      btf_custom_path: null,
      kernel_log_buf: objLog,
      kernel_log_size: objLogSize,
      kernel_log_level: 0,
    };
    // A private copy that lives as long as the object: libbpf may keep pointers into the image.
    let buf: Buffer | undefined = Buffer.from(bytes);
    const { value: obj, messages } = withCapture(() => {
      const p = a.openMem(buf!, buf!.length, o);
      return { p, errno: p ? 0 : k.errno() };
    });
    if (!obj.p) {
      k.free(objLog);
      throw new NativeError(
        "cannot open BPF object",
        obj.errno || 22,
        "bpf_object__open_mem",
        messages.join("\n"),
      );
    }
    const handle = obj.p;
    const allMessages = [...messages];

    // Per-program log buffers in native memory: libbpf keeps the pointer until load.
    const logSize = opts.logSize ?? 4 << 20;
    const progs = new Map<string, { p: Ptr; log: Ptr }>();
    for (let p = a.nextProgram(handle, null); p; p = a.nextProgram(handle, p)) {
      const log = k.alloc("uint8_t", logSize);
      k.encode(log, "uint8_t", 0);
      a.setLogBuf(p, log, logSize);
      if (opts.logLevel) a.setLogLevel(p, opts.logLevel);
      progs.set(a.programName(p), { p, log });
      const tcx = TCX_SECTIONS[a.sectionName(p)];
      if (tcx !== undefined) {
        a.setType(p, BPF_PROG_TYPE_SCHED_CLS);
        a.setExpectedAttachType(p, tcx);
      }
      if (opts.extensionOf) {
        a.setType(p, BPF_PROG_TYPE_EXT);
        a.setExpectedAttachType(p, 0);
        const err = a.setAttachTarget(p, opts.extensionOf.fd, opts.extensionOf.name);
        if (err < 0) {
          a.close(handle);
          throw new NativeError(
            `cannot target ${opts.extensionOf.name}`,
            -err,
            "bpf_program__set_attach_target",
          );
        }
      }
    }
    let closed = false;
    let loaded = false;

    const readLog = (log: Ptr) => {
      const s = k.decode(log, "char", -1) as unknown;
      return typeof s === "string" ? s : "";
    };
    const live = () => {
      if (closed) throw new Error("BPF object already closed");
    };
    const prog = (name: string) => {
      live();
      const p = progs.get(name);
      if (!p)
        throw new NativeError(
          `no program named ${name} (have: ${[...progs.keys()].join(", ")})`,
          2,
          "bpf_object__find_program_by_name",
        );
      return p;
    };
    const mapPtr = (name: string) => {
      live();
      const m = a.findMap(handle, name);
      if (!m) throw new NativeError(`no map named ${name}`, 2, "bpf_object__find_map_by_name");
      return m;
    };

    return {
      get loaded() {
        return loaded;
      },
      messages: allMessages,
      load() {
        live();
        const { value: ret, messages: ms } = withCapture(() => a.load(handle));
        allMessages.push(...ms);
        if (ret < 0) {
          const logs: Record<string, string> = {};
          for (const [name, p] of progs) {
            const l = readLog(p.log);
            if (l) logs[name] = l;
          }
          const logText = Object.entries(logs)
            .map(([n, l]) => `-- program ${n}:\n${l}`)
            .join("\n");
          const btfLog = readLog(objLog);
          const detail = logText || [...ms, btfLog].filter(Boolean).join("\n");
          throw new LoadError("BPF object rejected", -ret, "bpf_object__load", logs, ms, detail);
        }
        loaded = true;
      },
      programNames: () => [...progs.keys()],
      mapNames() {
        live();
        const out: string[] = [];
        for (let m = a.nextMap(handle, null); m; m = a.nextMap(handle, m)) out.push(a.mapName(m));
        return out;
      },
      programFd(name) {
        const fd = a.programFd(prog(name).p);
        if (fd < 0) throw new NativeError(`program ${name} is not loaded`, -fd, "bpf_program__fd");
        return fd;
      },
      programLog: (name) => readLog(prog(name).log),
      btfLog: () => (live(), readLog(objLog)),
      mapFd(name) {
        const fd = a.mapFd(mapPtr(name));
        if (fd < 0)
          throw new NativeError(`map ${name} is not created (load first)`, -fd, "bpf_map__fd");
        return fd;
      },
      map(name) {
        const m = mapPtr(name);
        return {
          name: a.mapName(m),
          fd: a.mapFd(m),
          type: a.mapType(m),
          keySize: a.mapKeySize(m),
          valueSize: a.mapValueSize(m),
          maxEntries: a.mapMaxEntries(m),
        };
      },
      setInitialValue(name, data) {
        const m = mapPtr(name);
        if (loaded) throw new Error(`cannot set the initial value of ${name} after load`);
        const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
        const ret = a.setInitialValue(m, b, b.length);
        if (ret < 0)
          throw new NativeError(
            `cannot set the initial value of map ${name} (size must be ${a.mapValueSize(m)})`,
            -ret,
            "bpf_map__set_initial_value",
          );
      },
      initialValue(name) {
        const m = mapPtr(name);
        const size = [0];
        const p = a.initialValue(m, size);
        if (!p)
          throw new NativeError(
            `map ${name} has no initial value (not a global-data map)`,
            22,
            "bpf_map__initial_value",
          );
        return new Uint8Array(k.decode(p, "uint8_t", size[0]!) as number[]);
      },
      close() {
        if (closed) return;
        closed = true;
        a.close(handle);
        for (const p of progs.values()) k.free(p.log);
        k.free(objLog);
        buf = undefined;
      },
    };
  },
);

/** The value of `key`, or null when absent. `valueSize` must include per-CPU replication. */
export const mapLookup = sys(
  "mapLookup",
  function mapLookup(fd: number, key: Uint8Array, valueSize: number): Uint8Array | null {
    const a = bind();
    const out = new Uint8Array(valueSize);
    const ret = a.lookup(fd, key, out);
    if (ret === -2) return null; // ENOENT
    if (ret < 0) throw new NativeError("map lookup failed", -ret, "bpf_map_lookup_elem");
    return out;
  },
);

export const mapUpdate = sys(
  "mapUpdate",
  function mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags = BPF_ANY): void {
    const ret = bind().update(fd, key, value, BigInt(flags));
    if (ret < 0) throw new NativeError("map update failed", -ret, "bpf_map_update_elem");
  },
);

/** Deletes `key`; false when it was absent. */
export const mapDelete = sys("mapDelete", function mapDelete(fd: number, key: Uint8Array): boolean {
  const ret = bind().del(fd, key);
  if (ret === -2) return false;
  if (ret < 0) throw new NativeError("map delete failed", -ret, "bpf_map_delete_elem");
  return true;
});

/** The key after `key` (the first key for null), or null at the end. */
export const mapNextKey = sys(
  "mapNextKey",
  function mapNextKey(fd: number, key: Uint8Array | null, keySize: number): Uint8Array | null {
    const out = new Uint8Array(keySize);
    const ret = bind().nextKey(fd, key, out);
    if (ret === -2) return null;
    if (ret < 0) throw new NativeError("map iteration failed", -ret, "bpf_map_get_next_key");
    return out;
  },
);

let batchApi:
  | {
      lookup: (...a: unknown[]) => number;
      update: (...a: unknown[]) => number;
      del: (...a: unknown[]) => number;
      Opts: unknown;
    }
  | undefined;

function batchBind(): NonNullable<typeof batchApi> {
  if (batchApi) return batchApi;
  const k = koffi();
  const Opts = k.struct("xdpc_bpf_map_batch_opts", {
    sz: "size_t",
    elem_flags: "uint64_t",
    flags: "uint64_t",
  });
  const bpf = library("libbpf.so.1");
  batchApi = {
    lookup: bpf.func(
      "int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, _Inout_ uint32_t *count, const xdpc_bpf_map_batch_opts *opts)",
    ),
    update: bpf.func(
      "int bpf_map_update_batch(int fd, const void *keys, const void *values, _Inout_ uint32_t *count, const xdpc_bpf_map_batch_opts *opts)",
    ),
    del: bpf.func(
      "int bpf_map_delete_batch(int fd, const void *keys, _Inout_ uint32_t *count, const xdpc_bpf_map_batch_opts *opts)",
    ),
    Opts,
  };
  return batchApi;
}

const batchOpts = (elemFlags = 0) => ({
  sz: koffi().sizeof(batchBind().Opts as never),
  elem_flags: BigInt(elemFlags),
  flags: 0n,
});

/**
 * One BPF_MAP_LOOKUP_BATCH call: up to `count` entries after cursor `inBatch` (null:
 * from the start) into `keys`/`values`, the next cursor into `outBatch`. Returns
 * libbpf's result (0, or -errno: ENOENT after the last entry) and how many it read.
 */
export const mapLookupBatch = sys(
  "mapLookupBatch",
  function mapLookupBatch(
    fd: number,
    inBatch: Uint8Array | null,
    outBatch: Uint8Array,
    keys: Uint8Array,
    values: Uint8Array,
    count: number,
  ): { ret: number; count: number } {
    const n = [count];
    const ret = batchBind().lookup(fd, inBatch, outBatch, keys, values, n, batchOpts());
    return { ret, count: n[0]! };
  },
);

/**
 * One BPF_MAP_UPDATE_BATCH call over `count` packed keys and values with `flags` for
 * every element. Returns libbpf's result and how many elements the kernel stored
 * (those before the first failure).
 */
export const mapUpdateBatch = sys(
  "mapUpdateBatch",
  function mapUpdateBatch(
    fd: number,
    keys: Uint8Array,
    values: Uint8Array,
    count: number,
    flags = BPF_ANY,
  ): { ret: number; count: number } {
    const n = [count];
    const ret = batchBind().update(fd, keys, values, n, batchOpts(flags));
    return { ret, count: n[0]! };
  },
);

/** One BPF_MAP_DELETE_BATCH call over `count` packed keys; stops at the first absent key (ENOENT). */
export const mapDeleteBatch = sys(
  "mapDeleteBatch",
  function mapDeleteBatch(
    fd: number,
    keys: Uint8Array,
    count: number,
  ): { ret: number; count: number } {
    const n = [count];
    const ret = batchBind().del(fd, keys, n, batchOpts());
    return { ret, count: n[0]! };
  },
);

/** Number of possible CPUs: per-CPU map values hold one 8-byte-aligned slot per CPU. */
export const possibleCpus = sys("possibleCpus", function possibleCpus(): number {
  const n = bind().possibleCpus();
  if (n < 0) throw new NativeError("cannot count CPUs", -n, "libbpf_num_possible_cpus");
  return n;
});

/** A new map outside any object (tests compare map semantics with it); returns its fd. */
export const mapCreate = sys(
  "mapCreate",
  function mapCreate(
    type: number,
    keySize: number,
    valueSize: number,
    maxEntries: number,
    mapFlags = 0,
  ): number {
    // struct bpf_map_create_opts (libbpf 1.1): sz, then map_flags at offset 28.
    let opts: Uint8Array | null = null;
    if (mapFlags) {
      opts = new Uint8Array(48);
      const v = new DataView(opts.buffer);
      v.setBigUint64(0, 48n, true);
      v.setUint32(28, mapFlags, true);
    }
    const fd = bind().mapCreate(type, null, keySize, valueSize, maxEntries, opts);
    if (fd < 0) throw new NativeError("cannot create map", -fd, "bpf_map_create");
    return fd;
  },
);
