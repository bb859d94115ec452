// The pre-pull status document: per recorded image the nodes done, pending and failed with
// reasons. The leader writes it to a ConfigMap so `prepull status` can read it from anywhere,
// and a new leader reads it back to know what its predecessor finished.
import { field, stringField } from "../object-fields.ts";
import type { ProgressTotals } from "./metrics.ts";
import type { EntryPlan, NodeFailure } from "./plan.ts";
import type { PullProgress } from "./progress.ts";
import { entryKey, MAX_RECORD_BYTES } from "./record.ts";

/** One recorded image and namespace, and its nodes by state. */
export interface ImageStatus {
  readonly image: string;
  readonly namespace: string;
  /** Admissions that found it cold, and the last one, as recorded. */
  readonly count: number;
  readonly lastSeen: string;
  readonly sizeBytes?: number;
  readonly done: readonly string[];
  /** Nodes in `done` left out to keep the document within its size limit. */
  readonly doneOmitted?: number;
  readonly pending: readonly string[];
  readonly failed: readonly NodeFailure[];
  readonly note?: string;
}

/** The whole status document. */
export interface PrepullStatus {
  readonly updatedAt: string;
  /** Identity of the controller instance that wrote it. */
  readonly holder: string;
  readonly totals: ProgressTotals;
  readonly images: readonly ImageStatus[];
}

/** The data key of the status in its ConfigMap. */
export const STATUS_KEY = "status.json";

const STATUS_VERSION = 1;

/** Builds the status from a plan; `running` is the number of pull pods running. */
export function buildStatus(
  plans: readonly EntryPlan[],
  running: number,
  holder: string,
  now: number,
): PrepullStatus {
  const images = plans.map((plan): ImageStatus => {
    const { entry } = plan;
    return {
      image: entry.image,
      namespace: entry.namespace,
      count: entry.count,
      lastSeen: new Date(entry.lastSeen).toISOString(),
      ...(plan.sizeBytes === undefined ? {} : { sizeBytes: plan.sizeBytes }),
      done: plan.done,
      pending: plan.pending,
      failed: plan.failed,
      ...(plan.note === undefined ? {} : { note: plan.note }),
    };
  });
  const totals = {
    images: images.length,
    done: sum(images, (image) => image.done.length),
    pending: sum(images, (image) => image.pending.length),
    failed: sum(images, (image) => image.failed.length),
    running,
  };
  return { updatedAt: new Date(now).toISOString(), holder, totals, images };
}

/**
 * Encodes the status. When it would exceed the ConfigMap's limit, the done lists of the least
 * recently seen images are emptied (their counts stay in doneOmitted) until it fits. A new
 * leader then pulls those images once more, which costs a pod but no download.
 */
export function encodeStatus(status: PrepullStatus, maxBytes = MAX_RECORD_BYTES): string {
  const images = [...status.images];
  let text = render(status, images);
  const byAge = images
    .map((image, index) => ({ index, lastSeen: image.lastSeen }))
    .sort((a, b) => (a.lastSeen < b.lastSeen ? -1 : 1));
  for (const { index } of byAge) {
    if (Buffer.byteLength(text) <= maxBytes) {
      break;
    }
    const image = images[index];
    if (image !== undefined && image.done.length > 0) {
      images[index] = { ...image, done: [], doneOmitted: image.done.length };
      text = render(status, images);
    }
  }
  return text;
}

/** Decodes a status document; undefined when it is not one. */
export function decodeStatus(text: string): PrepullStatus | undefined {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return undefined;
  }
  const images = field(document, "images");
  if (field(document, "version") !== STATUS_VERSION || !Array.isArray(images)) {
    return undefined;
  }
  return {
    updatedAt: stringField(document, "updatedAt") ?? "",
    holder: stringField(document, "holder") ?? "",
    totals: field(document, "totals") as ProgressTotals,
    images: images as ImageStatus[],
  };
}

/**
 * Restores done and failed states from a status a previous leader wrote, for the entries still
 * recorded. A done pull charges the image's recorded size to its node's budget, or
 * `assumedImageBytes` when the manifest was never read, as the first leader charged it. A
 * failure counts from the status's time, so it waits retryFailedAfterSeconds as before.
 */
export function restoreProgress(
  status: PrepullStatus,
  progress: PullProgress,
  liveKeys: ReadonlySet<string>,
  assumedImageBytes: number,
): number {
  const at = Date.parse(status.updatedAt) || 0;
  let restored = 0;
  for (const image of status.images) {
    const key = entryKey(image);
    if (!liveKeys.has(key)) {
      continue;
    }
    const bytes = image.sizeBytes ?? assumedImageBytes;
    for (const node of Array.isArray(image.done) ? image.done : []) {
      if (typeof node === "string" && progress.get(key, node) === undefined) {
        progress.set(key, image.image, node, { kind: "done", at, bytes });
        restored += 1;
      }
    }
    const failures: unknown[] = Array.isArray(image.failed) ? image.failed : [];
    for (const failure of failures) {
      const node = field(failure, "node");
      if (typeof node === "string" && progress.get(key, node) === undefined) {
        const reason = stringField(failure, "reason") ?? "failed";
        progress.set(key, image.image, node, { kind: "failed", at, reason, imageWide: false });
        restored += 1;
      }
    }
  }
  return restored;
}

/** Returns the part of the status that changes only with progress, to skip needless writes. */
export function statusSignature(status: PrepullStatus): string {
  return JSON.stringify([status.totals, status.images]);
}

function render(status: PrepullStatus, images: readonly ImageStatus[]): string {
  return `${JSON.stringify({ version: STATUS_VERSION, ...status, images }, null, 1)}\n`;
}

function sum<T>(items: readonly T[], count: (item: T) => number): number {
  return items.reduce((total, item) => total + count(item), 0);
}
