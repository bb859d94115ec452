// An HTTP proxy in front of a test registry that counts the requests it forwards and can alter
// response bodies, to count fetches and to serve corrupt manifests.
import { request as httpRequest, createServer, type IncomingMessage, type Server } from "node:http";

/** Rewrites a response body; returning undefined leaves it unchanged. */
export type BodyRewrite = (path: string, body: Buffer) => Buffer | undefined;

/** One forwarded request. */
export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
}

/** A running proxy; `host` replaces the registry's host in image references. */
export interface RegistryProxy {
  readonly host: string;
  readonly requests: readonly ProxiedRequest[];
  /** Counts forwarded requests with this method whose path contains `pathPart`. */
  count(method: string, pathPart: string): number;
  setRewrite(rewrite: BodyRewrite | undefined): void;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 forwarding every request to `upstreamHost` over plain HTTP. */
export async function startRegistryProxy(upstreamHost: string): Promise<RegistryProxy> {
  const requests: ProxiedRequest[] = [];
  let rewrite: BodyRewrite | undefined;
  const [hostname = "127.0.0.1", port = "80"] = upstreamHost.split(":");

  const server = createServer((incoming, outgoing) => {
    const path = incoming.url ?? "/";
    requests.push({ method: incoming.method ?? "GET", path });
    const forwarded = httpRequest(
      { hostname, port, path, method: incoming.method, headers: incoming.headers },
      (upstream) => {
        void readAll(upstream).then((body) => {
          const changed = incoming.method === "GET" ? rewrite?.(path, body) : undefined;
          const headers = { ...upstream.headers };
          if (changed !== undefined) {
            headers["content-length"] = String(changed.length);
          }
          outgoing.writeHead(upstream.statusCode ?? 502, headers);
          outgoing.end(changed ?? body);
        });
      },
    );
    forwarded.on("error", () => {
      outgoing.writeHead(502);
      outgoing.end();
    });
    incoming.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));

  return {
    host: `127.0.0.1:${portOf(server)}`,
    requests,
    count: (method, pathPart) =>
      requests.filter((entry) => entry.method === method && entry.path.includes(pathPart)).length,
    setRewrite(next) {
      rewrite = next;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function readAll(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function portOf(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === "string") {
    throw new Error("proxy has no TCP address");
  }
  return address.port;
}
