// The public types of `xdpc/runtime` (bin/build.mjs emits dist/runtime.d.ts from this
// file). They import only the filter language's declarations ("xdpc"), so that a control
// plane written as `import type * as F from "./filter.ts"` gets its maps typed from the
// filter's own declarations: u64/i64 become bigint, structs plain objects, FixedArray
// arrays, per-CPU values one element per possible CPU.
import type { Registry } from "prom-client";
import type {
  ArrayMap,
  Bits64,
  ParamBrand,
  CpuMap,
  DevMap,
  DevMapHash,
  FixedArray,
  HashMap,
  LpmTrie,
  LruHash,
  LruPerCpuHash,
  PerCpuArray,
  PerCpuHash,
  RingBuf,
  TcContext,
  XdpContext,
} from "xdpc";

export interface OpenOptions {
  /** .ts inputs: count every verdict in the hidden `xdpc_verdicts` map (as `xdpc load` does by default). */
  verdictStats?: boolean;
}

/**
 * Reads a filter (.ts: compiled on the spot; anything else: an eBPF object) or object bytes
 * into a spec, with no system call. `F` is the filter module's type,
 * `typeof import("./filter.ts")`, which types the collection's maps.
 */
export type Open = <F = unknown>(
  input: string | Uint8Array,
  opts?: OpenOptions,
) => CollectionSpec<F>;

/** "198.18.0.1" → the number a filter sees for that address in `ip.src` (host order). */
export type Ip = (address: string) => number;

/** A filter type's JavaScript form: 64-bit integers are bigints, other integers numbers. */
export type Js<T> = T extends boolean
  ? boolean
  : T extends number
    ? T extends Bits64
      ? bigint
      : number
    : T extends FixedArray<infer E, number>
      ? Js<E>[]
      : T extends object
        ? { [K in keyof T]: Js<T[K]> }
        : never;

/** A value of a map whose types the control plane does not know (no `import type` of the filter). */
export type AnyValue =
  number | bigint | boolean | string | AnyValue[] | { [field: string]: AnyValue };

/** BPF_ANY, BPF_NOEXIST, BPF_EXIST. */
export type UpdateFlag = "any" | "noexist" | "exist";

/** A live kernel map of a loaded collection. */
export interface MapHandle<K, V> {
  readonly name: string;
  /** bpfman's spelling: "hash", "lru_hash", "percpu_array", "lpm_trie", … */
  readonly type: string;
  readonly id: number;
  readonly fd: number;
  readonly maxEntries: number;
  /** The value under `key`, or null when absent. */
  lookup(key: K): V | null;
  /** Stores `value` under `key` (default flag "any"); a full map or a flag refusal throws a BpfError (E2BIG, EEXIST, ENOENT). */
  update(key: K, value: V, flag?: UpdateFlag): void;
  /** Removes `key`; false when it was absent. */
  delete(key: K): boolean;
  keys(): IterableIterator<K>;
  /** Every entry, read with BPF_MAP_LOOKUP_BATCH where the kernel has it for this map type. */
  entries(): IterableIterator<[K, V]>;
  [Symbol.iterator](): IterableIterator<[K, V]>;
  /** Stores every entry (BPF_MAP_UPDATE_BATCH where the kernel has it, else one by one). */
  updateBatch(entries: Iterable<readonly [K, V]>, flag?: UpdateFlag): void;
  /** Removes every key; returns how many were present. */
  deleteBatch(keys: Iterable<K>): number;
}

/** Arrays: every index exists, so there is no delete. */
export type ArrayHandle<V> = Omit<MapHandle<number, V>, "delete" | "deleteBatch">;

/** The live handle of a filter's map declaration. */
export type MapOf<M> =
  M extends PerCpuArray<infer V>
    ? ArrayHandle<Js<V>[]>
    : M extends ArrayMap<infer V>
      ? ArrayHandle<Js<V>>
      : M extends PerCpuHash<infer K, infer V>
        ? MapHandle<Js<K>, Js<V>[]>
        : M extends LruPerCpuHash<infer K, infer V>
          ? MapHandle<Js<K>, Js<V>[]>
          : M extends HashMap<infer K, infer V>
            ? MapHandle<Js<K>, Js<V>>
            : M extends LruHash<infer K, infer V>
              ? MapHandle<Js<K>, Js<V>>
              : M extends LpmTrie<infer K, infer V>
                ? MapHandle<Js<K>, Js<V>>
                : M extends DevMap
                  ? ArrayHandle<number>
                  : M extends DevMapHash
                    ? MapHandle<number, number>
                    : M extends CpuMap
                      ? ArrayHandle<number>
                      : never;

type Untyped = { [name: string]: MapHandle<AnyValue, AnyValue> };

/** `coll.maps`: every exported map of the filter module F, typed; any name when F is not given. */
export type MapsOf<F> = unknown extends F
  ? Untyped
  : { readonly [K in keyof F as MapOf<F[K]> extends never ? never : K]: MapOf<F[K]> };

/** Names of F's exported ring buffers, and their record types. */
export type RingBufsOf<F> = unknown extends F
  ? { [name: string]: AnyValue }
  : {
      [K in keyof F as F[K] extends RingBuf<any> ? K : never]: F[K] extends RingBuf<infer T>
        ? Js<T>
        : never;
    };

/**
 * `coll.globals`: F's exported variables and parameters (`export let lost: u64 = 0`,
 * `export const port = param<u16>(…)`), read and written in place (parameters read
 * only). Exported constants (literal types) are not variables and are left out.
 */
export type GlobalsOf<F> = unknown extends F
  ? { [name: string]: AnyValue }
  : {
      -readonly [K in keyof F as F[K] extends ParamBrand ? never : VariableKey<F, K>]: Js<F[K]>;
    } & {
      readonly [K in keyof F as F[K] extends ParamBrand ? VariableKey<F, K> : never]: Js<F[K]>;
    };

type VariableKey<F, K extends keyof F> = F[K] extends (...a: never[]) => unknown
  ? never
  : number extends F[K]
    ? K
    : boolean extends F[K]
      ? K
      : never;

/**
 * `load({ params })`: F's exported parameters by name (an exported parameter's const has
 * its parameter's name; the compiler sees to it), each optional, typed as its values
 * (u64/i64 ones bigints); any name when F is not given.
 */
export type ParamsOf<F> = unknown extends F
  ? Record<string, number | bigint | boolean>
  : { [K in keyof F as F[K] extends ParamBrand ? VariableKey<F, K> : never]?: Js<F[K]> };

/** Names of F's exported programs (XDP and tc). */
export type ProgramNames<F> = unknown extends F
  ? string
  : {
      [K in keyof F]: F[K] extends (ctx: infer C) => number
        ? [C] extends [XdpContext]
          ? K
          : [C] extends [TcContext]
            ? K
            : never
        : never;
    }[keyof F] &
      string;

/** A program of the object, and what the compiler knows of it. */
export interface ProgramSpec {
  readonly name: string;
  /** The ELF section: "xdp", "tc", … */
  readonly section: string;
  readonly type: "xdp" | "tc";
}

export interface MapSpec {
  readonly name: string;
  readonly type: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  /** Declared `pinned: true`. */
  readonly pinned: boolean;
}

export interface ParamSpec {
  readonly name: string;
  /** "u16", "bool", … */
  readonly type: string;
  readonly default: number | bigint | boolean;
}

export interface LoadOptions<F = unknown> {
  /**
   * Load-time parameters (`param(name, default)` in the filter: `.rodata`): typed from the
   * filter's exported parameters with `open<typeof F>`, and checked against the object's
   * BTF at run time either way.
   */
  params?: ParamsOf<F>;
  /** Where `pinned: true` maps are pinned (and reused from): a bpffs directory. Default: not pinned. */
  pinRoot?: string;
}

/** An object and what it holds, read without any system call (cilium/ebpf's CollectionSpec). */
export interface CollectionSpec<F = unknown> {
  /** The file it came from, or "<bytes>". */
  readonly file: string;
  /** The ELF object (what `xdpc build` writes). */
  readonly object: Uint8Array;
  readonly programs: readonly ProgramSpec[];
  readonly maps: readonly MapSpec[];
  readonly params: readonly ParamSpec[];
  /** Creates the maps and loads every program (the verifier runs here): a VerifierError on rejection. */
  load(opts?: LoadOptions<F>): Collection<F>;
}

export type XdpMode = "native" | "generic";

export interface AttachOptions {
  /** Default: native, falling back to generic when the driver has no native XDP. */
  mode?: XdpMode | "auto";
}

export interface TcAttachOptions {
  /**
   * The hook: the interface's ingress or egress. A program in section tcx/ingress or
   * tcx/egress attaches at the hook its section names, so it may be left out (and a
   * contradicting one is an error); a program in section `tc` needs it.
   */
  direction?: "ingress" | "egress";
}

/** A loaded program (a kernel object; closed with its collection). */
export interface Program {
  readonly name: string;
  readonly type: "xdp" | "tc";
  /** Its ELF section: "xdp", "tc", "tcx/ingress", "tcx/egress", … */
  readonly section: string;
  readonly fd: number;
  readonly id: number;
  /** Attaches the XDP program to `iface` with a bpf_link. */
  attachXdp(iface: string, opts?: AttachOptions): Link;
  /**
   * Attaches the tc program at `iface`'s ingress or egress with a tcx bpf_link (kernel
   * 6.6+), after the programs other tools attached there.
   */
  attachTc(iface: string, opts?: TcAttachOptions): Link;
  /** Runs the program once over `frame` (BPF_PROG_TEST_RUN): its return value and the frame as it left. */
  run(frame: Uint8Array): { retval: number; data: Uint8Array };
}

/**
 * An attachment: a bpf_link held by this process. It detaches on close(), at the end of an
 * `await using` / `using` block, and when the process exits — however it exits, since the
 * kernel drops a link when its last fd closes.
 */
export interface Link {
  readonly iface: string;
  readonly ifindex: number;
  /** XDP links: the mode; tc links: "tcx". */
  readonly mode: XdpMode | "tcx";
  /** Where the program runs. */
  readonly hook: "xdp" | "tc-ingress" | "tc-egress";
  /** The attached program's id (changes with update). */
  readonly programId: number;
  /** Replaces the attached program atomically: every packet sees the old or the new one. */
  update(program: Program): void;
  /** The program's counters every `intervalMs` (default 5 s), with rates: see StatsLine. */
  stats(opts?: StatsOptions): AsyncIterableIterator<StatsLine>;
  close(): void;
  [Symbol.dispose](): void;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface Event<T> {
  record: T;
  /** Bytes the program wrote. */
  size: number;
}

/** An AbortSignal (structurally, so these declarations need no DOM or Node types). */
export interface AbortLike {
  readonly aborted: boolean;
  addEventListener(type: "abort", listener: () => void, opts?: { once?: boolean }): void;
}

export interface RingBufOptions {
  /** How long to sleep when the ring is empty (ms); default 20. */
  intervalMs?: number;
  /** Stops the stream (the loop ends; undelivered records stay in the ring). */
  signal?: AbortLike;
}

export interface StatsOptions {
  intervalMs?: number;
  signal?: AbortLike;
}

/** A counter's total and its rate over the last interval. */
export interface Rate {
  /** "verdict" (built with verdict stats), "counter" (an array map's integer), "global" (an integer global). */
  kind: "verdict" | "counter" | "global";
  /** "pass", "counters[0]", "hits[1].bytes", "lost", … */
  name: string;
  total: bigint;
  perSecond: number;
}

/** One sample of an attachment's counters (what `xdpc stats --json` prints per line). */
export interface StatsLine {
  time: string;
  iface: string;
  program: string;
  progId: number;
  /** Since the previous line (0 for the first). */
  intervalMs: number;
  verdicts: Rate[];
  counters: Rate[];
  /** Kernel run count and ns per run (with kernel BPF stats enabled, else 0). */
  runs: { total: bigint; perSecond: number; nsPerRun: number };
}

/** The registry `xdpc stats --prometheus` serves, for these links. */
export type MetricsRegistry = (...links: Link[]) => Registry;

/** A loaded object: live programs and maps. close() releases them (attached links keep their program alive). */
export interface Collection<F = unknown> {
  readonly programs: { readonly [K in ProgramNames<F>]: Program };
  readonly maps: MapsOf<F>;
  /** Globals and parameters, live: reading one reads the program's memory, writing one (not a parameter) writes it. */
  readonly globals: GlobalsOf<F>;
  /** Decoded records of a RingBuf, read on demand (records wait in the ring until asked for: back-pressure). */
  ringbuf<K extends keyof RingBufsOf<F> & string>(
    name: K,
    opts?: RingBufOptions,
  ): AsyncIterableIterator<Event<RingBufsOf<F>[K]>>;
  close(): void;
  [Symbol.dispose](): void;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A system call failed: `code` is the errno's name ("ENOENT", "E2BIG", "EEXIST", "EPERM", …). */
export class BpfError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly errno: number,
    /** The libbpf function or syscall that failed. */
    readonly call: string,
  ) {
    super(message);
    this.name = "BpfError";
  }
}

/**
 * A filter could not be read, compiled or loaded: `kind` says which ("usage": bad input or
 * options, "compile", "verifier", "failed"), `diagnostics` holds the rendered compiler or
 * verifier diagnostics (path:line:col with the source line), as `xdpc check` prints them.
 */
export class LoadError extends Error {
  constructor(
    message: string,
    readonly kind: "usage" | "compile" | "verifier" | "failed",
    readonly diagnostics: readonly string[],
  ) {
    super(diagnostics.length ? `${message}\n${diagnostics.join("\n")}` : message);
    this.name = "LoadError";
  }
}
