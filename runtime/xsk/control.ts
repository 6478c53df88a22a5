// The control socket of a running `xdpc run`: `xdpc map` and `xdpc stats` reach the
// handler's maps (in the workers' shared Wasm memory, not in the kernel) and the
// per-queue verdict counters through it. A Unix stream socket at
// <runDir>/xsk/<interface key>.sock, mode 0600 in a 0700 directory: root only, as the
// kernel maps are, and the server checks each peer's SO_PEERCRED too (a non-root peer,
// e.g. one let in by a loosened mode, gets one error line and is disconnected).
// Newline-delimited JSON, one reply per request. The server runs the
// map code of the handler module in the main thread, taking the same bucket locks as
// the workers; the client types keys and values with the same codecs as kernel maps.
import { chmodSync, existsSync, mkdirSync, unlinkSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { NativeError } from "../../native/lib.ts";
import { peerCredentials, type PeerCredentials } from "../../native/peercred.ts";
import { BPF_MAP_TYPE, MAP_TYPE_NAMES } from "../../compiler/uapi/bpf.ts";
import type { TypeDesc } from "../../compiler/elf/types.ts";
import { runDir } from "../load/records.ts";
import { mapCodecs, type MapEntry, type MapMeta } from "../observe/maps.ts";
import { sumValues, type JsValue, type ValueCodec } from "../observe/values.ts";
import { interfaceKey } from "../sys/netdev.ts";
import type { SharedMaps } from "./maps.ts";
import type { QueueCounters } from "./run.ts";
import { XskError } from "./sockets.ts";

/** Where the run on `iface` (of this network namespace) listens. */
export function controlSocketPath(iface: string): string {
  return join(runDir(), "xsk", `${interfaceKey(iface)}.sock`);
}

/** A handler map as the control socket describes it. */
export interface ControlMapInfo {
  name: string;
  /** BPF_MAP_TYPE_* of the kernel map with the same semantics. */
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** Values per entry: the workers for per-CPU maps, else 1. */
  lanes: number;
  key?: TypeDesc;
  value?: TypeDesc;
}

export interface ControlHello {
  pid: number;
  iface: string;
  handler: string;
  progId: number;
  workers: number;
  maps: ControlMapInfo[];
}

/** One queue's counters as the socket sends them: the kernel's drops summed. */
export type QueueTotals = Pick<
  QueueCounters,
  "queue" | "worker" | "rx" | "tx" | "drop" | "txFull"
> & {
  kernelDrops: bigint;
};

export interface ControlStats {
  queues: QueueTotals[];
  restarts: number[];
}

/** What the server reads from the run. */
export interface ControlTarget {
  hello: Omit<ControlHello, "pid" | "maps">;
  counters(): QueueCounters[];
  restarts(): number[];
  maps(): SharedMaps;
  types(name: string): { key?: TypeDesc; value?: TypeDesc };
}

export function queueTotals(c: QueueCounters): QueueTotals {
  return {
    queue: c.queue,
    worker: c.worker,
    rx: c.rx,
    tx: c.tx,
    drop: c.drop,
    txFull: c.txFull,
    kernelDrops: c.kernel.rxDropped + c.kernel.rxFillRingEmptyDescs + c.kernel.rxRingFull,
  };
}

// JSON with bigints (counters, enum values in types) as {"$n": "123"}.
const encode = (v: unknown) =>
  JSON.stringify(v, (_, x: unknown) => (typeof x === "bigint" ? { $n: x.toString() } : x));
const decode = (s: string): unknown =>
  JSON.parse(s, (_, x: unknown) =>
    x && typeof x === "object" && "$n" in x && Object.keys(x).length === 1
      ? BigInt((x as { $n: string }).$n)
      : x,
  );
const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString("hex");
const bytes = (s: string) => new Uint8Array(Buffer.from(s, "hex"));

type Request =
  | { op: "hello" }
  | { op: "stats" }
  | { op: "lookup"; map: string; key: string }
  | { op: "update"; map: string; key: string; value: string; flags: number }
  | { op: "delete"; map: string; key: string }
  | { op: "dump"; map: string };

/** Answers one request; map results are 0 or −errno as the map code returns them. */
function answer(t: ControlTarget, req: Request): unknown {
  if (req.op === "hello") {
    const maps = t.maps();
    return {
      ...t.hello,
      pid: process.pid,
      maps: maps.names().map((n): ControlMapInfo => {
        const l = maps.get(n)!.layout;
        return {
          name: n,
          type: l.bpfType,
          keySize: l.keySize,
          valueSize: l.valueSize,
          maxEntries: l.maxEntries,
          lanes: l.lanes,
          ...t.types(n),
        };
      }),
    } satisfies ControlHello;
  }
  if (req.op === "stats")
    return { queues: t.counters().map(queueTotals), restarts: t.restarts() } satisfies ControlStats;
  const m = t.maps().get(req.map);
  if (!m) return { errno: 2 };
  switch (req.op) {
    case "lookup": {
      const v = m.lookup(bytes(req.key));
      return { value: v ? hex(v) : null };
    }
    case "update":
      return { errno: -m.update(bytes(req.key), bytes(req.value), req.flags) };
    case "delete":
      return { errno: -m.delete(bytes(req.key)) };
    case "dump":
      return { entries: m.entries().map(([k, v]) => [hex(k), hex(v)]) };
  }
}

export interface ControlServer {
  path: string;
  close(): Promise<void>;
}

/** Whether something answers at `path` (a live run), as opposed to a stale socket file. */
async function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * Refuses when a live run already listens for `iface`, and removes a stale socket a
 * killed run left; call it before loading anything.
 */
export async function claimControlPath(iface: string): Promise<string> {
  const path = controlSocketPath(iface);
  if (existsSync(path)) {
    if (await answers(path))
      throw new XskError(
        `xdpc run is already running on ${iface} (control socket ${path}); stop it first`,
      );
    unlinkSync(path);
  }
  return path;
}

/** Removes the socket a killed run left for `iface`, unless a live run answers there. */
export async function removeStaleControl(iface: string): Promise<void> {
  const path = controlSocketPath(iface);
  if (existsSync(path) && !(await answers(path))) unlinkSync(path);
}

/**
 * Why a peer may not use the control socket, or null for root. `who` is null when its
 * credentials could not be read: refused too.
 */
export function peerRefusal(who: PeerCredentials | null): string | null {
  if (who === null) return "xdpc run's control socket serves root only: cannot tell who connected";
  if (who.uid === 0) return null;
  return `xdpc run's control socket serves root only: refused uid ${who.uid} (pid ${who.pid})`;
}

/** The credentials of a Unix socket's peer, or null when Node gives no descriptor. */
function peerOf(sock: Socket): PeerCredentials | null {
  const fd = (sock as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== "number" || fd < 0) return null;
  try {
    return peerCredentials(fd);
  } catch {
    return null;
  }
}

/** Listens at `path` (claimed before) for the run `t`; close() stops and removes it. */
export async function serveControl(path: string, t: ControlTarget): Promise<ControlServer> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  chmodSync(dirname(path), 0o700);
  const clients = new Set<Socket>();
  const server: Server = createServer((sock) => {
    clients.add(sock);
    sock.on("close", () => clients.delete(sock));
    sock.on("error", () => sock.destroy());
    const refused = peerRefusal(peerOf(sock));
    if (refused) {
      sock.end(encode({ error: refused }) + "\n");
      return;
    }
    let buf = "";
    sock.on("data", (d: Buffer) => {
      buf += d.toString("utf8");
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let reply: unknown;
        try {
          reply = answer(t, decode(line) as Request);
        } catch (e) {
          reply = { error: (e as Error).message };
        }
        sock.write(encode(reply) + "\n");
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.off("error", reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of clients) c.destroy();
        // Node removes the socket file when a Unix server closes.
        server.close(() => {
          if (existsSync(path)) unlinkSync(path);
          resolve();
        });
      }),
  };
}

// ------------------------------------------------------------------ client

/** A line the server sent before any request: its refusal of this peer. */
function unsolicited(line: string): Error {
  const r = decode(line) as { error?: unknown };
  return new Error(typeof r?.error === "string" ? r.error : "xdpc run sent an unexpected line");
}

/** A connection to the run on an interface. */
export class ControlClient {
  private buf = "";
  private readonly waiting: { resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | null = null;

  private constructor(
    private readonly sock: Socket,
    readonly path: string,
  ) {
    sock.on("data", (d: Buffer) => {
      this.buf += d.toString("utf8");
      for (let i = this.buf.indexOf("\n"); i >= 0; i = this.buf.indexOf("\n")) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const w = this.waiting.shift();
        if (w) w.resolve(line);
        else this.failure ??= unsolicited(line);
      }
    });
    sock.on("error", (e) => (this.failure ??= e));
    sock.on("close", () => {
      this.failure ??= new Error("xdpc run closed its control socket");
      for (const w of this.waiting.splice(0)) w.reject(this.failure);
    });
  }

  /**
   * Connects to the run on `iface`; null when there is none (no socket, or a stale one).
   * A socket this user may not open is a NativeError (EACCES): it is root-only.
   */
  static connect(iface: string): Promise<ControlClient | null> {
    return ControlClient.open(controlSocketPath(iface), iface);
  }

  /** connect() at a given socket path. */
  static async open(path: string, iface = path): Promise<ControlClient | null> {
    if (!existsSync(path)) return null;
    return new Promise((resolve, reject) => {
      const s = connect(path);
      s.once("connect", () => resolve(new ControlClient(s, path)));
      s.once("error", (e: NodeJS.ErrnoException) => {
        if (e.code === "ECONNREFUSED" || e.code === "ENOENT") resolve(null);
        else if (e.code === "EACCES")
          reject(
            new NativeError(
              `cannot reach xdpc run on ${iface}: ${path} is root-only`,
              13,
              "connect",
            ),
          );
        else reject(e);
      });
    });
  }

  async request<T>(req: Request): Promise<T> {
    if (this.failure) throw this.failure;
    const line = await new Promise<string>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.sock.write(encode(req) + "\n");
    });
    const r = decode(line) as T & { error?: string };
    if (r && typeof r === "object" && typeof r.error === "string") throw new Error(r.error);
    return r;
  }

  hello(): Promise<ControlHello> {
    return this.request({ op: "hello" });
  }
  stats(): Promise<ControlStats> {
    return this.request({ op: "stats" });
  }

  /** The handler's maps, typed. */
  async maps(): Promise<HandlerMap[]> {
    const h = await this.hello();
    return h.maps.map((m) => new HandlerMap(this, m));
  }

  close(): void {
    this.sock.destroy();
  }
}

const ARRAY_LIKE = new Set<number>([BPF_MAP_TYPE.ARRAY, BPF_MAP_TYPE.PERCPU_ARRAY]);

/**
 * A handler map reached over the control socket, with TypedMap's typed operations
 * (async): per-CPU values are per worker (lane), `get` sums them, `set` writes lane 0
 * and zeroes the others; errors are NativeErrors with the map code's errno.
 */
export class HandlerMap {
  readonly key: ValueCodec;
  readonly value: ValueCodec;
  readonly meta: MapMeta;
  readonly perCpu: boolean;
  readonly cpus: number;
  readonly iterable = true;
  private readonly stride: number;

  constructor(
    private readonly client: ControlClient,
    info: ControlMapInfo,
  ) {
    this.meta = {
      name: info.name,
      type: info.type,
      keySize: info.keySize,
      valueSize: info.valueSize,
      maxEntries: info.maxEntries,
      flags: 0,
      ...(info.key ? { key: info.key } : {}),
      ...(info.value ? { value: info.value } : {}),
    };
    ({ key: this.key, value: this.value } = mapCodecs(this.meta));
    this.perCpu =
      info.type === BPF_MAP_TYPE.PERCPU_ARRAY ||
      info.type === BPF_MAP_TYPE.PERCPU_HASH ||
      info.type === BPF_MAP_TYPE.LRU_PERCPU_HASH;
    this.cpus = this.perCpu ? info.lanes : 1;
    this.stride = this.perCpu ? Math.ceil(info.valueSize / 8) * 8 : info.valueSize;
  }
  get name(): string {
    return this.meta.name;
  }
  get typeName(): string {
    return MAP_TYPE_NAMES[this.meta.type] ?? `type_${this.meta.type}`;
  }
  get isArray(): boolean {
    return ARRAY_LIKE.has(this.meta.type);
  }

  encodeKey(key: unknown): Uint8Array {
    return this.key.encode(typeof key === "string" && !this.key.cidr ? this.key.parse(key) : key);
  }
  private fail(what: string, errno: number, call: string): never {
    throw new NativeError(`handler map ${this.name}: ${what}`, errno, call);
  }
  private decodeLanes(raw: Uint8Array): JsValue[] {
    return Array.from({ length: this.cpus }, (_, c) => this.value.decode(raw, c * this.stride));
  }
  private async raw(key: unknown): Promise<Uint8Array | null> {
    const r = await this.client.request<{ value: string | null; errno?: number }>({
      op: "lookup",
      map: this.name,
      key: hex(this.encodeKey(key)),
    });
    if (r.errno) this.fail("lookup failed", r.errno, "lookup");
    return r.value === null ? null : bytes(r.value);
  }
  async get(key: unknown): Promise<JsValue | null> {
    const raw = await this.raw(key);
    if (!raw) return null;
    return this.perCpu ? sumValues(this.decodeLanes(raw)) : this.value.decode(raw);
  }
  async getPerCpu(key: unknown): Promise<JsValue[] | null> {
    const raw = await this.raw(key);
    return raw ? this.decodeLanes(raw) : null;
  }
  async set(key: unknown, value: unknown, opts: { flags?: number } = {}): Promise<void> {
    const buf = new Uint8Array(this.stride * this.cpus);
    this.value.encodeInto(value, buf, 0);
    const r = await this.client.request<{ errno: number }>({
      op: "update",
      map: this.name,
      key: hex(this.encodeKey(key)),
      value: hex(this.perCpu ? buf : buf.subarray(0, this.meta.valueSize)),
      flags: opts.flags ?? 0,
    });
    if (r.errno) this.fail("map update failed", r.errno, "update");
  }
  /** false when the key was absent; arrays refuse (EINVAL), as the kernel's do. */
  async delete(key: unknown): Promise<boolean> {
    if (this.isArray)
      this.fail("an array: entries cannot be deleted (set them to 0)", 22, "delete");
    const r = await this.client.request<{ errno: number }>({
      op: "delete",
      map: this.name,
      key: hex(this.encodeKey(key)),
    });
    if (r.errno === 2) return false;
    if (r.errno) this.fail("map delete failed", r.errno, "delete");
    return true;
  }
  async entries(): Promise<MapEntry[]> {
    const r = await this.client.request<{ entries: [string, string][]; errno?: number }>({
      op: "dump",
      map: this.name,
    });
    if (r.errno) this.fail("dump failed", r.errno, "dump");
    return r.entries.map(([k, v]) => {
      const key = this.key.decode(bytes(k));
      const raw = bytes(v);
      if (!this.perCpu) return { key, value: this.value.decode(raw) };
      const perCpu = this.decodeLanes(raw);
      return { key, value: sumValues(perCpu), perCpu };
    });
  }
}
