// Assembles a pre-pull controller instance: the node inventory it plans against, the record it
// reads, and the lease that lets one instance at a time run the controller. Both the
// `prepull-controller` command and a server that hosts the controller call startPrepull.
import { CoordinationV1Api, CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Registry } from "prom-client";

import { ClusterInventory, type ClusterInventoryOptions } from "../inventory/cluster.ts";
import type { Logger } from "../logger.ts";
import { PrepullController } from "./controller.ts";
import type { ImageFactSource } from "./image-facts.ts";
import { createApiClient } from "./kube-api.ts";
import { LeaderElector, type LeaderElectorOptions } from "./lease.ts";
import { createControllerMetrics, type ControllerMetrics } from "./metrics.ts";
import {
  checkPrepullSettings,
  InvalidPrepullSettingsError,
  OBJECT_NAMES,
  type PrepullSettings,
} from "./settings.ts";
import { ConfigMapRecordStore } from "./stores.ts";

/** Settings and collaborators of startPrepull. */
export interface PrepullRunOptions {
  readonly kubeConfig: KubeConfig;
  /** The webhook's namespace: the record, the status and the lease live there. */
  readonly namespace: string;
  /** Unique per instance; the pod name in a cluster. */
  readonly identity: string;
  readonly settings: PrepullSettings;
  readonly logger: Logger;
  /** Registry for the controller and inventory metrics; none are recorded without one. */
  readonly metrics?: Registry;
  /** Image platforms and sizes, such as factsFromLayers(manifestStore). */
  readonly facts?: ImageFactSource;
  /** Reconnection settings of the node and pod watches. */
  readonly cluster?: Pick<ClusterInventoryOptions, "backoff" | "staleAfterMs">;
}

/** A running instance. */
export interface RunningPrepull {
  readonly elector: LeaderElector;
  readonly controller: PrepullController;
  readonly inventory: ClusterInventory;
  /** Stops leading (releasing the lease), then the watches. Later calls return the same promise. */
  stop(): Promise<void>;
}

export { InvalidPrepullSettingsError };

// Timeout of one record, status or pod request. The lease requests end sooner: a renewal must
// finish within the renew deadline to count.
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Starts watching nodes and pods and running for the lease; the controller runs while this
 * instance holds it. Throws InvalidPrepullSettingsError when the settings are invalid or name
 * no helper image.
 */
export function startPrepull(options: PrepullRunOptions): RunningPrepull {
  const { kubeConfig, namespace, identity, settings, logger } = options;
  checkRunnable(settings);
  const abort = new AbortController();
  const core = createApiClient(CoreV1Api, kubeConfig, abort.signal, REQUEST_TIMEOUT_MS);
  const leaseTimeoutMs = settings.renewDeadlineSeconds * 1000;
  const leases = createApiClient(CoordinationV1Api, kubeConfig, abort.signal, leaseTimeoutMs);
  const metrics = createControllerMetrics(options.metrics);

  const inventory = new ClusterInventory({
    kubeConfig,
    logger,
    ...(options.metrics === undefined ? {} : { registry: options.metrics }),
    ...options.cluster,
  });
  const controller = new PrepullController({
    core,
    namespace,
    store: new ConfigMapRecordStore({ api: core, namespace, logger }),
    inventory: () => inventory.inventory(),
    load: () => inventory.load(),
    isReady: () => inventory.isSynced(),
    ...(options.facts === undefined ? {} : { facts: options.facts }),
    settings,
    identity,
    logger,
    metrics,
  });
  const elector = new LeaderElector({
    api: leases,
    namespace,
    name: OBJECT_NAMES.lease,
    identity,
    logger,
    timing: settings,
    ...leadership(controller, metrics),
  });

  inventory.start();
  elector.start();
  let stopping: Promise<void> | undefined;
  return {
    elector,
    controller,
    inventory,
    stop() {
      stopping ??= (async () => {
        await elector.stop();
        await controller.stop();
        await inventory.stop();
        abort.abort();
      })();
      return stopping;
    },
  };
}

/** Runs the controller while leading, and shows leadership in the metrics. */
function leadership(
  controller: PrepullController,
  metrics: ControllerMetrics,
): Pick<LeaderElectorOptions, "onStartedLeading" | "onStoppedLeading"> {
  return {
    onStartedLeading: () => {
      metrics.leader(true);
      controller.start();
    },
    onStoppedLeading: async () => {
      await controller.stop();
      metrics.leader(false);
    },
  };
}

function checkRunnable(settings: PrepullSettings): void {
  const problems = checkPrepullSettings(settings);
  if (settings.helperImage === "") {
    problems.push(
      "prepull.helperImage: not set; name this project's image, which carries the no-op binary " +
        "the pull pods run",
    );
  }
  if (problems.length > 0) {
    throw new InvalidPrepullSettingsError(problems);
  }
}
