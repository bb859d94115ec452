// The cold-image record in a ConfigMap of the API-server double, reached through a proxy that
// responds to some reads and writes with 409 Conflict or 5xx. Two recorders (two replicas) write at
// once and one of them restarts mid-way; no sighting is lost.
import assert from "node:assert/strict";
import { describe, test, type TestContext } from "node:test";

import { CoreV1Api } from "@kubernetes/client-node";

import { loadKubeconfig } from "../../src/inventory/kube-client.ts";
import { createApiClient } from "../../src/prepull/kube-api.ts";
import { ColdImageRecorder, type ColdImageSighting } from "../../src/prepull/recorder.ts";
import { ConfigMapRecordStore } from "../../src/prepull/stores.ts";
import { ApiServerDouble, kubeconfigFor } from "../support/apiserver-double.ts";
import { captureLogs } from "../server/test-server.ts";
import { startApiFaultProxy, type ApiFault, type ApiFaultProxy } from "./apiserver-faults.ts";

const NAMESPACE = "kube-image-cache";
const ROUNDS = 8;
const RESTART_ROUND = 4;

interface Setup {
  readonly double: ApiServerDouble;
  readonly proxy: ApiFaultProxy;
  /** A store reaching the double through the proxy, as one replica's. */
  readonly faultyStore: () => ConfigMapRecordStore;
  /** A store reaching the double directly, to read what was kept. */
  readonly directStore: () => ConfigMapRecordStore;
}

async function setUp(t: TestContext): Promise<Setup> {
  const double = await ApiServerDouble.start();
  const proxy = await startApiFaultProxy(double);
  const abort = new AbortController();
  t.after(async () => {
    abort.abort();
    await proxy.close();
    await double.close();
  });
  const logger = captureLogs().logger;
  const storeThrough = (path: string) => {
    const kubeConfig = loadKubeconfig({ kind: "file", path });
    return () =>
      new ConfigMapRecordStore({
        api: createApiClient(CoreV1Api, kubeConfig, abort.signal, 10_000),
        namespace: NAMESPACE,
        logger,
      });
  };
  return {
    double,
    proxy,
    faultyStore: storeThrough(await proxy.kubeconfig()),
    directStore: storeThrough(await kubeconfigFor(double)),
  };
}

/**
 * Returns a rule that fails every `period`-th request to the record ConfigMap, cycling through
 * the faults given, so reads, creates and replaces all meet each of them.
 */
function everyNth(period: number, faults: readonly ApiFault[]) {
  let count = 0;
  let next = 0;
  return (_method: string, path: string): ApiFault | undefined => {
    if (!path.includes("/configmaps")) {
      return undefined;
    }
    count += 1;
    if (count % period !== 0) {
      return undefined;
    }
    const fault = faults[next % faults.length];
    next += 1;
    return fault;
  };
}

function image(index: number): string {
  return `registry.example.com/team/app-${index}:1`;
}

function sightings(from: number, to: number): ColdImageSighting[] {
  const seenAt = Date.now();
  return Array.from({ length: to - from }, (_, offset) => ({
    image: image(from + offset),
    namespace: "team-a",
    pullSecrets: [],
    seenAt,
  }));
}

/**
 * Runs two replicas through ROUNDS of sightings, replica A images 0-9 and replica B images 5-14,
 * flushing both at once each round; B stops and a new B starts at RESTART_ROUND. Both then stop.
 * Returns the count each image should have.
 */
async function runReplicas(setup: Setup): Promise<Map<string, number>> {
  const logger = captureLogs().logger;
  const replica = () => new ColdImageRecorder({ store: setup.faultyStore(), logger });
  const first = replica();
  let second = replica();
  const expected = new Map<string, number>();
  const count = (list: readonly ColdImageSighting[]) =>
    list.forEach((seen) => expected.set(seen.image, (expected.get(seen.image) ?? 0) + 1));

  for (let round = 0; round < ROUNDS; round += 1) {
    const forFirst = sightings(0, 10);
    const forSecond = sightings(5, 15);
    first.enqueue(forFirst);
    second.enqueue(forSecond);
    count(forFirst);
    count(forSecond);
    await Promise.all([first.flush(), second.flush()]);
    if (round === RESTART_ROUND) {
      // The restarting replica flushes the entries it has queued while the faults go on.
      await second.stop();
      second = replica();
    }
  }
  await Promise.all([first.stop(), second.stop()]);
  return expected;
}

describe("record store faults", () => {
  test("409 and 5xx lose no sighting", async (t) => {
    const setup = await setUp(t);
    setup.proxy.setRule(
      everyNth(3, [
        { status: 503, when: "before" },
        { status: 409, when: "before" },
        { status: 500, when: "before" },
      ]),
    );

    const expected = await runReplicas(setup);
    setup.proxy.setRule(undefined);
    const stored = await setup.directStore().read();

    assert.ok(setup.proxy.faulted.length >= 10, `only ${setup.proxy.faulted.length} faults`);
    assert.equal(stored.length, expected.size);
    for (const storedEntry of stored) {
      assert.equal(storedEntry.count, expected.get(storedEntry.image), storedEntry.image);
    }
  });

  test("lost write reply never loses a sighting", async (t) => {
    // The double applies the write, but the replica gets 500 and writes the batch again. A count
    // may therefore come out higher than the sightings, but never lower.
    const setup = await setUp(t);
    setup.proxy.setRule(everyNth(4, [{ status: 500, when: "after" }]));

    const expected = await runReplicas(setup);
    setup.proxy.setRule(undefined);
    const stored = await setup.directStore().read();

    assert.ok(setup.proxy.faulted.length >= 5, `only ${setup.proxy.faulted.length} faults`);
    assert.equal(stored.length, expected.size);
    for (const storedEntry of stored) {
      assert.ok(
        storedEntry.count >= (expected.get(storedEntry.image) ?? Infinity),
        storedEntry.image,
      );
    }
  });
});
