// Registry faults through the real server: a real registry (docker-registry on 127.0.0.1) behind
// a proxy that delays, fails, resets or corrupts the manifests of one repository. Admissions
// still get a response before the deadline, admit the pod, and leave it unchanged where the
// manifest is missing. A corrupt manifest never reaches the manifest cache.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";

import { Registry } from "prom-client";

import { writeDevCertificates } from "../../src/cli/certs.ts";
import { validateConfig } from "../../src/config.ts";
import { buildInventory } from "../../src/inventory/inventory.ts";
import { DOCKER_MANIFEST_LIST } from "../../src/registry/manifest.ts";
import { LocalityRuntime } from "../../src/server/locality-runtime.ts";
import { startServer } from "../../src/server/serve.ts";
import { nodeWith, podWith } from "../support/pods.ts";
import { buildTestImages } from "../support/registry-fixtures.ts";
import { metricValue } from "../support/registry-metrics.ts";
import { pushImage, startRegistry, type TestRegistry } from "../support/registry.ts";
import { waitUntil } from "../server/https-client.ts";
import { captureLogs } from "../server/test-server.ts";
import { isDeadlineWarning, patchProblems, sendAdmission, type Admission } from "./admissions.ts";
import { startFaultProxy, type FaultProxy, type RegistryFault } from "./registry-faults.ts";

const DEADLINE_MS = 5000;
// Below the deadline by more than the 500 ms the configuration requires.
const BUDGET_MS = 1500;
// Long enough that a fetch through a healthy path does not time out on a busy machine: a timeout
// is not cached as a definite failure, so the corrupt-manifest checks would then see no failure.
const TIMEOUT_MS = 1000;
// Longer than TIMEOUT_MS, so a delayed fetch always times out.
const SLOW_MS = 3000;
const CONCURRENT_ADMISSIONS = 8;

describe("registry faults", () => {
  const images = buildTestImages();
  let registry: TestRegistry;
  let proxy: FaultProxy;
  let directory: string;
  let ca: Buffer;

  before(async () => {
    registry = await startRegistry();
    // Separate repositories, so a fault can hit the pod's image and spare the node's.
    await pushImage(registry, "warm/app", "v1", images.appV1);
    await pushImage(registry, "cold/app", "v2", images.appV2);
    proxy = await startFaultProxy(registry.host);
    directory = await mkdtemp(join(tmpdir(), "kic-registry-faults-"));
    await writeDevCertificates(directory, { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
    ca = await readFile(join(directory, "ca.crt"));
  });
  after(async () => {
    await proxy?.close();
    await registry?.stop();
    await rm(directory, { recursive: true, force: true });
  });

  const warmImage = () => `${proxy.host}/warm/app:v1`;
  const podImage = () => `${proxy.host}/cold/app:v2`;
  const podImageReference = () => ({ domain: proxy.host, path: "cold/app", tag: "v2" });

  /** Starts the server with the manifest store reading through the proxy. */
  async function startWebhook(t: TestContext) {
    const config = validateConfig(
      {
        server: { deadlineMs: DEADLINE_MS },
        registries: { [proxy.host]: { plainHTTP: true } },
        registry: { timeoutMs: TIMEOUT_MS, admissionBudgetMs: BUDGET_MS },
        mirrorHealth: { enabled: false },
      },
      "registry fault test",
    );
    const { inventory } = buildInventory([
      nodeWith("warm-v1", [[[warmImage()], 30_000]]),
      nodeWith("empty", []),
    ]);

    const logs = captureLogs();
    const metrics = new Registry();
    const runtime = new LocalityRuntime({
      config,
      inventory: () => inventory,
      metrics,
      logger: logs.logger,
      indexIntervalMs: 50,
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
      await server.close();
      await runtime.stop();
    });

    const store = runtime.store;
    assert.ok(store !== undefined);
    // The node's manifest is read through a healthy path, so only the pod's data is missing.
    await waitUntil("the warm node's manifest cached", () => {
      const warmReference = { domain: proxy.host, path: "warm/app", tag: "v1" };
      return store.lookup(warmReference)?.status === "resolved";
    });
    return { server, store, metrics };
  }

  /** Sends concurrent admissions of a pod running the faulted image. */
  async function admitConcurrently(url: string, label: string): Promise<Admission[]> {
    const pod = podWith([{ name: "app", image: podImage() }]);
    return Promise.all(
      Array.from({ length: CONCURRENT_ADMISSIONS }, (_, index) =>
        sendAdmission(url, ca, pod, uidFor(label, index)),
      ),
    );
  }

  /** Asserts every admission got a response before the deadline and admitted the pod unchanged. */
  function assertAdmittedUnchanged(admissions: readonly Admission[], label: string): void {
    admissions.forEach((admission, index) => {
      assert.equal(admission.status, 200);
      assert.equal(admission.uid, uidFor(label, index));
      assert.equal(admission.allowed, true);
      assert.deepEqual(admission.warnings.filter(isDeadlineWarning), []);
      assert.deepEqual(admission.operations, []);
    });
  }

  async function runFault(
    t: TestContext,
    label: string,
    fault: RegistryFault,
    errorKind: string,
  ): Promise<void> {
    proxy.setRule((_method, path) => (path.startsWith("/v2/cold/") ? fault : undefined));
    t.after(() => proxy.setRule(undefined));
    const { server, store, metrics } = await startWebhook(t);

    const admissions = await admitConcurrently(server.url, label);

    assertAdmittedUnchanged(admissions, label);
    const errors = { registry: proxy.host, kind: errorKind };
    await waitUntil(`a ${errorKind} error counted`, async () => {
      return (
        ((await metricValue(metrics, "kube_image_cache_registry_errors_total", errors)) ?? 0) > 0
      );
    });
    assert.notEqual(store.lookup(podImageReference())?.status, "resolved");
  }

  test("healthy registry gives a layer hint", async (t) => {
    const { server } = await startWebhook(t);
    const pod = podWith([{ name: "app", image: podImage() }]);

    const admission = await sendAdmission(server.url, ca, pod, uidFor("healthy", 0));

    assert.equal(admission.allowed, true);
    assert.deepEqual(patchProblems([admission]), []);
    assert.deepEqual(admission.preferredNodes, ["warm-v1"]);
  });

  test("slow registry admits unchanged", async (t) => {
    await runFault(t, "slow", { kind: "delay", ms: SLOW_MS }, "timeout");
  });

  test("5xx registry admits unchanged", async (t) => {
    await runFault(t, "5xx", { kind: "status", status: 503 }, "unavailable");
  });

  test("connection reset admits unchanged", async (t) => {
    await runFault(t, "reset", { kind: "reset" }, "unavailable");
  });

  test("wrong digest never cached", async (t) => {
    // Whitespace added to valid JSON changes the bytes, so they no longer hash to the digest.
    const fault: RegistryFault = {
      kind: "alter",
      body: (body) =>
        Buffer.from(body.toString("utf8").replace('"schemaVersion":2', '"schemaVersion": 2')),
    };
    await runFault(t, "digest", fault, "corrupt_manifest");
  });

  test("invalid JSON never cached", async (t) => {
    // Without Docker-Content-Digest the client fetches by tag and cannot check a digest, so the
    // truncated body reaches the parser.
    const fault: RegistryFault = {
      kind: "alter",
      body: (body) => body.subarray(0, Math.floor(body.length / 2)),
      headers: { "docker-content-digest": undefined },
    };
    await runFault(t, "json", fault, "corrupt_manifest");
  });

  test("wrong media type never cached", async (t) => {
    // The document declares an OCI manifest; a Content-Type naming another type contradicts it.
    const fault: RegistryFault = {
      kind: "alter",
      headers: { "content-type": DOCKER_MANIFEST_LIST },
    };
    await runFault(t, "media-type", fault, "corrupt_manifest");
  });

  test("cached failure outlives recovery", async (t) => {
    proxy.setRule((_method, path) =>
      path.startsWith("/v2/cold/")
        ? { kind: "alter", headers: { "content-type": DOCKER_MANIFEST_LIST } }
        : undefined,
    );
    const { server, store } = await startWebhook(t);
    await admitConcurrently(server.url, "recovery-before");
    await waitUntil("the corrupt manifest rejected", () => {
      return store.lookup(podImageReference())?.status === "failed";
    });

    proxy.setRule(undefined);
    const admissions = await admitConcurrently(server.url, "recovery-after");

    // The failure is remembered for its TTL, so the corrupt bytes are not read as valid later.
    assertAdmittedUnchanged(admissions, "recovery-after");
    assert.equal(store.lookup(podImageReference())?.status, "failed");
  });
});

function uidFor(label: string, index: number): string {
  const tag = Buffer.from(label).toString("hex").slice(0, 8).padEnd(8, "0");
  return `${tag}-0000-4000-8000-${String(index).padStart(12, "0")}`;
}
