// End to end on a veth pair in a lab namespace: packets per second that reach the
// receiver's XDP program with the filter attached, against a bare XDP_DROP program
// on the same link, driven by the lab's live-frames generator with generator and
// receiver on different cores. Built on the lab runtime (runtime/netns.ts,
// runtime/generator.ts); without it this section says why it was not measured.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO, type Pair } from "./twins.ts";
import { notMeasured, type Maybe } from "./stats.ts";

export interface E2eRow {
  name: string;
  filterPps: number;
  barePps: number;
  /** filterPps / barePps. */
  ratio: number;
}

export interface E2eResult {
  rows: E2eRow[];
  seconds: number;
  frameBytes: number;
  generatorCpu: number;
  receiverCpu: number;
}

export interface E2eOptions {
  seconds: number;
}

const LAB_MODULES = ["runtime/netns.ts", "runtime/generator.ts"];

/** Why the lab cannot run here, or null. */
export function labUnavailableReason(): string | null {
  const missing = LAB_MODULES.filter((m) => !existsSync(join(REPO, m)));
  if (missing.length) return `the lab runtime (${missing.join(", ")}) has not landed yet`;
  if (typeof process.getuid === "function" && process.getuid() !== 0)
    return "needs root (network namespaces, veth)";
  return null;
}

export async function measureE2e(
  _pairs: readonly Pair[],
  _opts: E2eOptions,
): Promise<Maybe<E2eResult>> {
  const why = labUnavailableReason();
  if (why) return notMeasured(why);
  return notMeasured("the lab runtime is present but the bench does not drive it yet");
}
