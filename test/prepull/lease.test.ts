// Leader election on a Lease of the API-server double: one holder at a time, handover when the
// holder stops or stops renewing, and lease times in the MicroTime format the API server takes.
import assert from "node:assert/strict";
import { describe, test, type TestContext } from "node:test";

import { ApiException } from "@kubernetes/client-node";

import { LeaderElector } from "../../src/prepull/lease.ts";
import { waitUntil } from "../server/https-client.ts";
import { validateObject } from "../support/schema.ts";
import { NAMESPACE, startDouble, type DoubleFixture } from "./fixture.ts";

const LEASE = "prepull";
// Fast timings; the double does not check that lease durations are whole seconds.
const TIMING = { leaseDurationSeconds: 1, renewDeadlineSeconds: 0.6, retryPeriodSeconds: 0.05 };

interface Candidate {
  readonly elector: LeaderElector;
  readonly events: string[];
}

function candidate(t: TestContext, fixture: DoubleFixture, identity: string): Candidate {
  const events: string[] = [];
  const elector = new LeaderElector({
    api: fixture.leases(),
    namespace: NAMESPACE,
    name: LEASE,
    identity,
    logger: fixture.logs.logger,
    timing: TIMING,
    onStartedLeading: () => {
      events.push("started");
    },
    onStoppedLeading: () => {
      events.push("stopped");
    },
  });
  t.after(() => elector.stop());
  elector.start();
  return { elector, events };
}

function leaseSpec(fixture: DoubleFixture): Record<string, unknown> {
  return (fixture.double.find("leases", LEASE, NAMESPACE)?.["spec"] ?? {}) as Record<
    string,
    unknown
  >;
}

describe("lease", () => {
  test("one instance leads", async (t) => {
    const fixture = await startDouble(t);
    const first = candidate(t, fixture, "first");
    await waitUntil("first leads", () => first.elector.isLeader());
    const second = candidate(t, fixture, "second");
    // Several retry periods of the second instance pass while the first renews.
    await waitUntil(
      "second retried",
      () => fixture.double.requests((r) => r.method === "GET").length > 20,
    );

    assert.equal(second.elector.isLeader(), false);
    assert.equal(leaseSpec(fixture)["holderIdentity"], "first");
  });

  test("lease moves when the holder stops", async (t) => {
    const fixture = await startDouble(t);
    const first = candidate(t, fixture, "first");
    await waitUntil("first leads", () => first.elector.isLeader());
    const second = candidate(t, fixture, "second");

    await first.elector.stop();
    await waitUntil("second leads", () => second.elector.isLeader());

    assert.deepEqual(first.events, ["started", "stopped"]);
    assert.deepEqual(second.events, ["started"]);
    assert.equal(leaseSpec(fixture)["holderIdentity"], "second");
    assert.equal(leaseSpec(fixture)["leaseTransitions"], 1);
  });

  test("expired lease is taken over", async (t) => {
    const fixture = await startDouble(t);
    fixture.double.add("leases", {
      metadata: { name: LEASE, namespace: NAMESPACE },
      spec: { holderIdentity: "crashed", leaseDurationSeconds: 1, leaseTransitions: 4 },
    });
    const successor = candidate(t, fixture, "successor");

    await waitUntil("successor leads", () => successor.elector.isLeader());

    assert.equal(leaseSpec(fixture)["holderIdentity"], "successor");
    assert.equal(leaseSpec(fixture)["leaseTransitions"], 5);
  });

  test("lease times use MicroTime", async (t) => {
    const fixture = await startDouble(t);
    const first = candidate(t, fixture, "first");
    await waitUntil("first leads", () => first.elector.isLeader());

    assert.match(String(leaseSpec(fixture)["renewTime"]), /\.\d{6}Z$/);
    assert.deepEqual(
      validateObject({
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        ...fixture.double.find("leases", LEASE, NAMESPACE),
      }),
      [],
    );
  });

  test("double rejects millisecond lease times", async (t) => {
    const fixture = await startDouble(t);

    const error = await fixture
      .leases()
      .createNamespacedLease({
        namespace: NAMESPACE,
        body: { metadata: { name: "raw" }, spec: { renewTime: new Date() } },
      })
      .then(
        () => undefined,
        (failure: unknown) => failure,
      );

    assert.ok(error instanceof ApiException);
    assert.equal(error.code, 400);
  });
});
