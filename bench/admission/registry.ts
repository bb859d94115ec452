// A read-only OCI registry double on 127.0.0.1 for the admission benchmark: it serves the
// manifests and image configs of the synthetic catalogue, so the webhook fills its manifest
// store through its real client over loopback.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import type { RegistryContent } from "./workload.ts";

/** A listening registry double. */
export interface RegistryDouble {
  /** "127.0.0.1:<port>", the host part of image references on it. */
  readonly host: string;
  /** Replaces what the double serves (the digests do not depend on the host). */
  serve(content: RegistryContent): void;
  /** Responses sent so far, by status code. */
  readonly counts: Map<number, number>;
  close(): Promise<void>;
}

// GET or HEAD /v2/<name>/manifests/<reference> and GET /v2/<name>/blobs/<digest>, as in the OCI
// distribution spec; <name> may contain slashes.
const MANIFEST_PATH = /^\/v2\/(.+)\/manifests\/([^/]+)$/;
const BLOB_PATH = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/;

/** Starts the double on an ephemeral port of 127.0.0.1. */
export async function startRegistryDouble(): Promise<RegistryDouble> {
  let content: RegistryContent = { manifests: new Map(), blobs: new Map() };
  const counts = new Map<number, number>();
  const server = createServer((req, res) => {
    const status = respond(req, res, content);
    counts.set(status, (counts.get(status) ?? 0) + 1);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    host: `127.0.0.1:${port}`,
    serve: (next) => {
      content = next;
    },
    counts,
    close: () =>
      new Promise((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err === undefined ? resolve() : reject(err)));
      }),
  };
}

function respond(req: IncomingMessage, res: ServerResponse, content: RegistryContent): number {
  const path = req.url ?? "";
  const manifest = MANIFEST_PATH.exec(path);
  if (manifest !== null && (req.method === "GET" || req.method === "HEAD")) {
    const [, name, reference] = manifest;
    const separator = reference?.startsWith("sha256:") === true ? "@" : ":";
    const found = content.manifests.get(`${name}${separator}${reference}`);
    if (found !== undefined) {
      res.writeHead(200, {
        "content-type": "application/vnd.oci.image.manifest.v1+json",
        "content-length": found.body.length,
        "docker-content-digest": found.digest,
      });
      res.end(req.method === "HEAD" ? undefined : found.body);
      return 200;
    }
  }

  const blob = BLOB_PATH.exec(path);
  const body = blob === null || req.method !== "GET" ? undefined : content.blobs.get(blob[2] ?? "");
  if (body !== undefined) {
    res.writeHead(200, { "content-type": "application/octet-stream" });
    res.end(body);
    return 200;
  }

  res.writeHead(404, { "content-type": "application/json" });
  res.end(JSON.stringify({ errors: [{ code: "MANIFEST_UNKNOWN", message: `no ${path}` }] }));
  return 404;
}
