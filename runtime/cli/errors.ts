export const EXIT = { ok: 0, failed: 1, usage: 2, internal: 3 } as const;

/** An expected failure with a one-line message (bad flag, missing file, …); no stack unless --debug. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
    this.name = "CliError";
  }
}
