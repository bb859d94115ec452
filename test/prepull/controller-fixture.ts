// A pre-pull controller against the API-server double: a live ClusterInventory of the double's
// nodes and pods, the record in its ConfigMap, and helpers to read the pull pods it created.
import type { TestContext } from "node:test";

import { Registry } from "prom-client";

import { ClusterInventory } from "../../src/inventory/cluster.ts";
import { PrepullController } from "../../src/prepull/controller.ts";
import type { ImageFactSource, ImageFacts } from "../../src/prepull/image-facts.ts";
import { createControllerMetrics } from "../../src/prepull/metrics.ts";
import { PULL_POD_SELECTOR } from "../../src/prepull/pull-pod.ts";
import { encodeRecord, type ColdImageEntry } from "../../src/prepull/record.ts";
import { OBJECT_NAMES, prepullSettings, type PrepullSettings } from "../../src/prepull/settings.ts";
import { ConfigMapRecordStore, RECORD_KEY } from "../../src/prepull/stores.ts";
import { waitUntil } from "../server/https-client.ts";
import { NAMESPACE, startDouble, type DoubleFixture } from "./fixture.ts";

export const HELPER_IMAGE = "registry.example.com/kube-image-cache:0.1.0";

/** A controller, the inventory it reads and the double behind both. */
export interface ControllerFixture extends DoubleFixture {
  readonly cluster: ClusterInventory;
  readonly metrics: Registry;
  /** Creates a controller on the fixture, as a new leader would start. */
  readonly controller: (settings?: Partial<PrepullSettings>) => PrepullController;
  /** Pull pods in the double, as "namespace/node image" strings, sorted. */
  readonly pullPods: () => Promise<string[]>;
}

/** What the test sets up before the inventory starts. */
export interface ControllerSetup {
  readonly nodes: readonly Record<string, unknown>[];
  readonly entries: readonly ColdImageEntry[];
  readonly facts?: Readonly<Record<string, ImageFacts>>;
}

/** Starts a double with the nodes and record, and an inventory synced with it. */
export async function startController(
  t: TestContext,
  setup: ControllerSetup,
): Promise<ControllerFixture> {
  const fixture = await startDouble(t);
  for (const node of setup.nodes) {
    fixture.double.add("nodes", node);
  }
  fixture.double.add("configmaps", {
    metadata: { name: OBJECT_NAMES.record, namespace: NAMESPACE },
    data: { [RECORD_KEY]: encodeRecord(setup.entries) },
  });

  const cluster = new ClusterInventory({
    kubeConfig: fixture.kubeConfig,
    logger: fixture.logs.logger,
    backoff: { initialMs: 20, maxMs: 200 },
  });
  t.after(() => cluster.stop());
  cluster.start();
  await waitUntil("inventory synced", () => cluster.isSynced());

  const metrics = new Registry();
  const controllerMetrics = createControllerMetrics(metrics);
  const facts = factSource(setup.facts ?? {});
  const core = fixture.core();
  return {
    ...fixture,
    cluster,
    metrics,
    controller: (settings = {}) =>
      new PrepullController({
        core,
        namespace: NAMESPACE,
        store: new ConfigMapRecordStore({
          api: core,
          namespace: NAMESPACE,
          logger: fixture.logs.logger,
        }),
        inventory: () => cluster.inventory(),
        load: () => cluster.load(),
        facts,
        settings: prepullSettings({ helperImage: HELPER_IMAGE, ...settings }),
        identity: "test-controller",
        logger: fixture.logs.logger,
        metrics: controllerMetrics,
      }),
    pullPods: async () => {
      const list = await core.listPodForAllNamespaces({ labelSelector: PULL_POD_SELECTOR });
      return list.items
        .map(
          (pod) =>
            `${pod.metadata?.namespace}/${pod.spec?.nodeName} ${pod.spec?.containers[0]?.image}`,
        )
        .sort();
    },
  };
}

/** Facts from a table; images not in it read as unavailable, so they get the assumed size. */
function factSource(table: Readonly<Record<string, ImageFacts>>): ImageFactSource {
  return {
    describe: (image) => table[image] ?? { status: "unavailable", reason: "not in the test table" },
  };
}

/** Facts of a linux/amd64-only image of `bytes` compressed bytes. */
export function amd64Image(bytes: number): ImageFacts {
  return {
    status: "known",
    platforms: [{ os: "linux", architecture: "amd64" }],
    sizeFor: (platform) => (platform.architecture === "amd64" ? bytes : undefined),
  };
}
