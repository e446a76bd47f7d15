// Where a subcommand writes: results on stdout (text, or one JSON document with --json),
// progress and errors on stderr, so `sector ... --json | jq` and `sector export > file` stay clean.
export interface Io {
  line(text: string): void;
  json(value: unknown): void;
  /** progress for a human; written to stderr */
  progress(text: string): void;
  /** prints a help text; returns exit code 0 */
  help(text: string): number;
  /** whether stdout is a terminal (--watch redraws only then) */
  readonly tty: boolean;
  readonly stdout: NodeJS.WritableStream;
}

export function processIo(): Io {
  return {
    line: (t) => process.stdout.write(`${t}\n`),
    json: (v) => process.stdout.write(`${JSON.stringify(v, null, 2)}\n`),
    progress: (t) => process.stderr.write(`${t}\n`),
    help: (t) => {
      process.stdout.write(`${t}\n`);
      return 0;
    },
    tty: process.stdout.isTTY === true,
    stdout: process.stdout,
  };
}
