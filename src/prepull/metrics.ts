// Prometheus metrics of recording and pre-pulling, all named kube_image_cache_prepull_*. Without
// a registry the recorders record nothing, as the inventory metrics do.
import { Counter, Gauge, type Registry } from "prom-client";

/** Metrics of the cold-image recorder. */
export interface RecorderMetrics {
  dropped(count: number): void;
  queued(size: number): void;
  flushed(result: "ok" | "failed"): void;
  evicted(reason: "expired" | "overflow", count: number): void;
  stored(entries: number): void;
}

/** Per-state node counts summed over images, as `prepull status` shows them. */
export interface ProgressTotals {
  readonly images: number;
  readonly done: number;
  readonly pending: number;
  readonly failed: number;
  readonly running: number;
}

/** Metrics of the pre-pull controller. */
export interface ControllerMetrics {
  progress(totals: ProgressTotals): void;
  finished(result: "pulled" | "failed", bytes: number): void;
  leader(isLeader: boolean): void;
}

const NO_RECORDER_METRICS: RecorderMetrics = {
  dropped: () => undefined,
  queued: () => undefined,
  flushed: () => undefined,
  evicted: () => undefined,
  stored: () => undefined,
};

const NO_CONTROLLER_METRICS: ControllerMetrics = {
  progress: () => undefined,
  finished: () => undefined,
  leader: () => undefined,
};

/** Registers the recorder metrics in `registry`; without one, returns metrics that do nothing. */
export function createRecorderMetrics(registry: Registry | undefined): RecorderMetrics {
  if (registry === undefined) {
    return NO_RECORDER_METRICS;
  }
  const registers = [registry];
  const dropped = new Counter({
    name: "kube_image_cache_prepull_record_queue_dropped_total",
    help: "Cold-image sightings dropped because the record queue was full; the oldest go first.",
    registers,
  });
  const queued = new Gauge({
    name: "kube_image_cache_prepull_record_queue_entries",
    help: "Distinct images waiting in the record queue for the next flush.",
    registers,
  });
  const flushes = new Counter({
    name: "kube_image_cache_prepull_record_flushes_total",
    help: "Flushes of the record queue to the shared record, by result.",
    labelNames: ["result"] as const,
    registers,
  });
  const evictions = new Counter({
    name: "kube_image_cache_prepull_record_evicted_total",
    help: "Record entries evicted, by reason: expired (TTL) or overflow (entry or byte bound).",
    labelNames: ["reason"] as const,
    registers,
  });
  const entries = new Gauge({
    name: "kube_image_cache_prepull_record_entries",
    help: "Entries in the shared record after the last flush of this instance.",
    registers,
  });

  // Start every series at zero so rate() works from the first scrape on.
  dropped.inc(0);
  for (const result of ["ok", "failed"]) {
    flushes.labels(result).inc(0);
  }

  return {
    dropped: (count) => dropped.inc(count),
    queued: (size) => queued.set(size),
    flushed: (result) => flushes.labels(result).inc(),
    evicted: (reason, count) => evictions.labels(reason).inc(count),
    stored: (count) => entries.set(count),
  };
}

/** Registers the controller metrics in `registry`; without one, returns metrics that do nothing. */
export function createControllerMetrics(registry: Registry | undefined): ControllerMetrics {
  if (registry === undefined) {
    return NO_CONTROLLER_METRICS;
  }
  const registers = [registry];

  const images = new Gauge({
    name: "kube_image_cache_prepull_images",
    help: "Recorded images and namespaces the controller pre-pulls.",
    registers,
  });
  const nodes = new Gauge({
    name: "kube_image_cache_prepull_nodes",
    help: "Target nodes summed over recorded images, by state: done, pending or failed.",
    labelNames: ["state"] as const,
    registers,
  });
  const running = new Gauge({
    name: "kube_image_cache_prepull_pulls_running",
    help: "Pull pods running now.",
    registers,
  });
  const pulls = new Counter({
    name: "kube_image_cache_prepull_pulls_total",
    help: "Finished pulls, by result: pulled or failed.",
    labelNames: ["result"] as const,
    registers,
  });
  const bytes = new Counter({
    name: "kube_image_cache_prepull_pulled_bytes_total",
    help: "Compressed bytes of the images pulled, from their manifests (an upper bound: layers a node already had are not downloaded again).",
    registers,
  });
  const leader = new Gauge({
    name: "kube_image_cache_prepull_leader",
    help: "1 while this instance holds the pre-pull lease, else 0.",
    registers,
  });

  // Start every series at zero so rate() works from the first scrape on.
  for (const result of ["pulled", "failed"]) {
    pulls.labels(result).inc(0);
  }
  bytes.inc(0);
  leader.set(0);

  return {
    progress(totals) {
      images.set(totals.images);
      nodes.labels("done").set(totals.done);
      nodes.labels("pending").set(totals.pending);
      nodes.labels("failed").set(totals.failed);
      running.set(totals.running);
    },
    finished(result, pulledBytes) {
      pulls.labels(result).inc();
      bytes.inc(pulledBytes);
    },
    leader: (isLeader) => leader.set(isLeader ? 1 : 0),
  };
}
