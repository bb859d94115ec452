// A request that reaches the server after shutdown began, on a connection it still serves, must
// not crash the server, and the admission ahead of it must still complete. The app sends a probe
// such as /readyz synchronously, so marking its response "Connection: close" after the app ran
// threw ERR_HTTP_HEADERS_SENT, an uncaught exception that ended the process mid-shutdown.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { connect } from "node:tls";

import type { ReviewOutcome } from "../../src/admission/contract.ts";
import { reviewAdmission } from "../../src/admission/review.ts";
import { writeDevCertificates } from "../../src/cli/certs.ts";
import { LOCAL_DEFAULTS } from "../../src/cli/start-local.ts";
import { defaultConfig } from "../../src/config.ts";
import { loadNodeSnapshot } from "../../src/inventory/snapshot.ts";
import { startServer } from "../../src/server/serve.ts";
import { captureLogs, reviewWithUid } from "../server/test-server.ts";

const UID = "c105e000-0000-4000-8000-000000000001";

test("probe pipelined during shutdown", async (t) => {
  const directory = await mkdtemp(join(tmpdir(), "kic-shutdown-probe-"));
  t.after(() => rm(directory, { recursive: true, force: true }));
  const files = await writeDevCertificates(directory, {
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
  });
  const config = defaultConfig();
  const context = { config, inventory: loadNodeSnapshot(LOCAL_DEFAULTS.nodesPath) };
  let release: () => void = () => undefined;
  const admissionGate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const server = await startServer({
    config,
    context: () => context,
    // The admission waits for the test, so the connection stays busy while shutdown begins.
    review: async (body): Promise<ReviewOutcome> => {
      await admissionGate;
      return reviewAdmission(body, context);
    },
    isReady: () => true,
    tls: { certPath: files.certPath, keyPath: files.keyPath },
    logger: captureLogs().logger,
    host: "127.0.0.1",
    port: 0,
    // NOTE: the pipelined probe's response counts as in flight until this timeout, because the
    // connection closes after the admission's "Connection: close" response before it is sent.
    shutdownTimeoutMs: 1000,
  });

  const socket = connect({
    host: "127.0.0.1",
    port: server.port,
    ca: await readFile(files.caCertPath),
  });
  const received: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => received.push(chunk));
  const ended = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  await new Promise<void>((resolve) => socket.once("secureConnect", () => resolve()));
  const body = await reviewWithUid(UID);
  socket.write(
    `POST /mutate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  // Give the server the admission before shutdown begins; the probe then follows on the same
  // connection, pipelined behind it.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const closing = server.close();
  socket.write("GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  await new Promise((resolve) => setTimeout(resolve, 200));
  release();
  await closing;
  await ended;

  const text = Buffer.concat(received).toString("utf8");
  assert.match(text, /^HTTP\/1\.1 200 /);
  assert.ok(text.includes(`"uid":"${UID}"`));
  assert.match(text, /connection: close/i);
});
