// Helpers more than one command uses: reading sources and objects, common options,
// printing values and notes, finding the interface to observe.
import { Option } from "commander";
import { readObject, type ObjectInfo } from "../../compiler/elf/object.ts";
import { attachedProgramId, interfaceMaps, type ProgramMaps } from "../observe/maps.ts";
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

/**
 * The interface to observe: the one given, else the only interface of this network
 * namespace with an XDP program attached.
 */
export function resolveIface(given: string | undefined): string {
  if (given) return given;
  const attached = listInterfaces().filter((i) => {
    try {
      return attachedProgramId(i) !== 0;
    } catch {
      return false;
    }
  });
  attached.sort();
  if (attached.length === 1) return attached[0]!;
  throw new CliError(
    attached.length
      ? `XDP programs are attached to ${attached.join(", ")}: say which with --iface`
      : "no XDP program is attached in this network namespace (give --iface)",
    EXIT.usage,
  );
}

/** The maps of the filter attached to `iface`, as a one-line error when there is none. */
export function openInterface(iface: string): ProgramMaps {
  try {
    return interfaceMaps(iface);
  } catch (e) {
    cliFailure(e);
  }
}
