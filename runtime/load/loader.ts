// `xdpc load` / `xdpc unload` as a library: compile (or read) → set parameters → load
// (the verifier runs) → attach or atomically replace on an interface → record.
//
// Attachment is netlink XDP (bpf_xdp_attach), not a bpf_link: it belongs to the
// interface, so it outlives the CLI with no pin needed to keep it, it is what
// `ip link`, xdp-loader and bpftool show and can remove, and a swap is a single
// syscall (XDP_FLAGS_REPLACE + the old program's fd) — a kill -9 at any moment
// leaves either the old or the new program attached. A bpf_link would detach when
// its last fd closes unless pinned first, adding a crash window between create and pin.
//
// Crash safety: everything about the new program (its pin `prog_new`, its record
// `state.json.new`, a copy of the object) is written before the attach and renamed
// into place after it; the next load/unload (under the same lock) finishes or rolls
// back an interrupted one by comparing those with what the kernel says is attached.
import { existsSync, readdirSync, renameSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { readObject, type ObjectInfo, type ObjectProgram } from "../../compiler/elf/object.ts";
import { closeFd } from "../../native/bpf.ts";
import { mapInfo, objPin, progFdById, progInfo } from "../../native/info.ts";
import { NativeError } from "../../native/lib.ts";
import { LoadError, openObject, withCapture, type LoadedObject } from "../../native/object.ts";
import {
  XDP_FLAGS_DRV_MODE,
  XDP_FLAGS_HW_MODE,
  XDP_FLAGS_SKB_MODE,
  XDP_FLAGS_UPDATE_IF_NOEXIST,
  xdpAttach,
  xdpDetach,
} from "../../native/xdp.ts";
import { ensureBpffs } from "../sys/bpffs.ts";
import { tryLock, type Lock } from "../sys/lock.ts";
import { ifNameToIndex, missingCaps, netnsAlive, netnsInode } from "../sys/netdev.ts";
import { applyParams, paramsOf } from "./params.ts";
import {
  attachments,
  defaultPinRoot,
  ensureDir,
  filterPaths,
  pinnedProgId,
  readRecord,
  reconcile,
  removeFilterFiles,
  writeAtomic,
  type Attachment,
  type FilterPaths,
  type FilterRecord,
  type MapRecord,
  type TcHook,
  type XdpMode,
} from "./records.ts";
import { LoaderError } from "./errors.ts";
import { verifierRejection } from "./verifier.ts";

export { LoaderError };

export {
  filterStatus,
  findFilter,
  filterPaths,
  type FilterStatus,
  type FilterRecord,
  type MapRecord,
  type XdpMode,
} from "./records.ts";

export type ModeOption = XdpMode | "auto";

export interface LoadOptions {
  iface: string;
  /** The filter source or eBPF object to load (runtime/cli/filter.ts `filterInput`). */
  input: FilterInput;
  /** native (driver mode), generic (skb mode), or auto: native, falling back to generic with a notice (default). */
  mode?: ModeOption;
  /** `--set name=value` parameters (.rodata variables). */
  params?: Record<string, string>;
  /** bpffs directory under which the interface's pins go (default /sys/fs/bpf/xdpc or $XDPC_PIN_ROOT). */
  pinRoot?: string;
  /** The XDP program to attach when the object has several. */
  program?: string;
  /** Replace an XDP program that xdpc did not load. */
  force?: boolean;
}

export interface LoadResult {
  progId: number;
  progName: string;
  mode: XdpMode;
  ifindex: number;
  maps: MapRecord[];
  /** Things the user should know (a fallback to generic mode, a replaced program, …). */
  notices: string[];
  /** The program this load replaced, if any. */
  replaced?: number;
  record: FilterRecord;
}

const EM_BPF = 247;
const MACHINES: Record<number, string> = {
  3: "x86",
  40: "ARM",
  62: "x86-64",
  183: "AArch64",
  243: "RISC-V",
  8: "MIPS",
  21: "PowerPC64",
  22: "s390",
};

/** An eBPF object to load, and where it came from. */
export interface FilterObject {
  bytes: Uint8Array;
  /** The file named in messages and in the load record. */
  file: string;
  /** The filter text, when the object was compiled from one (diagnostics render against it). */
  source?: string;
}

/**
 * What to load: the file's name, and how to get its object. The command line reads or
 * compiles it (runtime/cli/filter.ts), the only place where compiler and runtime meet;
 * `read` runs after the interface and privilege checks, so those fail first.
 */
export interface FilterInput {
  file: string;
  read(): FilterObject;
}

/** Refuses non-ELF, non-eBPF and corrupt objects with one line each. */
export function inspectObject(bytes: Uint8Array, name: string): ObjectInfo {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46)
    throw new LoaderError(`'${name}' is not an ELF object file`);
  const machine = b[5] === 2 ? b.readUInt16BE(18) : b.readUInt16LE(18);
  if (machine !== EM_BPF) {
    throw new LoaderError(
      `'${name}' is an ELF object for ${MACHINES[machine] ?? `machine ${machine}`}, not eBPF`,
    );
  }
  if (b[4] !== 2 || b[5] !== 1)
    throw new LoaderError(`'${name}' is not a little-endian 64-bit eBPF object`);
  try {
    return readObject(bytes);
  } catch (e) {
    throw new LoaderError(
      `'${name}' is a corrupt eBPF object: ${(e as Error).message.split("\n")[0]}`,
    );
  }
}

export function xdpPrograms(info: ObjectInfo): ObjectProgram[] {
  return info.programs.filter(
    (p) => p.global && /^xdp($|[/.])/.test(p.section) && !/^xdp[/.](devmap|cpumap)/.test(p.section),
  );
}

/** The object's tc classifiers (sections as libbpf names them: tc, classifier, tcx/…). */
export function tcPrograms(info: ObjectInfo): ObjectProgram[] {
  return info.programs.filter((p) => p.global && /^(tc|classifier|tcx)($|[/.])/.test(p.section));
}

function pickProgram(info: ObjectInfo, name: string, wanted?: string): ObjectProgram {
  const progs = xdpPrograms(info);
  if (wanted) {
    const p = progs.find((q) => q.name === wanted);
    if (!p)
      throw new LoaderError(
        `'${name}' has no XDP program '${wanted}' (programs: ${progs.map((q) => q.name).join(", ") || "none"})`,
        "usage",
      );
    return p;
  }
  if (progs.length === 0) {
    const tc = tcPrograms(info);
    if (tc.length)
      throw new LoaderError(
        `'${name}' holds tc programs only (${tc.map((q) => q.name).join(", ")}); attach one with --tc ingress|egress`,
        "usage",
      );
    throw new LoaderError(`'${name}' has no XDP program (no function in an ELF section named xdp)`);
  }
  if (progs.length > 1) {
    throw new LoaderError(
      `'${name}' has ${progs.length} XDP programs (${progs.map((q) => q.name).join(", ")}); choose one with --program`,
      "usage",
    );
  }
  return progs[0]!;
}

/**
 * Fault injection for the crash-safety tests: with XDPC_CRASH_AT=<point> the process
 * kills itself with SIGKILL there, exactly as `kill -9` would at that moment.
 */
export function crashPoint(point: "loaded" | "staged" | "attached" | "pin-committed"): void {
  if (process.env.XDPC_CRASH_AT === point) process.kill(process.pid, "SIGKILL");
}

const modeFlag = (m: XdpMode | "offload") =>
  m === "native" ? XDP_FLAGS_DRV_MODE : m === "generic" ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_HW_MODE;

export function privilegeCheck(what: string): void {
  const missing = missingCaps();
  if (missing.length)
    throw new LoaderError(
      `${what} needs ${missing.join(" and ")} (run as root, or grant ${missing.join(", ")})`,
    );
}

/**
 * Takes the interface lock, refusing when the interface's files belong to a filter
 * in another, still existing, network namespace with an interface of the same name.
 */
export function lockInterface(paths: FilterPaths, iface: string): Lock {
  const r = tryLock(paths.lockDir, paths.key);
  if ("busy" in r) {
    throw new LoaderError(
      `another xdpc load or unload is running on '${iface}'${r.holder ? ` (pid ${r.holder})` : ""}; try again when it has finished`,
    );
  }
  const owner = readRecord(paths.state) ?? readRecord(paths.stateNew);
  if (owner && owner.netns !== netnsInode() && netnsAlive(owner.netns)) {
    r.lock.release();
    throw new LoaderError(
      `the xdpc files of '${iface}' belong to a filter in another network namespace (netns inode ${owner.netns}); unload it there first`,
    );
  }
  return r.lock;
}

/**
 * Runs a netlink attach/detach with libbpf's messages captured; a failure is
 * rethrown with the kernel's extended ack ("Kernel error message: …") attached.
 */
export function netlink(fn: () => void): void {
  const { value: err, messages } = withCapture(() => {
    try {
      fn();
      return undefined;
    } catch (e) {
      return e;
    }
  });
  if (err === undefined) return;
  const ack = messages.map((m) => /Kernel error message: (.*)/.exec(m)?.[1]).find(Boolean);
  if (ack && err instanceof NativeError) (err as NativeError & { ack?: string }).ack = ack;
  throw err;
}

/** A NativeError from libbpf/netlink → one line the user can act on. */
function nativeFailure(e: unknown, iface: string, mode: XdpMode): never {
  if (e instanceof LoaderError || !(e instanceof NativeError)) throw e;
  if (e.code === "EPERM")
    throw new LoaderError(
      `permission denied: attaching XDP programs needs CAP_NET_ADMIN and loading them CAP_BPF`,
    );
  if (e.code === "ENODEV") throw new LoaderError(`no such interface '${iface}'`);
  if (e.code === "EOPNOTSUPP" || e.code === "ENOTSUPP")
    throw new LoaderError(
      `'${iface}' does not support XDP in ${mode} mode${mode === "native" ? " (its driver has no native XDP); use --mode generic" : ""}`,
    );
  if (e.code === "EEXIST")
    throw new LoaderError(
      `the XDP program on '${iface}' changed during the load (another tool attached one); nothing was replaced`,
    );
  if (e.code === "EBUSY")
    throw new LoaderError(
      `'${iface}' already runs an XDP program in another mode; unload it first`,
    );
  const ack = (e as NativeError & { ack?: string }).ack;
  throw new LoaderError(`${e.headline} on '${iface}'${ack ? ` (kernel: ${ack})` : ""}`);
}

/** Ids, names and pins of the object's maps after load. */
export function mapRecords(obj: LoadedObject, info: ObjectInfo, mapPinDir: string): MapRecord[] {
  const out: MapRecord[] = [];
  for (const name of obj.mapNames()) {
    const m = obj.map(name);
    if (m.fd < 0) continue;
    const pinned = info.maps.find((x) => x.name === name)?.pinning === 1;
    out.push({
      name,
      id: mapInfo(m.fd).id,
      type: m.type,
      keySize: m.keySize,
      valueSize: m.valueSize,
      maxEntries: m.maxEntries,
      ...(pinned ? { pinned: join(mapPinDir, name) } : {}),
    });
  }
  return out;
}

/** The verifier's log or libbpf's complaint → a LoaderError. */
function loadFailure(e: LoadError, input: FilterObject, info: ObjectInfo, prog: string): never {
  const rejected = verifierRejection(e, {
    program: prog,
    object: info,
    file: input.file,
    source: input.source,
  });
  if (rejected) throw rejected;
  if (e.messages.some((m) => /reuse pinned map|reusing pinned map/i.test(m))) {
    // libbpf: "couldn't reuse pinned map at '<path>': parameter mismatch"
    const path = e.messages.map((m) => /reuse pinned map at '([^']+)'/.exec(m)?.[1]).find(Boolean);
    const map = path
      ? basename(path)
      : e.messages.map((m) => /map '([^']+)': error reusing/.exec(m)?.[1]).find(Boolean);
    throw new LoaderError(
      `pinned map${map ? ` '${map}'` : ""}${path ? ` (${path})` : ""} has a different definition than the one in '${basename(input.file)}'; \`xdpc unload\` first to discard its contents`,
    );
  }
  if (e.code === "EPERM")
    throw new LoaderError(
      "permission denied: loading BPF programs needs CAP_BPF (or CAP_SYS_ADMIN)",
    );
  const why = e.messages.filter((m) => !/failed to load object/.test(m)).pop() ?? e.headline;
  throw new LoaderError(
    `the kernel refused '${basename(input.file)}': ${why!.replace(/^libbpf: /, "")}`,
  );
}

/**
 * The steps before the interface lock, alike for XDP and tc loads: the interface and the
 * privilege first, then the object (read or compiled), its program, its parameters, bpffs
 * and the interface's paths (`hook` for a tc program's).
 */
export function prepareLoad(
  opts: {
    iface: string;
    input: FilterInput;
    params?: Record<string, string>;
    pinRoot?: string;
  },
  what: string,
  pick: (info: ObjectInfo, file: string) => ObjectProgram,
  notices: string[],
  hook?: TcHook | ((prog: ObjectProgram) => TcHook),
) {
  const ifindex = ifNameToIndex(opts.iface);
  if (!ifindex) throw new LoaderError(`no such interface '${opts.iface}'`);
  privilegeCheck(what);
  const input = opts.input.read();
  const info = inspectObject(input.bytes, input.file);
  const prog = pick(info, input.file);
  const rodata = info.elf.section(".rodata")?.data ?? new Uint8Array(0);
  const applied = applyParams(paramsOf(info.btf, rodata, info.globals), rodata, opts.params ?? {});
  if ("error" in applied) throw new LoaderError(applied.error, "usage");
  const pinRoot = resolve(opts.pinRoot ?? defaultPinRoot());
  const fs = ensureBpffs(pinRoot);
  if (fs.error) throw new LoaderError(fs.error);
  if (fs.mounted) notices.push("mounted bpffs at /sys/fs/bpf");
  return {
    ifindex,
    input,
    info,
    prog,
    applied,
    pinRoot,
    paths: filterPaths(opts.iface, pinRoot, typeof hook === "function" ? hook(prog) : hook),
  };
}

/** Loads `input` and attaches it to `iface`, atomically replacing an xdpc program that runs there. */
export function loadFilter(opts: LoadOptions): LoadResult {
  const { iface } = opts;
  const notices: string[] = [];
  const requested: ModeOption = opts.mode ?? "auto";
  const { ifindex, input, info, prog, applied, pinRoot, paths } = prepareLoad(
    opts,
    "loading an XDP program",
    (info, file) => pickProgram(info, file, opts.program),
    notices,
  );

  const lock = lockInterface(paths, iface);
  try {
    const current = attachments(ifindex);
    const record = reconcile(
      paths,
      current.map((a) => a.progId),
    );
    const cur: Attachment | undefined = current.find((a) => a.mode !== "offload") ?? current[0];
    let mode = chooseMode(cur, record, paths, iface, requested, !!opts.force);

    const existed = existsSync(paths.pinDir);
    ensureDir(paths.mapPinDir);
    ensureDir(paths.stateDir);
    const pinsBefore = new Set(readdirSync(paths.mapPinDir));
    let objectCopy: string | undefined;
    let attached = false;
    let obj: LoadedObject | undefined;
    try {
      obj = openForLoad(input, paths.mapPinDir);
      if (Object.keys(opts.params ?? {}).length) obj.setInitialValue(".rodata", applied.bytes);
      loadObject(obj, input, info, prog.name);
      const fd = obj.programFd(prog.name);
      const progId = progInfo(fd).id;
      crashPoint("loaded");
      const maps = mapRecords(obj, info, paths.mapPinDir);
      objectCopy = join(paths.stateDir, `filter-${progId}.o`);
      writeFileSync(objectCopy, input.bytes);
      const rec: FilterRecord = {
        version: 1,
        iface,
        ifindex,
        netns: netnsInode(),
        key: paths.key,
        progId,
        progName: prog.name,
        mode,
        source: resolve(input.file),
        object: objectCopy,
        pinDir: paths.pinDir,
        progPin: paths.progPin,
        maps,
        params: applied.values,
        loadedAt: new Date().toISOString(),
      };
      // Everything the commit needs exists before the attach (see the header).
      writeAtomic(paths.stateNew, JSON.stringify(rec, null, 2) + "\n");
      rmSync(paths.progPinNew, { force: true });
      objPin(fd, paths.progPinNew);
      crashPoint("staged");

      mode = attach(
        ifindex,
        fd,
        cur,
        mode,
        requested,
        iface,
        () => {
          rec.mode = "generic";
          writeAtomic(paths.stateNew, JSON.stringify(rec, null, 2) + "\n");
        },
        notices,
      );
      attached = true;
      crashPoint("attached");
      // Commit: the pin first, the record last (reconcile() redoes a torn commit).
      renameSync(paths.progPinNew, paths.progPin);
      crashPoint("pin-committed");
      renameSync(paths.stateNew, paths.state);
      reconcile(paths, [progId]);
      return {
        progId,
        progName: prog.name,
        mode,
        ifindex,
        maps,
        notices,
        ...(cur ? { replaced: cur.progId } : {}),
        record: rec,
      };
    } catch (e) {
      if (!attached)
        rollback(paths, pinRoot, pinsBefore, objectCopy, record?.object, existed || !!cur);
      throw e;
    } finally {
      obj?.close();
    }
  } finally {
    lock.release();
  }
}

/**
 * The mode to load in: the running program's when replacing (refusing a program xdpc
 * did not load unless forced, an offloaded one, and a mode switch, which cannot be
 * atomic), else the requested one (auto tries native first).
 */
function chooseMode(
  cur: Attachment | undefined,
  record: FilterRecord | undefined,
  paths: FilterPaths,
  iface: string,
  requested: ModeOption,
  force: boolean,
): XdpMode {
  if (!cur) return requested === "generic" ? "generic" : "native";
  const ours = record?.progId === cur.progId || pinnedProgId(paths.progPin) === cur.progId;
  if (!ours && !force) {
    throw new LoaderError(
      `'${iface}' runs XDP program id ${cur.progId} that xdpc did not load; \`xdpc unload --iface ${iface}\` removes it, or pass --force to replace it`,
    );
  }
  if (cur.mode === "offload")
    throw new LoaderError(`'${iface}' runs an offloaded XDP program; unload it first`);
  if (requested !== "auto" && requested !== cur.mode) {
    throw new LoaderError(
      `'${iface}' runs its XDP program in ${cur.mode} mode and a switch to ${requested} mode cannot be atomic; unload first, or load with --mode ${cur.mode}`,
    );
  }
  return cur.mode;
}

/** Opens the object with its maps pinned under `mapPinDir`; a corrupt one is a LoaderError. */
/** Opens the object for a load, with pinned maps under `mapPinDir`; a corrupt object is a LoaderError. */
export function openForLoad(input: FilterObject, mapPinDir: string): LoadedObject {
  try {
    return openObject(input.bytes, { pinRoot: mapPinDir, name: "xdpc" });
  } catch (e) {
    if (!(e instanceof NativeError)) throw e;
    const detail = e.detailLines.find(Boolean)?.replace(/^libbpf: /, "") ?? e.code;
    throw new LoaderError(`'${input.file}' is a corrupt eBPF object: ${detail}`);
  }
}

/** Loads the object (the verifier runs); a rejection is a LoaderError with a diagnostic. */
export function loadObject(
  obj: LoadedObject,
  input: FilterObject,
  info: ObjectInfo,
  prog: string,
): void {
  try {
    obj.load();
  } catch (e) {
    if (e instanceof LoadError) loadFailure(e, input, info, prog);
    throw e;
  }
}

/**
 * Attaches program `fd`: atomically in place of `cur` (XDP_FLAGS_REPLACE with its fd),
 * else only if the interface has none; `auto` falls back to generic mode when the
 * driver has no native XDP (`toGeneric` re-stages the record first). Returns the mode.
 */
function attach(
  ifindex: number,
  fd: number,
  cur: Attachment | undefined,
  mode: XdpMode,
  requested: ModeOption,
  iface: string,
  toGeneric: () => void,
  notices: string[],
): XdpMode {
  if (cur) {
    const oldFd = progFdById(cur.progId);
    try {
      netlink(() => xdpAttach(ifindex, fd, modeFlag(mode), oldFd));
    } catch (e) {
      nativeFailure(e, iface, mode);
    } finally {
      closeFd(oldFd);
    }
    notices.push(`replaced program id ${cur.progId} on '${iface}' (${mode} mode)`);
    return mode;
  }
  try {
    netlink(() => xdpAttach(ifindex, fd, modeFlag(mode) | XDP_FLAGS_UPDATE_IF_NOEXIST));
    return mode;
  } catch (e) {
    const unsupported =
      e instanceof NativeError && (e.code === "EOPNOTSUPP" || e.code === "ENOTSUPP");
    if (!(unsupported && requested === "auto" && mode === "native")) nativeFailure(e, iface, mode);
  }
  toGeneric();
  try {
    netlink(() => xdpAttach(ifindex, fd, modeFlag("generic") | XDP_FLAGS_UPDATE_IF_NOEXIST));
  } catch (e2) {
    nativeFailure(e2, iface, "generic");
  }
  notices.push(`'${iface}' has no native XDP support; attached in generic (skb) mode`);
  return "generic";
}

/**
 * Undoes a load that did not attach: the old program and its files stay exactly as
 * they were (staged pin and record, the object copy, map pins this load created; the
 * interface's directories when this load made them).
 */
export function rollback(
  paths: FilterPaths,
  pinRoot: string,
  pinsBefore: Set<string>,
  objectCopy: string | undefined,
  recordedObject: string | undefined,
  keepDirs: boolean,
): void {
  rmSync(paths.progPinNew, { force: true });
  rmSync(paths.linkPinNew, { force: true });
  rmSync(paths.stateNew, { force: true });
  if (objectCopy && objectCopy !== recordedObject) rmSync(objectCopy, { force: true });
  if (existsSync(paths.mapPinDir)) {
    for (const f of readdirSync(paths.mapPinDir))
      if (!pinsBefore.has(f)) rmSync(join(paths.mapPinDir, f), { force: true });
  }
  if (!keepDirs) {
    rmSync(paths.pinDir, { recursive: true, force: true });
    if (!readRecord(paths.state)) rmSync(paths.stateDir, { recursive: true, force: true });
    removeIfEmpty(pinRoot);
  }
}

/** Removes a pin root xdpc no longer uses (never bpffs' own mount point). */
export function removeIfEmpty(dir: string): void {
  if (dir === "/sys/fs/bpf" || dir === "/") return;
  try {
    rmdirSync(dir);
  } catch {
    // not empty, or not ours to remove
  }
}

export interface UnloadResult {
  ifindex: number;
  detached: { progId: number; mode: string; managed: boolean }[];
  /** Pins and state removed. */
  removed: string[];
  notices: string[];
}

/** Detaches whatever XDP program runs on `iface` and removes xdpc's pins and record for it. */
export function unloadFilter(iface: string, opts: { pinRoot?: string } = {}): UnloadResult {
  privilegeCheck("unloading an XDP program");
  const ifindex = ifNameToIndex(iface);
  const paths = filterPaths(iface, resolve(opts.pinRoot ?? defaultPinRoot()));
  const notices: string[] = [];
  const lock = lockInterface(paths, iface);
  try {
    const current = ifindex ? attachments(ifindex) : [];
    const record = ifindex
      ? reconcile(
          paths,
          current.map((a) => a.progId),
        )
      : readRecord(paths.state);
    const detached: UnloadResult["detached"] = [];
    for (const a of current) {
      const managed = record?.progId === a.progId || pinnedProgId(paths.progPin) === a.progId;
      let fd = -1;
      try {
        fd = progFdById(a.progId);
        netlink(() => xdpDetach(ifindex, modeFlag(a.mode), fd));
      } catch (e) {
        if (!(e instanceof NativeError && (e.code === "ENOENT" || e.code === "EEXIST")))
          nativeFailure(e, iface, a.mode === "generic" ? "generic" : "native");
        continue; // detached by someone else meanwhile
      } finally {
        closeFd(fd);
      }
      detached.push({ progId: a.progId, mode: a.mode, managed });
      if (!managed) notices.push(`detached XDP program id ${a.progId}, which xdpc did not load`);
    }
    const removed = removeFilterFiles(paths, record);
    if (!ifindex && removed.length === 0) throw new LoaderError(`no such interface '${iface}'`);
    if (detached.length === 0 && removed.length === 0)
      throw new LoaderError(`no XDP program is attached to '${iface}'`);
    if (!ifindex) notices.push(`interface '${iface}' is gone; removed its xdpc pins and state`);
    removeIfEmpty(paths.pinDir.replace(/\/[^/]+$/, ""));
    return { ifindex, detached, removed, notices };
  } finally {
    lock.release();
  }
}
