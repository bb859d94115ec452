// The cold-image recorder: admissions hand it the cold images they found, and it keeps them in a
// bounded, deduplicated in-memory queue that a timer flushes in batches to the shared record.
// Nothing on the admission path waits for the store.
import type { Registry } from "prom-client";

import type { ReviewOutcome } from "../admission/contract.ts";
import type { Logger } from "../logger.ts";
import { arrayField, field, stringField } from "../object-fields.ts";
import { createRecorderMetrics, type RecorderMetrics } from "./metrics.ts";
import { entryKey, evictEntries, mergeEntries, mergeEntry, type ColdImageEntry } from "./record.ts";
import { DEFAULT_PREPULL_SETTINGS, type PrepullSettings } from "./settings.ts";
import type { RecordStore } from "./stores.ts";

/** One image found cold by one admission. */
export interface ColdImageSighting {
  readonly image: string;
  readonly namespace: string;
  readonly pullSecrets: readonly string[];
  /** Milliseconds since the Unix epoch. */
  readonly seenAt: number;
}

/** Settings and collaborators of a recorder; settings default to DEFAULT_PREPULL_SETTINGS. */
export interface ColdImageRecorderOptions {
  readonly store: RecordStore;
  readonly logger: Logger;
  /** Registry for the recorder metrics; nothing is recorded without one. */
  readonly metrics?: Registry;
  readonly settings?: Pick<
    PrepullSettings,
    "queueSize" | "flushIntervalMs" | "maxEntries" | "ttlSeconds"
  >;
  /** Clock in milliseconds since the Unix epoch; default Date.now. */
  readonly now?: () => number;
  /**
   * How long stop() keeps retrying a failed write, in milliseconds; default 5000. With the
   * server's 10 s shutdown timeout and the 5 s preStop sleep it stays within Kubernetes' default
   * 30 s grace period.
   */
  readonly stopTimeoutMs?: number;
}

/** The result of one flush. */
export interface FlushResult {
  /** Queue entries written to the store; 0 when the queue was empty or the write failed. */
  readonly written: number;
  /** The write failed and the entries went back into the queue. */
  readonly failed: boolean;
}

const DEFAULT_STOP_TIMEOUT_MS = 5000;
const STOP_RETRY_INITIAL_MS = 100;

/** A bounded queue of cold-image sightings flushed to a RecordStore. */
export class ColdImageRecorder {
  readonly #options: ColdImageRecorderOptions;
  readonly #settings: NonNullable<ColdImageRecorderOptions["settings"]>;
  readonly #metrics: RecorderMetrics;
  readonly #now: () => number;
  /** Entries by key, oldest enqueued first; an update moves its entry to the end. */
  #queue = new Map<string, ColdImageEntry>();
  #flushes: Promise<unknown> = Promise.resolve();
  #flushing = false;
  #timer: NodeJS.Timeout | undefined;
  #failureStreak = 0;

  constructor(options: ColdImageRecorderOptions) {
    this.#options = options;
    this.#settings = options.settings ?? DEFAULT_PREPULL_SETTINGS;
    this.#metrics = createRecorderMetrics(options.metrics);
    this.#now = options.now ?? Date.now;
  }

  /** Distinct images and namespaces waiting for the next flush. */
  get queued(): number {
    return this.#queue.size;
  }

  /**
   * Adds sightings to the queue without waiting, and never throws. A sighting of an image and
   * namespace already queued merges into that entry. Past queueSize entries the oldest are
   * dropped and counted in kube_image_cache_prepull_record_queue_dropped_total.
   */
  enqueue(sightings: readonly ColdImageSighting[]): void {
    try {
      for (const sighting of sightings) {
        this.#add({
          image: sighting.image,
          namespace: sighting.namespace,
          pullSecrets: sighting.pullSecrets,
          firstSeen: sighting.seenAt,
          lastSeen: sighting.seenAt,
          count: 1,
        });
      }
      this.#trim();
    } catch (error: unknown) {
      this.#options.logger.error({ err: error }, "failed to queue cold images; they are lost");
    }
  }

  /** Starts flushing every flushIntervalMs. A flush still running makes the next tick skip. */
  start(): void {
    if (this.#timer !== undefined) {
      return;
    }
    this.#timer = setInterval(() => {
      if (!this.#flushing) {
        void this.flush();
      }
    }, this.#settings.flushIntervalMs);
    this.#timer.unref();
  }

  /**
   * Writes the queued entries to the store, after any flush already running. On failure the
   * entries go back into the queue for the next flush. Never rejects.
   */
  flush(): Promise<FlushResult> {
    const run = this.#flushes.then(() => this.#flushOnce());
    this.#flushes = run;
    return run;
  }

  /**
   * Stops the timer and flushes what is queued. The queue is lost when the process exits, so a
   * failed write is retried with a doubling delay until it succeeds or stopTimeoutMs has passed.
   * Entries still queued after that are logged as lost.
   */
  async stop(): Promise<FlushResult> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    const deadline = performance.now() + (this.#options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS);
    let delayMs = STOP_RETRY_INITIAL_MS;
    let written = 0;
    let result = await this.flush();
    written += result.written;
    while (result.failed && performance.now() + delayMs < deadline) {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      delayMs *= 2;
      result = await this.flush();
      written += result.written;
    }
    if (result.failed) {
      this.#options.logger.error(
        { location: this.#options.store.location, entries: this.#queue.size },
        "failed to write the cold-image record before stopping; the queued entries are lost",
      );
    }
    return { written, failed: result.failed };
  }

  async #flushOnce(): Promise<FlushResult> {
    const batch = [...this.#queue.values()];
    if (batch.length === 0) {
      return { written: 0, failed: false };
    }
    this.#queue = new Map();
    this.#metrics.queued(0);
    this.#flushing = true;
    try {
      const stored = await this.#write(batch);
      this.#metrics.flushed("ok");
      this.#metrics.stored(stored);
      this.#recovered();
      return { written: batch.length, failed: false };
    } catch (error: unknown) {
      this.#requeue(batch);
      this.#metrics.flushed("failed");
      this.#logFailure(error, batch.length);
      return { written: 0, failed: true };
    } finally {
      this.#flushing = false;
    }
  }

  /** Merges the batch into the store under the bounds; returns the number of entries stored. */
  async #write(batch: readonly ColdImageEntry[]): Promise<number> {
    let expired = 0;
    let overflow = 0;
    const stored = await this.#options.store.update((entries) => {
      // Runs again after a conflict; only the counts of the run that was stored are kept.
      const eviction = evictEntries(mergeEntries(entries, batch), this.#settings, this.#now());
      ({ expired, overflow } = eviction);
      return eviction.kept;
    });
    this.#metrics.evicted("expired", expired);
    this.#metrics.evicted("overflow", overflow);
    return stored.length;
  }

  #add(entry: ColdImageEntry): void {
    const key = entryKey(entry);
    const existing = this.#queue.get(key);
    this.#queue.delete(key);
    this.#queue.set(key, existing === undefined ? entry : mergeEntry(existing, entry));
  }

  /** Puts a failed batch back before the entries queued while it was being written. */
  #requeue(batch: readonly ColdImageEntry[]): void {
    const newer = this.#queue;
    this.#queue = new Map(batch.map((entry) => [entryKey(entry), entry]));
    for (const entry of newer.values()) {
      this.#add(entry);
    }
    this.#trim();
  }

  #trim(): void {
    let dropped = 0;
    for (const key of this.#queue.keys()) {
      if (this.#queue.size <= this.#settings.queueSize) {
        break;
      }
      this.#queue.delete(key);
      dropped += 1;
    }
    if (dropped > 0) {
      this.#metrics.dropped(dropped);
    }
    this.#metrics.queued(this.#queue.size);
  }

  /** Logs the first failure of a streak as a warning and the rest at debug. */
  #logFailure(error: unknown, entries: number): void {
    this.#failureStreak += 1;
    const level = this.#failureStreak === 1 ? "warn" : "debug";
    this.#options.logger[level](
      {
        err: error,
        location: this.#options.store.location,
        entries,
        failures: this.#failureStreak,
      },
      "failed to write the cold-image record; the entries stay queued for the next flush",
    );
  }

  #recovered(): void {
    if (this.#failureStreak > 0) {
      this.#options.logger.info(
        { location: this.#options.store.location, failures: this.#failureStreak },
        "wrote the cold-image record again",
      );
      this.#failureStreak = 0;
    }
  }
}

/**
 * Queues the cold images of one reviewed admission, and returns how many. Nothing is recorded
 * for invalid reviews, dry-run requests, skipped pods, or requests without a namespace. The
 * pod's pull secrets are recorded by name from spec.imagePullSecrets; they are never read.
 */
export function recordAdmission(
  recorder: Pick<ColdImageRecorder, "enqueue">,
  outcome: ReviewOutcome,
  body: unknown,
  now: number = Date.now(),
): number {
  if (outcome.kind !== "reviewed") {
    return 0;
  }
  const { request, result } = outcome;
  const namespace = request.namespace;
  if (request.dryRun || result.skipReason !== undefined || namespace === undefined) {
    return 0;
  }
  if (namespace === "" || result.coldImages.length === 0) {
    return 0;
  }

  const pullSecrets = pullSecretNames(field(field(body, "request"), "object"));
  recorder.enqueue(
    result.coldImages.map((image) => ({ image, namespace, pullSecrets, seenAt: now })),
  );
  return result.coldImages.length;
}

/** Reads the names in spec.imagePullSecrets; entries without a name are left out. */
export function pullSecretNames(pod: unknown): string[] {
  const names = arrayField(field(pod, "spec"), "imagePullSecrets")
    .map((reference) => stringField(reference, "name"))
    .filter((name): name is string => name !== undefined && name !== "");
  return [...new Set(names)];
}
