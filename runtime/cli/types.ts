// What every command module exports: options on its commander Command, and the run.
import type { Command } from "commander";

export interface CommandImpl {
  configure(cmd: Command): void;
  run(cmd: Command, args: unknown[]): Promise<number>;
}
