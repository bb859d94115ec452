// What the server sends when the pipeline fails, overruns the deadline, or has no snapshot yet:
// the pod is admitted unchanged with a warning, echoing the request uid.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import type { MutationContext } from "../../src/admission/contract.ts";
import { writeDevCertificates } from "../../src/cli/certs.ts";
import { validateConfig } from "../../src/config.ts";
import { loadNodeSnapshot } from "../../src/inventory/snapshot.ts";
import { INTERNAL_ERROR_WARNING } from "../../src/server/mutate.ts";
import { startServer, type RunningServer, type ServerOptions } from "../../src/server/serve.ts";
import { LOCAL_DEFAULTS } from "../../src/cli/start-local.ts";
import { fieldAt, json, send } from "./https-client.ts";
import { captureLogs, reviewWithUid } from "./test-server.ts";

const DEADLINE_MS = 50;
const UID = "c0ffee00-0000-4000-8000-000000000001";

describe("pipeline failures", () => {
  let directory: string;
  let ca: Buffer;
  const servers: RunningServer[] = [];
  const config = validateConfig({ server: { deadlineMs: DEADLINE_MS } }, "test settings");
  const context: MutationContext = {
    config,
    inventory: loadNodeSnapshot(LOCAL_DEFAULTS.nodesPath),
  };

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), "kube-image-cache-failures-"));
    const files = await writeDevCertificates(directory, {
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
    });
    ca = await readFile(files.caCertPath);
  });
  after(async () => {
    await Promise.all(servers.map((server) => server.close()));
    await rm(directory, { recursive: true, force: true });
  });

  async function start(overrides: Partial<ServerOptions>) {
    const logs = captureLogs();
    const server = await startServer({
      config,
      context: () => context,
      isReady: () => true,
      tls: { certPath: join(directory, "tls.crt"), keyPath: join(directory, "tls.key") },
      logger: logs.logger,
      host: "127.0.0.1",
      port: 0,
      ...overrides,
    });
    servers.push(server);
    return { server, logs };
  }

  test("thrown error admits pod unchanged", async () => {
    const { server, logs } = await start({
      context: () => {
        throw new Error("inventory snapshot unavailable");
      },
    });
    const reply = await send(server.url, "/mutate", { ca, body: await reviewWithUid(UID) });
    const response = fieldAt(json(reply), "response");

    assert.equal(reply.status, 200);
    assert.equal(fieldAt(response, "uid"), UID);
    assert.equal(fieldAt(response, "allowed"), true);
    assert.equal(fieldAt(response, "patch"), undefined);
    assert.deepEqual(fieldAt(response, "warnings"), [INTERNAL_ERROR_WARNING]);
    const failure = logs.lines().find((line) => line["uid"] === UID && line["level"] === 50);
    assert.equal(fieldAt(failure, "err", "message"), "inventory snapshot unavailable");
  });

  test("thrown error without uid gets 400", async () => {
    const { server } = await start({
      context: () => {
        throw new Error("inventory snapshot unavailable");
      },
    });
    const body = JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" });
    const reply = await send(server.url, "/mutate", { ca, body });

    assert.equal(reply.status, 400);
  });

  test("deadline overrun admits pod unchanged", async () => {
    const { server } = await start({ review: () => new Promise(() => undefined) });
    const reply = await send(server.url, "/mutate", { ca, body: await reviewWithUid(UID) });
    const response = fieldAt(json(reply), "response");
    const warnings = fieldAt(response, "warnings");

    assert.equal(reply.status, 200);
    assert.equal(fieldAt(response, "uid"), UID);
    assert.equal(fieldAt(response, "allowed"), true);
    assert.ok(Array.isArray(warnings));
    assert.match(String(warnings[0]), new RegExp(`within ${DEADLINE_MS} ms`));
  });

  test("metrics count error and timeout", async () => {
    const failing = await start({
      review: () => Promise.reject(new Error("registry lookup failed")),
    });
    const slow = await start({ review: () => new Promise(() => undefined) });
    await send(failing.server.url, "/mutate", { ca, body: await reviewWithUid(UID) });
    await send(slow.server.url, "/mutate", { ca, body: await reviewWithUid(UID) });

    const failingMetrics = (await send(failing.server.url, "/metrics", { ca })).text;
    const slowMetrics = (await send(slow.server.url, "/metrics", { ca })).text;
    assert.match(
      failingMetrics,
      /^kube_image_cache_admission_requests_total\{result="error"\} 1$/m,
    );
    assert.match(slowMetrics, /^kube_image_cache_admission_requests_total\{result="timeout"\} 1$/m);
  });

  test("readyz 503 without snapshot", async () => {
    const { server } = await start({ isReady: () => false });
    const reply = await send(server.url, "/readyz", { ca });

    assert.equal(reply.status, 503);
    assert.equal(fieldAt(json(reply), "status"), "not ready");
  });
});
