// The pre-pull controller against the API-server double, with the test standing in for the
// kubelet: which pods it creates (selectors, platforms, pacing, byte budget, policy), what it
// does with their outcomes, and how new nodes and failing images are handled.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { PULL_POD_SELECTOR } from "../../src/prepull/pull-pod.ts";
import type { ImageStatus } from "../../src/prepull/status.ts";
import { waitUntil } from "../server/https-client.ts";
import { validateObject } from "../support/schema.ts";
import { pod } from "../inventory/cluster-fixture.ts";
import { amd64Image, startController } from "./controller-fixture.ts";
import { entry, findPullPod, linuxNode, pullError, setPodStatus, SUCCEEDED } from "./fixture.ts";

const APP = "registry.example.com/team/app:1";
const DB = "registry.example.com/team/db:2";
const MIB = 1024 * 1024;

function statusOf(images: readonly ImageStatus[], image: string): ImageStatus | undefined {
  return images.find((status) => status.image === image);
}

describe("pre-pull controller", () => {
  test("created pods are schema-valid", async (t) => {
    const fixture = await startController(t, {
      nodes: [
        linuxNode("worker-1", {
          taints: [{ key: "dedicated", value: "ci", effect: "NoSchedule" }],
        }),
      ],
      entries: [entry(APP, "team-a", { pullSecrets: ["regcred"] })],
    });

    await fixture.controller().reconcile();
    const created = findPullPod(fixture.double, APP, "worker-1");

    assert.ok(created !== undefined);
    assert.deepEqual(validateObject({ apiVersion: "v1", kind: "Pod", ...created }), []);
  });

  test("selector limits the nodes", async (t) => {
    const fixture = await startController(t, {
      nodes: [linuxNode("worker-1", { labels: { pool: "web" } }), linuxNode("worker-2")],
      entries: [entry(APP)],
    });

    await fixture.controller({ nodeSelector: { pool: "web" } }).reconcile();

    assert.deepEqual(await fixture.pullPods(), [`team-a/worker-1 ${APP}`]);
  });

  test("unsupported platform is skipped", async (t) => {
    const fixture = await startController(t, {
      nodes: [linuxNode("worker-1"), linuxNode("arm-1", { architecture: "arm64" })],
      entries: [entry(APP)],
      facts: { [APP]: amd64Image(10 * MIB) },
    });

    await fixture.controller().reconcile();

    assert.deepEqual(await fixture.pullPods(), [`team-a/worker-1 ${APP}`]);
  });

  test("pacing bounds concurrent pulls", async (t) => {
    const fixture = await startController(t, {
      nodes: ["worker-1", "worker-2", "worker-3"].map((name) => linuxNode(name)),
      entries: [entry(APP, "team-a", { count: 2 }), entry(DB)],
    });
    const controller = fixture.controller({ maxPulls: 2, maxPullsPerNode: 1 });

    await controller.reconcile();
    const first = await fixture.pullPods();
    setPodStatus(fixture.double, APP, "worker-1", SUCCEEDED);
    setPodStatus(fixture.double, APP, "worker-2", SUCCEEDED);
    await controller.reconcile();
    const second = await fixture.pullPods();

    assert.deepEqual(first, [`team-a/worker-1 ${APP}`, `team-a/worker-2 ${APP}`]);
    assert.deepEqual(second, [`team-a/worker-1 ${DB}`, `team-a/worker-3 ${APP}`]);
  });

  test("byte budget caps each node", async (t) => {
    const fixture = await startController(t, {
      nodes: [linuxNode("worker-1")],
      entries: [entry(APP, "team-a", { count: 2 }), entry(DB)],
      facts: { [APP]: amd64Image(600 * MIB), [DB]: amd64Image(600 * MIB) },
    });
    const controller = fixture.controller({ nodeBudgetBytes: 1024 * MIB, maxPullsPerNode: 2 });

    await controller.reconcile();
    setPodStatus(fixture.double, APP, "worker-1", SUCCEEDED);
    const status = await controller.reconcile();

    assert.deepEqual(await fixture.pullPods(), []);
    assert.deepEqual(statusOf(status.images, APP)?.done, ["worker-1"]);
    assert.deepEqual(statusOf(status.images, DB)?.pending, ["worker-1"]);
    assert.equal(statusOf(status.images, DB)?.note, "node byte budget reached on 1 node(s)");
  });

  test("held images are not pulled", async (t) => {
    const fixture = await startController(t, {
      nodes: [linuxNode("worker-1", { images: [APP] }), linuxNode("worker-2")],
      entries: [entry(APP)],
    });

    const status = await fixture.controller().reconcile();

    assert.deepEqual(await fixture.pullPods(), [`team-a/worker-2 ${APP}`]);
    assert.deepEqual(statusOf(status.images, APP)?.done, ["worker-1"]);
  });

  test("joining node gets warmed", async (t) => {
    const fixture = await startController(t, {
      nodes: [linuxNode("worker-1")],
      entries: [entry(APP)],
    });
    const controller = fixture.controller();
    await controller.reconcile();
    setPodStatus(fixture.double, APP, "worker-1", SUCCEEDED);
    await controller.reconcile();

    fixture.double.add("nodes", linuxNode("worker-2"));
    await waitUntil("worker-2 listed", () =>
      fixture.cluster.inventory().nodesByName.has("worker-2"),
    );
    await controller.reconcile();

    assert.deepEqual(await fixture.pullPods(), [`team-a/worker-2 ${APP}`]);
  });

  test("failing image leaves others untouched", async (t) => {
    const fixture = await startController(t, {
      nodes: [linuxNode("worker-1"), linuxNode("worker-2")],
      entries: [entry(APP, "team-a", { count: 2 }), entry(DB)],
    });
    const controller = fixture.controller({ maxPullsPerNode: 2 });
    await controller.reconcile();

    setPodStatus(fixture.double, DB, "worker-1", pullError("manifest unknown"));
    setPodStatus(fixture.double, APP, "worker-1", SUCCEEDED);
    setPodStatus(fixture.double, APP, "worker-2", SUCCEEDED);
    const status = await controller.reconcile();
    const db = statusOf(status.images, DB);

    assert.deepEqual(statusOf(status.images, APP)?.done, ["worker-1", "worker-2"]);
    assert.deepEqual(db?.failed, [{ node: "worker-1", reason: "ErrImagePull: manifest unknown" }]);
    assert.deepEqual(db?.pending, ["worker-2"]);
    assert.match(db?.note ?? "", /^stopped until the retry interval passes/);
    assert.deepEqual(await fixture.pullPods(), [`team-a/worker-2 ${DB}`]);
  });

  test("most spare policy picks room", async (t) => {
    const fixture = await startController(t, {
      nodes: [linuxNode("worker-1"), linuxNode("worker-2"), linuxNode("worker-3")],
      entries: [entry(APP)],
    });
    fixture.double.add("pods", pod("busy-1", { nodeName: "worker-1", containers: [{ cpu: "3" }] }));
    fixture.double.add("pods", pod("busy-3", { nodeName: "worker-3", containers: [{ cpu: "1" }] }));
    await waitUntil("load seen", () => fixture.cluster.load().requested("worker-3").cpuMillis > 0);

    await fixture.controller({ policy: { kind: "mostSpare", count: 2 } }).reconcile();

    assert.deepEqual(await fixture.pullPods(), [
      `team-a/worker-2 ${APP}`,
      `team-a/worker-3 ${APP}`,
    ]);
  });

  test("new leader keeps done nodes", async (t) => {
    const fixture = await startController(t, {
      nodes: [linuxNode("worker-1")],
      entries: [entry(APP)],
    });
    const first = fixture.controller({ resyncIntervalMs: 20 });
    await first.reconcile();
    setPodStatus(fixture.double, APP, "worker-1", SUCCEEDED);
    await first.reconcile();

    const podLists = () =>
      fixture.double.requests((request) => request.query["labelSelector"] === PULL_POD_SELECTOR)
        .length;
    const listsBefore = podLists();

    const successor = fixture.controller({ resyncIntervalMs: 20 });
    successor.start();
    t.after(() => successor.stop());
    // Two lists of pull pods mean at least one whole pass after the restore.
    await waitUntil("successor passed", () => podLists() >= listsBefore + 2);
    await successor.stop();

    assert.deepEqual(await fixture.pullPods(), []);
  });

  test("metrics match the status", async (t) => {
    const fixture = await startController(t, {
      nodes: [linuxNode("worker-1"), linuxNode("worker-2")],
      entries: [entry(APP)],
    });
    const controller = fixture.controller();
    await controller.reconcile();
    setPodStatus(fixture.double, APP, "worker-1", SUCCEEDED);
    await controller.reconcile();
    const metrics = await fixture.metrics.metrics();

    assert.match(metrics, /kube_image_cache_prepull_nodes\{state="done"\} 1/);
    assert.match(metrics, /kube_image_cache_prepull_nodes\{state="pending"\} 1/);
    assert.match(metrics, /kube_image_cache_prepull_pulls_total\{result="pulled"\} 1/);
    assert.match(metrics, /kube_image_cache_prepull_pulled_bytes_total 1073741824/);
  });
});
