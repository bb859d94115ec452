// The webhook under fuzzing: started as start-local starts it, with the cases' rule set R1 (no
// traffic leaves loopback) and the C1 nodes, logging at debug into counters instead of memory.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { Agent, request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";

import { startLocalServer } from "../../src/cli/start-local.ts";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/logger.ts";
import { fixturePath } from "../support/cases.ts";

const R1 = fixturePath("configs/r1-offline.yaml");
const C1 = fixturePath("cases/c1-nodes.json");

/** How many log lines of each level and message the server wrote. */
export type LogCounts = Map<string, number>;

/** A running server and a keep-alive client for it. */
export interface FuzzServer {
  readonly url: string;
  readonly maxBodyBytes: number;
  readonly deadlineMs: number;
  readonly logCounts: LogCounts;
  /** The first logged errors, with their stacks. */
  readonly errorSamples: readonly string[];
  /** Sends one POST /mutate; resolves with the status and body, or the transport failure. */
  readonly post: (body: Buffer, headers: Readonly<Record<string, string>>) => Promise<Reply>;
  readonly stop: () => Promise<void>;
}

export type Reply =
  | { readonly kind: "response"; readonly status: number; readonly text: string }
  | { readonly kind: "timeout" }
  | { readonly kind: "transport-error"; readonly message: string };

const MAX_ERROR_SAMPLES = 20;

/** pino levels by number, for the log counts. */
const LEVEL_NAMES: Readonly<Record<number, string>> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
};

/**
 * Starts the server. `timeoutMs` bounds each request on the client side; keep it far above the
 * server's deadline so only a real hang reaches it.
 */
export async function startFuzzServer(timeoutMs: number): Promise<FuzzServer> {
  const directory = await mkdtemp(join(tmpdir(), "kube-image-cache-fuzz-"));
  const logCounts: LogCounts = new Map();
  const errorSamples: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const line = JSON.parse(chunk.toString("utf8")) as {
        level: number;
        msg: string;
        err?: { message?: string; stack?: string };
      };
      const key = `${LEVEL_NAMES[line.level] ?? line.level} ${line.msg}`;
      logCounts.set(key, (logCounts.get(key) ?? 0) + 1);
      if (line.err !== undefined && errorSamples.length < MAX_ERROR_SAMPLES) {
        errorSamples.push(`${key}: ${line.err.stack ?? line.err.message ?? "(no message)"}`);
      }
      done();
    },
  });
  const local = await startLocalServer({
    logger: createLogger({ level: "debug", destination }),
    certDirectory: join(directory, "certs"),
    configPath: R1,
    nodesPath: C1,
    port: 0,
  });
  const ca = await readFile(local.caCertPath);
  const config = loadConfig(R1);
  const agent = new Agent({ keepAlive: true, maxSockets: 16, ca });

  return {
    url: local.server.url,
    maxBodyBytes: config.server.maxBodyBytes,
    deadlineMs: config.server.deadlineMs,
    logCounts,
    errorSamples,
    post: (body, headers) =>
      post(new URL("/mutate", local.server.url), agent, body, headers, timeoutMs),
    stop: async () => {
      agent.destroy();
      await local.server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

function post(
  url: URL,
  agent: Agent,
  body: Buffer,
  headers: Readonly<Record<string, string>>,
  timeoutMs: number,
): Promise<Reply> {
  return new Promise((resolve) => {
    const req = request(url, {
      method: "POST",
      agent,
      headers: { ...headers, "content-length": body.length },
    });
    const timer = setTimeout(() => {
      resolve({ kind: "timeout" });
      req.destroy();
    }, timeoutMs);
    const finish = (reply: Reply) => {
      clearTimeout(timer);
      resolve(reply);
    };
    req.on("error", (err) => finish({ kind: "transport-error", message: err.message }));
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", (err) => finish({ kind: "transport-error", message: err.message }));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        finish({ kind: "response", status: res.statusCode ?? 0, text });
      });
    });
    req.end(body);
  });
}
