// Structured logging: the process-wide root logger and a factory that tests point at a stream.
// Every line is one JSON object. Errors go under `err`, and secrets are replaced before writing.
import { pino } from "pino";
import type { DestinationStream, Logger } from "pino";

import { InvalidConfigError, readLogLevel } from "./config.ts";

export type { Logger } from "pino";

/** Level names pino accepts; "silent" turns logging off. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

// Keys whose values are credentials: HTTP authorization headers, bearer tokens, passwords, the
// `auths` map of a Docker config file, and the data keys of a kubernetes.io/dockerconfigjson or
// kubernetes.io/dockercfg pull secret. A redaction wildcard matches exactly one level, so each
// key is redacted at the top level and one or two levels below it, but not deeper.
const SECRET_KEYS = [
  "authorization",
  "Authorization",
  "proxy-authorization",
  "token",
  "bearerToken",
  "password",
  "auths",
  "credentials",
  '".dockerconfigjson"',
  '".dockercfg"',
];

const REDACT_PATHS = SECRET_KEYS.flatMap((key) => {
  const segment = key.startsWith('"') ? `[${key}]` : `.${key}`;
  return [segment.replace(/^\./, ""), `*${segment}`, `*.*${segment}`];
});

/** Options for createLogger; every field has a default. */
export interface LoggerOptions {
  /** Minimum level written; defaults to the LOG_LEVEL environment setting, else "info". */
  readonly level?: string;
  /** Destination stream for the JSON lines; defaults to standard output. */
  readonly destination?: DestinationStream;
}

/**
 * Creates a logger with the project's redaction and field conventions.
 * Throws InvalidConfigError when the level is not one of LOG_LEVELS.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? readLogLevel();
  if (!isLogLevel(level)) {
    throw new InvalidConfigError("environment", [
      `LOG_LEVEL: "${level}" is not a log level; expected one of ${LOG_LEVELS.join(", ")}`,
    ]);
  }

  const settings = {
    name: "kube-image-cache",
    level,
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.destination === undefined ? pino(settings) : pino(settings, options.destination);
}

const unredacted = new WeakMap<Logger, Logger>();

/**
 * Returns a child of `logger` that skips redaction, for lines whose keys are all fixed by this
 * project's code and none of them is a secret key. Redaction matches keys, so on such a line it
 * changes nothing, yet on the admission line it took 8 % of the webhook's CPU time under load
 * (bench/admission --profile).
 */
export function withoutRedaction(logger: Logger): Logger {
  let child = unredacted.get(logger);
  if (child === undefined) {
    child = logger.child({}, { redact: [] });
    unredacted.set(logger, child);
  }
  return child;
}

let root: Logger | undefined;

/**
 * Returns the process-wide logger, writing to standard output at the LOG_LEVEL level.
 * Created on first use so an invalid LOG_LEVEL surfaces where the CLI can report it.
 */
export function rootLogger(): Logger {
  root ??= createLogger({ destination: standardOutput() });
  return root;
}

/**
 * Standard output without blocking: lines logged while a write is in flight are joined into the
 * next write, so under load one write carries many lines. pino's default writes each line
 * synchronously, which took 4 % of the webhook's CPU time at saturation (bench/admission
 * --profile). What is still buffered is written synchronously when the process exits. Past
 * MAX_BUFFERED_BYTES (standard output blocked) lines are dropped instead of filling memory, and
 * counted in droppedLogLines.
 * NOTE: while standard output stays blocked, the exit waits for that last write, so a stopped
 * server only ends once the output is read again or the process is killed.
 */
function standardOutput(): DestinationStream {
  const destination = pino.destination({ dest: 1, sync: false, maxLength: MAX_BUFFERED_BYTES });
  destination.on("drop", () => {
    dropped += 1;
  });
  return destination;
}

let dropped = 0;

/** Returns how many lines the root logger dropped because standard output stayed blocked. */
export function droppedLogLines(): number {
  return dropped;
}

const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

function isLogLevel(level: string): level is (typeof LOG_LEVELS)[number] {
  return (LOG_LEVELS as readonly string[]).includes(level);
}
