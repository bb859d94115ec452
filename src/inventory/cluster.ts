// The live node inventory and pod load: list-and-watch loops over nodes and pods that keep a
// NodeIndex and a NodeLoad current. The admission path reads both without ever waiting on the
// API server, and gets an empty inventory while the node data is too old to trust.
import { Watch, type KubeConfig } from "@kubernetes/client-node";
import type { Registry } from "prom-client";

import { NodeLoad } from "../locality/load.ts";
import type { Logger } from "../logger.ts";
import { ClusterRequestError } from "./cluster-errors.ts";
import { createInventoryMetrics, type InventoryMetrics } from "./cluster-metrics.ts";
import { NodeSink, PodSink } from "./cluster-sinks.ts";
import { NodeIndex, type Inventory } from "./inventory.ts";
import { createCoreApi, loadKubeconfig, nodeLister, podLister, serverOf } from "./kube-client.ts";
import { ListWatch, type BackoffSettings, type ListWatchOptions } from "./list-watch.ts";

/** Settings of a ClusterInventory; all but kubeConfig and logger have defaults. */
export interface ClusterInventoryOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** Registry for the inventory metrics; nothing is recorded without one. */
  readonly registry?: Registry;
  /** How long the node watch may be down before inventory() turns empty; default 30 000 ms. */
  readonly staleAfterMs?: number;
  /** Delays between reconnection attempts; default 800 ms doubling up to 30 000 ms. */
  readonly backoff?: BackoffSettings;
  /** Shortest server-side watch timeout, in seconds; default 300. */
  readonly watchTimeoutSeconds?: number;
  /** Objects per list page; default 500. */
  readonly listPageSize?: number;
  /** Timeout of one list request, in milliseconds; default 60 000. */
  readonly requestTimeoutMs?: number;
}

/**
 * Pods that hold resources on a node: scheduled, and neither succeeded nor failed. The cluster
 * autoscaler lists the scheduled pods it counts with the same selector.
 */
export const ACTIVE_POD_SELECTOR = "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed";

// Stale node data keeps steering pods to nodes whose images may have changed, so hints stop
// after this long without a node watch. Long enough to ride out an API server restart.
const DEFAULT_STALE_AFTER_MS = 30_000;
// client-go's reflector backs off from 800 ms, doubling, up to 30 s.
const DEFAULT_BACKOFF: BackoffSettings = { initialMs: 800, maxMs: 30_000 };
// client-go's reflector requests a random watch timeout between 5 and 10 minutes, which spreads
// the reconnections of many clients after an API server restart.
const DEFAULT_WATCH_TIMEOUT_SECONDS = 300;
const DEFAULT_PAGE_SIZE = 500;
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
const MAX_LIST_PAGES = 10_000;

/** List-and-watch of nodes into a NodeIndex and of active pods into a NodeLoad. */
export class ClusterInventory {
  private readonly index = new NodeIndex();
  private readonly empty = new NodeIndex();
  private readonly nodeLoad = new NodeLoad();
  private readonly abort = new AbortController();
  private readonly metrics: InventoryMetrics;
  private readonly nodes: ListWatch;
  private readonly pods: ListWatch;
  private readonly staleAfterMs: number;
  private disconnectedSince: number | undefined;
  private staleTimer: NodeJS.Timeout | undefined;
  private staleWarned = false;

  constructor(private readonly options: ClusterInventoryOptions) {
    const { kubeConfig, logger } = options;
    this.staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
    this.metrics = createInventoryMetrics(options.registry, () => this.index, ["nodes", "pods"]);

    const api = createCoreApi(
      kubeConfig,
      this.abort.signal,
      options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    );
    const server = serverOf(kubeConfig);
    const pageSize = options.listPageSize ?? DEFAULT_PAGE_SIZE;
    this.nodes = this.createLoop({
      resource: "nodes",
      path: "/api/v1/nodes",
      list: nodeLister(api, server, pageSize),
      sink: new NodeSink(this.index, logger),
    });
    this.pods = this.createLoop({
      resource: "pods",
      path: "/api/v1/pods",
      fieldSelector: ACTIVE_POD_SELECTOR,
      list: podLister(api, server, pageSize, ACTIVE_POD_SELECTOR),
      sink: new PodSink(this.nodeLoad),
    });
  }

  /** Starts listing and watching in the background; returns at once. */
  start(): void {
    this.options.logger.info(
      { server: serverOf(this.options.kubeConfig) },
      "watching nodes and pods",
    );
    this.markDisconnected();
    this.nodes.start();
    this.pods.start();
  }

  /** Stops both loops and their requests; resolves once they have ended. */
  async stop(): Promise<void> {
    const stopped = [this.nodes.stop(), this.pods.stop()];
    this.abort.abort();
    await Promise.all(stopped);
    // The loops report their last disconnection before they end, which starts this timer.
    clearTimeout(this.staleTimer);
  }

  /** Returns true once the nodes have been listed. /readyz waits for this. */
  isSynced(): boolean {
    return this.nodes.isSynced();
  }

  /** Returns true while both the node and the pod watch are connected. */
  isWatching(): boolean {
    return this.nodes.isConnected() && this.pods.isConnected();
  }

  /**
   * Returns the node inventory. While the node watch has been down for longer than
   * staleAfterMs it returns an empty one, so hints stop rather than follow nodes that may have
   * changed.
   */
  inventory(): Inventory {
    const since = this.disconnectedSince;
    return since !== undefined && Date.now() - since >= this.staleAfterMs ? this.empty : this.index;
  }

  /** Returns the requests of active pods per node, and the hints issued on top of them. */
  load(): NodeLoad {
    return this.nodeLoad;
  }

  private createLoop(
    settings: Pick<ListWatchOptions, "resource" | "path" | "fieldSelector" | "list" | "sink">,
  ): ListWatch {
    const { kubeConfig, logger } = this.options;
    const { resource } = settings;
    return new ListWatch({
      ...settings,
      watch: new Watch(kubeConfig),
      logger,
      backoff: this.options.backoff ?? DEFAULT_BACKOFF,
      watchTimeoutSeconds: this.options.watchTimeoutSeconds ?? DEFAULT_WATCH_TIMEOUT_SECONDS,
      hooks: {
        onConnectionChange: (connected) => {
          this.metrics.connected(resource, connected);
          if (resource === "nodes") {
            this.onNodeConnectionChange(connected);
          }
        },
        onSync: () => this.metrics.synced(resource),
        onRestart: () => this.metrics.restarted(resource),
      },
    });
  }

  private onNodeConnectionChange(connected: boolean): void {
    if (!connected) {
      this.markDisconnected();
      return;
    }
    clearTimeout(this.staleTimer);
    const since = this.disconnectedSince ?? Date.now();
    this.disconnectedSince = undefined;
    if (this.staleWarned) {
      this.staleWarned = false;
      const disconnectedSeconds = Math.round((Date.now() - since) / 1000);
      this.options.logger.info({ disconnectedSeconds }, "node watch connected again; hints resume");
    }
  }

  /** Starts the clock after which the node data counts as stale, and warns once when it runs out. */
  private markDisconnected(): void {
    this.disconnectedSince = Date.now();
    clearTimeout(this.staleTimer);
    this.staleTimer = setTimeout(() => {
      this.staleWarned = true;
      this.options.logger.warn(
        { staleAfterMs: this.staleAfterMs },
        `node watch disconnected for ${this.staleAfterMs / 1000} s, so the node data may be ` +
          "out of date; adding no node hints until it reconnects",
      );
    }, this.staleAfterMs);
    this.staleTimer.unref();
  }
}

/**
 * Lists the nodes once through the kubeconfig at `kubeconfigPath` (its current context, or
 * `context`) and returns them indexed; nothing is watched. Throws InvalidKubeconfigError for an
 * unusable kubeconfig and ClusterRequestError when the list fails.
 */
export async function loadClusterInventoryOnce(
  kubeconfigPath: string,
  context?: string,
): Promise<NodeIndex> {
  const kubeConfig = loadKubeconfig({
    kind: "file",
    path: kubeconfigPath,
    ...(context === undefined ? {} : { context }),
  });
  const api = createCoreApi(kubeConfig, new AbortController().signal, DEFAULT_REQUEST_TIMEOUT_MS);
  const list = nodeLister(api, serverOf(kubeConfig), DEFAULT_PAGE_SIZE);

  const index = new NodeIndex();
  let continueToken: string | undefined;
  for (let page = 0; page < MAX_LIST_PAGES; page += 1) {
    const result = await list(continueToken);
    for (const node of result.items) {
      index.upsert(node);
    }
    continueToken = result.continueToken;
    if (continueToken === undefined) {
      return index;
    }
  }
  throw new ClusterRequestError(
    `listing nodes did not end within ${MAX_LIST_PAGES} pages`,
    undefined,
  );
}
