// Mirror health: probes of a real registry that stops responding and recovers, of servers that
// return 401 or 404, and the probe timer's start and stop.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, test } from "node:test";

import { Registry } from "prom-client";

import type { Config } from "../../src/config.ts";
import { MirrorHealth } from "../../src/mirror/health.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { captureLogs } from "../support/registry-logs.ts";
import { metricValue } from "../support/registry-metrics.ts";

// A probe timeout far above a local registry's response time, so a busy test machine does not fail
// the probes that should succeed.
const SETTINGS: Config["mirrorHealth"] = {
  enabled: true,
  intervalSeconds: 1,
  failureThreshold: 2,
  timeoutMs: 1000,
};
// Upper bound of a wait for the background prober; one round takes at most SETTINGS.timeoutMs.
const WAIT_MS = 10_000;

interface StatusServer {
  readonly host: string;
  readonly probes: () => number;
  close(): Promise<void>;
}

/** Starts a server on 127.0.0.1 that responds to every request with `status`. */
async function startStatusServer(status: number): Promise<StatusServer> {
  let probes = 0;
  const server: Server = createServer((_request, response) => {
    probes += 1;
    response.writeHead(status);
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(address !== null);
  assert.ok(typeof address === "object");
  return {
    host: `127.0.0.1:${address.port}`,
    probes: () => probes,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function createHealth(hosts: string[], settings = SETTINGS) {
  const metrics = new Registry();
  const logs = captureLogs();
  const health = new MirrorHealth({
    hosts,
    registries: new Map(hosts.map((host) => [host, { plainHTTP: true }])),
    settings,
    metrics,
    logger: logs.logger,
  });
  return { health, metrics, logs };
}

describe("mirror health", () => {
  let registry: TestRegistry;

  before(async () => {
    registry = await startRegistry();
  });
  after(async () => {
    await registry?.stop();
  });

  test("breaker opens, then closes on recovery", async () => {
    const { health, metrics, logs } = createHealth([registry.host]);
    const up = (): Promise<number | undefined> =>
      metricValue(metrics, "kube_image_cache_mirror_up", { mirror: registry.host });
    const transitions = (state: string): Promise<number | undefined> =>
      metricValue(metrics, "kube_image_cache_mirror_transitions_total", {
        mirror: registry.host,
        state,
      });

    await health.probeOnce();
    assert.equal(health.unavailableMirrors().size, 0);
    assert.equal(await up(), 1);

    await registry.pause();
    try {
      await health.probeOnce();
      assert.equal(health.unavailableMirrors().size, 0, "one failure is below the threshold");
      await health.probeOnce();
      assert.deepEqual([...health.unavailableMirrors()], [registry.host]);
      assert.equal(await up(), 0);
      assert.equal(await transitions("down"), 1);
      await health.probeOnce();
      assert.equal(logs.matching("mirror unavailable").length, 1, "one line per transition");
      assert.match(
        String(logs.matching("mirror unavailable")[0]?.["reason"]),
        /timed out after 1000 ms/,
      );
    } finally {
      registry.resume();
    }

    const whileOpen = health.unavailableMirrors();
    await health.probeOnce();
    assert.equal(health.unavailableMirrors().size, 0);
    assert.equal(whileOpen.size, 1, "a set handed out earlier is not changed");
    assert.equal(await up(), 1);
    assert.equal(await transitions("up"), 1);
    assert.equal(logs.matching("mirror available again").length, 1);
  });

  test("401 counts as up", async () => {
    const server = await startStatusServer(401);
    try {
      const { health } = createHealth([server.host]);
      for (let round = 0; round < 3; round += 1) {
        await health.probeOnce();
      }

      assert.equal(health.unavailableMirrors().size, 0);
      assert.equal(server.probes(), 3);
    } finally {
      await server.close();
    }
  });

  test("404 counts as down", async () => {
    const server = await startStatusServer(404);
    try {
      const { health, logs } = createHealth([server.host]);
      await health.probeOnce();
      await health.probeOnce();

      assert.deepEqual([...health.unavailableMirrors()], [server.host]);
      assert.match(String(logs.matching("mirror unavailable")[0]?.["reason"]), /HTTP 404/);
    } finally {
      await server.close();
    }
  });

  test("refused connection counts as down", async () => {
    const server = await startStatusServer(200);
    const host = server.host;
    await server.close();
    const { health, logs } = createHealth([host], { ...SETTINGS, failureThreshold: 1 });
    await health.probeOnce();

    assert.deepEqual([...health.unavailableMirrors()], [host]);
    assert.match(String(logs.matching("mirror unavailable")[0]?.["reason"]), /ECONNREFUSED/);
  });

  test("background probing stops cleanly", async () => {
    const server = await startStatusServer(404);
    const { health } = createHealth([server.host]);
    try {
      health.start();
      health.start();
      const deadline = Date.now() + WAIT_MS;
      while (health.unavailableMirrors().size === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.deepEqual([...health.unavailableMirrors()], [server.host]);
    } finally {
      await health.stop();
    }

    const probes = server.probes();
    await new Promise((resolve) => setTimeout(resolve, SETTINGS.intervalSeconds * 1000 + 200));
    assert.equal(server.probes(), probes, "no probe after stop");
    await server.close();
  });
});
