// The real-world corpus (test/realworld: public C XDP programs ported, each beside its C
// twin) in the code-size table: every exported program of every port, built by xdpc
// in-process and by clang -O2 from the twin, loaded through libbpf with empty maps (the
// kernel's xlated and verifier figures do not depend on map contents), one row per
// program; and each program's ns/packet with the differential tests' map contents.
// Kept apart from the example filters' tables so that each has its own geomean.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { progInfo } from "../native/info.ts";
import { compile } from "../compiler/driver/index.ts";
import { clangUnavailableReason, compileBpfC } from "../test/differential/clang.ts";
import { loadXdpObject } from "../test/support/xdp.ts";
import type { CodeRow, CodeSize } from "./code.ts";
import { notMeasured, type Maybe } from "./stats.ts";
import { measureSpeed, type SpeedOptions, type SpeedRow } from "./speed.ts";
import { REPO, type Subject } from "./twins.ts";
import type { CorpusPacket } from "../test/support/corpus.ts";
import { craftedFrames } from "../test/realworld/frames.ts";
import { kernelPut, ports } from "../test/realworld/ports.ts";

export const REALWORLD_DIR = join(REPO, "test/realworld");

/** Ports that have a C twin, by name (test/realworld/<name>.ts and .c); `only` restricts them. */
export function realworldPorts(only?: readonly string[]): string[] {
  const names = readdirSync(REALWORLD_DIR)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && !f.startsWith("."))
    .map((f) => f.slice(0, -3))
    .filter((n) => existsSync(join(REALWORLD_DIR, `${n}.c`)))
    .sort();
  const unknown = (only ?? []).filter((n) => !names.includes(n));
  if (unknown.length)
    throw new Error(`no real-world port named ${unknown.join(", ")} (have: ${names.join(", ")})`);
  return names.filter((n) => !only || only.includes(n));
}

function sizeOf(bytes: Maybe<Uint8Array>, prog: string): Maybe<CodeSize> {
  if (!(bytes instanceof Uint8Array)) return bytes;
  let obj;
  try {
    obj = loadXdpObject(bytes, { name: "bench" });
  } catch (e) {
    return notMeasured(`does not load: ${(e as Error).message.split("\n")[0]}`);
  }
  try {
    if (!obj.programs.includes(prog)) return notMeasured(`no program ${prog}`);
    const info = progInfo(obj.programFd(prog));
    return {
      xlatedInsns: info.xlatedInsns,
      jitedBytes: info.jitedLen,
      verifiedInsns: info.verifiedInsns,
    };
  } finally {
    obj.close();
  }
}

/** A port's two objects and its programs (each side built once for code size and timing). */
export interface PortBuild {
  port: string;
  xdpc: Maybe<Uint8Array>;
  clang: Maybe<Uint8Array>;
  programs: string[];
}

/** Builds each port with xdpc in-process and its twin with clang -O2. */
export function buildPorts(only?: readonly string[]): PortBuild[] {
  const why = clangUnavailableReason();
  return realworldPorts(only).map((port) => {
    const file = join(REALWORLD_DIR, `${port}.ts`);
    let xdpc: Maybe<Uint8Array>;
    let programs: string[] = [];
    try {
      const out = compile(readFileSync(file, "utf8"), {
        file: `test/realworld/${port}.ts`,
        emit: "object",
      });
      const err = out.diagnostics.find((d) => d.severity === "error");
      xdpc = out.object ?? notMeasured(err ? `xdpc reports ${err.code}` : "no object");
      programs = (out.checked?.module.functions ?? [])
        .filter((f) => f.kind === "xdp")
        .map((f) => f.name);
    } catch (e) {
      xdpc = notMeasured(`xdpc internal error: ${(e as Error).message.split("\n")[0]}`);
    }
    let clang: Maybe<Uint8Array>;
    if (why) clang = notMeasured(why);
    else
      try {
        clang = compileBpfC({ path: join(REALWORLD_DIR, `${port}.c`) });
      } catch (e) {
        clang = notMeasured((e as Error).message.split("\n").slice(0, 2).join(" "));
      }
    return { port, xdpc, clang, programs };
  });
}

/** One code-size row per exported program of each port: `port/program`. */
export function realworldCode(builds: readonly PortBuild[]): CodeRow[] {
  const rows: CodeRow[] = [];
  for (const { port, xdpc, clang, programs } of builds) {
    if (!programs.length)
      rows.push({ name: port, xdpc: notMeasured("no program"), clang: notMeasured("no program") });
    for (const prog of programs)
      rows.push({ name: `${port}/${prog}`, xdpc: sizeOf(xdpc, prog), clang: sizeOf(clang, prog) });
  }
  return rows;
}

/**
 * ns/packet per program of each port, timed as the example filters are (speed.ts): both
 * sides loaded with the map contents of the differential tests (ports.ts), over a sample
 * of the traffic pool plus the ports' crafted frames, stratified by clang's verdicts.
 */
export function realworldSpeed(
  builds: readonly PortBuild[],
  pool: readonly CorpusPacket[],
  opts: SpeedOptions,
  log: (s: string) => void = () => {},
): { name: string; row: Maybe<SpeedRow> }[] {
  const frames = craftedFrames().map((f) => ({ data: f.data, source: `crafted:${f.name}` }));
  const all = [...frames, ...pool];
  const rows: { name: string; row: Maybe<SpeedRow> }[] = [];
  for (const { port, xdpc, clang, programs } of builds) {
    const setup = ports.find((p) => p.name === port)?.setup;
    for (const prog of programs) {
      const name = `${port}/${prog}`;
      log(`${name}: ns/packet`);
      const subject: Subject = {
        name,
        load: (bytes) => {
          const obj = loadXdpObject(bytes, { name: "bench" });
          try {
            setup?.(kernelPut(obj));
          } catch (e) {
            obj.close();
            throw e;
          }
          return obj;
        },
        programFd: (obj) => obj.programFd(prog),
      };
      let row: Maybe<SpeedRow>;
      try {
        row = measureSpeed(subject, xdpc, clang, all, opts);
      } catch (e) {
        row = notMeasured(`test run failed: ${(e as Error).message.split("\n")[0]}`);
      }
      rows.push({ name, row });
    }
  }
  return rows;
}
