// `xdpc/runtime`: a control plane in TypeScript, split as cilium/ebpf splits it — a spec
// (what an object holds, read with no system call), a collection (its programs and maps
// loaded as kernel objects) and links (attachments a process holds). A .ts filter is
// compiled here, as runtime/testing does; everything else is the runtime's own code:
// the loader's verifier diagnostics, observe's typed maps and ring-buffer consumer.
// Kernel failures reach the user as BpfError (errno name in `code`), compile and
// verifier failures as LoadError with the rendered diagnostics.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { compile, hasErrors } from "../../compiler/driver/index.ts";
import { renderDiagnostic } from "../../compiler/diagnostics/render.ts";
import { LineMap } from "../../compiler/diagnostics/span.ts";
import type { Diagnostic } from "../../compiler/diagnostics/diagnostic.ts";
import { readObject, type ObjectInfo } from "../../compiler/elf/object.ts";
import { BPF_ANY, BPF_EXIST, BPF_NOEXIST, BPF_MAP_TYPE } from "../../compiler/uapi/bpf.ts";
import { NativeError } from "../../native/lib.ts";
import {
  openObject,
  LoadError as NativeLoadError,
  type LoadedObject,
} from "../../native/object.ts";
import { progInfo } from "../../native/info.ts";
import { closeFd, testRun } from "../../native/bpf.ts";
import { ifNameToIndex } from "../../native/ifname.ts";
import {
  BPF_TCX_EGRESS,
  BPF_TCX_INGRESS,
  BPF_XDP,
  linkCreate,
  linkUpdate,
} from "../../native/link.ts";
import { XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE, xdpQuery } from "../../native/xdp.ts";
import { LoaderError } from "../load/errors.ts";
import { inspectObject, loadObject, openForLoad } from "../load/loader.ts";
import { applyParams, paramsOf } from "../load/params.ts";
import { resolveDirection } from "../load/records.ts";
import { ensureBpffs } from "../sys/bpffs.ts";
import { mapTypeName, programMaps, typeDescOf, TypedMap } from "../observe/maps.ts";
import { filterRegistry } from "../observe/metrics.ts";
import { rates, sample, type Snapshot } from "../observe/stats.ts";
import { Kind } from "../../compiler/btf/kinds.ts";
import { mapArrayValue, type ValueMapping } from "../../native/mmap.ts";
import { RingConsumer } from "../observe/events.ts";
import { ipv4ToNumber, ValueCodec, type JsValue } from "../observe/values.ts";
import { typeDescFromBtf } from "../../compiler/elf/types.ts";
import type {
  AttachOptions,
  TcAttachOptions,
  Collection,
  CollectionSpec,
  Event,
  Ip,
  Link,
  LoadOptions,
  MapSpec,
  Open,
  OpenOptions,
  ParamSpec,
  Program,
  ProgramSpec,
  MetricsRegistry,
  RingBufOptions,
  StatsLine,
  StatsOptions,
  UpdateFlag,
  XdpMode,
} from "./api.ts";
import { BpfError, LoadError } from "./api.ts";

export * from "./api.ts";

/** Default bpffs directory for `pinned: true` maps of collections loaded by this library. */
export const DEFAULT_LIBRARY_PIN_ROOT = "/sys/fs/bpf/xdpc/lib";

export const ip: Ip = (address) => ipv4ToNumber(address);

/** Runs `fn`, turning native failures into the public BpfError. */
function bpf<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof NativeError) throw new BpfError(e.message, e.code, e.errno, e.call);
    throw e;
  }
}

function rendered(diags: readonly Diagnostic[], source?: string): string[] {
  const lines = source === undefined ? undefined : new LineMap(source);
  return diags.map((d) =>
    lines && source !== undefined ? renderDiagnostic(d, source, lines) : d.message,
  );
}

function fromLoaderError(e: LoaderError): LoadError {
  return new LoadError(e.message, e.kind, rendered(e.diagnostics, e.source));
}

export const open: Open = function open<F = unknown>(
  input: string | Uint8Array,
  opts: OpenOptions = {},
): CollectionSpec<F> {
  if (typeof input !== "string") return new Spec<F>(input, "<bytes>");
  let data: Buffer;
  try {
    data = readFileSync(input);
  } catch (e) {
    throw new LoadError(
      `cannot read '${input}': ${(e as NodeJS.ErrnoException).code ?? e}`,
      "usage",
      [],
    );
  }
  if (!/\.[cm]?ts$/.test(input)) return new Spec<F>(new Uint8Array(data), input);
  const source = data.toString("utf8");
  const out = compile(source, { file: input, emit: "object", verdictStats: !!opts.verdictStats });
  if (hasErrors(out.diagnostics) || !out.object) {
    const errors = out.diagnostics.filter((d) => d.severity === "error");
    throw new LoadError(
      `${input}: ${errors.length} compile error${errors.length === 1 ? "" : "s"}`,
      "compile",
      rendered(errors, source),
    );
  }
  return new Spec<F>(out.object, input, source);
};

const programType = (section: string): "xdp" | "tc" | undefined =>
  /^xdp($|[/.])/.test(section) && !/^xdp[/.](devmap|cpumap)/.test(section)
    ? "xdp"
    : /^(tc|classifier|tcx)($|[/.])/.test(section)
      ? "tc"
      : undefined;

// In the ELF: ".bss"; as libbpf names the kernel map: "xdpc.bss" (object name + section).
const INTERNAL_MAP = /(^|\.)(rodata|data|bss)(\.|$)|^xdpc_verdicts$/;

class Spec<F> implements CollectionSpec<F> {
  readonly programs: ProgramSpec[];
  readonly maps: MapSpec[];
  readonly params: ParamSpec[];
  private readonly info: ObjectInfo;

  constructor(
    readonly object: Uint8Array,
    readonly file: string,
    private readonly source?: string,
  ) {
    try {
      this.info = inspectObject(object, file);
    } catch (e) {
      if (e instanceof LoaderError) throw fromLoaderError(e);
      throw e;
    }
    this.programs = this.info.programs.flatMap((p) => {
      const type = p.global ? programType(p.section) : undefined;
      return type ? [{ name: p.name, section: p.section, type }] : [];
    });
    this.maps = this.info.maps
      .filter((m) => !INTERNAL_MAP.test(m.name))
      .map((m) => ({
        name: m.name,
        type: mapTypeName(m.type),
        keySize: m.keySize,
        valueSize: m.valueSize,
        maxEntries: m.maxEntries,
        pinned: m.pinning === 1,
      }));
    this.params = paramsOf(this.info.btf, this.rodata(), this.info.globals).map((p) => ({
      name: p.name,
      type: p.typeName,
      default:
        p.kind === "bool"
          ? p.defaultValue === "true"
          : p.bits === 64
            ? BigInt(p.defaultValue)
            : Number(p.defaultValue),
    }));
  }

  private rodata(): Uint8Array {
    return this.info.elf.section(".rodata")?.data ?? new Uint8Array(0);
  }

  load(opts: LoadOptions<F> = {}): Collection<F> {
    const given = (opts.params ?? {}) as Record<string, number | bigint | boolean | undefined>;
    const sets = Object.fromEntries(
      Object.entries(given)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, String(v)]),
    );
    const applied = applyParams(
      paramsOf(this.info.btf, this.rodata(), this.info.globals),
      this.rodata(),
      sets,
    );
    if ("error" in applied) throw new LoadError(applied.error, "usage", []);
    const pinned = this.maps.some((m) => m.pinned);
    const pinRoot = resolve(opts.pinRoot ?? DEFAULT_LIBRARY_PIN_ROOT);
    if (pinned) {
      const fs = ensureBpffs(pinRoot);
      if (fs.error) throw new LoadError(fs.error, "failed", []);
    }
    const input = {
      bytes: this.object,
      file: this.file,
      ...(this.source !== undefined ? { source: this.source } : {}),
    };
    let obj: LoadedObject | undefined;
    try {
      obj = openForLoad(input, pinRoot);
      if (Object.keys(sets).length) obj.setInitialValue(".rodata", applied.bytes);
      // A rejection names the program the verifier refused (its log), else the first one.
      loadObject(obj, input, this.info, this.programs[0]?.name ?? "");
      return new LiveCollection<F>(obj, this.info, this.programs);
    } catch (e) {
      obj?.close();
      if (e instanceof LoaderError) throw fromLoaderError(e);
      if (e instanceof NativeError) throw new BpfError(e.message, e.code, e.errno, e.call);
      throw e;
    }
  }
}

const FLAGS: Record<UpdateFlag, number> = { any: BPF_ANY, noexist: BPF_NOEXIST, exist: BPF_EXIST };

function flagOf(flag: UpdateFlag | undefined): number {
  if (flag === undefined) return BPF_ANY;
  const f = FLAGS[flag];
  if (f === undefined) throw new TypeError(`unknown update flag '${flag}' (any, noexist, exist)`);
  return f;
}

/** A live map: observe's TypedMap with plain values (no address text) and BpfError failures. */
class LiveMap {
  constructor(private readonly m: TypedMap) {}
  get name(): string {
    return this.m.name;
  }
  get type(): string {
    return this.m.typeName;
  }
  get id(): number {
    return this.m.meta.id ?? 0;
  }
  get fd(): number {
    return this.m.fd;
  }
  get maxEntries(): number {
    return this.m.meta.maxEntries;
  }
  lookup(key: unknown): JsValue | null {
    return bpf(() => (this.m.perCpu ? this.m.getPerCpu(key) : this.m.get(key)));
  }
  update(key: unknown, value: unknown, flag?: UpdateFlag): void {
    bpf(() => this.m.set(key, value, { flags: flagOf(flag), perCpu: this.m.perCpu }));
  }
  delete(key: unknown): boolean {
    return bpf(() => this.m.delete(key));
  }
  *keys(): IterableIterator<JsValue> {
    const it = bpf(() => [...this.m.keys()]);
    yield* it;
  }
  *entries(): IterableIterator<[JsValue, JsValue]> {
    const all = bpf(() => [...this.m.entries()]);
    for (const e of all) yield [e.key, this.m.perCpu ? e.perCpu! : e.value];
  }
  [Symbol.iterator](): IterableIterator<[JsValue, JsValue]> {
    return this.entries();
  }
  updateBatch(entries: Iterable<readonly [unknown, unknown]>, flag?: UpdateFlag): void {
    bpf(() => this.m.setMany(entries, { flags: flagOf(flag), perCpu: this.m.perCpu }));
  }
  deleteBatch(keys: Iterable<unknown>): number {
    return bpf(() => this.m.deleteMany(keys));
  }
}

class LiveProgram implements Program {
  readonly id: number;
  constructor(
    readonly name: string,
    readonly type: "xdp" | "tc",
    readonly section: string,
    readonly fd: number,
    private readonly owner: LiveCollection<unknown>,
  ) {
    this.id = bpf(() => progInfo(fd).id);
  }

  run(frame: Uint8Array): { retval: number; data: Uint8Array } {
    this.owner.live();
    const r = bpf(() =>
      testRun(this.fd, frame, this.type === "tc" ? { ctxIn: new Uint8Array(192) } : {}),
    );
    return { retval: r.retval, data: r.data };
  }

  attachXdp(iface: string, opts: AttachOptions = {}): Link {
    this.owner.live();
    if (this.type !== "xdp")
      throw new LoadError(`'${this.name}' is a tc program, not an XDP program`, "usage", []);
    const ifindex = ifNameToIndex(iface);
    if (!ifindex) throw new LoadError(`no such interface '${iface}'`, "usage", []);
    const requested = opts.mode ?? "auto";
    const tryMode = (mode: XdpMode) =>
      linkCreate(
        this.fd,
        ifindex,
        BPF_XDP,
        mode === "native" ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE,
      );
    let mode: XdpMode = requested === "generic" ? "generic" : "native";
    let fd: number;
    try {
      try {
        fd = tryMode(mode);
      } catch (e) {
        if (
          requested !== "auto" ||
          !(e instanceof NativeError) ||
          !/EOPNOTSUPP|ENOTSUPP/.test(e.code)
        )
          throw e;
        mode = "generic";
        fd = tryMode(mode);
      }
    } catch (e) {
      if (e instanceof NativeError && e.code === "EBUSY") {
        const id = xdpQuery(ifindex).progId;
        throw new BpfError(
          `'${iface}' already has an XDP program attached${id ? ` (id ${id})` : ""}; detach it first, or replace it through the link that holds it [EBUSY]`,
          e.code,
          e.errno,
          e.call,
        );
      }
      if (e instanceof NativeError)
        throw new BpfError(`${e.message} on '${iface}'`, e.code, e.errno, e.call);
      throw e;
    }
    return new LiveLink(fd, iface, ifindex, mode, "xdp", this);
  }

  attachTc(iface: string, opts: TcAttachOptions = {}): Link {
    this.owner.live();
    if (this.type !== "tc")
      throw new LoadError(`'${this.name}' is an XDP program, not a tc program`, "usage", []);
    const given = opts.direction;
    if (given !== undefined && given !== "ingress" && given !== "egress")
      throw new TypeError(`attachTc: direction must be "ingress" or "egress"`);
    const r = resolveDirection(this, given, {
      flag: (d) => `direction "${d}"`,
      missing: 'give attachTc a direction, "ingress" or "egress"',
    });
    if ("error" in r) throw new LoadError(r.error, "usage", []);
    const dir = r.direction;
    const ifindex = ifNameToIndex(iface);
    if (!ifindex) throw new LoadError(`no such interface '${iface}'`, "usage", []);
    let fd: number;
    try {
      fd = linkCreate(this.fd, ifindex, dir === "ingress" ? BPF_TCX_INGRESS : BPF_TCX_EGRESS);
    } catch (e) {
      if (e instanceof NativeError && e.code === "EINVAL")
        throw new BpfError(
          `this kernel has no tcx (6.6+) to attach '${this.name}' at ${iface} ${dir} with a link; \`xdpc load --tc ${dir}\` attaches through clsact [EINVAL]`,
          e.code,
          e.errno,
          e.call,
        );
      if (e instanceof NativeError)
        throw new BpfError(`${e.message} at ${iface} ${dir}`, e.code, e.errno, e.call);
      throw e;
    }
    return new LiveLink(fd, iface, ifindex, "tcx", `tc-${dir}`, this);
  }
}

class LiveLink implements Link {
  private closed = false;
  private program: LiveProgram;
  constructor(
    private readonly fd: number,
    readonly iface: string,
    readonly ifindex: number,
    readonly mode: XdpMode | "tcx",
    readonly hook: Link["hook"],
    program: LiveProgram,
  ) {
    this.program = program;
  }
  get programId(): number {
    return this.program.id;
  }
  update(program: Program): void {
    if (this.closed) throw new Error(`the link on '${this.iface}' is closed`);
    const want = this.hook === "xdp" ? "xdp" : "tc";
    if (!(program instanceof LiveProgram) || program.type !== want)
      throw new TypeError(
        `update() takes ${want === "xdp" ? "an XDP" : "a tc"} program of a loaded collection`,
      );
    bpf(() => linkUpdate(this.fd, program.fd, this.program.fd));
    this.program = program;
  }
  stats(opts: StatsOptions = {}): AsyncIterableIterator<StatsLine> {
    return statsStream(this, opts, () => this.closed);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeFd(this.fd); // the last fd of the link: the kernel detaches the program
  }
  [Symbol.dispose](): void {
    this.close();
  }
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}

class LiveCollection<F> implements Collection<F> {
  readonly programs: Collection<F>["programs"];
  readonly maps: Collection<F>["maps"];
  readonly globals: Collection<F>["globals"];
  private readonly mappings: ValueMapping[] = [];
  private closed = false;

  constructor(
    private readonly obj: LoadedObject,
    private readonly info: ObjectInfo,
    specs: readonly ProgramSpec[],
  ) {
    const programs: Record<string, Program> = {};
    for (const p of specs)
      programs[p.name] = new LiveProgram(
        p.name,
        p.type,
        p.section,
        obj.programFd(p.name),
        this as never,
      );
    const maps: Record<string, LiveMap> = {};
    for (const name of obj.mapNames()) {
      if (INTERNAL_MAP.test(name) || obj.map(name).type === BPF_MAP_TYPE.RINGBUF) continue;
      if (obj.map(name).fd < 0) continue;
      maps[name] = new LiveMap(bpf(() => TypedMap.fromObject(obj, info, name, { plain: true })));
    }
    this.programs = programs as Collection<F>["programs"];
    this.maps = maps as unknown as Collection<F>["maps"];
    this.globals = this.mapGlobals() as Collection<F>["globals"];
  }

  /**
   * Every variable of .bss, .data and .rodata as a property that reads (and, but for
   * .rodata, writes) the program's memory in place through an mmap of the section's map.
   */
  private mapGlobals(): object {
    const globals = {};
    const btf = this.info.btf;
    if (!btf) return globals;
    for (const section of [".bss", ".data", ".rodata"]) {
      const sec = btf.types.find((t) => t.kind === Kind.DATASEC && t.name === section);
      const mapName = this.obj.mapNames().find((n) => n.endsWith(section));
      if (!sec || sec.kind !== Kind.DATASEC || !mapName) continue;
      const m = this.obj.map(mapName);
      if (m.fd < 0) continue;
      const writable = section !== ".rodata";
      const view = bpf(() => mapArrayValue(m.fd, m.valueSize, writable));
      this.mappings.push(view);
      const desc = typeDescOf(btf, sec.id);
      if (desc.kind !== "struct") continue;
      for (const v of desc.members) {
        if (v.name.startsWith("xdpc_")) continue; // the compiler's own
        const codec = new ValueCodec(v.type, { plain: true });
        const off = v.offset ?? 0;
        Object.defineProperty(globals, v.name, {
          enumerable: true,
          get: () => {
            this.live();
            return codec.decode(view.bytes, off);
          },
          set: (value: unknown) => {
            this.live();
            if (!writable)
              throw new TypeError(
                `'${v.name}' is a load-time parameter (.rodata): set it with load({ params })`,
              );
            view.bytes.set(codec.encode(value), off);
          },
        });
      }
    }
    return globals;
  }

  live(): void {
    if (this.closed) throw new Error("the collection is closed");
  }

  ringbuf(name: string, opts: RingBufOptions = {}): AsyncIterableIterator<Event<never>> {
    this.live();
    const m = this.info.maps.find((x) => x.name === name && x.type === BPF_MAP_TYPE.RINGBUF);
    if (!m) throw new LoadError(`the object has no ring buffer '${name}'`, "usage", []);
    const record =
      m.recordType && this.info.btf ? typeDescFromBtf(this.info.btf, m.recordType) : undefined;
    const codec = record ? new ValueCodec(record, { plain: true }) : null;
    const ring = bpf(() => new RingConsumer(this.obj.mapFd(name), m.maxEntries));
    return events(ring, codec, opts, () => this.closed) as AsyncIterableIterator<Event<never>>;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const m of this.mappings) m.unmap();
    this.obj.close();
  }
  [Symbol.dispose](): void {
    this.close();
  }
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}

/**
 * Records one at a time, as the consumer asks for them: a slow consumer leaves records in
 * the ring, where the program's output() sees it full (the kernel's back-pressure).
 */
async function* events(
  ring: RingConsumer,
  codec: ValueCodec | null,
  opts: RingBufOptions,
  gone: () => boolean,
): AsyncGenerator<Event<JsValue>> {
  const sleep = (ms: number) =>
    new Promise<void>((res) => {
      const t = setTimeout(res, ms);
      opts.signal?.addEventListener("abort", () => (clearTimeout(t), res()), { once: true });
    });
  try {
    while (!gone() && !opts.signal?.aborted) {
      const bytes = ring.next();
      if (!bytes) {
        await sleep(opts.intervalMs ?? 20);
        continue;
      }
      const record: JsValue =
        codec && bytes.length >= codec.size
          ? codec.decode(bytes)
          : { bytes: Buffer.from(bytes).toString("hex") };
      yield { record, size: bytes.length };
    }
  } finally {
    ring.close();
  }
}

/**
 * One StatsLine per interval: the attached program's counters (verdicts, integer
 * counters of array maps, integer globals), as `xdpc stats` samples them, with rates
 * over the interval. The first line comes at once (rates 0).
 */
async function* statsStream(
  link: Link,
  opts: StatsOptions,
  gone: () => boolean,
): AsyncGenerator<StatsLine> {
  let prev: Snapshot | undefined;
  const wait = (ms: number) =>
    new Promise<void>((res) => {
      const t = setTimeout(res, ms);
      opts.signal?.addEventListener("abort", () => (clearTimeout(t), res()), { once: true });
    });
  while (!gone() && !opts.signal?.aborted) {
    const pm = bpf(() => programMaps(link.programId));
    let cur: Snapshot;
    try {
      cur = sample(pm);
    } finally {
      pm.close();
    }
    yield rates(prev, cur, link.iface);
    prev = cur;
    await wait(opts.intervalMs ?? 5000);
  }
}

/**
 * A prom-client registry with the metrics `xdpc stats --prometheus` serves, for the
 * programs these links hold (read at scrape time, so a link's update() is followed);
 * mount `registry.metrics()` in your own HTTP server.
 */
export const metricsRegistry: MetricsRegistry = (...links) =>
  filterRegistry(links.map((l) => ({ iface: l.iface, open: () => programMaps(l.programId) })));
