// The webhook side of a policy, wired as src/server wires it: the node inventory fed by node
// status syncs, the node layer index rebuilt after them, the node load fed by bound pods, and
// each pod reviewed by the real admission pipeline. Hints are recorded against their nodes by
// LocalityRuntime.record, the same code the server runs after a review.
import { Registry } from "prom-client";

import type { ReviewOutcome } from "../../src/admission/contract.ts";
import { reviewAdmission } from "../../src/admission/review.ts";
import { validateConfig, type Config } from "../../src/config.ts";
import { NodeIndex } from "../../src/inventory/inventory.ts";
import { singleNodeOfTerm } from "../../src/locality/affinity.ts";
import type { LayerSource } from "../../src/locality/layers.ts";
import { NodeLoad } from "../../src/locality/load.ts";
import {
  buildNodeLayerIndex,
  EMPTY_LAYER_INDEX,
  type NodeLayerIndex,
} from "../../src/locality/node-layers.ts";
import { createLogger } from "../../src/logger.ts";
import { arrayField, field } from "../../src/object-fields.ts";
import { LocalityRuntime } from "../../src/server/locality-runtime.ts";
import type { SimNode } from "./nodes.ts";
import type { PodTemplate } from "./workload.ts";

export interface WebhookOptions {
  /** The webhook's configuration file content (affinity and balance sections). */
  readonly config: Record<string, unknown>;
  /** Manifest data for layer-level hints; without it hints match whole images. */
  readonly layers?: LayerSource;
  /** The simulation clock, in seconds. */
  readonly now: () => number;
}

export interface Admission {
  readonly outcome: ReviewOutcome;
  readonly body: Record<string, unknown>;
  /** Preferred node terms of the mutated pod: node -> weight. */
  readonly preferred: ReadonlyMap<string, number>;
}

export class Webhook {
  readonly config: Config;
  readonly inventory = new NodeIndex();
  readonly load: NodeLoad;
  readonly #layers: LayerSource | undefined;
  readonly #runtime: LocalityRuntime;
  #nodeLayers: NodeLayerIndex = EMPTY_LAYER_INDEX;

  constructor(options: WebhookOptions) {
    this.config = validateConfig(
      { ...options.config, registry: { enabled: false }, mirrorHealth: { enabled: false } },
      "bench/scheduling params.json webhook",
    );
    this.load = new NodeLoad(() => options.now() * 1000);
    this.#layers = options.layers;
    this.#runtime = new LocalityRuntime({
      config: this.config,
      inventory: () => this.inventory,
      load: () => this.load,
      metrics: new Registry(),
      logger: createLogger({ level: "silent" }),
    });
  }

  /** Applies node status syncs and rebuilds the layer index, as the background refresh does. */
  syncNodes(objects: readonly Record<string, unknown>[], removed: readonly string[]): void {
    for (const name of removed) {
      this.inventory.remove(name);
    }
    for (const object of objects) {
      this.inventory.upsert(object);
    }
    if (this.#layers !== undefined && (objects.length > 0 || removed.length > 0)) {
      this.#nodeLayers = buildNodeLayerIndex(this.inventory, this.#layers);
    }
  }

  /** Reviews a pod creation and records the hints it issued. */
  admit(uid: string, template: PodTemplate): Admission {
    const body = reviewBody(uid, template);
    const outcome = reviewAdmission(body, {
      config: this.config,
      inventory: this.inventory,
      load: this.load,
      ...(this.#layers === undefined ? {} : { layers: this.#layers, nodeLayers: this.#nodeLayers }),
    });
    this.#runtime.record(outcome, body);
    return { outcome, body, preferred: preferredOf(outcome) };
  }

  bound(uid: string, node: SimNode, template: PodTemplate): void {
    this.load.setPod(uid, node.name, {
      cpuMillis: template.cpuMillis,
      memoryBytes: template.memoryBytes,
    });
  }

  deleted(uid: string): void {
    this.load.deletePod(uid);
  }
}

// The sidecar container requests this much of the pod's CPU.
const SIDECAR_CPU_MILLIS = 100;

/** An AdmissionReview of a pod creation, as the API server sends it. */
function reviewBody(uid: string, template: PodTemplate): Record<string, unknown> {
  const [main, ...sidecars] = template.images;
  const sidecarCpu = sidecars.length * SIDECAR_CPU_MILLIS;
  const containers = [
    container("main", main ?? "", template.cpuMillis - sidecarCpu, template.memoryBytes),
    ...sidecars.map((image, index) => container(`sidecar-${index}`, image, SIDECAR_CPU_MILLIS, 0)),
  ];
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      generateName: `${template.app}-`,
      namespace: template.namespace,
      labels: { app: template.app },
    },
    spec: {
      containers,
      ...(Object.keys(template.nodeSelector).length === 0
        ? {}
        : { nodeSelector: template.nodeSelector }),
      ...(template.gpu
        ? { tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }] }
        : {}),
    },
  };
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid,
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      operation: "CREATE",
      namespace: template.namespace,
      object: pod,
      dryRun: false,
    },
  };
}

function container(name: string, image: string, cpuMillis: number, memoryBytes: number): unknown {
  return {
    name,
    image,
    resources: { requests: { cpu: `${cpuMillis}m`, memory: String(memoryBytes) } },
  };
}

/** Reads the single-node preferred terms of the mutated pod, as the scheduler would match them. */
function preferredOf(outcome: ReviewOutcome): Map<string, number> {
  const preferred = new Map<string, number>();
  if (outcome.kind !== "reviewed") {
    return preferred;
  }
  const terms = arrayField(
    field(field(field(outcome.result.object, "spec"), "affinity"), "nodeAffinity"),
    "preferredDuringSchedulingIgnoredDuringExecution",
  );
  for (const term of terms) {
    const node = singleNodeOfTerm(term);
    const weight = field(term, "weight");
    if (node !== undefined && typeof weight === "number") {
      preferred.set(node, (preferred.get(node) ?? 0) + weight);
    }
  }
  return preferred;
}
