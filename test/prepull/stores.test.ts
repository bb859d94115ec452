// The shared record in a ConfigMap of the API-server double, through @kubernetes/client-node:
// concurrent writers, restarts, 409 conflicts and eviction.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ConfigMapDocument } from "../../src/prepull/configmap-document.ts";
import { encodeRecord } from "../../src/prepull/record.ts";
import { ColdImageRecorder } from "../../src/prepull/recorder.ts";
import { DEFAULT_PREPULL_SETTINGS, OBJECT_NAMES } from "../../src/prepull/settings.ts";
import { ConfigMapRecordStore, RECORD_KEY } from "../../src/prepull/stores.ts";
import { validateObject } from "../support/schema.ts";
import { entry, NAMESPACE, startDouble, type DoubleFixture } from "./fixture.ts";

function storeFor(fixture: DoubleFixture): ConfigMapRecordStore {
  return new ConfigMapRecordStore({
    api: fixture.core(),
    namespace: NAMESPACE,
    logger: fixture.logs.logger,
  });
}

function image(index: number): string {
  return `registry.example.com/team/app-${index}:1`;
}

function sightings(from: number, to: number) {
  const seenAt = Date.now();
  const list = [];
  for (let index = from; index < to; index += 1) {
    list.push({ image: image(index), namespace: "team-a", pullSecrets: [], seenAt });
  }
  return list;
}

describe("ConfigMap record store", () => {
  test("two recorders lose nothing", async (t) => {
    const fixture = await startDouble(t);
    const first = new ColdImageRecorder({ store: storeFor(fixture), logger: fixture.logs.logger });
    const second = new ColdImageRecorder({ store: storeFor(fixture), logger: fixture.logs.logger });

    for (let round = 0; round < 3; round += 1) {
      first.enqueue(sightings(0, 10));
      second.enqueue(sightings(5, 15));
      await Promise.all([first.flush(), second.flush(), first.flush(), second.flush()]);
    }
    const stored = await storeFor(fixture).read();
    const counts = new Map(stored.map((kept) => [kept.image, kept.count]));

    assert.equal(stored.length, 15);
    assert.equal(counts.get(image(0)), 3);
    assert.equal(counts.get(image(7)), 6);
    assert.equal(counts.get(image(14)), 3);
  });

  test("conflict reapplies the change", async (t) => {
    const fixture = await startDouble(t);
    const document = new ConfigMapDocument({
      api: fixture.core(),
      namespace: NAMESPACE,
      name: "doc",
      key: "k",
    });
    await document.update(() => "a");
    let calls = 0;

    const written = await document.update((current) => {
      calls += 1;
      if (calls === 1) {
        // Another writer changes the ConfigMap between this read and its write.
        const stored = fixture.double.find("configmaps", "doc", NAMESPACE);
        fixture.double.update("configmaps", { ...stored, data: { k: `${current ?? ""}b` } });
      }
      return `${current ?? ""}c`;
    });

    assert.equal(calls, 2);
    assert.equal(written, "abc");
    assert.equal(await document.read(), "abc");
  });

  test("restart keeps the record", async (t) => {
    const fixture = await startDouble(t);
    const before = new ColdImageRecorder({ store: storeFor(fixture), logger: fixture.logs.logger });
    before.enqueue([
      { image: image(1), namespace: "team-a", pullSecrets: ["regcred"], seenAt: Date.now() },
    ]);
    await before.stop();

    const after = new ColdImageRecorder({ store: storeFor(fixture), logger: fixture.logs.logger });
    after.enqueue([{ image: image(1), namespace: "team-a", pullSecrets: [], seenAt: Date.now() }]);
    await after.stop();
    const [stored, ...rest] = await storeFor(fixture).read();

    assert.equal(rest.length, 0);
    assert.equal(stored?.count, 2);
    assert.deepEqual(stored?.pullSecrets, ["regcred"]);
  });

  test("TTL and bound evict the right entries", async (t) => {
    const fixture = await startDouble(t);
    fixture.double.add("configmaps", {
      metadata: { name: OBJECT_NAMES.record, namespace: NAMESPACE },
      data: {
        [RECORD_KEY]: encodeRecord([
          entry(image(1), "team-a", { ageSeconds: 10 }),
          entry(image(2), "team-a", { ageSeconds: 20 }),
          entry(image(3), "team-a", { ageSeconds: 30 }),
          entry(image(4), "team-a", { ageSeconds: 7200 }),
        ]),
      },
    });
    const settings = { ...DEFAULT_PREPULL_SETTINGS, maxEntries: 3, ttlSeconds: 3600 };
    const recorder = new ColdImageRecorder({
      store: storeFor(fixture),
      logger: fixture.logs.logger,
      settings,
    });

    recorder.enqueue(sightings(0, 1));
    await recorder.flush();
    const images = (await storeFor(fixture).read()).map((kept) => kept.image).sort();

    assert.deepEqual(images, [image(0), image(1), image(2)]);
  });

  test("record ConfigMap is schema-valid", async (t) => {
    const fixture = await startDouble(t);
    const recorder = new ColdImageRecorder({
      store: storeFor(fixture),
      logger: fixture.logs.logger,
    });
    recorder.enqueue(sightings(0, 3));
    await recorder.flush();

    const stored = fixture.double.find("configmaps", OBJECT_NAMES.record, NAMESPACE);

    assert.deepEqual(validateObject({ apiVersion: "v1", kind: "ConfigMap", ...stored }), []);
  });
});
