// `xdpc load --tc ingress|egress` / `xdpc unload --tc …` as a library: a tc program's
// load, attach (or atomic replace), record and removal — the XDP loader's steps and
// crash safety (loader.ts's header) with a tc attachment in place of netlink XDP.
//
// The attachment is a tcx bpf_link where the kernel has tcx (6.6+), found by trying:
// a kernel without it answers bpf_link_create with EINVAL. The link is pinned
// (<pinDir>/link) so that it outlives the CLI; it is created, pinned as link_new and
// renamed into place at commit, so a kill -9 before the pin leaves nothing attached
// (the link dies with its fd) and one after it leaves a link reconcile() commits. A
// replace is bpf_link_update with the old program's fd: one kernel operation. Without
// tcx, the program is a direct-action cls_bpf filter of the clsact qdisc with xdpc's
// own handle and priority (CLSACT_FILTER), replaced in place by NLM_F_REPLACE.
import { existsSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ObjectProgram } from "../../compiler/elf/object.ts";
import { closeFd } from "../../native/bpf.ts";
import { objGet, objPin, progFdById, progInfo } from "../../native/info.ts";
import { NativeError } from "../../native/lib.ts";
import { linkCreate, linkDetach, linkUpdate } from "../../native/link.ts";
import { withCapture, type LoadedObject } from "../../native/object.ts";
import { clsactAttach, clsactCreate, clsactDetach, type TcDirection } from "../../native/tc.ts";
import { ifNameToIndex, netnsInode } from "../sys/netdev.ts";
import { LoaderError } from "./errors.ts";
import {
  crashPoint,
  inspectObject,
  loadObject,
  lockInterface,
  mapRecords,
  openForLoad,
  prepareLoad,
  privilegeCheck,
  removeIfEmpty,
  rollback,
  tcPrograms,
  xdpPrograms,
  type FilterInput,
} from "./loader.ts";
import {
  CLSACT_FILTER,
  clsactProgramId,
  hookOf,
  resolveDirection,
  sectionDirection,
  tcAttachedIds as attachedIds,
  tcxProgramIds,
  tcxType,
  defaultPinRoot,
  ensureDir,
  filterPaths,
  readRecord,
  reconcile,
  removeFilterFiles,
  writeAtomic,
  type FilterPaths,
  type FilterRecord,
  type MapRecord,
  type TcMode,
} from "./records.ts";

export type { TcDirection };

export interface TcLoadOptions {
  iface: string;
  /**
   * The hook (`--tc`). A program in section tcx/ingress or tcx/egress attaches at the
   * hook its section names, so it may be left out; given and contradicting the section,
   * it is an error and nothing is loaded. Section `tc` needs it.
   */
  direction?: TcDirection;
  input: FilterInput;
  params?: Record<string, string>;
  pinRoot?: string;
  /** The tc program to attach when the object has several. */
  program?: string;
}

export interface TcLoadResult {
  progId: number;
  progName: string;
  mode: TcMode;
  direction: TcDirection;
  ifindex: number;
  maps: MapRecord[];
  notices: string[];
  replaced?: number;
  record: FilterRecord;
}

/**
 * How the kernel's tc attachment on a hook is to be reached: tcx when the kernel has it.
 * XDPC_TC_ATTACH=clsact takes the older path on a kernel that has both (the tests use
 * it, since this machine's kernel has tcx).
 */
function preferredMode(): TcMode {
  return process.env.XDPC_TC_ATTACH === "clsact" ? "clsact" : "tcx";
}

function pickTcProgram(
  progs: ObjectProgram[],
  file: string,
  wanted: string | undefined,
  direction: TcDirection | undefined,
): ObjectProgram {
  const names = progs.map((q) => q.name).join(", ");
  if (wanted) {
    const p = progs.find((q) => q.name === wanted);
    if (!p)
      throw new LoaderError(
        `'${file}' has no tc program '${wanted}' (tc programs: ${names || "none"})`,
        "usage",
      );
    return p;
  }
  if (progs.length === 0)
    throw new LoaderError(
      `'${file}' has no tc program (no function in an ELF section named tc)`,
      "usage",
    );
  // Several: the one tcx program for the hook asked for, when that tells them apart.
  const fit = direction
    ? progs.filter((q) => (sectionDirection(q.section) ?? direction) === direction)
    : [];
  if (progs.length > 1 && fit.length === 1) return fit[0]!;
  if (progs.length > 1)
    throw new LoaderError(
      `'${file}' has ${progs.length} tc programs (${names}); choose one with --program`,
      "usage",
    );
  return progs[0]!;
}

/**
 * Whether `xdpc load` without --tc loads `input` as a tc program: the object has no XDP
 * program and a tcx one (section tcx/ingress or tcx/egress names its hook). The input
 * is read once and kept for the load that follows; an input that cannot be read or is
 * no eBPF object is left to that load to report, in its order of checks.
 */
export function tcxOnly(input: FilterInput): { tcx: boolean; input: FilterInput } {
  let read: ReturnType<FilterInput["read"]>;
  try {
    read = input.read();
  } catch {
    return { tcx: false, input };
  }
  const kept: FilterInput = { file: input.file, read: () => read };
  let info;
  try {
    info = inspectObject(read.bytes, read.file);
  } catch {
    return { tcx: false, input: kept };
  }
  const tcx =
    xdpPrograms(info).length === 0 && tcPrograms(info).some((p) => !!sectionDirection(p.section));
  return { tcx, input: kept };
}

/** Loads a tc program and attaches it at `iface`'s ingress or egress, replacing xdpc's one there atomically. */
export function loadTc(opts: TcLoadOptions): TcLoadResult {
  const { iface } = opts;
  let direction: TcDirection = "ingress";
  const notices: string[] = [];
  const { ifindex, input, info, prog, applied, pinRoot, paths } = prepareLoad(
    opts,
    "loading a tc program",
    (info, file) => pickTcProgram(tcPrograms(info), file, opts.program, opts.direction),
    notices,
    (prog) => {
      const r = resolveDirection(prog, opts.direction, {
        flag: (d) => `--tc ${d}`,
        missing: "choose its hook with --tc ingress|egress",
      });
      if ("error" in r) throw new LoaderError(r.error, "usage");
      direction = r.direction;
      return hookOf(direction);
    },
  );
  const hook = hookOf(direction);

  const lock = lockInterface(paths, iface);
  try {
    const record = reconcile(paths, attachedIds(ifindex, direction));
    // Ours is running when the record's program is still attached in the recorded way.
    const cur =
      record && attachedIds(ifindex, direction).includes(record.progId) ? record : undefined;
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
      const mode: TcMode = (cur?.mode as TcMode | undefined) ?? preferredMode();
      const rec: FilterRecord = {
        version: 1,
        iface,
        ifindex,
        netns: netnsInode(),
        key: paths.key,
        progId,
        progName: prog.name,
        mode,
        hook,
        source: resolve(input.file),
        object: objectCopy,
        pinDir: paths.pinDir,
        progPin: paths.progPin,
        maps,
        params: applied.values,
        loadedAt: new Date().toISOString(),
      };
      const stage = () => writeAtomic(paths.stateNew, JSON.stringify(rec, null, 2) + "\n");
      stage();
      rmSync(paths.progPinNew, { force: true });
      objPin(fd, paths.progPinNew);
      crashPoint("staged");

      rec.mode = attach(paths, ifindex, direction, fd, cur, mode, iface, (m) => {
        rec.mode = m;
        stage();
      });
      attached = true;
      crashPoint("attached");
      renameSync(paths.progPinNew, paths.progPin);
      if (existsSync(paths.linkPinNew)) renameSync(paths.linkPinNew, paths.linkPin);
      crashPoint("pin-committed");
      renameSync(paths.stateNew, paths.state);
      reconcile(paths, [progId]);
      if (cur)
        notices.push(`replaced program id ${cur.progId} at ${iface} ${direction} (${rec.mode})`);
      return {
        progId,
        progName: prog.name,
        mode: rec.mode as TcMode,
        direction,
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
 * Attaches `fd` in place of `cur` (the recorded attachment, replaced atomically) or
 * fresh; a fresh tcx attach that the kernel does not know (EINVAL) becomes a clsact
 * one, re-staging the record first (`restage`). Returns how it is attached.
 */
function attach(
  paths: FilterPaths,
  ifindex: number,
  dir: TcDirection,
  fd: number,
  cur: FilterRecord | undefined,
  mode: TcMode,
  iface: string,
  restage: (m: TcMode) => void,
): TcMode {
  const where = `${iface} ${dir}`;
  if (cur && mode === "tcx") {
    let linkFd = -1;
    let oldFd = -1;
    try {
      linkFd = objGet(paths.linkPin);
      oldFd = progFdById(cur.progId);
      linkUpdate(linkFd, fd, oldFd);
    } catch (e) {
      tcFailure(e, where);
    } finally {
      closeFd(oldFd);
      closeFd(linkFd);
    }
    return "tcx";
  }
  if (cur) {
    try {
      withCapture(() => clsactAttach(ifindex, dir, fd, CLSACT_FILTER, true));
    } catch (e) {
      tcFailure(e, where);
    }
    return "clsact";
  }
  if (mode === "tcx") {
    let linkFd = -1;
    try {
      linkFd = linkCreate(fd, ifindex, tcxType(dir), 0);
    } catch (e) {
      if (!(e instanceof NativeError && e.code === "EINVAL")) tcFailure(e, where);
    }
    if (linkFd >= 0) {
      try {
        rmSync(paths.linkPinNew, { force: true });
        objPin(linkFd, paths.linkPinNew);
      } catch (e) {
        linkDetachQuiet(linkFd);
        tcFailure(e, where);
      } finally {
        closeFd(linkFd); // the pin holds the link from here on
      }
      return "tcx";
    }
    restage("clsact");
  }
  if (clsactProgramId(ifindex, dir))
    throw new LoaderError(
      `${where} has a tc filter with xdpc's handle ${CLSACT_FILTER.handle} and priority ${CLSACT_FILTER.priority} that xdpc has no record of; remove it with 'tc filter del dev ${iface} ${dir} pref ${CLSACT_FILTER.priority}'`,
    );
  try {
    withCapture(() => {
      clsactCreate(ifindex);
      clsactAttach(ifindex, dir, fd, CLSACT_FILTER, false);
    });
  } catch (e) {
    tcFailure(e, where);
  }
  return "clsact";
}

function linkDetachQuiet(linkFd: number): void {
  try {
    linkDetach(linkFd);
  } catch {
    // closing the fd detaches it anyway
  }
}

function tcFailure(e: unknown, where: string): never {
  if (e instanceof LoaderError || !(e instanceof NativeError)) throw e;
  if (e.code === "EPERM" && e.call === "bpf_link_update")
    throw new LoaderError(
      `the tc program at ${where} changed during the load (another tool replaced it); nothing was replaced`,
    );
  if (e.code === "EPERM")
    throw new LoaderError(
      "permission denied: attaching tc programs needs CAP_NET_ADMIN and loading them CAP_BPF",
    );
  if (e.code === "ENODEV") throw new LoaderError(`no such interface '${where.split(" ")[0]}'`);
  if (e.code === "ENOENT" && e.call === "bpf_obj_get")
    throw new LoaderError(
      `the tcx link of ${where} is gone (its pin was removed); nothing was replaced`,
    );
  throw new LoaderError(`${e.headline} at ${where}`);
}

export interface TcUnloadResult {
  ifindex: number;
  detached: { progId: number; mode: TcMode }[];
  removed: string[];
  notices: string[];
}

/** Detaches xdpc's tc program at `iface`'s `direction` and removes its pins and record. */
export function unloadTc(
  iface: string,
  direction: TcDirection,
  opts: { pinRoot?: string } = {},
): TcUnloadResult {
  privilegeCheck("unloading a tc program");
  const ifindex = ifNameToIndex(iface);
  const paths = filterPaths(iface, resolve(opts.pinRoot ?? defaultPinRoot()), hookOf(direction));
  const notices: string[] = [];
  const lock = lockInterface(paths, iface);
  try {
    const ids = ifindex ? attachedIds(ifindex, direction) : [];
    const record = ifindex ? reconcile(paths, ids) : readRecord(paths.state);
    const detached: TcUnloadResult["detached"] = [];
    if (record && ifindex && ids.includes(record.progId)) {
      const where = `${iface} ${direction}`;
      try {
        if (record.mode === "tcx") {
          const linkFd = objGet(paths.linkPin);
          try {
            linkDetach(linkFd);
          } finally {
            closeFd(linkFd);
          }
        } else withCapture(() => clsactDetach(ifindex, direction, CLSACT_FILTER));
      } catch (e) {
        tcFailure(e, where);
      }
      detached.push({ progId: record.progId, mode: record.mode as TcMode });
    }
    const removed = removeFilterFiles(paths, record);
    if (!ifindex && removed.length === 0) throw new LoaderError(`no such interface '${iface}'`);
    if (detached.length === 0 && removed.length === 0) {
      const others = ifindex ? tcxProgramIds(ifindex, direction) : [];
      throw new LoaderError(
        `xdpc has no tc program at ${iface} ${direction}` +
          (others.length
            ? ` (programs ${others.join(", ")} there were attached by other tools)`
            : ""),
      );
    }
    if (!ifindex) notices.push(`interface '${iface}' is gone; removed its xdpc pins and state`);
    const others = ifindex ? tcxProgramIds(ifindex, direction) : [];
    if (others.length)
      notices.push(
        `programs ${others.join(", ")} at ${iface} ${direction} were attached by other tools and stay`,
      );
    removeIfEmpty(paths.pinDir.replace(/\/[^/]+$/, ""));
    return { ifindex, detached, removed, notices };
  } finally {
    lock.release();
  }
}
