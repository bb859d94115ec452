// Two controller instances on one API-server double: only the lease holder pulls, and the
// second instance takes over and carries on when the first stops.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { startPrepull, InvalidPrepullSettingsError } from "../../src/prepull/run.ts";
import { encodeRecord } from "../../src/prepull/record.ts";
import { OBJECT_NAMES, prepullSettings } from "../../src/prepull/settings.ts";
import { decodeStatus, STATUS_KEY } from "../../src/prepull/status.ts";
import { RECORD_KEY } from "../../src/prepull/stores.ts";
import { waitUntil } from "../server/https-client.ts";
import { HELPER_IMAGE } from "./controller-fixture.ts";
import {
  entry,
  findPullPod,
  linuxNode,
  NAMESPACE,
  setPodStatus,
  startDouble,
  SUCCEEDED,
  type DoubleFixture,
} from "./fixture.ts";

const APP = "registry.example.com/team/app:1";
const SETTINGS = prepullSettings({
  helperImage: HELPER_IMAGE,
  resyncIntervalMs: 50,
  leaseDurationSeconds: 1,
  renewDeadlineSeconds: 0.6,
  retryPeriodSeconds: 0.05,
});

function start(fixture: DoubleFixture, identity: string) {
  return startPrepull({
    kubeConfig: fixture.kubeConfig,
    namespace: NAMESPACE,
    identity,
    settings: SETTINGS,
    logger: fixture.logs.logger,
    cluster: { backoff: { initialMs: 20, maxMs: 200 } },
  });
}

function statusHolderDone(fixture: DoubleFixture): { holder: string; done: readonly string[] } {
  const data = fixture.double.find("configmaps", OBJECT_NAMES.status, NAMESPACE)?.["data"];
  const text = (data as Record<string, string> | undefined)?.[STATUS_KEY];
  const status = text === undefined ? undefined : decodeStatus(text);
  return { holder: status?.holder ?? "", done: status?.images[0]?.done ?? [] };
}

describe("pre-pull instances", () => {
  test("second instance takes over", async (t) => {
    const fixture = await startDouble(t);
    fixture.double.add("nodes", linuxNode("worker-1"));
    fixture.double.add("nodes", linuxNode("worker-2"));
    fixture.double.add("configmaps", {
      metadata: { name: OBJECT_NAMES.record, namespace: NAMESPACE },
      data: { [RECORD_KEY]: encodeRecord([entry(APP)]) },
    });
    const first = start(fixture, "first");
    t.after(() => first.stop());
    await waitUntil(
      "first pulls",
      () => findPullPod(fixture.double, APP, "worker-1") !== undefined,
    );
    const second = start(fixture, "second");
    t.after(() => second.stop());

    await first.stop();
    await waitUntil("second leads", () => second.elector.isLeader());
    setPodStatus(fixture.double, APP, "worker-1", SUCCEEDED);
    setPodStatus(fixture.double, APP, "worker-2", SUCCEEDED);
    await waitUntil("second records", () => statusHolderDone(fixture).done.length === 2);

    assert.equal(first.elector.isLeader(), false);
    assert.equal(statusHolderDone(fixture).holder, "second");
    assert.deepEqual(statusHolderDone(fixture).done, ["worker-1", "worker-2"]);
  });

  test("missing helper image is rejected", async (t) => {
    const fixture = await startDouble(t);

    assert.throws(
      () =>
        startPrepull({
          kubeConfig: fixture.kubeConfig,
          namespace: NAMESPACE,
          identity: "first",
          settings: { ...SETTINGS, helperImage: "" },
          logger: fixture.logs.logger,
        }),
      (error: unknown) =>
        error instanceof InvalidPrepullSettingsError &&
        /prepull\.helperImage: not set/.test(error.message),
    );
  });
});
