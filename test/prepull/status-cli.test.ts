// `kube-image-cache prepull status` against the API-server double and a local record file.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";

import { UsageError } from "../../src/cli/args.ts";
import { runPrepull } from "../../src/cli/prepull.ts";
import type { StatusReport } from "../../src/cli/prepull-status.ts";
import { ColdImageRecorder } from "../../src/prepull/recorder.ts";
import { FileRecordStore } from "../../src/prepull/stores.ts";
import { captureIo } from "../cli/capture-io.ts";
import { captureLogs } from "../server/test-server.ts";
import { startController, type ControllerFixture } from "./controller-fixture.ts";
import { entry, linuxNode, pullError, setPodStatus, SUCCEEDED } from "./fixture.ts";

const APP = "registry.example.com/team/app:1";
const DB = "registry.example.com/team/db:2";

/** Runs a controller that pulls APP on both nodes and fails DB on worker-1. */
async function pulledAndFailed(fixture: ControllerFixture): Promise<void> {
  const controller = fixture.controller({ maxPullsPerNode: 2 });
  await controller.reconcile();
  setPodStatus(fixture.double, APP, "worker-1", SUCCEEDED);
  setPodStatus(fixture.double, APP, "worker-2", SUCCEEDED);
  setPodStatus(fixture.double, DB, "worker-1", pullError("unauthorized"));
  await controller.reconcile();
}

describe("prepull status", () => {
  test("json lists nodes by state", async (t) => {
    const fixture = await startController(t, {
      nodes: [linuxNode("worker-1"), linuxNode("worker-2")],
      entries: [entry(APP, "team-a", { count: 3 }), entry(DB)],
    });
    await pulledAndFailed(fixture);
    const io = captureIo();

    const code = await runPrepull(
      ["status", "--kubeconfig", fixture.kubeconfigPath, "-o", "json"],
      io,
    );
    const report = JSON.parse(io.output()) as StatusReport;
    const app = report.images.find((row) => row.image === APP);
    const db = report.images.find((row) => row.image === DB);

    assert.equal(code, 0);
    assert.equal(report.holder, "test-controller");
    assert.equal(app?.count, 3);
    assert.deepEqual(app?.progress?.done, ["worker-1", "worker-2"]);
    assert.deepEqual(db?.progress?.failed, [
      { node: "worker-1", reason: "ErrImagePull: unauthorized" },
    ]);
    assert.deepEqual(db?.progress?.pending, ["worker-2"]);
    assert.deepEqual(report.totals, { images: 2, done: 2, pending: 1, failed: 1, running: 1 });
  });

  test("table shows counts and reasons", async (t) => {
    const fixture = await startController(t, {
      nodes: [linuxNode("worker-1"), linuxNode("worker-2")],
      entries: [entry(APP, "team-a", { count: 3 }), entry(DB)],
    });
    await pulledAndFailed(fixture);
    const io = captureIo();

    await runPrepull(["status", "--kubeconfig", fixture.kubeconfigPath], io);
    const [header, ...rows] = io.output().trimEnd().split("\n");
    const dbRow = rows.find((row) => row.startsWith(DB)) ?? "";

    assert.match(
      header ?? "",
      /^IMAGE\s+NAMESPACE\s+SEEN\s+LAST SEEN\s+DONE\s+PENDING\s+FAILED\s+REASON$/,
    );
    assert.equal(rows.length, 2);
    assert.match(dbRow, /Z\s+0\s+1\s+1\s+worker-1: ErrImagePull: unauthorized$/);
  });

  test("record file without controller", async (t) => {
    const directory = await mkdtemp(join(tmpdir(), "prepull-status-"));
    t.after(() => rm(directory, { recursive: true, force: true }));
    const path = join(directory, "record.json");
    const recorder = new ColdImageRecorder({
      store: new FileRecordStore(path, captureLogs().logger),
      logger: captureLogs().logger,
    });
    recorder.enqueue([{ image: APP, namespace: "team-a", pullSecrets: [], seenAt: Date.now() }]);
    await recorder.stop();
    const io = captureIo();

    await runPrepull(["status", "--record-file", path], io);
    const [, row] = io.output().trimEnd().split("\n");

    assert.match(
      row ?? "",
      /^registry\.example\.com\/team\/app:1\s+team-a\s+1\s.*\s-\s+-\s+-\s+not planned yet$/,
    );
  });

  test("unknown output is rejected", async () => {
    await assert.rejects(runPrepull(["status", "-o", "yaml"], captureIo()), UsageError);
  });

  test("unknown subcommand is rejected", async () => {
    await assert.rejects(runPrepull(["list"], captureIo()), /expected "status"/);
  });
});
