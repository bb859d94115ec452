// The recorder queue (deduplication, the bound and its metric, failed flushes) and what
// recordAdmission takes from a reviewed admission.
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test, type TestContext } from "node:test";

import { Registry } from "prom-client";

import { reviewAdmission } from "../../src/admission/review.ts";
import type { ColdImageEntry } from "../../src/prepull/record.ts";
import { ColdImageRecorder, recordAdmission } from "../../src/prepull/recorder.ts";
import { DEFAULT_PREPULL_SETTINGS } from "../../src/prepull/settings.ts";
import { FileRecordStore, type RecordChange, type RecordStore } from "../../src/prepull/stores.ts";
import { captureLogs } from "../server/test-server.ts";
import { contextWith, createReview, nodeWith, podWith } from "../support/pods.ts";

const APP = "registry.example.com/team/app:1";
const NGINX_MIRRORED = "registry.example.com/dockerhub/library/nginx:1.25";

async function fileStore(t: TestContext): Promise<{ store: FileRecordStore; directory: string }> {
  const directory = await mkdtemp(join(tmpdir(), "prepull-record-"));
  t.after(() => rm(directory, { recursive: true, force: true }));
  return {
    store: new FileRecordStore(join(directory, "record.json"), captureLogs().logger),
    directory,
  };
}

function sighting(image: string, namespace = "team-a", seenAt = Date.now()) {
  return { image, namespace, pullSecrets: [], seenAt };
}

/** A store whose updates fail until `healthy` is set; it keeps entries in memory. */
class FlakyStore implements RecordStore {
  readonly location = "memory";
  healthy = false;
  entries: readonly ColdImageEntry[] = [];

  read(): Promise<ColdImageEntry[]> {
    return Promise.resolve([...this.entries]);
  }

  update(change: RecordChange): Promise<readonly ColdImageEntry[]> {
    if (!this.healthy) {
      return Promise.reject(new Error("store unavailable"));
    }
    this.entries = change(this.entries);
    return Promise.resolve(this.entries);
  }
}

describe("cold-image recorder", () => {
  test("repeated sightings merge", async (t) => {
    const { store } = await fileStore(t);
    const recorder = new ColdImageRecorder({ store, logger: captureLogs().logger });

    recorder.enqueue([sighting(APP), sighting(APP)]);
    const queued = recorder.queued;
    await recorder.flush();
    const [stored, ...rest] = await store.read();

    assert.equal(queued, 1);
    assert.equal(rest.length, 0);
    assert.equal(stored?.count, 2);
  });

  test("full queue drops oldest", async (t) => {
    const { store } = await fileStore(t);
    const metrics = new Registry();
    const settings = { ...DEFAULT_PREPULL_SETTINGS, queueSize: 2 };
    const recorder = new ColdImageRecorder({
      store,
      logger: captureLogs().logger,
      metrics,
      settings,
    });

    recorder.enqueue(
      [1, 2, 3].map((index) => sighting(`registry.example.com/team/app-${index}:1`)),
    );
    await recorder.flush();
    const images = (await store.read()).map((stored) => stored.image).sort();

    assert.deepEqual(images, [
      "registry.example.com/team/app-2:1",
      "registry.example.com/team/app-3:1",
    ]);
    assert.match(await metrics.metrics(), /kube_image_cache_prepull_record_queue_dropped_total 1/);
  });

  test("failed flush keeps entries queued", async () => {
    const store = new FlakyStore();
    const logs = captureLogs();
    const recorder = new ColdImageRecorder({ store, logger: logs.logger });

    recorder.enqueue([sighting(APP)]);
    const failed = await recorder.flush();
    recorder.enqueue([sighting(APP)]);
    store.healthy = true;
    const retried = await recorder.flush();

    assert.equal(failed.failed, true);
    assert.equal(retried.written, 1);
    assert.equal(store.entries[0]?.count, 2);
    assert.ok(
      logs
        .lines()
        .some(
          (line) =>
            line["msg"] ===
            "failed to write the cold-image record; the entries stay queued for the next flush",
        ),
    );
  });

  test("stop flushes the queue", async (t) => {
    const { store } = await fileStore(t);
    const recorder = new ColdImageRecorder({ store, logger: captureLogs().logger });
    recorder.start();

    recorder.enqueue([sighting(APP)]);
    await recorder.stop();

    assert.equal((await store.read()).length, 1);
  });

  test("file store leaves no temporary files", async (t) => {
    const { store, directory } = await fileStore(t);
    const recorder = new ColdImageRecorder({ store, logger: captureLogs().logger });

    recorder.enqueue([sighting(APP)]);
    await recorder.flush();

    assert.deepEqual(await readdir(directory), ["record.json"]);
  });
});

describe("recordAdmission", () => {
  const pod = podWith([{ name: "web", image: "nginx:1.25" }], {
    imagePullSecrets: [{ name: "regcred" }, { name: "mirror-cred" }, {}],
  });

  function queued(body: Record<string, unknown>): ColdImageEntry[] {
    const entries: ColdImageEntry[] = [];
    const recorder = {
      enqueue: (
        sightings: readonly {
          image: string;
          namespace: string;
          pullSecrets: readonly string[];
          seenAt: number;
        }[],
      ) => {
        for (const seen of sightings) {
          entries.push({ ...seen, firstSeen: seen.seenAt, lastSeen: seen.seenAt, count: 1 });
        }
      },
    };
    // One node holding an unrelated image, so the pipeline computes cold images.
    const context = contextWith([nodeWith("worker-1", [[["registry.example.com/other:1"], 100]])]);
    recordAdmission(recorder, reviewAdmission(body, context), body);
    return entries;
  }

  test("records rewritten cold images", () => {
    const [recorded, ...rest] = queued(createReview(pod, "team-a"));

    assert.equal(rest.length, 0);
    assert.equal(recorded?.image, NGINX_MIRRORED);
    assert.equal(recorded?.namespace, "team-a");
  });

  test("records pull secret names", () => {
    const [recorded] = queued(createReview(pod, "team-a"));

    assert.deepEqual(recorded?.pullSecrets, ["regcred", "mirror-cred"]);
  });

  test("dry-run records nothing", () => {
    const review = createReview(pod, "team-a");
    (review["request"] as Record<string, unknown>)["dryRun"] = true;

    assert.deepEqual(queued(review), []);
  });

  test("skipped pod records nothing", () => {
    const skipped = { ...pod, metadata: { labels: { "kube-image-cache.io/skip": "true" } } };

    assert.deepEqual(queued(createReview(skipped, "team-a")), []);
  });

  test("invalid review records nothing", () => {
    assert.deepEqual(queued({ kind: "AdmissionReview" }), []);
  });
});
