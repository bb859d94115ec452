// API-server faults through the real server (`serve --kubeconfig` wiring) and the API-server
// double, with admissions streaming the whole time: the node watch drops, the resourceVersion
// expires (410 Gone), and the API server is unreachable at start. Every admission gets a response
// with its uid and admits the pod; hints follow the nodes once the watch catches up.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";

import { writeDevCertificates, type DevCertificateFiles } from "../../src/cli/certs.ts";
import { startFromSettings } from "../../src/cli/serve.ts";
import { LOCAL_DEFAULTS } from "../../src/cli/start-local.ts";
import { ApiServerDouble, kubeconfigFor } from "../support/apiserver-double.ts";
import { podWith } from "../support/pods.ts";
import { send, waitUntil } from "../server/https-client.ts";
import { captureLogs } from "../server/test-server.ts";
import { assertAllAdmitted, startAdmissionStream } from "./admission-stream.ts";

// The example configuration rewrites docker.io/library/nginx:1.25 to this mirror image.
const MIRRORED_NGINX = "registry.example.com/dockerhub/library/nginx:1.25";
const POD = podWith([{ name: "web", image: "nginx:1.25" }]);

describe("API server faults", () => {
  let directory: string;
  let certificates: DevCertificateFiles;
  let ca: Buffer;

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), "kic-apiserver-faults-"));
    certificates = await writeDevCertificates(directory, {
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
    });
    ca = await readFile(certificates.caCertPath);
  });
  after(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  async function startWebhook(t: TestContext, double: ApiServerDouble) {
    const server = await startFromSettings(
      {
        configPath: LOCAL_DEFAULTS.configPath,
        kubeconfigPath: await kubeconfigFor(double),
        tls: { certPath: certificates.certPath, keyPath: certificates.keyPath },
        host: "127.0.0.1",
        port: 0,
      },
      captureLogs().logger,
      { cluster: { backoff: { initialMs: 20, maxMs: 200 } } },
    );
    t.after(() => server.close());
    return server;
  }

  async function startDouble(t: TestContext, nodes: Record<string, unknown>[]) {
    const double = await ApiServerDouble.start({ bookmarkIntervalMs: 100 });
    nodes.forEach((node) => double.add("nodes", node));
    t.after(() => double.close());
    return double;
  }

  const isReady = async (url: string) => (await send(url, "/readyz", { ca })).status === 200;
  const nodeLists = (double: ApiServerDouble) =>
    double.requests((request) => request.path === "/api/v1/nodes" && !request.watch).length;

  test("dropped watch: admissions continue", async (t) => {
    const double = await startDouble(t, [
      clusterNode("warm-1", [MIRRORED_NGINX]),
      clusterNode("cold-1", []),
    ]);
    const server = await startWebhook(t, double);
    await waitUntil("ready", () => isReady(server.url));
    const stream = startAdmissionStream(server.url, ca, POD);
    await waitUntil(
      "a hint to warm-1",
      () => stream.latest()?.preferredNodes.includes("warm-1") ?? false,
    );

    assert.ok(double.dropWatches() >= 1);
    double.add("nodes", clusterNode("warm-2", [MIRRORED_NGINX]));
    await waitUntil(
      "a hint to warm-2",
      () => stream.latest()?.preferredNodes.includes("warm-2") ?? false,
    );
    const results = await stream.stop();

    assertAllAdmitted(results);
    // The watch resumed from its resourceVersion, so nothing was listed again.
    assert.equal(nodeLists(double), 1);
  });

  test("410 Gone: relist, admissions continue", async (t) => {
    const double = await startDouble(t, [
      clusterNode("warm-1", [MIRRORED_NGINX]),
      clusterNode("cold-1", []),
    ]);
    const server = await startWebhook(t, double);
    await waitUntil("ready", () => isReady(server.url));
    const stream = startAdmissionStream(server.url, ca, POD);
    await waitUntil(
      "a hint to warm-1",
      () => stream.latest()?.preferredNodes.includes("warm-1") ?? false,
    );

    await double.stopListening();
    double.remove("nodes", "warm-1");
    double.add("nodes", clusterNode("warm-3", [MIRRORED_NGINX]));
    double.compact();
    await double.startListening();
    await waitUntil("hints moved to warm-3", () => {
      return stream.latest()?.preferredNodes.join() === "warm-3";
    });
    const results = await stream.stop();

    assertAllAdmitted(results);
    assert.equal(nodeLists(double), 2);
  });

  test("unreachable API server at start: unchanged, then caught up", async (t) => {
    const double = await startDouble(t, [
      clusterNode("warm-1", [MIRRORED_NGINX]),
      clusterNode("cold-1", []),
    ]);
    await double.stopListening();
    const server = await startWebhook(t, double);
    const stream = startAdmissionStream(server.url, ca, POD);
    await waitUntil("a few admissions", () => stream.results().length >= 8);

    const notReady = await send(server.url, "/readyz", { ca });
    const whileDown = stream.results();
    await double.startListening();
    await waitUntil(
      "a hint to warm-1",
      () => stream.latest()?.preferredNodes.includes("warm-1") ?? false,
    );
    const results = await stream.stop();

    assert.equal(notReady.status, 503);
    assertAllAdmitted(results);
    // Without node data the image is still rewritten (that needs none), but no node is hinted.
    for (const { admission } of whileDown) {
      assert.deepEqual(admission?.preferredNodes, []);
      assert.ok(JSON.stringify(admission?.operations).includes(MIRRORED_NGINX));
    }
  });
});

function clusterNode(name: string, images: readonly string[]): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux" },
    },
    spec: {},
    status: {
      allocatable: { cpu: "4", memory: "8Gi" },
      nodeInfo: { architecture: "amd64", operatingSystem: "linux" },
      images: images.map((image) => ({ names: [image], sizeBytes: 70_000_000 })),
    },
  };
}
