// A registry that stops responding (SIGSTOP): calls end with a timeout error, and the store's
// lookups keep returning at once while its fetch waits for the timeout.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { Registry } from "prom-client";

import { RegistryClient } from "../../src/registry/client.ts";
import { RegistryTimeoutError } from "../../src/registry/errors.ts";
import { ManifestStore } from "../../src/registry/manifest-store.ts";
import { pushImage, startRegistry, type TestRegistry } from "../support/registry.ts";
import { buildTestImages } from "../support/registry-fixtures.ts";
import { captureLogs } from "../support/registry-logs.ts";
import { metricValue } from "../support/registry-metrics.ts";

// The smallest timeout the configuration accepts (registry.timeoutMs), to keep the test short.
const TIMEOUT_MS = 100;
// Generous bound for a call that should end at TIMEOUT_MS: it only catches a call that hangs.
const HANG_BOUND_MS = 5_000;

describe("unresponsive registry", () => {
  let registry: TestRegistry;

  before(async () => {
    registry = await startRegistry();
    await pushImage(registry, "app", "v1", buildTestImages().appV1);
    await registry.pause();
  });
  after(async () => {
    await registry?.stop();
  });

  const registries = () => new Map([[registry.host, { plainHTTP: true }]]);
  const appV1 = () => ({ domain: registry.host, path: "app", tag: "v1" });

  test("client call times out", async () => {
    const client = new RegistryClient({ registries: registries(), timeoutMs: TIMEOUT_MS });
    const started = performance.now();

    await assert.rejects(client.getManifest(appV1()), (error: unknown) => {
      assert.ok(error instanceof RegistryTimeoutError);
      assert.equal(error.kind, "timeout");
      assert.match(
        error.message,
        new RegExp(`registry ${registry.host} .* timed out after 100 ms`),
      );
      return true;
    });
    assert.ok(performance.now() - started < HANG_BOUND_MS);
  });

  test("lookups return while the fetch hangs", async () => {
    const metrics = new Registry();
    const logs = captureLogs();
    const store = new ManifestStore({
      registries: registries(),
      settings: {
        enabled: true,
        timeoutMs: TIMEOUT_MS,
        admissionBudgetMs: 0,
        tagTtlSeconds: 300,
        manifestCacheBytes: 1024 * 1024,
      },
      locate: (image) => image,
      metrics,
      logger: logs.logger,
    });

    for (let lookup = 0; lookup < 5; lookup += 1) {
      assert.equal(store.lookup(appV1()), undefined);
    }
    await store.prefetch([appV1()], HANG_BOUND_MS);

    // A timeout may pass, so it reads as a miss, but the image is not fetched again at once.
    assert.equal(store.lookup(appV1()), undefined);
    await store.prefetch([appV1()], HANG_BOUND_MS);
    const errors = { registry: registry.host, kind: "timeout" };
    assert.equal(await metricValue(metrics, "kube_image_cache_registry_errors_total", errors), 1);
    const [line] = logs.matching("manifest fetch failed");
    assert.equal(line?.["kind"], "timeout");
    assert.equal(logs.matching("manifest fetch failed").length, 1);
  });
});
