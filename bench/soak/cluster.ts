// The synthetic cluster of the soak benchmark: nodes that report images from a shared catalog,
// pods that use those images (and a few no node holds), and the churn applied to the
// API-server double while the load runs.
import { createReview, podWith } from "../../test/support/pods.ts";
import type { ApiServerDouble } from "../../test/support/apiserver-double.ts";
import { UID_PLACEHOLDER } from "./protocol.ts";
import { seededRandom } from "../hints/cluster.ts";

export { seededRandom };

// The example configuration rewrites docker.io images to this mirror prefix.
const MIRROR_PREFIX = "registry.example.com/dockerhub";
const CATALOG_SIZE = 300;
const IMAGES_PER_NODE = 40;
const WORKLOADS = 60;
const NAMESPACES = ["team-a", "team-b", "team-c", "team-d"];

/** Returns the image a pod names (docker.io) and the name a node reports after pulling it. */
function catalogImage(index: number): { pod: string; node: string } {
  const path = `team/app-${index}:1.${index % 7}`;
  return { pod: path, node: `${MIRROR_PREFIX}/${path}` };
}

function pickImages(random: () => number, count: number): number[] {
  const picked = new Set<number>();
  while (picked.size < count) {
    // Squaring skews the choice toward low indexes, so some images are on most nodes.
    picked.add(Math.floor(random() ** 2 * CATALOG_SIZE));
  }
  return [...picked];
}

/** Builds a Node reporting IMAGES_PER_NODE catalog images, with 16 CPUs and 64 GiB. */
export function buildNode(name: string, random: () => number): Record<string, unknown> {
  const zone = `zone-${Math.floor(random() * 3)}`;
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels: {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "topology.kubernetes.io/zone": zone,
      },
    },
    spec: {},
    status: {
      allocatable: { cpu: "16", memory: "64Gi", pods: "110" },
      nodeInfo: { architecture: "amd64", operatingSystem: "linux" },
      images: pickImages(random, IMAGES_PER_NODE).map((index) => ({
        names: [catalogImage(index).node],
        sizeBytes: 20_000_000 + index * 100_000,
      })),
    },
  };
}

export function nodeName(index: number): string {
  return `node-${String(index).padStart(5, "0")}`;
}

/**
 * Builds the review bodies the load client cycles through: one per workload, each a pod of one
 * or two catalog images, and every tenth with an image no node holds, which the webhook records
 * as cold. The uid is UID_PLACEHOLDER, replaced per request.
 */
export function buildReviewTemplates(random: () => number): string[] {
  const templates: string[] = [];
  for (let workload = 0; workload < WORKLOADS; workload += 1) {
    const images = pickImages(random, 1 + (workload % 2)).map((index) => catalogImage(index).pod);
    if (workload % 10 === 0) {
      images.push(`team/cold-${workload}:1`);
    }
    const containers = images.map((image, position) => ({
      name: `c${position}`,
      image,
      resources: { requests: { cpu: "250m", memory: "256Mi" } },
    }));
    const namespace = NAMESPACES[workload % NAMESPACES.length] ?? "default";
    templates.push(JSON.stringify(createReview(podWith(containers), namespace, UID_PLACEHOLDER)));
  }
  return templates;
}

/** Rates of the churn; each timer is off when its value is 0. */
export interface ChurnSettings {
  /** Node status updates (one to three images replaced) per second. */
  readonly updatesPerSecond: number;
  /** Interval between a node leaving and a new node joining, in milliseconds. */
  readonly joinLeaveMs: number;
  /** Interval between forced 410 Gone responses (history compacted, watches cut), in ms. */
  readonly goneMs: number;
}

/** Counts of the churn applied so far. */
export interface ChurnCounts {
  updates: number;
  joined: number;
  left: number;
  forcedExpiries: number;
}

/**
 * Starts changing the double's nodes: image lists, joins and leaves, and periodic 410 Gone by
 * compacting the history and cutting the watches, so every watcher relists. Returns a function
 * that stops the churn and the counts so far.
 */
export function startChurn(
  double: ApiServerDouble,
  nodeCount: number,
  settings: ChurnSettings,
  random: () => number,
): { stop: () => void; counts: ChurnCounts } {
  const live = Array.from({ length: nodeCount }, (_, index) => nodeName(index));
  let nextIndex = nodeCount;
  const counts: ChurnCounts = { updates: 0, joined: 0, left: 0, forcedExpiries: 0 };
  const timers: NodeJS.Timeout[] = [];

  if (settings.updatesPerSecond > 0) {
    timers.push(
      setInterval(() => {
        const name = live[Math.floor(random() * live.length)];
        if (name !== undefined) {
          double.update("nodes", buildNode(name, random));
          counts.updates += 1;
        }
      }, 1000 / settings.updatesPerSecond),
    );
  }
  if (settings.joinLeaveMs > 0) {
    timers.push(
      setInterval(() => {
        const [leaving] = live.splice(Math.floor(random() * live.length), 1);
        if (leaving !== undefined) {
          double.remove("nodes", leaving);
          counts.left += 1;
        }
        const joining = nodeName(nextIndex);
        nextIndex += 1;
        double.add("nodes", buildNode(joining, random));
        live.push(joining);
        counts.joined += 1;
      }, settings.joinLeaveMs),
    );
  }
  if (settings.goneMs > 0) {
    timers.push(
      setInterval(() => {
        // Compacting first means the watches resume from a version the double no longer has.
        double.compact();
        double.dropWatches();
        counts.forcedExpiries += 1;
      }, settings.goneMs),
    );
  }
  return {
    stop: () => timers.forEach((timer) => clearInterval(timer)),
    counts,
  };
}
