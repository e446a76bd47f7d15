// The `sector` command's exit codes, one meaning each (docs/operations.md lists them).
export const Exit = {
  /** done; for a check (replay, chaos): it passed */
  ok: 0,
  /** a check failed: replay found a difference, chaos found a lost or doubled order, a tick gap */
  checkFailed: 1,
  /** bad usage or configuration: unknown subcommand or option, a bad value (nothing was done) */
  usage: 2,
  /** the simulation (or the file) named does not exist */
  notFound: 3,
  /** Redis or the API could not be reached, or the API refused (auth, conflict) */
  unavailable: 4,
  /** replay: no checkpoint, or the history it needs is no longer retained */
  notCovered: 5,
} as const;
export type ExitCode = (typeof Exit)[keyof typeof Exit];

/** Thrown by a subcommand to end with a message on stderr and a code. */
export class CliError extends Error {
  constructor(
    readonly code: ExitCode,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
