// The pod load of the live inventory against the API-server double. Scheduled pods add their
// effective requests to their node, while unscheduled, finished and deleted pods add nothing.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { readPodLoad } from "../../src/inventory/pod-requests.ts";
import { waitUntil } from "../server/https-client.ts";
import { node, pod, startCluster, type ClusterFixture } from "./cluster-fixture.ts";

function requestedCpu(fixture: ClusterFixture, nodeName: string): number {
  return fixture.cluster.load().requested(nodeName).cpuMillis;
}

describe("cluster inventory pods", () => {
  test("scheduled pods add requests to their node", async (t) => {
    const fixture = await startCluster(t, (double) => {
      double.add("nodes", node("worker-1"));
      double.add(
        "pods",
        pod("two-containers", {
          nodeName: "worker-1",
          containers: [
            { cpu: "100m", memory: "64Mi" },
            { cpu: "200m", memory: "128Mi" },
          ],
        }),
      );
      double.add("pods", pod("pending", { phase: "Pending" }));
    });
    await waitUntil("pods listed", () => requestedCpu(fixture, "worker-1") > 0);

    assert.deepEqual(fixture.cluster.load().requested("worker-1"), {
      cpuMillis: 300,
      memoryBytes: 192 * 2 ** 20,
    });
    assert.equal(fixture.cluster.load().podCount, 1);
  });

  test("binding, finishing and deleting update the load", async (t) => {
    const fixture = await startCluster(t, (double) => {
      double.add("nodes", node("worker-1"));
      double.add("pods", pod("web", { nodeName: "worker-1" }));
      double.add("pods", pod("batch", { phase: "Pending" }));
    });
    await waitUntil("watching", () => fixture.cluster.isWatching());
    const { double } = fixture;
    assert.equal(requestedCpu(fixture, "worker-1"), 100);

    double.update("pods", pod("batch", { nodeName: "worker-1", containers: [{ cpu: "1" }] }));
    await waitUntil("batch bound", () => requestedCpu(fixture, "worker-1") === 1100);
    double.update("pods", pod("batch", { nodeName: "worker-1", phase: "Succeeded" }));
    await waitUntil("batch finished", () => requestedCpu(fixture, "worker-1") === 100);
    double.remove("pods", "web", "team");
    await waitUntil("web deleted", () => requestedCpu(fixture, "worker-1") === 0);

    assert.equal(fixture.cluster.load().podCount, 0);
  });

  test("init containers count at their peak", async (t) => {
    const fixture = await startCluster(t, (double) => {
      double.add("nodes", node("worker-1"));
      double.add(
        "pods",
        pod("migrating", {
          nodeName: "worker-1",
          containers: [{ cpu: "100m", memory: "64Mi" }],
          initContainers: [{ cpu: "500m", memory: "32Mi" }, { cpu: "50m" }],
        }),
      );
    });
    await waitUntil("pod listed", () => requestedCpu(fixture, "worker-1") > 0);

    // CPU: the 500m init container exceeds the 100m app; memory: the app's 64Mi exceeds 32Mi.
    assert.deepEqual(fixture.cluster.load().requested("worker-1"), {
      cpuMillis: 500,
      memoryBytes: 64 * 2 ** 20,
    });
  });

  test("410 Gone relists the pods", async (t) => {
    const fixture = await startCluster(t, (double) => {
      double.add("nodes", node("worker-1"));
      double.add("pods", pod("stays", { nodeName: "worker-1" }));
      double.add("pods", pod("goes", { nodeName: "worker-1", containers: [{ cpu: "2" }] }));
    });
    await waitUntil("watching", () => fixture.cluster.isWatching());
    const { double } = fixture;
    assert.equal(requestedCpu(fixture, "worker-1"), 2100);

    await double.stopListening();
    await waitUntil("disconnected", () => !fixture.cluster.isWatching());
    double.remove("pods", "goes", "team");
    double.compact();
    await double.startListening();
    await waitUntil("relisted", () => requestedCpu(fixture, "worker-1") === 100);

    const podLists = double.requests(
      (request) => request.path === "/api/v1/pods" && !request.watch,
    );
    assert.equal(podLists.length, 2);
    assert.equal(
      podLists[0]?.query["fieldSelector"],
      "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed",
    );
  });

  test("pod record keeps uid, node and requests only", () => {
    const object = {
      ...pod("web", { nodeName: "worker-1" }),
      metadata: {
        name: "web",
        namespace: "team",
        uid: "uid-1",
        annotations: { big: "x".repeat(1000) },
      },
    };

    assert.deepEqual(readPodLoad(object), {
      uid: "uid-1",
      node: "worker-1",
      requests: { cpuMillis: 100, memoryBytes: 64 * 2 ** 20 },
      finished: false,
    });
  });
});
