// A logger that keeps its JSON lines in memory, for tests of registry and mirror components.
import { Writable } from "node:stream";

import { createLogger, type Logger } from "../../src/logger.ts";

/** A logger and the lines it wrote, parsed. */
export interface CapturedLogs {
  readonly logger: Logger;
  lines(): Record<string, unknown>[];
  /** Lines whose `msg` contains `text`. */
  matching(text: string): Record<string, unknown>[];
}

export function captureLogs(level = "debug"): CapturedLogs {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString("utf8")) as Record<string, unknown>);
      done();
    },
  });
  return {
    logger: createLogger({ level, destination }),
    lines: () => [...lines],
    matching: (text) => lines.filter((line) => String(line["msg"]).includes(text)),
  };
}
