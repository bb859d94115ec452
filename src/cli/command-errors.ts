// Exit codes of the file-reading commands (dry-run, report), from the kind of failure.
import { InvalidConfigError } from "../config.ts";
import { ClusterRequestError, InvalidKubeconfigError } from "../inventory/cluster-errors.ts";
import { InvalidNodeSnapshotError } from "../inventory/snapshot.ts";
import { UsageError } from "./args.ts";
import type { CliIo } from "./io.ts";

/**
 * Writes the failure of `command` to standard error and returns its exit code: 2 for invalid
 * arguments or input (followed by `usage` when given), 3 for an invalid configuration, node
 * snapshot or kubeconfig, 1 for a failed cluster request or an internal error.
 */
export function reportCommandError(
  command: string,
  error: unknown,
  io: CliIo,
  usage?: string,
): number {
  if (error instanceof UsageError) {
    io.stderr.write(usage === undefined ? `${error.message}\n` : `${error.message}\n${usage}\n`);
    return 2;
  }
  if (
    error instanceof InvalidConfigError ||
    error instanceof InvalidNodeSnapshotError ||
    error instanceof InvalidKubeconfigError
  ) {
    io.stderr.write(`${error.message}\n`);
    return 3;
  }
  if (error instanceof ClusterRequestError) {
    io.stderr.write(`${command}: cannot list nodes: ${error.message}\n`);
    return 1;
  }
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  io.stderr.write(`${command}: internal error: ${detail}\n`);
  return 1;
}
