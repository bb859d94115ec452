// `kube-image-cache start-local` (what `npm start` runs): the webhook on this machine with
// development certificates and the example configuration and node snapshot.
import { X509Certificate } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

import { rootLogger, type Logger } from "../logger.ts";
import type { RunningServer } from "../server/serve.ts";
import { parseCommandArgs, parseHost, parsePort } from "./args.ts";
import { writeDevCertificates, type CertificateNames } from "./certs.ts";
import type { CliIo } from "./io.ts";
import { closeOnSignal, DEFAULT_PORT, startFromSettings } from "./serve.ts";

const REPOSITORY_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Files and names a local run uses; every path is inside the repository. */
export const LOCAL_DEFAULTS = {
  certDirectory: join(REPOSITORY_ROOT, "certs"),
  configPath: join(REPOSITORY_ROOT, "src/examples/config.yaml"),
  nodesPath: join(REPOSITORY_ROOT, "src/examples/nodes.json"),
  reviewPath: join(REPOSITORY_ROOT, "src/examples/review.json"),
  /** The cold-image record of local runs (a ConfigMap in a cluster). */
  recordPath: join(REPOSITORY_ROOT, ".tmp/cold-images.json"),
  host: "127.0.0.1",
} as const;

const LOCAL_NAMES: CertificateNames = { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] };

/** Options for startLocalServer; the defaults are LOCAL_DEFAULTS and port 8443. */
export interface LocalServerOptions {
  readonly logger: Logger;
  readonly certDirectory?: string;
  readonly configPath?: string;
  readonly nodesPath?: string;
  readonly host?: string;
  readonly port?: number;
  readonly tlsPollIntervalMs?: number;
  /** File for the cold-image record; none (nothing recorded) when absent. */
  readonly recordFile?: string;
}

/** A local server and the CA that clients must trust to reach it. */
export interface LocalServer {
  readonly server: RunningServer;
  readonly caCertPath: string;
  readonly certDirectory: string;
}

/** Runs `kube-image-cache start-local`; resolves with the exit code once the server stopped. */
export async function runStartLocal(args: string[], io: CliIo): Promise<number> {
  const values = parseCommandArgs("start-local", args, {
    port: { type: "string" },
    host: { type: "string" },
  });
  const logger = rootLogger();
  await mkdir(dirname(LOCAL_DEFAULTS.recordPath), { recursive: true });
  const local = await startLocalServer({
    logger,
    host: parseHost("start-local", values.host, LOCAL_DEFAULTS.host),
    port: parsePort("start-local", values.port, DEFAULT_PORT),
    recordFile: LOCAL_DEFAULTS.recordPath,
  });

  io.stdout.write(instructions(local));
  await closeOnSignal(local.server, logger);
  return 0;
}

/**
 * Starts the webhook as `start-local` does. Development certificates for localhost and
 * 127.0.0.1 are generated in the certificate directory unless a current tls.crt is there.
 */
export async function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const certDirectory = options.certDirectory ?? LOCAL_DEFAULTS.certDirectory;
  const certPath = join(certDirectory, "tls.crt");
  if (!(await isCurrentCertificate(certPath))) {
    await writeDevCertificates(certDirectory, LOCAL_NAMES);
    options.logger.info({ certDirectory }, "generated development certificates");
  }

  const settings = {
    configPath: options.configPath ?? LOCAL_DEFAULTS.configPath,
    nodesPath: options.nodesPath ?? LOCAL_DEFAULTS.nodesPath,
    tls: { certPath, keyPath: join(certDirectory, "tls.key") },
    host: options.host ?? LOCAL_DEFAULTS.host,
    port: options.port ?? DEFAULT_PORT,
    ...(options.recordFile === undefined ? {} : { recordFile: options.recordFile }),
  };
  const extra =
    options.tlsPollIntervalMs !== undefined ? { tlsPollIntervalMs: options.tlsPollIntervalMs } : {};
  const server = await startFromSettings(settings, options.logger, extra);
  return { server, caCertPath: join(certDirectory, "ca.crt"), certDirectory };
}

/** Whether `path` contains a certificate that has not expired; false when it is missing. */
async function isCurrentCertificate(path: string): Promise<boolean> {
  let pem: Buffer;
  try {
    pem = await readFile(path);
  } catch (error: unknown) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") {
      return false;
    }
    throw error;
  }
  return new Date(new X509Certificate(pem).validTo).getTime() > Date.now();
}

function instructions(local: LocalServer): string {
  const displayPath = (path: string) => relative(process.cwd(), path) || ".";
  const url = local.server.url.replace("//0.0.0.0:", "//127.0.0.1:");
  return [
    `kube-image-cache is serving ${url} with certificates from ${displayPath(local.certDirectory)}/`,
    "Send it the example AdmissionReview (a pod running nginx:1.25 in namespace team-a):",
    `  curl --cacert ${displayPath(local.caCertPath)} -H 'Content-Type: application/json' \\`,
    `    --data-binary @${displayPath(LOCAL_DEFAULTS.reviewPath)} ${url}/mutate`,
    `Cold images are recorded in ${displayPath(LOCAL_DEFAULTS.recordPath)}; list them with`,
    `  node src/cli/bin.mjs prepull status --record-file ${displayPath(LOCAL_DEFAULTS.recordPath)}`,
    "Press Ctrl-C to stop.",
    "",
  ].join("\n");
}
