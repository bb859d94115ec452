// The kube-image-cache command line: picks the subcommand and maps failures to exit codes.
// Runs directly (`tsx src/cli/main.ts ...`) or through the installed bin.mjs, which calls main().
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";

import { InvalidConfigError } from "../config.ts";
import { InvalidKubeconfigError } from "../inventory/cluster-errors.ts";
import { InvalidNodeSnapshotError } from "../inventory/snapshot.ts";
import { InvalidPrepullSettingsError } from "../prepull/settings.ts";
import { ListenError } from "../server/serve.ts";
import { InvalidTlsFilesError } from "../server/tls.ts";
import { UsageError } from "./args.ts";
import { runCerts } from "./certs.ts";
import { runDryRun } from "./dry-run.ts";
import type { CliIo } from "./io.ts";
import { runServe } from "./serve.ts";
import { runStartLocal } from "./start-local.ts";

/** Process exit codes; scripts can tell a usage mistake from a bad file or a bug. */
export const EXIT = {
  ok: 0,
  internalError: 1,
  invalidArguments: 2,
  invalidConfiguration: 3,
} as const;

export const USAGE = `Usage: kube-image-cache <command> [options]

Commands:
  serve         Run the admission webhook over HTTPS. Without --nodes it lists and watches the
                cluster's nodes and pods, and /readyz reports ready once the nodes are listed.
                  --nodes FILE      node snapshot (NodeList JSON or YAML) to serve instead of
                                    watching the cluster
                  --kubeconfig FILE kubeconfig for watching the cluster; default: the pod's
                                    service account (in-cluster configuration)
                  --context NAME    kubeconfig context to use instead of its current-context
                  --record-file FILE  with --nodes: keep the cold-image record in this file
                                    (with the cluster it is a ConfigMap in webhook.namespace)
                  --tls-cert FILE   PEM certificate chain (tls.crt), reloaded when it changes
                  --tls-key FILE    PEM private key (tls.key)
                  --config FILE     configuration (YAML or JSON); built-in defaults if absent
                  --port N          TCP port to listen on (default 8443)
                  --host ADDR       IP address to listen on (default 0.0.0.0)
  start-local   Run the webhook on https://127.0.0.1:8443 with development certificates in
                certs/ and the example files in src/examples/ (what \`npm start\` runs).
                  --port N, --host ADDR as for serve
  certs         Write a development CA and a serving certificate signed by it.
                  --out DIR         directory for ca.crt, ca.key, tls.crt and tls.key; a CA
                                    already there is reused
                  --dns NAME        DNS name the certificate is valid for (repeatable)
                  --ip ADDR         IP address the certificate is valid for (repeatable)
  dry-run       Show the decisions and the patch for AdmissionReviews or pods, without a server.
                Run "kube-image-cache dry-run --help" for its options.
  report        Show layer sharing across the cluster's nodes and the images most worth
                pre-pulling: --nodes FILE or --kubeconfig FILE [--context NAME], [--config FILE],
                [--offline], [--top N], [-o table|json].
  prepull status
                List the recorded cold images and their pre-pull progress per node:
                [--kubeconfig FILE] [--context NAME] [-n NAMESPACE] [--config FILE]
                [--record-file FILE] [-o table|json].
  prepull-controller
                Run the leader-elected pre-puller: --config FILE --helper-image IMAGE
                [--kubeconfig FILE] [--context NAME] [--identity NAME] [--metrics-port N].
  help          Show this text.

Exit codes: 0 success, 1 internal error, 2 invalid arguments, 3 invalid configuration or
input file (configuration, node snapshot, kubeconfig, TLS files).
Environment: LOG_LEVEL sets the log level (fatal, error, warn, info, debug, trace, silent).
`;

/** Runs one command line (without the program name); returns the exit code. */
export async function runCli(args: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "serve":
        return await runServe(rest);
      case "start-local":
        return await runStartLocal(rest, io);
      case "certs":
        return await runCerts(rest, io);
      case "dry-run":
        return await runDryRun(rest, io);
      case "report": {
        const { runReport } = await import("./report.ts");
        return await runReport(rest, io);
      }
      case "prepull": {
        // The pre-pull commands load the Kubernetes client, which takes seconds to import.
        const { runPrepull } = await import("./prepull.ts");
        return await runPrepull(rest, io);
      }
      case "prepull-controller": {
        const { runPrepullController } = await import("./prepull-controller.ts");
        return await runPrepullController(rest);
      }
      case "help":
      case "--help":
      case "-h":
        io.stdout.write(USAGE);
        return EXIT.ok;
      case undefined:
        throw new UsageError('a command is required; run "kube-image-cache help" for the list');
      default:
        throw new UsageError(
          `unknown command "${command}"; expected serve, start-local, certs, dry-run, report, prepull, prepull-controller or help`,
        );
    }
  } catch (error: unknown) {
    return reportFailure(error, io);
  }
}

/** Writes the error to standard error and returns the exit code for its kind. */
function reportFailure(error: unknown, io: CliIo): number {
  if (error instanceof UsageError || error instanceof ListenError) {
    io.stderr.write(`kube-image-cache: ${error.message}\n`);
    return EXIT.invalidArguments;
  }
  if (isInvalidInput(error)) {
    io.stderr.write(`kube-image-cache: ${error.message}\n`);
    return EXIT.invalidConfiguration;
  }

  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  io.stderr.write(`kube-image-cache: internal error: ${detail}\n`);
  return EXIT.internalError;
}

function isInvalidInput(error: unknown): error is Error {
  return (
    error instanceof InvalidConfigError ||
    error instanceof InvalidNodeSnapshotError ||
    error instanceof InvalidKubeconfigError ||
    error instanceof InvalidTlsFilesError ||
    error instanceof InvalidPrepullSettingsError
  );
}

/** Runs the command line of this process and sets its exit code. */
export async function main(): Promise<void> {
  const io: CliIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
  process.exitCode = await runCli(process.argv.slice(2), io);
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  return script !== undefined && import.meta.url === pathToFileURL(realpathSync(script)).href;
}

if (isEntryPoint()) {
  await main();
}
