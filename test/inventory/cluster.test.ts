// The live inventory against the API-server double, through @kubernetes/client-node over HTTPS:
// the initial list, watch events, lost watches, expired resourceVersions, an unreachable API
// server, and kubeconfig errors.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { loadClusterInventoryOnce } from "../../src/inventory/cluster.ts";
import { InvalidKubeconfigError } from "../../src/inventory/cluster-errors.ts";
import { taggedNameKey } from "../../src/inventory/inventory.ts";
import { loadKubeconfig } from "../../src/inventory/kube-client.ts";
import { parseImageReference } from "../../src/image/reference.ts";
import { ApiServerDouble, kubeconfigFor } from "../support/apiserver-double.ts";
import { waitUntil } from "../server/https-client.ts";
import { node, pod, startCluster, type ClusterFixture } from "./cluster-fixture.ts";

const NGINX = "registry.example.com/dockerhub/library/nginx:1.25";
const REDIS = "registry.example.com/dockerhub/library/redis:7.2";

function holdersOf(fixture: ClusterFixture, image: string): string[] {
  const parsed = parseImageReference(image);
  assert.ok(parsed.ok);
  const key = taggedNameKey(parsed.reference);
  return fixture.cluster
    .inventory()
    .holdersOfTaggedName(key)
    .map((holding) => holding.node)
    .sort();
}

function nodeNames(fixture: ClusterFixture): string[] {
  return fixture.cluster
    .inventory()
    .nodes.map((summary) => summary.name)
    .sort();
}

/** Requests of the double that listed (not watched) `resource`. */
function lists(fixture: ClusterFixture, resource: "nodes" | "pods"): number {
  const path = `/api/v1/${resource}`;
  return fixture.double.requests((request) => request.path === path && !request.watch).length;
}

describe("cluster inventory nodes", () => {
  test("initial list fills the index", async (t) => {
    const fixture = await startCluster(t, (double) => {
      double.add("nodes", node("worker-1", [[NGINX]]));
      double.add("nodes", node("worker-2", [[NGINX], [REDIS]]));
    });
    await waitUntil("synced", () => fixture.cluster.isSynced());
    await waitUntil("watching", () => fixture.cluster.isWatching());

    assert.deepEqual(nodeNames(fixture), ["worker-1", "worker-2"]);
    assert.deepEqual(holdersOf(fixture, NGINX), ["worker-1", "worker-2"]);
    assert.deepEqual(holdersOf(fixture, REDIS), ["worker-2"]);
    assert.equal(
      fixture.cluster.inventory().nodesByName.get("worker-1")?.allocatable.cpuMillis,
      4000,
    );
    const metrics = await fixture.registry.metrics();
    assert.match(metrics, /kube_image_cache_inventory_nodes 2/);
    assert.match(
      metrics,
      /kube_image_cache_inventory_last_sync_timestamp_seconds\{resource="nodes"\} \d/,
    );
    assert.match(metrics, /kube_image_cache_watch_connected\{resource="pods"\} 1/);
  });

  test("large list is read in pages", async (t) => {
    const names = ["a", "b", "c", "d", "e"].map((letter) => `worker-${letter}`);
    const fixture = await startCluster(
      t,
      (double) => names.forEach((name) => double.add("nodes", node(name))),
      { listPageSize: 2 },
    );
    await waitUntil("synced", () => fixture.cluster.isSynced());
    const pages = fixture.double.requests(
      (request) => request.path === "/api/v1/nodes" && !request.watch,
    );

    assert.deepEqual(nodeNames(fixture), names);
    assert.equal(pages.length, 3);
    assert.equal(pages[0]?.query["continue"], undefined);
    assert.ok(pages.slice(1).every((page) => page.query["continue"] !== undefined));
    assert.ok(pages.every((page) => page.query["limit"] === "2"));
  });

  test("watch adds, updates and removes nodes", async (t) => {
    const fixture = await startCluster(t, (double) => double.add("nodes", node("worker-1")));
    await waitUntil("watching", () => fixture.cluster.isWatching());
    const { double } = fixture;

    double.add("nodes", node("worker-2", [[NGINX]]));
    await waitUntil("worker-2 added", () => holdersOf(fixture, NGINX).includes("worker-2"));
    double.update("nodes", node("worker-2", [[REDIS]]));
    await waitUntil("images changed", () => holdersOf(fixture, REDIS).includes("worker-2"));
    double.update("nodes", node("worker-2", [[REDIS]], { pool: "gpu" }));
    const labels = () => fixture.cluster.inventory().nodesByName.get("worker-2")?.labels;
    await waitUntil("labels changed", () => labels()?.["pool"] === "gpu");
    double.remove("nodes", "worker-2");
    await waitUntil("worker-2 removed", () => !nodeNames(fixture).includes("worker-2"));

    assert.deepEqual(holdersOf(fixture, NGINX), []);
    assert.deepEqual(holdersOf(fixture, REDIS), []);
    assert.deepEqual(nodeNames(fixture), ["worker-1"]);
    assert.equal(lists(fixture, "nodes"), 1);
  });

  test("dropped watch resumes and catches up", async (t) => {
    const fixture = await startCluster(t, (double) => {
      double.add("nodes", node("worker-1"));
      double.add("nodes", node("worker-2"));
    });
    await waitUntil("watching", () => fixture.cluster.isWatching());
    const { double } = fixture;

    assert.ok(double.dropWatches() >= 2);
    double.add("nodes", node("worker-3", [[NGINX]]));
    double.remove("nodes", "worker-1");
    await waitUntil("caught up", () => nodeNames(fixture).join() === "worker-2,worker-3");
    await waitUntil("watching again", () => fixture.cluster.isWatching());
    const metrics = await fixture.registry.metrics();

    // Resumed from its resourceVersion: the history replayed the changes, with no new list.
    assert.equal(lists(fixture, "nodes"), 1);
    assert.match(metrics, /kube_image_cache_watch_restarts_total\{resource="nodes"\} [1-9]/);
    assert.match(metrics, /kube_image_cache_watch_connected\{resource="nodes"\} 1/);
  });

  test("watch closed by the server reconnects", async (t) => {
    const fixture = await startCluster(t, (double) => double.add("nodes", node("worker-1")), {
      watchTimeoutSeconds: 1,
    });
    const watches = () =>
      fixture.double.requests((request) => request.path === "/api/v1/nodes" && request.watch);
    await waitUntil("a second watch", () => watches().length >= 2);
    fixture.double.add("nodes", node("worker-2"));
    await waitUntil("worker-2 added", () => nodeNames(fixture).includes("worker-2"));

    assert.equal(lists(fixture, "nodes"), 1);
    assert.ok(watches().every((request) => request.query["resourceVersion"] !== undefined));
    assert.ok(watches().every((request) => request.query["allowWatchBookmarks"] === "true"));
  });

  test("410 Gone relists and drops deleted nodes", async (t) => {
    const fixture = await startCluster(t, (double) => {
      double.add("nodes", node("worker-1"));
      double.add("nodes", node("worker-2", [[NGINX]]));
    });
    await waitUntil("watching", () => fixture.cluster.isWatching());
    const { double } = fixture;

    await double.stopListening();
    await waitUntil("disconnected", () => !fixture.cluster.isWatching());
    double.remove("nodes", "worker-2");
    double.add("nodes", node("worker-3"));
    double.compact();
    await double.startListening();
    await waitUntil("relisted", () => nodeNames(fixture).join() === "worker-1,worker-3");

    assert.equal(lists(fixture, "nodes"), 2);
    assert.deepEqual(holdersOf(fixture, NGINX), []);
    assert.ok(fixture.logs.lines().some((line) => String(line["msg"]).includes("relisting")));
  });

  test("unreachable API server syncs later", async (t) => {
    const fixture = await startCluster(t, (double) => double.add("nodes", node("worker-1")), {
      unreachable: true,
    });
    const failures = () =>
      fixture.logs.lines().filter((line) => line["msg"] === "list or watch failed; retrying");
    await waitUntil("a failed attempt", () => failures().length >= 1);

    assert.equal(fixture.cluster.isSynced(), false);
    assert.equal(fixture.cluster.isWatching(), false);
    assert.deepEqual(nodeNames(fixture), []);
    assert.equal(failures()[0]?.["level"], 40);

    await fixture.double.startListening();
    await waitUntil("synced", () => fixture.cluster.isSynced());
    assert.deepEqual(nodeNames(fixture), ["worker-1"]);
  });

  test("lost watch empties inventory after grace", async (t) => {
    const fixture = await startCluster(t, (double) => double.add("nodes", node("worker-1")), {
      staleAfterMs: 300,
    });
    await waitUntil("watching", () => fixture.cluster.isWatching());
    const { double, logs } = fixture;
    const warnings = () => logs.lines().filter((line) => line["level"] === 40);

    await double.stopListening();
    await waitUntil("inventory emptied", () => nodeNames(fixture).length === 0);
    await waitUntil("warned", () =>
      warnings().some((line) => String(line["msg"]).includes("node hints")),
    );
    await double.startListening();
    await waitUntil("inventory back", () => nodeNames(fixture).length === 1);
    const recovered = logs.lines().filter((line) => String(line["msg"]).includes("hints resume"));

    assert.equal(warnings().filter((line) => String(line["msg"]).includes("node hints")).length, 1);
    assert.equal(recovered.length, 1);
  });

  test("node with 50 images is indexed fully", async (t) => {
    const images = Array.from({ length: 50 }, (_, i) => [
      `registry.example.com/team/app-${i}:1.0`,
      `registry.example.com/team/app-${i}@sha256:${i.toString(16).padStart(64, "0")}`,
    ]);
    const fixture = await startCluster(t, (double) => double.add("nodes", node("big", images)));
    await waitUntil("synced", () => fixture.cluster.isSynced());
    const inventory = fixture.cluster.inventory();
    const metrics = await fixture.registry.metrics();

    assert.equal(inventory.nodesByName.get("big")?.imageCount, 50);
    assert.equal(inventory.imagesOf("big").length, 50);
    for (let i = 0; i < 50; i += 1) {
      assert.deepEqual(holdersOf(fixture, `registry.example.com/team/app-${i}:1.0`), ["big"]);
      const digest = `sha256:${i.toString(16).padStart(64, "0")}`;
      assert.equal(inventory.holdersOfDigest(digest)[0]?.node, "big");
    }
    assert.match(metrics, /kube_image_cache_inventory_images 50/);
    assert.match(metrics, /kube_image_cache_inventory_nodes 1/);
  });
});

describe("cluster inventory kubeconfig", () => {
  test("missing context names the available ones", async (t) => {
    const double = await ApiServerDouble.start();
    t.after(() => double.close());
    const path = await kubeconfigFor(double, { contextName: "staging" });

    assert.throws(
      () => loadKubeconfig({ kind: "file", path, context: "production" }),
      (error: unknown) =>
        error instanceof InvalidKubeconfigError &&
        error.message.includes('context "production" (from --context) not found') &&
        error.message.includes("available contexts: staging"),
    );
  });

  test("missing current-context is reported", async (t) => {
    const double = await ApiServerDouble.start();
    t.after(() => double.close());
    const path = await kubeconfigFor(double, { currentContext: "gone" });

    assert.throws(
      () => loadKubeconfig({ kind: "file", path }),
      /context "gone" \(from its current-context\) not found; available contexts: double/,
    );
    assert.doesNotThrow(() => loadKubeconfig({ kind: "file", path, context: "double" }));
  });

  test("unreadable kubeconfig is reported", () => {
    assert.throws(
      () => loadKubeconfig({ kind: "file", path: "/nonexistent/kubeconfig" }),
      /kubeconfig \/nonexistent\/kubeconfig: cannot load it/,
    );
  });

  test("one-off load lists nodes only", async (t) => {
    const double = await ApiServerDouble.start();
    t.after(() => double.close());
    double.add("nodes", node("worker-1", [[NGINX]]));
    double.add("nodes", node("worker-2"));
    double.add("pods", pod("p", { nodeName: "worker-1" }));

    const index = await loadClusterInventoryOnce(await kubeconfigFor(double), "double");

    assert.deepEqual(index.nodes.map((summary) => summary.name).sort(), ["worker-1", "worker-2"]);
    assert.equal(double.requests().length, 1);
    assert.equal(double.requests()[0]?.path, "/api/v1/nodes");
  });
});
