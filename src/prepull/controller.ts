// The pre-pull controller: every resync interval it reads the record, collects the outcomes of
// its pull pods, plans against the node inventory and starts the pulls the limits allow, then
// writes the status. Run it only while holding the lease (lease.ts).
import type { CoreV1Api } from "@kubernetes/client-node";

import type { Inventory, NodeSummary } from "../inventory/inventory.ts";
import type { NodeLoadView } from "../locality/load.ts";
import type { Logger } from "../logger.ts";
import { ConfigMapDocument } from "./configmap-document.ts";
import {
  imageBytesOn,
  NO_FACTS,
  withManifestDeadline,
  type ImageFactSource,
} from "./image-facts.ts";
import { sleep } from "./kube-api.ts";
import type { ControllerMetrics } from "./metrics.ts";
import { planPulls, type Plan, type PlannedPull } from "./plan.ts";
import { PullPods, type ListedPullPod } from "./pull-pods.ts";
import type { PullOutcome } from "./pull-pod.ts";
import { holdersOf, spareShare } from "./node-view.ts";
import { PullProgress } from "./progress.ts";
import { entryKey, evictEntries, type ColdImageEntry } from "./record.ts";
import { OBJECT_NAMES, type PrepullSettings } from "./settings.ts";
import {
  buildStatus,
  decodeStatus,
  encodeStatus,
  restoreProgress,
  statusSignature,
  STATUS_KEY,
  type PrepullStatus,
} from "./status.ts";
import { RECORD_LABELS, type RecordStore } from "./stores.ts";

/** Collaborators and settings of a controller. */
export interface PrepullControllerOptions {
  readonly core: CoreV1Api;
  /** The webhook's namespace, where the status ConfigMap lives. */
  readonly namespace: string;
  readonly store: RecordStore;
  readonly inventory: () => Inventory;
  /** False until the inventory has listed the nodes; passes wait for it. Default: ready. */
  readonly isReady?: () => boolean;
  /** Requested resources per node, for the mostSpare policy; without it every node is idle. */
  readonly load?: () => NodeLoadView | undefined;
  /** Image platforms and sizes; without it images are pulled everywhere at the assumed size. */
  readonly facts?: ImageFactSource;
  readonly settings: PrepullSettings;
  /** This instance's identity, written into the status. */
  readonly identity: string;
  readonly logger: Logger;
  readonly metrics: ControllerMetrics;
}

/** The pre-pull reconcile loop. */
export class PrepullController {
  readonly #options: PrepullControllerOptions;
  readonly #progress = new PullProgress();
  readonly #pods: PullPods;
  readonly #statusDocument: ConfigMapDocument;
  readonly #facts: ImageFactSource;
  #abort = new AbortController();
  #running: Promise<void> | undefined;
  #lastSignature = "";

  constructor(options: PrepullControllerOptions) {
    this.#options = options;
    this.#pods = new PullPods(options.core, options.logger);
    this.#facts = withManifestDeadline(
      options.facts ?? NO_FACTS,
      options.settings.manifestWaitSeconds,
    );
    this.#statusDocument = new ConfigMapDocument({
      api: options.core,
      namespace: options.namespace,
      name: OBJECT_NAMES.status,
      key: STATUS_KEY,
      labels: { ...RECORD_LABELS, "app.kubernetes.io/component": "prepull-status" },
    });
  }

  /** Starts reconciling every resyncIntervalMs. Later calls while running do nothing. */
  start(): void {
    if (this.#running !== undefined) {
      return;
    }
    this.#abort = new AbortController();
    this.#running = this.#loop(this.#abort.signal);
  }

  /** Stops the loop and waits for the pass in progress. Pull pods keep running. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running;
    this.#running = undefined;
  }

  /** Runs one pass and returns the status it wrote. */
  async reconcile(): Promise<PrepullStatus> {
    const now = Date.now();
    const entries = evictEntries(
      await this.#options.store.read(),
      this.#options.settings,
      now,
    ).kept;
    const nodes = this.#options.inventory().nodes;
    const byName = new Map(nodes.map((node) => [node.name, node]));

    await this.#collect(entries, byName, now);
    this.#progress.retain(new Set(entries.map(entryKey)), new Set(byName.keys()));
    const plan = this.#plan(entries, nodes, now);
    await this.#startPulls(plan.pulls, now);

    const status = buildStatus(plan.entries, this.#progress.running(), this.#options.identity, now);
    this.#options.metrics.progress(status.totals);
    await this.#writeStatus(status);
    return status;
  }

  async #loop(signal: AbortSignal): Promise<void> {
    await this.#restore();
    let failures = 0;
    while (!signal.aborted) {
      try {
        // Planning against an empty inventory would write a status with every node missing.
        if (this.#options.isReady?.() ?? true) {
          await this.reconcile();
        }
        if (failures > 0) {
          this.#options.logger.info({ failures }, "pre-pull passes succeed again");
        }
        failures = 0;
      } catch (error: unknown) {
        // The first failure of a run is a warning; the repeats go to debug, counted.
        failures += 1;
        const level = failures === 1 ? "warn" : "debug";
        this.#options.logger[level]({ err: error, failures }, "pre-pull pass failed; retrying");
      }
      await sleep(this.#options.settings.resyncIntervalMs, signal);
    }
  }

  /** Reads back what a previous leader finished, so nothing is pulled twice. */
  async #restore(): Promise<void> {
    try {
      const text = await this.#statusDocument.read();
      const status = text === undefined ? undefined : decodeStatus(text);
      if (status === undefined) {
        return;
      }
      const entries = await this.#options.store.read();
      const restored = restoreProgress(
        status,
        this.#progress,
        new Set(entries.map(entryKey)),
        this.#options.settings.assumedImageBytes,
      );
      this.#options.logger.info(
        { restored, holder: status.holder, updatedAt: status.updatedAt },
        "restored pre-pull progress from the status",
      );
    } catch (error: unknown) {
      this.#options.logger.warn(
        { err: error },
        "failed to restore pre-pull progress; starting over",
      );
    }
  }

  /** Reads every pull pod: records finished pulls, deletes their pods, adopts running ones. */
  async #collect(
    entries: readonly ColdImageEntry[],
    nodes: ReadonlyMap<string, NodeSummary>,
    now: number,
  ): Promise<void> {
    const live = new Map(entries.map((entry) => [entryKey(entry), entry]));
    const pods = await this.#pods.list();
    for (const pod of pods) {
      const entry = live.get(pod.key);
      if (entry === undefined) {
        await this.#pods.delete(pod, "its image is no longer recorded");
        continue;
      }
      const previous = this.#progress.get(pod.key, pod.node);
      const bytes =
        previous?.kind === "running" ? previous.bytes : this.#estimate(entry, nodes.get(pod.node));
      const outcome = this.#pods.outcomeOf(pod, now, this.#options.settings.pullTimeoutSeconds);
      this.#record(entry, pod, outcome, bytes, now);
      if (outcome.kind !== "running") {
        await this.#pods.delete(pod, outcome.kind);
      }
    }

    // A running pull whose pod is gone (deleted by someone else) is planned again.
    const seen = new Set(pods.map((pod) => `${pod.key}\n${pod.node}`));
    for (const [key, node] of this.#progress.runningPulls()) {
      if (!seen.has(`${key}\n${node}`)) {
        this.#progress.delete(key, node);
      }
    }
  }

  /** Records one pod's outcome in the progress, the metrics and the log. */
  #record(
    entry: ColdImageEntry,
    pod: ListedPullPod,
    outcome: PullOutcome,
    bytes: number,
    now: number,
  ): void {
    const target = { image: entry.image, namespace: entry.namespace, node: pod.node };
    switch (outcome.kind) {
      case "running":
        this.#progress.set(pod.key, entry.image, pod.node, {
          kind: "running",
          pod: pod.name,
          since: pod.created,
          bytes,
        });
        return;
      case "pulled":
        this.#progress.set(pod.key, entry.image, pod.node, { kind: "done", at: now, bytes });
        this.#options.metrics.finished("pulled", bytes);
        this.#options.logger.info({ ...target, bytes }, "image pre-pulled");
        return;
      case "failed": {
        const { reason, imageWide } = outcome;
        this.#progress.set(pod.key, entry.image, pod.node, {
          kind: "failed",
          at: now,
          reason,
          imageWide,
        });
        this.#options.metrics.finished("failed", 0);
        this.#options.logger.warn({ ...target, reason }, "pre-pull failed");
        return;
      }
    }
  }

  #plan(entries: readonly ColdImageEntry[], nodes: readonly NodeSummary[], now: number): Plan {
    const inventory = this.#options.inventory();
    const load = this.#options.load?.();
    const holders = new Map<string, ReadonlySet<string>>();
    return planPulls({
      entries,
      nodes,
      isReported: (image, node) => {
        let nodesHolding = holders.get(image);
        if (nodesHolding === undefined) {
          nodesHolding = holdersOf(inventory, image);
          holders.set(image, nodesHolding);
        }
        return nodesHolding.has(node);
      },
      spare: (node) => spareShare(node, load),
      facts: (image) => this.#facts.describe(image),
      progress: this.#progress,
      settings: this.#options.settings,
      now,
    });
  }

  async #startPulls(pulls: readonly PlannedPull[], now: number): Promise<void> {
    const { settings } = this.#options;
    for (const { entry, node, bytes } of pulls) {
      const key = entryKey(entry);
      const result = await this.#pods.create(entry, node, settings);
      if (result.kind === "created") {
        this.#progress.set(key, entry.image, node.name, {
          kind: "running",
          pod: result.name,
          since: now,
          bytes,
        });
      } else {
        const reason = `cannot create the pull pod: ${result.reason}`;
        this.#progress.set(key, entry.image, node.name, {
          kind: "failed",
          at: now,
          reason,
          imageWide: true,
        });
        this.#options.logger.warn(
          { image: entry.image, namespace: entry.namespace, node: node.name, reason },
          "pre-pull failed",
        );
      }
    }
  }

  #estimate(entry: ColdImageEntry, node: NodeSummary | undefined): number {
    const assumed = this.#options.settings.assumedImageBytes;
    return node === undefined
      ? assumed
      : imageBytesOn(this.#facts.describe(entry.image), node, assumed);
  }

  async #writeStatus(status: PrepullStatus): Promise<void> {
    const signature = statusSignature(status);
    if (signature === this.#lastSignature) {
      return;
    }
    await this.#statusDocument.update(() => encodeStatus(status));
    this.#lastSignature = signature;
  }
}
