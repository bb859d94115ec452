// Graceful shutdown: close() lets a request in flight finish, closes idle keep-alive
// connections, and cuts a stalled request once the shutdown timeout passes.
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { Agent, request, type RequestOptions } from "node:https";
import type { ClientRequest, IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { writeDevCertificates } from "../../src/cli/certs.ts";
import { LOCAL_DEFAULTS } from "../../src/cli/start-local.ts";
import { defaultConfig } from "../../src/config.ts";
import { loadNodeSnapshot } from "../../src/inventory/snapshot.ts";
import { startServer } from "../../src/server/serve.ts";
import { fieldAt, send } from "./https-client.ts";
import { captureLogs, reviewWithUid, startTestServer } from "./test-server.ts";

const UID = "5107d0e5-0000-4000-8000-000000000001";

test("close lets request in flight finish", async () => {
  const server = await startTestServer();
  try {
    const body = await reviewWithUid(UID);
    const req = startRequest(server.url, server.ca, Buffer.byteLength(body));
    const response = readResponse(req);
    await once(req, "continue");

    const closing = server.server.close();
    req.end(body);
    const reply = await response;
    await closing;

    assert.equal(reply.status, 200);
    assert.equal(fieldAt(JSON.parse(reply.text), "response", "uid"), UID);
    assert.equal(reply.connection, "close");
    await assert.rejects(send(server.url, "/healthz", { ca: server.ca }), { code: "ECONNREFUSED" });
  } finally {
    await server.stop();
  }
});

test("close ends idle keep-alive connections", async () => {
  const server = await startTestServer();
  const agent = new Agent({ keepAlive: true });
  try {
    const reply = await send(server.url, "/healthz", { ca: server.ca, agent });
    assert.equal(reply.status, 200);

    // close() resolves only once every connection is gone, including the idle one above.
    await server.server.close();
    await assert.rejects(send(server.url, "/healthz", { ca: server.ca }), { code: "ECONNREFUSED" });
  } finally {
    agent.destroy();
    await server.stop();
  }
});

test("close cuts stalled request at timeout", async () => {
  const directory = await mkdtemp(join(tmpdir(), "kube-image-cache-shutdown-"));
  try {
    const names = { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] };
    const files = await writeDevCertificates(directory, names);
    const config = defaultConfig();
    const inventory = loadNodeSnapshot(LOCAL_DEFAULTS.nodesPath);
    const server = await startServer({
      config,
      context: () => ({ config, inventory }),
      isReady: () => true,
      tls: { certPath: files.certPath, keyPath: files.keyPath },
      logger: captureLogs().logger,
      host: "127.0.0.1",
      port: 0,
      shutdownTimeoutMs: 200,
    });

    // The body is announced but never sent, so the request can never finish on its own.
    const req = startRequest(server.url, await readFile(files.caCertPath), 100);
    const response = readResponse(req);
    await once(req, "continue");
    await server.close();

    await assert.rejects(response, { code: "ECONNRESET" });
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

/** Sends the headers of a POST /mutate and waits for the body; "continue" fires when read. */
function startRequest(baseUrl: string, ca: Buffer, contentLength: number): ClientRequest {
  const options: RequestOptions = {
    method: "POST",
    ca,
    // A keep-alive agent, so that only the server's shutdown can ask for "Connection: close".
    agent: new Agent({ keepAlive: true }),
    headers: {
      "content-type": "application/json",
      "content-length": contentLength,
      expect: "100-continue",
    },
  };
  const req = request(new URL("/mutate", baseUrl), options);
  req.flushHeaders();
  return req;
}

function readResponse(req: ClientRequest) {
  return new Promise<{ status: number; text: string; connection: string | undefined }>(
    (resolve, reject) => {
      req.on("error", reject);
      req.on("response", (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            text: Buffer.concat(chunks).toString("utf8"),
            connection: res.headers.connection,
          }),
        );
      });
    },
  );
}
