// Starts the webhook for a test the way `start-local` does (development certificates, example
// configuration and nodes), but on a free port, with certificates in a temporary directory and
// logs captured in memory.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";

import { parse as parseYaml, stringify as stringifyYaml } from "yaml";

import { LOCAL_DEFAULTS, startLocalServer, type LocalServer } from "../../src/cli/start-local.ts";
import { createLogger, type Logger } from "../../src/logger.ts";

/** Log lines written so far, parsed. */
export interface LogCapture {
  readonly logger: Logger;
  readonly lines: () => Record<string, unknown>[];
}

/** Creates a logger at `level` that keeps every line in memory. */
export function captureLogs(level = "debug"): LogCapture {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString("utf8")) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ level, destination }), lines: () => [...lines] };
}

/** A running test server and what a client needs to reach it. */
export interface TestServer extends LocalServer {
  readonly url: string;
  readonly ca: Buffer;
  readonly directory: string;
  readonly logs: LogCapture;
  /** Closes the server and removes the temporary directory. */
  readonly stop: () => Promise<void>;
}

/** Server settings a test may change from the example configuration. */
export interface TestServerOptions {
  readonly maxBodyBytes?: number;
  readonly tlsPollIntervalMs?: number;
}

/** Starts a server as start-local would, on port 0 of 127.0.0.1. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const directory = await mkdtemp(join(tmpdir(), "kube-image-cache-test-"));
  const configPath = join(directory, "config.yaml");
  await writeFile(configPath, await exampleConfigWith(options.maxBodyBytes));

  const logs = captureLogs();
  const local = await startLocalServer({
    logger: logs.logger,
    certDirectory: join(directory, "certs"),
    configPath,
    port: 0,
    ...(options.tlsPollIntervalMs !== undefined
      ? { tlsPollIntervalMs: options.tlsPollIntervalMs }
      : {}),
  });
  const ca = await readFile(local.caCertPath);

  return {
    ...local,
    url: local.server.url,
    ca,
    directory,
    logs,
    stop: async () => {
      await local.server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** Returns the example configuration, with server.maxBodyBytes set when given. */
async function exampleConfigWith(maxBodyBytes: number | undefined): Promise<string> {
  const config = parseYaml(await readFile(LOCAL_DEFAULTS.configPath, "utf8")) as Record<
    string,
    unknown
  >;
  if (maxBodyBytes !== undefined) {
    const server = (config["server"] ?? {}) as Record<string, unknown>;
    config["server"] = { ...server, maxBodyBytes };
  }
  return stringifyYaml(config);
}

/** Reads the example AdmissionReview that start-local's instructions send. */
export async function exampleReview(): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(LOCAL_DEFAULTS.reviewPath, "utf8")) as Record<string, unknown>;
}

/** Returns the example review as JSON text, with its request uid replaced. */
export async function reviewWithUid(uid: string): Promise<string> {
  const review = await exampleReview();
  const request = review["request"] as Record<string, unknown>;
  return JSON.stringify({ ...review, request: { ...request, uid } });
}
