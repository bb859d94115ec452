// CliIo whose output streams are kept in memory, for running commands in-process.
import { PassThrough, Writable } from "node:stream";

import type { CliIo } from "../../src/cli/io.ts";

/** Streams for one command run, with what was written to stdout and stderr so far. */
export interface CapturedIo extends CliIo {
  readonly output: () => string;
  readonly errors: () => string;
}

/** Creates streams that record everything written to them. */
export function captureIo(): CapturedIo {
  const [stdout, output] = recorder();
  const [stderr, errors] = recorder();
  return { stdin: new PassThrough(), stdout, stderr, output, errors };
}

function recorder(): [Writable, () => string] {
  let text = "";
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString("utf8");
      done();
    },
  });
  return [stream, () => text];
}
