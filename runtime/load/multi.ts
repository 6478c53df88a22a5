// `xdpc load --multi`: attach through libxdp's dispatcher, beside programs that
// xdp-loader (or bpfman, or another libxdp user) attached, in the order of each
// program's run config. libxdp 1.3 falls back to attaching the program alone when the
// kernel refuses its dispatcher; --multi refuses that fallback instead (it would
// replace what is there, or block the next program), detaches what libxdp attached and
// says why, from libxdp's own log.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ifNameToIndex } from "../../native/ifname.ts";
import {
  libxdpAttach,
  libxdpDetachId,
  libxdpDispatcher,
  libxdpOpen,
  XDP_MODE_NATIVE,
  XDP_MODE_SKB,
  XDP_MODE_UNSPEC,
  type LibxdpDispatcher,
  type LibxdpProgramInfo,
} from "../../native/libxdp.ts";
import { NativeError } from "../../native/lib.ts";
import { openObject, type LoadedObject } from "../../native/object.ts";
import { buildObject } from "../../compiler/elf/object.ts";
import { LoaderError } from "./errors.ts";
import { inspectObject, privilegeCheck, type FilterInput, type ModeOption } from "./loader.ts";
import { applyParams, paramsOf } from "./params.ts";
import { runDir } from "./records.ts";

/** The dispatcher programs `xdpc load --multi` attached to an interface (ids), so unload takes only those. */
const multiRecord = (iface: string) => join(runDir(), "multi", `${iface}.json`);

function readIds(iface: string): number[] {
  try {
    return (JSON.parse(readFileSync(multiRecord(iface), "utf8")) as { progIds: number[] }).progIds;
  } catch {
    return [];
  }
}

function writeIds(iface: string, ids: number[]): void {
  if (!ids.length) return rmSync(multiRecord(iface), { force: true });
  mkdirSync(join(runDir(), "multi"), { recursive: true });
  writeFileSync(multiRecord(iface), JSON.stringify({ progIds: ids }) + "\n");
}

/**
 * `xdpc unload` on an interface where libxdp's dispatcher runs: detaches the programs
 * xdpc attached (`--multi`) and leaves the others; null when no dispatcher is there.
 */
export function unloadMulti(
  iface: string,
): { detached: LibxdpProgramInfo[]; others: LibxdpProgramInfo[] } | null {
  const ifindex = ifNameToIndex(iface);
  if (!ifindex) return null;
  let d: LibxdpDispatcher | null;
  try {
    d = libxdpDispatcher(ifindex);
  } catch (e) {
    if (e instanceof NativeError) return null; // no libxdp here: no dispatcher of ours either
    throw e;
  }
  if (!d || d.legacy) return null;
  privilegeCheck("unloading from libxdp's dispatcher");
  const ours = new Set(readIds(iface));
  const detached = d.programs.filter((p) => ours.has(p.id));
  const others = d.programs.filter((p) => !ours.has(p.id));
  if (!detached.length)
    throw new LoaderError(
      `'${iface}' runs libxdp's dispatcher with programs xdpc did not attach (${others.map((p) => `${p.name} id ${p.id}`).join(", ")}); remove them with xdp-loader unload`,
    );
  for (const p of detached) libxdpDetachId(p.id, ifindex);
  writeIds(iface, []);
  return { detached, others };
}

/**
 * Why libxdp's dispatcher cannot run on this machine, measured on the kernel this was
 * written on (6.18, lockdown=integrity): libxdp's compatibility check loads the
 * dispatcher's `xdp_pass` again as BPF_PROG_TYPE_EXT (freplace) with the first copy
 * as its target, and BPF_PROG_LOAD refuses that with EPERM before the verifier runs.
 */
export const DISPATCHER_UNAVAILABLE = "libxdp's dispatcher cannot run on this kernel";

/** The refusal, in the words of the syscall. */
const freplaceRefused = (code: string) =>
  `BPF_PROG_LOAD refuses its freplace program (BPF_PROG_TYPE_EXT targeting an XDP program, as libxdp's compatibility check loads it) with ${code}`;

/** `r0 = XDP_PASS; exit`, the dispatcher's own `xdp_pass`. */
const PASS = new Uint8Array([0xb7, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);

/**
 * libxdp's compatibility check, done ourselves so that it attaches nothing and names the
 * failing call: load an XDP program, then load a program as BPF_PROG_TYPE_EXT
 * (freplace) targeting its function. Returns the failure, or null when the kernel
 * accepts the extension.
 */
export function probeFreplace(): NativeError | null {
  const object = buildObject({
    license: "GPL",
    programs: [{ name: "xdpc_probe", section: "xdp", insns: PASS }],
  });
  let target: LoadedObject | undefined;
  let ext: LoadedObject | undefined;
  try {
    target = openObject(object, { name: "xdpc_probe" });
    target.load();
    ext = openObject(object, {
      name: "xdpc_probe",
      extensionOf: { fd: target.programFd("xdpc_probe"), name: "xdpc_probe" },
    });
    ext.load();
    return null;
  } catch (e) {
    if (e instanceof NativeError) return e;
    throw e;
  } finally {
    ext?.close();
    target?.close();
  }
}

export interface MultiLoadOptions {
  iface: string;
  input: FilterInput;
  mode: ModeOption;
  params: Record<string, string>;
  program?: string;
}

export interface MultiLoadResult {
  iface: string;
  ifindex: number;
  program: string;
  dispatcher: LibxdpDispatcher;
}

const libxdpMode = (m: ModeOption) =>
  m === "native" ? XDP_MODE_NATIVE : m === "generic" ? XDP_MODE_SKB : XDP_MODE_UNSPEC;

/** The lines of libxdp's log that say why the dispatcher was not used. */
function dispatcherReason(detail: string): string | undefined {
  const lines = detail.split("\n");
  const failed = lines.find((l) => /Failed to load program|Failed to attach test program/.test(l));
  const compat = lines.find((l) => /Compatibility check for dispatcher program failed/.test(l));
  return failed ?? compat;
}

export function loadMulti(opts: MultiLoadOptions): MultiLoadResult {
  privilegeCheck("xdpc load --multi");
  const ifindex = ifNameToIndex(opts.iface);
  if (!ifindex) throw new LoaderError(`no network interface '${opts.iface}'`);
  const input = opts.input.read();
  const info = inspectObject(input.bytes, input.file);
  const xdp = info.programs.filter((p) => p.global && /^xdp($|[./])/.test(p.section));
  const program = opts.program ?? (xdp.length === 1 ? xdp[0]!.name : undefined);
  if (!program || !xdp.some((p) => p.name === program))
    throw new LoaderError(
      `'${input.file}' has ${xdp.length} XDP programs (${xdp.map((p) => p.name).join(", ") || "none"})${opts.program ? `, not '${opts.program}'` : ""}: choose one with --program`,
      "usage",
    );
  // Parameters go into the object's .rodata bytes: libxdp opens a file.
  const bytes = new Uint8Array(input.bytes);
  const rodata = info.elf.section(".rodata");
  if (Object.keys(opts.params).length) {
    const applied = applyParams(
      paramsOf(info.btf, rodata?.data ?? new Uint8Array(), info.globals),
      rodata?.data ?? new Uint8Array(),
      opts.params,
    );
    if ("error" in applied) throw new LoaderError(`--set: ${applied.error}`, "usage");
    bytes.set(applied.bytes, rodata!.offset);
  }
  const before = libxdpDispatcher(ifindex);
  if (!before || before.legacy) {
    // A dispatcher has to be made: find out first whether the kernel takes one.
    const refused = probeFreplace();
    if (refused)
      throw new LoaderError(
        `${DISPATCHER_UNAVAILABLE}: ${freplaceRefused(refused.code)}; nothing attached, ${opts.iface} keeps ${describeOthers(before)}`,
      );
  }
  const dir = mkdtempSync(join(tmpdir(), "xdpc-multi-"));
  const path = join(dir, `${program}.o`);
  writeFileSync(path, bytes);
  const prog = libxdpOpen(path, program);
  try {
    try {
      libxdpAttach(prog, ifindex, libxdpMode(opts.mode));
    } catch (e) {
      if (e instanceof NativeError) {
        const why = dispatcherReason(e.detail);
        throw new LoaderError(
          why
            ? `${DISPATCHER_UNAVAILABLE}: ${why.replace(/^debug: /, "")}; ${opts.iface} keeps ${describeOthers(before)}`
            : `libxdp cannot attach ${program} to ${opts.iface}: ${e.detailLine}`,
        );
      }
      throw e;
    }
    const after = libxdpDispatcher(ifindex);
    if (!after || after.legacy) {
      // libxdp fell back to attaching the program alone: undo that, and say why.
      const id = prog.info().id;
      try {
        if (id) libxdpDetachId(id, ifindex);
      } catch {
        // reported below either way
      }
      throw new LoaderError(
        `${DISPATCHER_UNAVAILABLE}: libxdp attached ${program} alone instead, which xdpc load --multi refuses and has undone; load without --multi to attach it alone`,
      );
    }
    const id = prog.info().id;
    writeIds(opts.iface, [...new Set([...readIds(opts.iface), id])]);
    return { iface: opts.iface, ifindex, program, dispatcher: after };
  } finally {
    prog.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function describeOthers(d: LibxdpDispatcher | null): string {
  if (!d) return "no XDP program";
  const list = d.programs.map((p) => `${p.name} id ${p.id}`).join(", ");
  return d.legacy ? `${list} (attached alone)` : `its dispatcher with ${list || "no programs"}`;
}

export const actionList = (p: LibxdpProgramInfo) =>
  p.chainCallActions
    .map((a) => ["XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT"][a])
    .join(",");
