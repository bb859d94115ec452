// A small HTTPS client for the server tests. It verifies the server against the test CA, like
// the API server does with the webhook's caBundle, and reports which certificate it was shown.
import { request, type Agent } from "node:https";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import type { TLSSocket } from "node:tls";

/** A response read to the end. */
export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  /** Serial number of the server certificate on the connection that carried the response. */
  readonly serialNumber: string;
  /** Whether the request went over a connection the agent had used before. */
  readonly reusedSocket: boolean;
}

/** Options for send; `ca` is required so every test verifies the server certificate. */
export interface SendOptions {
  readonly ca: Buffer;
  readonly method?: string;
  readonly body?: string | Buffer;
  readonly headers?: OutgoingHttpHeaders;
  /** Defaults to a new connection per request. */
  readonly agent?: Agent;
}

/** Sends one request to `path` under `baseUrl` and reads the whole response. */
export function send(baseUrl: string, path: string, options: SendOptions): Promise<Reply> {
  const headers: OutgoingHttpHeaders = { ...options.headers };
  if (options.body !== undefined) {
    headers["content-length"] = Buffer.byteLength(options.body);
  }

  return new Promise((resolve, reject) => {
    const req = request(new URL(path, baseUrl), {
      method: options.method ?? (options.body === undefined ? "GET" : "POST"),
      ca: options.ca,
      headers,
      agent: options.agent ?? false,
    });
    req.on("error", reject);
    req.on("response", (res) => {
      const serialNumber = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => {
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString("utf8"),
          serialNumber,
          reusedSocket: req.reusedSocket,
        });
      });
    });
    req.end(options.body);
  });
}

/** Parses a reply body as JSON; the tests then read fields with `fieldAt`. */
export function json(reply: Reply): unknown {
  return JSON.parse(reply.text);
}

/** Reads a nested field of parsed JSON by its keys, or undefined where the path breaks off. */
export function fieldAt(value: unknown, ...keys: string[]): unknown {
  let current = value;
  for (const key of keys) {
    if (typeof current !== "object" || current === null) {
      return undefined;
    }
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** Returns the serial number a fresh connection is shown. */
export async function servedSerial(baseUrl: string, ca: Buffer): Promise<string> {
  const reply = await send(baseUrl, "/healthz", { ca });
  return reply.serialNumber;
}

/**
 * Calls `probe` until it returns true, sleeping `intervalMs` between calls; throws with
 * `description` after `attempts` calls. For conditions reached by background work.
 */
export async function waitUntil(
  description: string,
  probe: () => Promise<boolean> | boolean,
  { attempts = 100, intervalMs = 100 } = {},
): Promise<void> {
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    if (await probe()) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`gave up waiting: ${description}`);
}
