// Command-line argument parsing shared by the subcommands, on top of node:util parseArgs.
import { isIP } from "node:net";
import { parseArgs, type ParseArgsConfig } from "node:util";

/** Raised for invalid command-line arguments; the CLI prints the message and exits with 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses `args` strictly against `options`, with no positional arguments.
 * Throws UsageError naming the command when an option is unknown, misses its value or repeats.
 */
export function parseCommandArgs<T extends Options>(command: string, args: string[], options: T) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error: unknown) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(`${command}: ${reason}; run "kube-image-cache help" for the options`);
  }
}

/** Parses a TCP port from 0 to 65535 (0 lets the system pick one). */
export function parsePort(command: string, value: string | undefined, fallback: number): number {
  if (value === undefined) {
    return fallback;
  }
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535) {
    throw new UsageError(`${command}: --port "${value}" is not a TCP port; expected 0 to 65535`);
  }
  return port;
}

/** Checks that --host is an IP address, because the server binds to it. */
export function parseHost(command: string, value: string | undefined, fallback: string): string {
  if (value === undefined) {
    return fallback;
  }
  if (isIP(value) === 0) {
    throw new UsageError(
      `${command}: --host "${value}" is not an IP address; use 0.0.0.0 for all IPv4 interfaces, ` +
        ":: for all interfaces, or 127.0.0.1 for local connections only",
    );
  }
  return value;
}

/** Returns a required string option, or throws UsageError naming it and what to pass. */
export function requireOption(
  command: string,
  name: string,
  value: string | undefined,
  hint: string,
): string {
  if (value === undefined || value === "") {
    throw new UsageError(`${command}: --${name} is required; ${hint}`);
  }
  return value;
}
