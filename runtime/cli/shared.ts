// Helpers more than one command uses: reading sources and objects, common options,
// printing values and notes, finding the interface to observe.
import { Option } from "commander";
import { readObject, type ObjectInfo } from "../../compiler/elf/object.ts";
import type { TcDirection } from "../../native/tc.ts";
import { tcProgramId } from "../load/records.ts";
import {
  attachedProgramId,
  interfaceMaps,
  programMaps,
  type ProgramMaps,
} from "../observe/maps.ts";
import { listInterfaces } from "../sys/netdev.ts";
import { stringifyJson, type JsValue } from "../observe/values.ts";
import { CliError, EXIT } from "./errors.ts";
import { cliFailure } from "./failure.ts";
import { readInput } from "./input.ts";

export function readSource(path: string): string {
  return readInput(path).toString("utf8");
}

export const formatOption = () =>
  new Option("--format <format>", "diagnostic output format")
    .choices(["text", "json"])
    .default("text");

/** Reads an eBPF object; a corrupt or foreign file is a one-line user error. */
export function readObjectFile(path: string): { bytes: Uint8Array; info: ObjectInfo } {
  const bytes = readInput(path);
  try {
    return { bytes, info: readObject(bytes) };
  } catch (e) {
    throw new CliError(`${path}: not a valid eBPF object: ${(e as Error).message}`);
  }
}

export function note(msg: string): void {
  process.stderr.write(`xdpc: note: ${msg}\n`);
}

/** Text form of a value: strings (addresses, CIDRs) bare, everything else JSON with exact bigints. */
export function show(v: JsValue): string {
  return typeof v === "string" ? v : stringifyJson(v);
}

/** `--tc ingress|egress`: observe the tc program at that hook instead of the XDP one. */
export const tcOption = (what: string) =>
  new Option("--tc <direction>", `${what} the tc program at ingress or egress`).choices([
    "ingress",
    "egress",
  ]);

const hookName = (tc?: TcDirection) => (tc ? `tc ${tc}` : "XDP");

/** The program observed on `iface`: its XDP program, or with `tc` the tc program at that hook (0: none). */
export function targetProgramId(iface: string, tc?: TcDirection): number {
  return tc ? tcProgramId(iface, tc) : attachedProgramId(iface);
}

/**
 * The interface to observe: the one given, else the only interface of this network
 * namespace with an XDP program (with `tc`, a tc program at that hook) attached.
 */
export function resolveIface(given: string | undefined, tc?: TcDirection): string {
  if (given) return given;
  const attached = listInterfaces().filter((i) => {
    try {
      return targetProgramId(i, tc) !== 0;
    } catch {
      return false;
    }
  });
  attached.sort();
  if (attached.length === 1) return attached[0]!;
  throw new CliError(
    attached.length
      ? `${hookName(tc)} programs are attached to ${attached.join(", ")}: say which with --iface`
      : `no ${hookName(tc)} program is attached in this network namespace (give --iface)`,
    EXIT.usage,
  );
}

/** The maps of the program attached to `iface` (at the `tc` hook), as a one-line error when there is none. */
export function openInterface(iface: string, tc?: TcDirection): ProgramMaps {
  try {
    if (!tc) return interfaceMaps(iface);
    const id = tcProgramId(iface, tc);
    if (!id) throw new CliError(`no tc program is attached at ${iface} ${tc}`);
    return programMaps(id);
  } catch (e) {
    if (e instanceof CliError) throw e;
    cliFailure(e);
  }
}
