// Code size as the kernel sees it: instructions after the verifier's rewrites
// (xlated), bytes of JITed machine code, and the verifier's processed-instruction
// count (its cost of proving the program safe), read from bpf_prog_info.
import { progInfo } from "../native/info.ts";
import { filterProgramFd, loadSide, type Pair } from "./twins.ts";
import { notMeasured, type Maybe } from "./stats.ts";

export interface CodeSize {
  xlatedInsns: number;
  jitedBytes: number;
  verifiedInsns: number;
}

export interface CodeRow {
  name: string;
  xdpc: Maybe<CodeSize>;
  clang: Maybe<CodeSize>;
}

export function codeSize(pair: Pair, bytes: Maybe<Uint8Array>): Maybe<CodeSize> {
  if (!(bytes instanceof Uint8Array)) return bytes;
  let obj;
  try {
    obj = loadSide(pair, bytes);
  } catch (e) {
    return notMeasured(`does not load: ${(e as Error).message.split("\n")[0]}`);
  }
  try {
    const info = progInfo(filterProgramFd(pair, obj));
    return {
      xlatedInsns: info.xlatedInsns,
      jitedBytes: info.jitedLen,
      verifiedInsns: info.verifiedInsns,
    };
  } finally {
    obj.close();
  }
}
