// Where xdpc keeps what it loaded, and what is attached where.
//
// The kernel is the source of truth (bpf_xdp_query → program id → its map ids); a
// small JSON record per interface adds what the kernel does not know: the source
// file, the parameters, full map names, pin paths, and a copy of the object (for the
// BTF that typed map access needs). Layout (docs/runtime.md):
//
//   <pinRoot>/<key>/prog            the attached program (bpffs pin)
//   <pinRoot>/<key>/prog_new        a program being attached (exists only mid-load)
//   <pinRoot>/<key>/maps/<name>     maps declared `pinned: true` (libbpf LIBBPF_PIN_BY_NAME)
//   <pinRoot>/<key>/link[_new]      a tcx attachment's bpf_link (tc programs only)
//   <runDir>/filters/<key>/state.json[.new]  the record ([.new] only mid-load)
//   <runDir>/filters/<key>/filter-<progId>.o the object that was loaded
//   <runDir>/locks/<key>.lock                one load/unload at a time
//
// pinRoot is /sys/fs/bpf/xdpc, runDir /run/xdpc (XDPC_PIN_ROOT / XDPC_RUN_DIR
// override them); key is the interface name, or `name@ns<inode>` outside the host
// network namespace (bpffs refuses names with dots, so a '.' in an interface name
// becomes '%2e' in pin paths). A tc program's key adds `:tc-ingress` or `:tc-egress`
// (':' cannot occur in an interface name), so each hook has its own files and lock.
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { MAP_TYPE_NAMES } from "../../compiler/uapi/bpf.ts";
import { closeFd } from "../../native/bpf.ts";
import { NativeError } from "../../native/lib.ts";
import { libxdpDispatcher } from "../../native/libxdp.ts";
import { mapFdById, mapInfo, objGet, progFdById, progInfo } from "../../native/info.ts";
import { BPF_TCX_EGRESS, BPF_TCX_INGRESS } from "../../native/link.ts";
import { withCapture } from "../../native/object.ts";
import { clsactQuery, progQuery, type TcDirection } from "../../native/tc.ts";
import { xdpQuery } from "../../native/xdp.ts";
import { ifNameToIndex, interfaceKey, listInterfaces, netnsInode } from "../sys/netdev.ts";

export const DEFAULT_PIN_ROOT = "/sys/fs/bpf/xdpc";
export const DEFAULT_RUN_DIR = "/run/xdpc";

export function defaultPinRoot(): string {
  return process.env.XDPC_PIN_ROOT || DEFAULT_PIN_ROOT;
}

export function runDir(): string {
  return process.env.XDPC_RUN_DIR || DEFAULT_RUN_DIR;
}

export type XdpMode = "native" | "generic";
/** How a tc program is attached: a tcx bpf_link (kernel 6.6+), or a clsact cls_bpf filter. */
export type TcMode = "tcx" | "clsact";
export type TcHook = "tc-ingress" | "tc-egress";

export interface MapRecord {
  name: string;
  id: number;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** bpffs path of a `pinned: true` map. */
  pinned?: string;
}

/** The JSON record of a filter xdpc attached (state.json). */
export interface FilterRecord {
  version: 1;
  iface: string;
  ifindex: number;
  netns: number;
  key: string;
  progId: number;
  progName: string;
  mode: XdpMode | TcMode;
  /** A tc program's hook (absent: XDP). */
  hook?: TcHook;
  /** The input the user gave (absolute path). */
  source: string;
  /** A copy of the loaded ELF object. */
  object: string;
  pinDir: string;
  progPin: string;
  maps: MapRecord[];
  params: Record<string, string>;
  loadedAt: string;
}

export interface FilterPaths {
  key: string;
  pinDir: string;
  mapPinDir: string;
  progPin: string;
  progPinNew: string;
  linkPin: string;
  linkPinNew: string;
  stateDir: string;
  state: string;
  stateNew: string;
  lockDir: string;
}

export function filterPaths(iface: string, pinRoot = defaultPinRoot(), hook?: TcHook): FilterPaths {
  const key = interfaceKey(iface) + (hook ? `:${hook}` : "");
  const pinDir = join(pinRoot, key.replace(/\./g, "%2e"));
  const stateDir = join(runDir(), "filters", key);
  return {
    key,
    pinDir,
    mapPinDir: join(pinDir, "maps"),
    progPin: join(pinDir, "prog"),
    progPinNew: join(pinDir, "prog_new"),
    linkPin: join(pinDir, "link"),
    linkPinNew: join(pinDir, "link_new"),
    stateDir,
    state: join(stateDir, "state.json"),
    stateNew: join(stateDir, "state.json.new"),
    lockDir: join(runDir(), "locks"),
  };
}

export function readRecord(path: string): FilterRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(path, "utf8")) as FilterRecord;
    return r && r.version === 1 && typeof r.progId === "number" ? r : undefined;
  } catch {
    return undefined; // absent, or torn by a crash: the kernel still says what runs
  }
}

/** Writes `path` so that a crash leaves either the old or the new content. */
export function writeAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** The record that describes program `progId` on this interface (committed or mid-load). */
export function recordFor(paths: FilterPaths, progId: number): FilterRecord | undefined {
  for (const p of [paths.state, paths.stateNew]) {
    const r = readRecord(p);
    if (r && r.progId === progId && r.netns === netnsInode()) return r;
  }
  return undefined;
}

/** Id of the program pinned at `path`, or 0. */
export function pinnedProgId(path: string): number {
  if (!existsSync(path)) return 0;
  let fd = -1;
  try {
    fd = objGet(path);
    return progInfo(fd).id;
  } catch {
    return 0;
  } finally {
    closeFd(fd);
  }
}

export interface Attachment {
  progId: number;
  mode: XdpMode | "offload";
  hook?: undefined;
}

export interface TcAttachment {
  progId: number;
  mode: TcMode;
  hook: TcHook;
}

/** The XDP programs attached to `ifindex` (at most one per mode). */
export function attachments(ifindex: number): Attachment[] {
  const q = xdpQuery(ifindex);
  const out: Attachment[] = [];
  if (q.drvProgId) out.push({ progId: q.drvProgId, mode: "native" });
  if (q.skbProgId) out.push({ progId: q.skbProgId, mode: "generic" });
  if (q.hwProgId) out.push({ progId: q.hwProgId, mode: "offload" });
  return out;
}

/** The clsact filter xdpc owns on each tc hook (kernels without tcx): one per hook, like the tcx link. */
export const CLSACT_FILTER = { handle: 1, priority: 0x7864 } as const;

export const hookOf = (d: TcDirection): TcHook => (d === "ingress" ? "tc-ingress" : "tc-egress");
export const tcxType = (d: TcDirection) => (d === "ingress" ? BPF_TCX_INGRESS : BPF_TCX_EGRESS);

/**
 * The hook a tcx program's section names (`tcx/ingress` → ingress, `tcx/egress` →
 * egress), undefined for the sections that leave it to the attach (`tc`, `classifier`).
 */
export function sectionDirection(section: string): TcDirection | undefined {
  return section === "tcx/ingress" ? "ingress" : section === "tcx/egress" ? "egress" : undefined;
}

/**
 * The hook a tc program attaches at: the one its tcx section names, or `given` (the
 * --tc / attachTc direction). A `given` hook that the section contradicts, or none for
 * a section that names no hook, is an error message (usage), returned as `{ error }`.
 */
export function resolveDirection(
  prog: { name: string; section: string },
  given: TcDirection | undefined,
  how: { flag: (d: TcDirection) => string; missing: string },
): { direction: TcDirection } | { error: string } {
  const own = sectionDirection(prog.section);
  if (own && given && own !== given)
    return {
      error: `'${prog.name}' is a ${prog.section} program, which attaches at ${own}: ${how.flag(given)} contradicts its section; nothing was attached`,
    };
  const direction = own ?? given;
  if (!direction)
    return {
      error: `'${prog.name}' is in section ${prog.section}, which names no hook; ${how.missing}`,
    };
  return { direction };
}

/** Ids of the programs attached at a tc hook by tcx, in run order (none on a kernel without tcx). */
export function tcxProgramIds(ifindex: number, dir: TcDirection): number[] {
  try {
    return progQuery(ifindex, tcxType(dir));
  } catch (e) {
    if (e instanceof NativeError && (e.code === "EINVAL" || e.code === "ENODEV")) return [];
    throw e;
  }
}

/** The program id of xdpc's clsact filter at a tc hook, or 0. */
export function clsactProgramId(ifindex: number, dir: TcDirection): number {
  return withCapture(() => clsactQuery(ifindex, dir, CLSACT_FILTER)).value;
}

/** The programs attached at a tc hook: tcx's, then xdpc's clsact filter's. */
export function tcAttachedIds(ifindex: number, dir: TcDirection): number[] {
  return tcAttachments(ifindex, dir).map((a) => a.progId);
}

/** The tc programs attached at a hook that xdpc can see: every tcx program, and xdpc's clsact filter. */
export function tcAttachments(ifindex: number, dir: TcDirection): TcAttachment[] {
  const hook = hookOf(dir);
  const out: TcAttachment[] = tcxProgramIds(ifindex, dir).map((progId) => ({
    progId,
    mode: "tcx",
    hook,
  }));
  const c = clsactProgramId(ifindex, dir);
  if (c) out.push({ progId: c, mode: "clsact", hook });
  return out;
}

/**
 * The tc program to observe at a hook: the one xdpc attached there (by its record),
 * else the only one attached there by any tool; 0 when there is none or it is ambiguous.
 */
export function tcProgramId(iface: string, dir: TcDirection, pinRoot?: string): number {
  const ifindex = ifNameToIndex(iface);
  if (!ifindex) return 0;
  const ids = tcAttachedIds(ifindex, dir);
  const rec = readRecord(filterPaths(iface, pinRoot, hookOf(dir)).state);
  if (rec && ids.includes(rec.progId)) return rec.progId;
  return ids.length === 1 ? ids[0]! : 0;
}

/**
 * Finishes or rolls back a load that was interrupted (kill -9): a `.new` record
 * whose program is the one attached is committed, anything else `.new` is removed,
 * as are objects no record refers to. Run under the interface lock.
 */
export function reconcile(
  paths: FilterPaths,
  attachedIds: readonly number[],
): FilterRecord | undefined {
  const pending = readRecord(paths.stateNew);
  if (pending && attachedIds.includes(pending.progId)) {
    if (existsSync(paths.progPinNew)) renameSync(paths.progPinNew, paths.progPin);
    if (existsSync(paths.linkPinNew)) renameSync(paths.linkPinNew, paths.linkPin);
    renameSync(paths.stateNew, paths.state);
  } else {
    rmSync(paths.progPinNew, { force: true });
    rmSync(paths.linkPinNew, { force: true });
    rmSync(paths.stateNew, { force: true });
  }
  const record = readRecord(paths.state);
  if (existsSync(paths.stateDir)) {
    for (const f of readdirSync(paths.stateDir)) {
      const stale =
        (/^filter-\d+\.o$/.test(f) && join(paths.stateDir, f) !== record?.object) ||
        /\.tmp\d+$/.test(f);
      if (stale) rmSync(join(paths.stateDir, f), { force: true });
    }
  }
  return record;
}

/** Removes every pin and the record of an interface; returns the paths removed. */
export function removeFilterFiles(paths: FilterPaths, record?: FilterRecord): string[] {
  const removed: string[] = [];
  const pinDirs = new Set([paths.pinDir, ...(record ? [record.pinDir] : [])]);
  for (const dir of pinDirs) {
    if (!existsSync(dir)) continue;
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else removed.push(p);
      }
    };
    walk(dir);
    rmSync(dir, { recursive: true, force: true });
  }
  if (existsSync(paths.stateDir)) {
    removed.push(paths.stateDir);
    rmSync(paths.stateDir, { recursive: true, force: true });
  }
  return removed;
}

export interface MapStatus extends MapRecord {
  typeName: string;
}

/** What runs on one interface, from the kernel, joined with xdpc's record when there is one. */
export interface FilterStatus {
  iface: string;
  ifindex: number;
  mode: XdpMode | "offload" | TcMode;
  /** tc-ingress or tc-egress for a tc program (absent: XDP). */
  hook?: TcHook;
  progId: number;
  progName: string;
  tag: string;
  /** Loaded by xdpc (a record or a pin under the pin root names this program). */
  managed: boolean;
  maps: MapStatus[];
  source?: string;
  object?: string;
  pinDir?: string;
  params?: Record<string, string>;
  loadedAt?: string;
  /** When the program is libxdp's dispatcher: the programs it runs, in order. */
  dispatcher?: DispatcherProgram[];
}

/** A program run by libxdp's dispatcher (xdp-loader, bpfman, `xdpc load --multi`). */
export interface DispatcherProgram {
  name: string;
  id: number;
  priority: number;
  /** Verdicts after which the next program runs (XDP_PASS, …). */
  chainCallActions: string[];
}

const XDP_VERDICTS = ["XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT"];

function dispatcherPrograms(ifindex: number): DispatcherProgram[] | undefined {
  try {
    const d = libxdpDispatcher(ifindex);
    if (!d || d.legacy) return undefined;
    return d.programs.map((p) => ({
      name: p.name,
      id: p.id,
      priority: p.priority,
      chainCallActions: p.chainCallActions.map((a) => XDP_VERDICTS[a]!),
    }));
  } catch (e) {
    if (e instanceof NativeError) return undefined; // no libxdp, or changed meanwhile
    throw e;
  }
}

function kernelMaps(progFd: number, record?: FilterRecord): MapStatus[] {
  const out: MapStatus[] = [];
  for (const id of progInfo(progFd).mapIds) {
    let fd = -1;
    try {
      fd = mapFdById(id);
      const m = mapInfo(fd);
      const rec = record?.maps.find((r) => r.id === id);
      out.push({
        name: rec?.name ?? m.name,
        id,
        type: m.type,
        typeName: MAP_TYPE_NAMES[m.type] ?? `type ${m.type}`,
        keySize: m.keySize,
        valueSize: m.valueSize,
        maxEntries: m.maxEntries,
        ...(rec?.pinned ? { pinned: rec.pinned } : {}),
      });
    } catch (e) {
      if (!(e instanceof NativeError)) throw e; // freed meanwhile
    } finally {
      closeFd(fd);
    }
  }
  return out;
}

/** Status of the filter on `iface`: undefined when nothing is attached (or no such interface). */
export function findFilter(iface: string, pinRoot?: string): FilterStatus | undefined {
  const ifindex = ifNameToIndex(iface);
  if (!ifindex) return undefined;
  const a = attachments(ifindex)[0];
  return a ? describeAttachment(iface, ifindex, a, pinRoot) : undefined;
}

export function describeAttachment(
  iface: string,
  ifindex: number,
  a: Attachment | TcAttachment,
  pinRoot?: string,
): FilterStatus | undefined {
  const paths = filterPaths(iface, pinRoot, a.hook);
  let fd = -1;
  try {
    fd = progFdById(a.progId);
  } catch (e) {
    if (e instanceof NativeError) return undefined; // detached and freed since the query
    throw e;
  }
  try {
    const info = progInfo(fd);
    const record = recordFor(paths, a.progId);
    const managed =
      record !== undefined ||
      pinnedProgId(paths.progPin) === a.progId ||
      pinnedProgId(paths.progPinNew) === a.progId;
    return {
      iface,
      ifindex,
      mode: a.mode,
      ...(a.hook ? { hook: a.hook } : {}),
      progId: a.progId,
      progName: record?.progName ?? info.name,
      tag: info.tag,
      managed,
      maps: kernelMaps(fd, record),
      ...(!a.hook && info.name === "xdp_dispatcher"
        ? { dispatcher: dispatcherPrograms(ifindex) }
        : {}),
      ...(record
        ? {
            source: record.source,
            object: record.object,
            pinDir: record.pinDir,
            params: record.params,
            loadedAt: record.loadedAt,
          }
        : managed
          ? { pinDir: paths.pinDir }
          : {}),
    };
  } finally {
    closeFd(fd);
  }
}

/** Every XDP attachment in this network namespace, then every tc one. */
export function filterStatus(pinRoot?: string): FilterStatus[] {
  const out: FilterStatus[] = [];
  const tc: FilterStatus[] = [];
  for (const iface of listInterfaces()) {
    const ifindex = ifNameToIndex(iface);
    if (!ifindex) continue;
    for (const dir of ["ingress", "egress"] as const) {
      for (const a of tcAttachments(ifindex, dir)) {
        const s = describeAttachment(iface, ifindex, a, pinRoot);
        if (s) tc.push(s);
      }
    }
    for (const a of attachments(ifindex)) {
      const s = describeAttachment(iface, ifindex, a, pinRoot);
      if (s) out.push(s);
    }
  }
  return [...out, ...tc];
}

export function ensureDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
}

export function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // absent
  }
}
