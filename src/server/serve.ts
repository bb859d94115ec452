// The HTTPS server: TLS with certificate reload, connection timeouts, and graceful shutdown that
// lets admissions in flight finish.
import { createServer, type Server } from "node:https";
import type { ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import type { Registry } from "prom-client";

import type { MutationContext } from "../admission/contract.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../logger.ts";
import { createApp } from "./app.ts";
import { createServerMetrics } from "./metrics.ts";
import type { ReviewFunction } from "./mutate.ts";
import {
  CertificateReloader,
  describeCertificate,
  type ReloadResult,
  type TlsFiles,
} from "./tls.ts";

/** Options for startServer. */
export interface ServerOptions {
  readonly config: Config;
  /** Returns the configuration and inventory snapshot to review against; called per request. */
  readonly context: () => MutationContext;
  /** Whether an inventory snapshot is loaded; /readyz reports 503 until it returns true. */
  readonly isReady: () => boolean;
  readonly tls: TlsFiles;
  readonly logger: Logger;
  /** Address to listen on; default "0.0.0.0". */
  readonly host?: string;
  /** TCP port; 0 picks a free one. Default 8443. */
  readonly port?: number;
  /** Interval between re-reads of the TLS files, besides watch events; default 10 000 ms. */
  readonly tlsPollIntervalMs?: number;
  /** Maximum time close() waits for requests in flight before cutting them; default 10 000 ms. */
  readonly shutdownTimeoutMs?: number;
  /** Replaces the admission pipeline; defaults to reviewAdmission. */
  readonly review?: ReviewFunction;
  /** Metrics registry shared with background components; a new one when absent. */
  readonly registry?: Registry;
  /** Overrides the default connection timeouts; tests shorten them to see slow clients cut off. */
  readonly timeouts?: Partial<ConnectionTimeouts>;
}

/** Limits on how long a client may take, in milliseconds. */
export interface ConnectionTimeouts {
  /** Time allowed to receive a request's complete headers. */
  readonly headersMs: number;
  /** Time allowed to receive a whole request, headers and body. */
  readonly requestMs: number;
  /** Time allowed from accepting a TCP connection to the end of the TLS handshake. */
  readonly handshakeMs: number;
  /** How long an idle keep-alive connection stays open. */
  readonly keepAliveMs: number;
}

/** A listening server. */
export interface RunningServer {
  /** Base URL, such as "https://127.0.0.1:8443". */
  readonly url: string;
  readonly port: number;
  /** Re-reads the TLS files now instead of waiting for a watch event or the next poll. */
  reloadCertificate(): Promise<ReloadResult>;
  /**
   * Stops accepting connections, waits for requests in flight (up to shutdownTimeoutMs), then
   * closes the remaining connections. Later calls return the same promise.
   */
  close(): Promise<void>;
}

// The API server abandons a webhook call after its timeoutSeconds, which Kubernetes caps at
// 30 s, so a request that takes longer to arrive has no caller left to respond to.
const HEADERS_TIMEOUT_MS = 10_000;
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;
const HANDSHAKE_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
// Longer than Node's 5 s default so the API server can reuse one connection for many
// admissions instead of paying a TLS handshake per pod.
const KEEP_ALIVE_TIMEOUT_MS = 60_000;
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

/** Starts the webhook over HTTPS; resolves once it listens. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { config, logger } = options;
  const reloader = new CertificateReloader(options.tls, {
    logger,
    ...(options.tlsPollIntervalMs !== undefined
      ? { pollIntervalMs: options.tlsPollIntervalMs }
      : {}),
  });
  const app = createApp({
    deadlineMs: config.server.deadlineMs,
    maxBodyBytes: config.server.maxBodyBytes,
    context: options.context,
    isReady: options.isReady,
    logger,
    metrics: createServerMetrics(config.server.deadlineMs, options.registry),
    ...(options.review !== undefined ? { review: options.review } : {}),
  });

  const timeouts: ConnectionTimeouts = {
    headersMs: HEADERS_TIMEOUT_MS,
    requestMs: REQUEST_TIMEOUT_MS,
    handshakeMs: HANDSHAKE_TIMEOUT_MS,
    keepAliveMs: KEEP_ALIVE_TIMEOUT_MS,
    ...options.timeouts,
  };
  const server = createServer(
    {
      ...reloader.secureContextOptions,
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.requestMs,
      // Node checks the two timeouts above only this often (30 s by default), so a slow client
      // would otherwise keep its connection up to 30 s past them.
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
      // A client that opens TCP but never finishes the TLS handshake holds a socket; Node's
      // default lets it do so for 120 s.
      handshakeTimeout: timeouts.handshakeMs,
      keepAlive: true,
      keepAliveTimeout: timeouts.keepAliveMs,
    },
    app,
  );
  server.on("tlsClientError", (err) => logger.debug({ err }, "TLS handshake failed"));
  const inFlight = trackRequests(server);

  const port = await listen(server, options.host ?? "0.0.0.0", options.port ?? 8443);
  reloader.start(server);
  const url = `https://${formatHost(options.host ?? "0.0.0.0")}:${port}`;
  logger.info({ url, certificate: describeCertificate(reloader.certificate) }, "listening");

  let closing: Promise<void> | undefined;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  return {
    url,
    port,
    reloadCertificate: () => reloader.check(),
    close() {
      closing ??= shutdown(server, inFlight, shutdownTimeoutMs, logger).finally(() =>
        reloader.stop(),
      );
      return closing;
    },
  };
}

/** Raised when the server cannot bind its address, such as a port already in use. */
export class ListenError extends Error {
  constructor(message: string, options: { cause: Error }) {
    super(message, options);
    this.name = "ListenError";
  }
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException) => {
      const hint =
        err.code === "EADDRINUSE"
          ? "; another process uses the port: pick another with --port"
          : "";
      reject(
        new ListenError(`cannot listen on ${host}:${port}: ${err.message}${hint}`, { cause: err }),
      );
    };
    server.once("error", fail);
    server.listen(port, host, () => {
      server.off("error", fail);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

interface RequestTracker {
  readonly count: () => number;
  /** Makes every response not yet started, and every later one, carry "Connection: close". */
  readonly closeAfterResponse: () => void;
  /** Resolves true once no request is in flight, or false after `ms` milliseconds. */
  readonly drained: (ms: number) => Promise<boolean>;
}

// Tracks responses from the request's arrival until they finish or abort.
function trackRequests(server: Server): RequestTracker {
  const active = new Set<ServerResponse>();
  const waiters = new Set<() => void>();
  let closing = false;

  // Runs before the app, which sends some responses (/healthz, /readyz) synchronously. Setting a
  // header after that throws ERR_HTTP_HEADERS_SENT, uncaught, during shutdown.
  server.prependListener("request", (_req, res: ServerResponse) => {
    active.add(res);
    if (closing) {
      res.setHeader("Connection", "close");
    }
    res.once("close", () => {
      active.delete(res);
      for (const wake of waiters) {
        wake();
      }
    });
  });

  return {
    count: () => active.size,
    closeAfterResponse: () => {
      closing = true;
      for (const res of active) {
        if (!res.headersSent) {
          res.setHeader("Connection", "close");
        }
      }
    },
    drained: (ms) => waitForDrain(() => active.size, waiters, ms),
  };
}

function waitForDrain(
  active: () => number,
  waiters: Set<() => void>,
  ms: number,
): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (drained: boolean) => {
      waiters.delete(check);
      clearTimeout(timer);
      resolve(drained);
    };
    const check = () => {
      if (active() === 0) {
        finish(true);
      }
    };
    const timer = setTimeout(() => finish(false), ms);
    waiters.add(check);
    check();
  });
}

async function shutdown(
  server: Server,
  inFlight: RequestTracker,
  timeoutMs: number,
  logger: Logger,
): Promise<void> {
  // Keep-alive clients such as the API server then open their next connection elsewhere.
  inFlight.closeAfterResponse();
  logger.info({ inFlight: inFlight.count() }, "shutting down; waiting for requests in flight");
  const closed = new Promise<void>((resolve, reject) => {
    server.close((err) => (err === undefined ? resolve() : reject(err)));
  });
  server.closeIdleConnections();

  const drained = await inFlight.drained(timeoutMs);
  if (drained) {
    // Keep-alive connections whose last response finished during the wait are idle now.
    server.closeIdleConnections();
  } else {
    logger.warn(
      { inFlight: inFlight.count(), timeoutMs },
      "requests still in flight at the shutdown timeout; closing their connections",
    );
    server.closeAllConnections();
  }

  await closed;
  logger.info("server stopped");
}

function formatHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}
