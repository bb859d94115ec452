// start-local's certificate handling: generated on the first run, reused while still valid.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { startLocalServer } from "../../src/cli/start-local.ts";
import { servedSerial } from "../server/https-client.ts";
import { captureLogs } from "../server/test-server.ts";

test("start-local reuses current certificates", async () => {
  const directory = await mkdtemp(join(tmpdir(), "kube-image-cache-local-"));
  const logs = captureLogs();
  const options = { logger: logs.logger, certDirectory: directory, port: 0 };
  try {
    const first = await startLocalServer(options);
    const ca = await readFile(first.caCertPath);
    const firstSerial = await servedSerial(first.server.url, ca);
    await first.server.close();

    const second = await startLocalServer(options);
    const secondSerial = await servedSerial(second.server.url, ca);
    await second.server.close();

    const generated = logs
      .lines()
      .filter((line) => line["msg"] === "generated development certificates");
    assert.equal(generated.length, 1);
    assert.equal(secondSerial, firstSerial);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
