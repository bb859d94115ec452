// Node layer index rebuilds behind the real server. While a rebuild is held between two of its
// slices, admissions are still served with hints from the previous index, and refreshes start no
// second rebuild. A node added during the rebuild reaches the hints through the next one.
// Manifests come from a real registry (Debian's docker-registry on 127.0.0.1).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { Registry } from "prom-client";

import { writeDevCertificates } from "../../src/cli/certs.ts";
import { validateConfig } from "../../src/config.ts";
import { buildInventory } from "../../src/inventory/inventory.ts";
import { LocalityRuntime } from "../../src/server/locality-runtime.ts";
import { startServer } from "../../src/server/serve.ts";
import { applyPatch } from "../support/apiserver-jsonpatch.ts";
import { addedPreferredTerms, decodePatch } from "../support/admission-expectations.ts";
import { createReview, nodeWith, podWith } from "../support/pods.ts";
import { buildTestImages, pushTestImages } from "../support/registry-fixtures.ts";
import { metricValue } from "../support/registry-metrics.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { validateObject } from "../support/schema.ts";
import { send, waitUntil } from "./https-client.ts";
import { captureLogs } from "./test-server.ts";

const COMPLETE_NODES = "kube_image_cache_layer_index_complete_nodes";

/**
 * A pause between index slices that the test can hold. After hold(), the first call blocks until
 * release() and every call is counted. Otherwise a call waits one event-loop turn.
 */
class SliceGate {
  pausesSinceHold = 0;
  #armed = false;
  #release: (() => void) | undefined;

  /** Holds the next pause until release(). */
  hold(): void {
    this.#armed = true;
    this.pausesSinceHold = 0;
  }

  release(): void {
    this.#armed = false;
    this.#release?.();
    this.#release = undefined;
  }

  readonly pause = async (): Promise<void> => {
    if (this.#armed) {
      this.pausesSinceHold += 1;
      if (this.#release === undefined) {
        const released = new Promise<void>((resolve) => {
          this.#release = resolve;
        });
        await released;
        return;
      }
    }
    await new Promise((resolve) => setImmediate(resolve));
  };
}

describe("layer index rebuild in the server", () => {
  const images = buildTestImages();
  let registry: TestRegistry;
  let directory: string;
  let ca: Buffer;

  before(async () => {
    registry = await startRegistry();
    await pushTestImages(registry, images);
    directory = await mkdtemp(join(tmpdir(), "kic-index-rebuild-"));
    await writeDevCertificates(directory, { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
    ca = await readFile(join(directory, "ca.crt"));
  });

  after(async () => {
    await registry?.stop();
    await rm(directory, { recursive: true, force: true });
  });

  it("serves admissions during a rebuild", async (t) => {
    const config = validateConfig(
      {
        registries: { [registry.host]: { plainHTTP: true } },
        registry: { timeoutMs: 3000, admissionBudgetMs: 1500 },
        mirrorHealth: { enabled: false },
      },
      "layer index rebuild test",
    );
    const warmImage = `${registry.host}/app:v1`;
    const { inventory } = buildInventory([
      nodeWith("warm-a", [[[warmImage], 30_000]]),
      // Empty nodes keep the three warm nodes of the end under balance.maxHolderShare.
      ...["empty-1", "empty-2", "empty-3"].map((name) => nodeWith(name, [])),
    ]);
    const gate = new SliceGate();
    const metrics = new Registry();
    const logs = captureLogs();
    const runtime = new LocalityRuntime({
      config,
      inventory: () => inventory,
      metrics,
      logger: logs.logger,
      indexIntervalMs: 50,
      // One node image per slice, so a rebuild over two nodes with images pauses between them.
      indexSlices: { imagesPerSlice: 1, pause: gate.pause },
    });
    runtime.start();
    const server = await startServer({
      config,
      context: () => runtime.context(),
      review: (body) => runtime.review(body),
      isReady: () => true,
      tls: { certPath: join(directory, "tls.crt"), keyPath: join(directory, "tls.key") },
      logger: logs.logger,
      host: "127.0.0.1",
      port: 0,
      registry: metrics,
    });
    t.after(async () => {
      gate.release();
      await server.close();
      await runtime.stop();
    });

    // app:v2 shares its OS and runtime layers with app:v1, so layer hints name its holders.
    const pod = podWith([{ name: "app", image: `${registry.host}/app:v2` }]);
    const hintedNodes = async (): Promise<string[]> => {
      const reply = await send(server.url, "/mutate", {
        ca,
        body: JSON.stringify(createReview(pod, "team-a", randomUUID())),
      });
      assert.equal(reply.status, 200);
      const operations = decodePatch(JSON.parse(reply.text) as Record<string, unknown>);
      const applied = applyPatch(pod, operations);
      assert.ok(applied.ok, applied.error);
      assert.deepEqual(validateObject(applied.doc), []);
      const terms = addedPreferredTerms(operations);
      return terms.map((term) => term.preference.matchFields?.[0]?.values[0] ?? "").sort();
    };

    await waitUntil("layer hints toward warm-a", async () => {
      return (await hintedNodes()).join(",") === "warm-a";
    });
    assert.equal(await metricValue(metrics, COMPLETE_NODES, {}), 1);

    // A second holder of app:v1 makes the next rebuild; hold it after its first slice.
    gate.hold();
    inventory.upsert(nodeWith("warm-b", [[[warmImage], 30_000]]));
    await waitUntil("a rebuild held between slices", () => gate.pausesSinceHold >= 1);

    // A node added now is not in the rebuild in progress.
    inventory.upsert(nodeWith("warm-c", [[[warmImage], 30_000]]));
    for (let index = 0; index < 3; index += 1) {
      runtime.refresh();
      assert.deepEqual(await hintedNodes(), ["warm-a"]);
    }
    assert.equal(gate.pausesSinceHold, 1, "only one rebuild may run at a time");
    assert.equal(await metricValue(metrics, COMPLETE_NODES, {}), 1);

    gate.release();
    await waitUntil("layer hints toward all three warm nodes", async () => {
      return (await hintedNodes()).join(",") === "warm-a,warm-b,warm-c";
    });
    assert.equal(await metricValue(metrics, COMPLETE_NODES, {}), 3);
    const errors = logs.lines().filter((line) => line["level"] === 50);
    assert.deepEqual(errors, []);
  });
});
