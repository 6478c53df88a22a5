import type { Command } from "commander";
import { checkCommand } from "./check.ts";
import { buildCommand } from "./build.ts";
import { disasmCommand } from "./disasm.ts";
import { labCommand } from "./lab.ts";
import { loadCommand } from "./load.ts";
import { unloadCommand } from "./unload.ts";
import { statusCommand } from "./status.ts";
import { testCommand } from "./test.ts";
import { mapCommand } from "./map.ts";
import { eventsCommand } from "./events.ts";
import { statsCommand } from "./stats.ts";
import { traceCommand } from "./trace.ts";
import { demoCommand } from "./demo.ts";

export interface CommandDef {
  name: string;
  description: string;
  configure(cmd: Command): void;
  run(cmd: Command, args: unknown[]): Promise<number>;
}

export const commands: CommandDef[] = [
  checkCommand,
  buildCommand,
  disasmCommand,
  labCommand,
  testCommand,
  demoCommand,
  loadCommand,
  unloadCommand,
  statusCommand,
  mapCommand,
  eventsCommand,
  statsCommand,
  traceCommand,
];
