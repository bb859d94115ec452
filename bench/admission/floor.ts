// The two floors of the admission benchmark, each run in its own process:
//   "https":   node:https reading the body and sending a fixed AdmissionReview response.
//   "express": express 5 with express.json() parsing the body, sending the same response.
// Both serve GET /readyz and use the webhook's keep-alive timeout, so only the work differs.
//
// Run: node --import tsx bench/admission/floor.ts <https|express> <port> <tls.crt> <tls.key>
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type ServerOptions } from "node:https";

import express from "express";

const FIXED_RESPONSE = JSON.stringify({
  apiVersion: "admission.k8s.io/v1",
  kind: "AdmissionReview",
  response: { uid: "00000000-0000-4000-8000-000000000000", allowed: true },
});

const [mode, portText, certPath, keyPath] = process.argv.slice(2);
if (
  (mode !== "https" && mode !== "express") ||
  portText === undefined ||
  certPath === undefined ||
  keyPath === undefined
) {
  throw new Error(
    `usage: floor.ts <https|express> <port> <tls.crt> <tls.key>; got ${process.argv.slice(2).join(" ")}`,
  );
}

const options: ServerOptions = {
  cert: readFileSync(certPath),
  key: readFileSync(keyPath),
  minVersion: "TLSv1.2",
  keepAlive: true,
  keepAliveTimeout: 60_000,
};
const server = createServer(options, mode === "https" ? bareHandler : expressApp());
server.listen(Number(portText), "127.0.0.1");
process.on("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
});

function bareHandler(req: IncomingMessage, res: ServerResponse): void {
  if (req.method === "GET") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"status":"ready"}');
    return;
  }
  // The body is read to its end, as a server must before it responds on a kept-alive connection.
  req.on("data", () => undefined);
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(FIXED_RESPONSE);
  });
}

function expressApp(): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.get("/readyz", (_req, res) => {
    res.json({ status: "ready" });
  });
  app.post("/mutate", express.json({ limit: "3mb" }), (_req, res) => {
    res.type("application/json").send(FIXED_RESPONSE);
  });
  return app;
}
