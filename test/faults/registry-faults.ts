// An HTTP proxy in front of a test registry that injects faults into the requests a test picks:
// a delay, an error status, a connection reset, or altered response bytes and headers.
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";

/** What the proxy does to one matching request. */
export type RegistryFault =
  /** Waits before forwarding, so the response arrives `ms` later than it would. */
  | { readonly kind: "delay"; readonly ms: number }
  /** Responds with this status and a distribution error body, without forwarding. */
  | { readonly kind: "status"; readonly status: number }
  /** Resets the TCP connection (RST) as soon as the request arrives. */
  | { readonly kind: "reset" }
  /**
   * Forwards, then changes the response: `body` rewrites GET bodies, and `headers` sets
   * response headers (undefined removes one).
   */
  | {
      readonly kind: "alter";
      readonly body?: (body: Buffer) => Buffer;
      readonly headers?: Readonly<Record<string, string | undefined>>;
    };

/** Picks the fault for a request by method and path; undefined forwards it unchanged. */
export type FaultRule = (method: string, path: string) => RegistryFault | undefined;

/** A running proxy; `host` replaces the registry's host in image references. */
export interface FaultProxy {
  readonly host: string;
  /** Requests that got a fault, as "METHOD path kind". */
  readonly faulted: readonly string[];
  setRule(rule: FaultRule | undefined): void;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 forwarding to `upstreamHost` over plain HTTP. */
export async function startFaultProxy(upstreamHost: string): Promise<FaultProxy> {
  const [hostname = "127.0.0.1", port = "80"] = upstreamHost.split(":");
  const faulted: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let rule: FaultRule | undefined;

  const server = createServer((incoming, outgoing) => {
    const method = incoming.method ?? "GET";
    const path = incoming.url ?? "/";
    const fault = rule?.(method, path);
    if (fault !== undefined) {
      faulted.push(`${method} ${path} ${fault.kind}`);
    }
    const forward = () =>
      forwardRequest(
        incoming,
        outgoing,
        { hostname, port },
        fault?.kind === "alter" ? fault : undefined,
      );

    switch (fault?.kind) {
      case undefined:
      case "alter":
        forward();
        return;
      case "delay": {
        const timer = setTimeout(() => {
          timers.delete(timer);
          forward();
        }, fault.ms);
        timers.add(timer);
        return;
      }
      case "status":
        sendStatus(outgoing, fault.status);
        return;
      case "reset":
        incoming.socket.resetAndDestroy();
        return;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));

  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    faulted,
    setRule(next) {
      rule = next;
    },
    close() {
      for (const timer of timers) {
        clearTimeout(timer);
      }
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function forwardRequest(
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  upstream: { hostname: string; port: string },
  alter: Extract<RegistryFault, { kind: "alter" }> | undefined,
): void {
  const forwarded = httpRequest(
    { ...upstream, path: incoming.url, method: incoming.method, headers: incoming.headers },
    (response) => {
      void readAll(response).then((original) => {
        const body =
          alter?.body !== undefined && incoming.method === "GET" ? alter.body(original) : original;
        const isHead = incoming.method === "HEAD";
        // A HEAD response announces the length of the GET body, so its header is kept.
        const headers = isHead
          ? { ...response.headers }
          : { ...response.headers, "content-length": String(body.length) };
        for (const [name, value] of Object.entries(alter?.headers ?? {})) {
          if (value === undefined) {
            delete headers[name];
          } else {
            headers[name] = value;
          }
        }
        outgoing.writeHead(response.statusCode ?? 502, headers);
        outgoing.end(isHead ? undefined : body);
      });
    },
  );
  forwarded.on("error", () => {
    if (!outgoing.headersSent) {
      outgoing.writeHead(502);
    }
    outgoing.end();
  });
  incoming.pipe(forwarded);
}

/** Sends an error status with a body in the distribution error format. */
function sendStatus(outgoing: ServerResponse, status: number): void {
  const body = JSON.stringify({
    errors: [{ code: "UNAVAILABLE", message: "injected by the test proxy", detail: null }],
  });
  outgoing.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  outgoing.end(body);
}

async function readAll(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
