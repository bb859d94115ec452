// The streams a CLI command reads and writes, passed in so tests can capture them.

/** Standard streams for one command run; main.ts passes process.stdin/stdout/stderr. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadableStream;
}
