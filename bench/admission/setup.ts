// Shared set-up of the admission benchmark. It writes the work directory (certificates, webhook
// configuration, node snapshots, request bodies) and starts the webhook until its layer index is
// complete. It also takes one measurement together with the server's CPU time.
import { mkdtemp, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { writeDevCertificates } from "../../src/cli/certs.ts";
import type { LoadRequest, LoadResult } from "./load.ts";
import {
  cpuSeconds,
  readMetrics,
  spawnServer,
  stopServer,
  waitReady,
  type LoadGenerator,
  type ServerFiles,
  type ServerProcess,
} from "./processes.ts";
import { startRegistryDouble } from "./registry.ts";
import { buildBenchCluster, buildBodyTemplates, mirrorRules, webhookConfig } from "./workload.ts";

const R1_OFFLINE = fileURLToPath(
  new URL("../../test/fixtures/configs/r1-offline.yaml", import.meta.url),
);
export const NODE_COUNTS = [50, 500, 5000] as const;
export const LOAD_NODES = 5000;
const BODY_COUNT = 240;
export const CONNECTIONS = 16;
export const RATES = [100, 500, 1000] as const;

/** The work directory and what the servers and the load generator read from it. */
export interface Setup {
  readonly work: string;
  readonly files: ServerFiles;
  readonly ca: Buffer;
  readonly templatesPath: string;
  readonly nodesPath: (count: number) => string;
  readonly stop: () => Promise<void>;
}

/** Writes certificates, the webhook configuration, node snapshots and request bodies. */
export async function prepare(): Promise<Setup> {
  const work = await mkdtemp(join(tmpdir(), "kube-image-cache-bench-"));
  const certs = await writeDevCertificates(join(work, "certs"), {
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
  });
  const registry = await startRegistryDouble();
  const configText = webhookConfig(R1_OFFLINE, registry.host);
  const configPath = join(work, "config.yaml");
  await writeFile(configPath, configText);

  const rules = mirrorRules(configText);
  let bodies = "";
  for (const count of NODE_COUNTS) {
    const cluster = buildBenchCluster(count, rules);
    registry.serve(cluster.registry);
    const snapshot = { apiVersion: "v1", kind: "List", items: cluster.nodes };
    await writeFile(join(work, `nodes-${count}.json`), JSON.stringify(snapshot));
    bodies = JSON.stringify(buildBodyTemplates(cluster.images, BODY_COUNT));
  }
  const templatesPath = join(work, "bodies.json");
  await writeFile(templatesPath, bodies);

  return {
    work,
    files: {
      certPath: certs.certPath,
      keyPath: certs.keyPath,
      caPath: certs.caCertPath,
      configPath,
    },
    ca: readFileSync(certs.caCertPath),
    templatesPath,
    nodesPath: (count) => join(work, `nodes-${count}.json`),
    stop: async () => {
      console.log(`registry double responses by status: ${JSON.stringify([...registry.counts])}`);
      await registry.close();
    },
  };
}

/**
 * Starts the webhook on `count` nodes, from the checkout at `root` (default: this one), and waits
 * until its layer index covers every node. Throws when it does not within 120 s of the spawn.
 */
export async function startWebhook(
  setup: Setup,
  count: number,
  options: { nodeFlags?: readonly string[]; root?: string } = {},
) {
  const server = await spawnServer("webhook", setup.files, {
    nodesPath: setup.nodesPath(count),
    logPath: join(setup.work, `webhook-${count}.log`),
    ...options,
  });
  try {
    const readyMs = await waitReady(server, setup.ca);
    const atReady = await readMetrics(server.url, setup.ca);
    let latest = atReady;
    // prom-client reports the maximum event-loop delay since the previous scrape.
    let maxStallSeconds = 0;
    while (latest.get(LAYER_NODES) !== count) {
      if (performance.now() - server.spawnedAt > 120_000) {
        const complete = latest.get(LAYER_NODES);
        throw new Error(`layer index covers ${complete} of ${count} nodes 120 s after spawn`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      latest = await readMetrics(server.url, setup.ca);
      maxStallSeconds = Math.max(maxStallSeconds, latest.get(EVENT_LOOP_MAX_LAG) ?? 0);
    }
    const warmMs = performance.now() - server.spawnedAt;
    return { server, readyMs, warmMs, maxStallSeconds, atReady, atWarm: latest };
  } catch (error: unknown) {
    await stopServer(server);
    throw error;
  }
}

const EVENT_LOOP_MAX_LAG = "nodejs_eventloop_lag_max_seconds";

const LAYER_NODES = "kube_image_cache_layer_index_complete_nodes";

/**
 * Sends every request body three times, so the webhook's ranking cache (one entry per distinct
 * image set and constraints) is filled before anything is measured, as in a running cluster.
 */
export async function warmUp(load: LoadGenerator, server: ServerProcess): Promise<void> {
  await load.measure({
    url: server.url,
    connections: CONNECTIONS,
    durationSeconds: 120,
    amount: 3 * BODY_COUNT,
  });
}

/** Runs one measurement and adds the server's CPU time per completed request, in ms. */
export async function measureOn(
  load: LoadGenerator,
  server: ServerProcess,
  request: Omit<LoadRequest, "url">,
): Promise<LoadResult & { cpuMsPerRequest: number }> {
  const pid = server.child.pid ?? 0;
  const before = cpuSeconds(pid);
  const result = await load.measure({ url: server.url, ...request });
  const cpuMsPerRequest = ((cpuSeconds(pid) - before) * 1000) / Math.max(1, result.completed);
  return { ...result, cpuMsPerRequest };
}
