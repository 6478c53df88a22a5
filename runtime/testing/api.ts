// The public types of `xdpc/testing`, self-contained (no imports): bin/build.mjs turns
// this file into dist/testing.d.ts, and runtime/testing/index.ts implements it, so the
// shipped declarations and the implementation cannot drift apart (tsc checks index.ts
// against these types).

/** Where a filter's packets run: the kernel (BPF_PROG_TEST_RUN, needs CAP_BPF) or the Wasm engine (no privilege). */
export type EngineName = "kernel" | "wasm";

/**
 * `auto` (the default): the kernel when this process can load BPF programs and the
 * filter has an eBPF object, else wasm. `both`: every packet on both, and a run whose
 * outcomes differ throws an EngineMismatchError naming each difference.
 */
export type EngineChoice = EngineName | "auto" | "both";

/**
 * XDP action names, a tc program's action names, and a tcx program's (section
 * tcx/ingress or tcx/egress) verdict names, as `xdpc test` prints them; a tcx program's
 * other values show as `TCX_<n> (runs as TCX_NEXT)`.
 */
export type VerdictName =
  | "XDP_ABORTED"
  | "XDP_DROP"
  | "XDP_PASS"
  | "XDP_TX"
  | "XDP_REDIRECT"
  | "TC_ACT_UNSPEC"
  | "TC_ACT_OK"
  | "TC_ACT_RECLASSIFY"
  | "TC_ACT_SHOT"
  | "TC_ACT_PIPE"
  | "TC_ACT_STOLEN"
  | "TC_ACT_QUEUED"
  | "TC_ACT_REPEAT"
  | "TC_ACT_REDIRECT"
  | "TCX_NEXT"
  | "TCX_PASS"
  | "TCX_DROP"
  | "TCX_REDIRECT";

/** A map key or value as JavaScript: numbers (≤ 32 bits), bigints (64 bits), booleans, address strings, objects, arrays. */
export type MapValue =
  number | bigint | boolean | string | MapValue[] | { [field: string]: MapValue };

export interface MapEntry {
  key: MapValue;
  value: MapValue;
}

/** Map name → entries (what `xdpc test --maps-out` writes). */
export type MapsDump = Record<string, MapEntry[]>;

/**
 * Map setup, as `xdpc test --maps` takes it: per map, a list of `{ key, value }` or an
 * object of key → value. A string key or value is read as `xdpc map set` reads its
 * arguments (a number, JSON, "198.18.0.1", "198.18.0.0/15"); other values are taken as
 * values of the map's type.
 */
export type MapsSetup = Record<string, MapEntry[] | Record<string, MapValue>>;

/** A filter to test: a path (.ts compiled on the fly, .o, or a .wasm of XDP programs), or its text or bytes. */
export type FilterInput =
  | string
  | { source: string; file?: string }
  | { object: Uint8Array; file?: string }
  | { wasm: Uint8Array; file?: string };

export interface TestFilterOptions {
  /** Default `auto`. */
  engine?: EngineChoice;
  /** The program to run when the filter has several XDP programs. */
  program?: string;
  /** Load-time parameters (`param()` in the filter; `--set name=value`). */
  params?: Record<string, string | number | bigint | boolean>;
  /** Map contents before the first packet. */
  maps?: MapsSetup;
  /**
   * The route table the Wasm engine's `fibLookup` looks up in (a JSON file's path or the
   * object: `{ interfaces, routes, neighbours }` with the fields `ip -j` prints; docs/wasm.md).
   * The kernel engine uses the FIB of the process's network namespace.
   */
  routes?: string | RouteTableInput;
  /** The interface index the frames arrive on: ctx.ifindex, and the kernel test run's ingress device. */
  ifindex?: number;
}

/** A route table for the Wasm engine's fibLookup (`xdpc test --routes`). */
export interface RouteTableInput {
  /** `ip -j link` entries: ifindex, ifname, address (MAC), mtu, and `forwarding` (default true). */
  interfaces: {
    ifindex: number;
    ifname?: string;
    address: string;
    mtu?: number;
    forwarding?: boolean;
  }[];
  /** `ip -4 -j route show table all` entries: dst ("default", "a.b.c.d/n"), dev, gateway, type, table, metric. */
  routes: {
    dst: string;
    dev?: string | number;
    gateway?: string;
    type?: string;
    table?: string;
    metric?: number;
  }[];
  /** `ip -4 -j neigh` entries: dst, dev, lladdr, state (default ["PERMANENT"]). */
  neighbours?: { dst: string; dev: string | number; lladdr?: string; state?: string[] | string }[];
}

/** What one packet did. */
export interface PacketResult {
  /** 1-based position among the packets this filter run has seen. */
  index: number;
  /** The verdict's name; undefined when the packet could not run (see `error`). */
  verdict?: VerdictName;
  /** The verdict's number (the program's return value). */
  action?: number;
  /** The packet as the program left it (a copy). */
  data: Uint8Array;
  /** Bytes that differ from the input over their common length. */
  changedBytes: number;
  /** A tc program's skb->mark and skb->priority as it left them (both 0 going in); absent for XDP. */
  mark?: number;
  priority?: number;
  /** Why the packet did not run (shorter than 14 bytes, longer than the kernel's test-run limit). */
  error?: string;
}

/** A map of the running filter, typed from the filter's BTF. */
export interface FilterMap {
  readonly name: string;
  /** The value for a key, or null when absent. A string key is parsed as for `xdpc map set`. */
  get(key: MapValue): MapValue | null;
  /** Sets an entry; string keys and values are parsed as for `xdpc map set`. */
  set(key: MapValue, value: MapValue): void;
  /** Every entry, sorted by key (all-zero array entries left out; per-CPU values summed). */
  entries(): MapEntry[];
}

/** A filter loaded on its engine(s); maps keep their contents across packets, as on an interface. */
export interface FilterRun {
  /** The engine that ran (`both`: the kernel's results are returned, the Wasm engine's compared). */
  readonly engine: EngineName | "both";
  readonly program: string;
  /** Runs one frame (an Ethernet frame). */
  run(frame: Uint8Array): PacketResult;
  /** Runs frames in order. */
  runAll(frames: Iterable<Uint8Array>): PacketResult[];
  /** Runs every packet of a pcap or pcapng capture (a path or its bytes). */
  runPcap(capture: string | Uint8Array): PacketResult[];
  /** Verdict name → packets, over every packet run so far (not-run packets under "not run"). */
  verdicts(): Record<string, number>;
  map(name: string): FilterMap;
  /** Every map's entries. */
  maps(): MapsDump;
  /** Releases the kernel objects (a no-op on the Wasm engine). */
  close(): void;
}

/** Compiles (a .ts) or reads the filter and loads it on the engine. */
export type TestFilter = (filter: FilterInput, options?: TestFilterOptions) => Promise<FilterRun>;

/** A filter that does not compile, load or fit its setup; the message says why (diagnostics rendered). */
export class FilterError extends Error {
  override name = "FilterError";
}

/** What differed on one packet between the kernel and the Wasm engine. */
export interface Difference {
  index: number;
  /** `verdict: kernel XDP_PASS, wasm XDP_DROP`, `bytes: …`, `map counts[1]: kernel 3, wasm 2`. */
  what: string[];
}

/** Thrown by a `both` run when the engines disagree. */
export class EngineMismatchError extends Error {
  override name = "EngineMismatchError";
  constructor(readonly differences: Difference[]) {
    super(
      `kernel and wasm differ:\n${differences.flatMap((d) => d.what.map((w) => `  #${d.index}: ${w}`)).join("\n")}`,
    );
  }
}
