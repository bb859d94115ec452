// The pre-pull side of policy (d): cold images recorded by recordAdmission into a queue, merged
// into the record with mergeEntries and evictEntries as the recorder's flush does, and pulls
// planned by planPulls on every controller pass, as src/prepull/controller.ts runs them. A pull
// takes its missing bytes over the node's bandwidth and then lands on the node.
import type { ReviewOutcome } from "../../src/admission/contract.ts";
import type { Inventory } from "../../src/inventory/inventory.ts";
import type { LayerSource } from "../../src/locality/layers.ts";
import type { NodeLoadView } from "../../src/locality/load.ts";
import { factsFromLayers } from "../../src/prepull/image-facts.ts";
import { holdersOf, spareShare } from "../../src/prepull/node-view.ts";
import { planPulls } from "../../src/prepull/plan.ts";
import { PullProgress } from "../../src/prepull/progress.ts";
import {
  entryKey,
  evictEntries,
  mergeEntries,
  type ColdImageEntry,
} from "../../src/prepull/record.ts";
import { recordAdmission, type ColdImageSighting } from "../../src/prepull/recorder.ts";
import { prepullSettings, type PrepullSettings } from "../../src/prepull/settings.ts";
import type { Catalog } from "./catalog.ts";
import type { SimNode } from "./nodes.ts";

interface RunningPull {
  readonly key: string;
  readonly image: string;
  readonly node: string;
  readonly finishAt: number;
  readonly bytes: number;
}

export class PrepullModel {
  readonly settings: PrepullSettings;
  readonly #progress = new PullProgress();
  readonly #facts;
  #queue: ColdImageEntry[] = [];
  #record: ColdImageEntry[] = [];
  #running: RunningPull[] = [];
  /** Bytes downloaded by pre-pulls, and pulls finished. */
  backgroundBytes = 0;
  pulls = 0;

  constructor(
    overrides: Record<string, unknown>,
    layers: LayerSource,
    private readonly catalog: Catalog,
  ) {
    this.settings = prepullSettings(overrides);
    this.#facts = factsFromLayers(layers);
  }

  /** Queues the cold images of one admission, as the server's onReviewed hook does. */
  recordAdmission(outcome: ReviewOutcome, body: unknown, nowSeconds: number): void {
    const recorder = {
      enqueue: (sightings: readonly ColdImageSighting[]) => {
        for (const sighting of sightings) {
          this.#queue.push({
            image: sighting.image,
            namespace: sighting.namespace,
            pullSecrets: sighting.pullSecrets,
            firstSeen: sighting.seenAt,
            lastSeen: sighting.seenAt,
            count: 1,
          });
        }
      },
    };
    recordAdmission(recorder, outcome, body, nowSeconds * 1000);
  }

  /** Flushes the queue into the record (every flushIntervalMs in the server). */
  flush(nowSeconds: number): void {
    if (this.#queue.length === 0) {
      return;
    }
    const merged = mergeEntries(this.#record, this.#queue);
    this.#record = evictEntries(merged, this.settings, nowSeconds * 1000).kept;
    this.#queue = [];
  }

  /** One controller pass: finishes due pulls, then plans and starts new ones. */
  reconcile(
    nowSeconds: number,
    nodes: ReadonlyMap<string, SimNode>,
    inventory: Inventory,
    load: NodeLoadView,
    pullMBps: number,
  ): void {
    const now = nowSeconds * 1000;
    this.#finish(nowSeconds, nodes);
    const entries = evictEntries(this.#record, this.settings, now).kept;
    this.#progress.retain(new Set(entries.map(entryKey)), new Set(nodes.keys()));
    const holders = new Map<string, ReadonlySet<string>>();
    const plan = planPulls({
      entries,
      nodes: inventory.nodes,
      isReported: (image, node) => {
        let found = holders.get(image);
        if (found === undefined) {
          found = holdersOf(inventory, image);
          holders.set(image, found);
        }
        return found.has(node);
      },
      spare: (node) => spareShare(node, load),
      facts: (image) => this.#facts.describe(image),
      progress: this.#progress,
      settings: this.settings,
      now,
    });
    for (const pull of plan.pulls) {
      const node = nodes.get(pull.node.name);
      const image = this.catalog.image(pull.entry.image);
      if (node === undefined) {
        continue;
      }
      const key = entryKey(pull.entry);
      const seconds = node.missingBytes(image) / (pullMBps * 1e6);
      this.#progress.set(key, pull.entry.image, node.name, {
        kind: "running",
        pod: `pull-${this.pulls + this.#running.length}`,
        since: now,
        bytes: pull.bytes,
      });
      this.#running.push({
        key,
        image: pull.entry.image,
        node: node.name,
        finishAt: nowSeconds + seconds,
        bytes: pull.bytes,
      });
    }
  }

  #finish(nowSeconds: number, nodes: ReadonlyMap<string, SimNode>): void {
    const still: RunningPull[] = [];
    for (const pull of this.#running) {
      if (pull.finishAt > nowSeconds) {
        still.push(pull);
        continue;
      }
      const node = nodes.get(pull.node);
      if (node !== undefined) {
        this.backgroundBytes += node.pull(this.catalog.image(pull.image), nowSeconds);
        this.pulls += 1;
      }
      this.#progress.set(pull.key, pull.image, pull.node, {
        kind: "done",
        at: nowSeconds * 1000,
        bytes: pull.bytes,
      });
    }
    this.#running = still;
  }
}
