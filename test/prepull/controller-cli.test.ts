// `kube-image-cache prepull-controller`: its arguments, and a started instance that takes the
// lease on the API-server double and serves its metrics.
import assert from "node:assert/strict";
import { request } from "node:http";
import { describe, test } from "node:test";

import { UsageError } from "../../src/cli/args.ts";
import {
  parsePrepullControllerArgs,
  startPrepullController,
} from "../../src/cli/prepull-controller.ts";
import { waitUntil } from "../server/https-client.ts";
import { HELPER_IMAGE } from "./controller-fixture.ts";
import { NAMESPACE, startDouble } from "./fixture.ts";

function get(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      res.on("error", reject);
    })
      .on("error", reject)
      .end();
  });
}

describe("prepull-controller command", () => {
  test("context needs a kubeconfig", () => {
    assert.throws(() => parsePrepullControllerArgs(["--context", "prod"]), UsageError);
  });

  test("metrics port is checked", () => {
    assert.throws(
      () => parsePrepullControllerArgs(["--metrics-port", "http"]),
      /is not a TCP port/,
    );
  });

  test("started instance leads and serves metrics", async (t) => {
    const fixture = await startDouble(t);
    const args = parsePrepullControllerArgs([
      "--kubeconfig",
      fixture.kubeconfigPath,
      "--namespace",
      NAMESPACE,
      "--identity",
      "cli-instance",
      "--helper-image",
      HELPER_IMAGE,
      "--metrics-host",
      "127.0.0.1",
      "--metrics-port",
      "0",
    ]);
    const running = await startPrepullController(args, fixture.logs.logger);
    t.after(() => running.stop());

    await waitUntil("leading", () => running.prepull.elector.isLeader());
    const metrics = await get(`${running.metricsUrl}/metrics`);
    const health = await get(`${running.metricsUrl}/healthz`);

    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /kube_image_cache_prepull_leader 1/);
    assert.equal(health.status, 200);
  });
});
