// Reading the files a command is given: a missing or unreadable one is a one-line user error.
import { readFileSync } from "node:fs";
import { CliError } from "./errors.ts";

export function readInput(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(
      `cannot read '${path}': ${code === "ENOENT" ? "no such file" : (e as Error).message}`,
    );
  }
}
