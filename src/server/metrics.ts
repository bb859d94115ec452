// Prometheus metrics for one server instance. Each instance owns its Registry instead of
// prom-client's global one, so several servers can run in one process (as tests do).
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

import { droppedLogLines } from "../logger.ts";

/** Outcome of one POST /mutate, used as the `result` label of the request counter. */
export type AdmissionResult = "mutated" | "unchanged" | "skipped" | "invalid" | "error" | "timeout";

const ADMISSION_RESULTS: readonly AdmissionResult[] = [
  "mutated",
  "unchanged",
  "skipped",
  "invalid",
  "error",
  "timeout",
];

// Seconds. A review is pure in-memory work that normally takes well under 10 ms, so the buckets
// are fine below that. Coarser ones follow up to the deadline, which bounds the review.
const DURATION_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** Counts taken from one reviewed admission. */
export interface AdmissionCounts {
  readonly imagesRewritten: number;
  readonly preferredNodesAdded: number;
  readonly coldImages: number;
}

/** The metrics of one server and the registry that exposes them. */
export interface ServerMetrics {
  readonly registry: Registry;
  /** Records one POST /mutate: its result, its duration in seconds and, if reviewed, counts. */
  recordAdmission(result: AdmissionResult, seconds: number, counts?: AdmissionCounts): void;
}

/**
 * Registers the admission metrics and Node's default process metrics, on a new registry unless
 * one is given. `deadlineMs` is the admission deadline; the duration buckets end there.
 */
export function createServerMetrics(
  deadlineMs: number,
  registry: Registry = new Registry(),
): ServerMetrics {
  collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: "kube_image_cache_admission_requests_total",
    help: "Admission requests received on /mutate, by result.",
    labelNames: ["result"] as const,
    registers: [registry],
  });
  // Start every series at zero so rate() works from the first scrape on.
  for (const result of ADMISSION_RESULTS) {
    requests.labels(result).inc(0);
  }

  const duration = new Histogram({
    name: "kube_image_cache_admission_duration_seconds",
    help: "Time from receiving a /mutate request to sending its response, in seconds.",
    buckets: bucketsUpTo(deadlineMs / 1000),
    registers: [registry],
  });
  const imagesRewritten = counter(
    registry,
    "kube_image_cache_images_rewritten_total",
    "Container images rewritten to a mirror.",
  );
  const preferredNodesAdded = counter(
    registry,
    "kube_image_cache_preferred_nodes_added_total",
    "Preferred node affinity terms added to pods.",
  );
  const coldImages = counter(
    registry,
    "kube_image_cache_cold_images_total",
    "Images in admitted pods that no node reported holding.",
  );

  let reportedDrops = 0;
  new Counter({
    name: "kube_image_cache_log_lines_dropped_total",
    help: "Log lines dropped because standard output stayed blocked with 16 MiB waiting.",
    registers: [registry],
    collect() {
      const dropped = droppedLogLines();
      this.inc(dropped - reportedDrops);
      reportedDrops = dropped;
    },
  });

  return {
    registry,
    recordAdmission(result, seconds, counts) {
      requests.labels(result).inc();
      duration.observe(seconds);
      if (counts !== undefined) {
        imagesRewritten.inc(counts.imagesRewritten);
        preferredNodesAdded.inc(counts.preferredNodesAdded);
        coldImages.inc(counts.coldImages);
      }
    },
  };
}

function counter(registry: Registry, name: string, help: string): Counter {
  return new Counter({ name, help, registers: [registry] });
}

/** Returns the standard buckets below the deadline, followed by the deadline itself. */
function bucketsUpTo(deadlineSeconds: number): number[] {
  const below = DURATION_BUCKETS.filter((bucket) => bucket < deadlineSeconds);
  return [...below, deadlineSeconds];
}
