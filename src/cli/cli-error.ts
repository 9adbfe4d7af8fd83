/**
 * An error of the command line itself (a missing job module, a bad flag
 * value found late): printed as `error: <message>`, exit code 1 unless given.
 * Errors from the library are `OffloadError`s and print the same way.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CliError";
  }
}
