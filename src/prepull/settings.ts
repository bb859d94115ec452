// Settings of the cold-image record and the pre-pull controller, with their defaults. They are
// meant to become the `prepull:` section of the configuration file. Until then callers start
// from DEFAULT_PREPULL_SETTINGS and override fields.

/** The choice of eligible nodes an image is pre-pulled onto. */
export type PrepullPolicy =
  | { readonly kind: "all" }
  /**
   * Keep the image on `count` eligible nodes. Nodes already holding it count first. The rest
   * are the nodes with the most spare CPU and memory, so that hints toward warm nodes then steer
   * pods to nodes with room.
   */
  | { readonly kind: "mostSpare"; readonly count: number };

/** The settings of recording and pre-pulling. */
export interface PrepullSettings {
  /** Maximum entries the record keeps; the least recently seen are evicted first. */
  readonly maxEntries: number;
  /** Entries not seen for this many seconds are evicted. */
  readonly ttlSeconds: number;
  /** Maximum distinct images waiting in the in-memory queue; the oldest are dropped past it. */
  readonly queueSize: number;
  /** Milliseconds between flushes of the queue to the record. */
  readonly flushIntervalMs: number;
  /**
   * This project's own image, which carries the static no-op binary at helperBinaryPath. The
   * controller fails to start without it.
   */
  readonly helperImage: string;
  /** Path of the no-op binary inside helperImage. */
  readonly helperBinaryPath: string;
  /** Node labels that an eligible node must carry, all of them. */
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly policy: PrepullPolicy;
  /** Pulls running at once on one node. */
  readonly maxPullsPerNode: number;
  /** Pulls running at once in the whole cluster. */
  readonly maxPulls: number;
  /** Bytes of pre-pulled images one node may hold, counting images still in the record. */
  readonly nodeBudgetBytes: number;
  /** Size charged to the budget for an image whose manifest cannot be read. */
  readonly assumedImageBytes: number;
  /** How long to wait for an image's manifest before pulling it with the assumed size. */
  readonly manifestWaitSeconds: number;
  /** activeDeadlineSeconds of a pull pod; the pull counts as failed after it. */
  readonly pullTimeoutSeconds: number;
  /** A failed image is tried again after this many seconds. */
  readonly retryFailedAfterSeconds: number;
  /** Milliseconds between reconcile passes of the controller. */
  readonly resyncIntervalMs: number;
  /** Lease timing, with the defaults of client-go's leader election (15 s, 10 s, 2 s). */
  readonly leaseDurationSeconds: number;
  readonly renewDeadlineSeconds: number;
  readonly retryPeriodSeconds: number;
}

const GIB = 1024 ** 3;

/** Instances that do not hold the lease retry up to this factor later (client-go JitterFactor). */
export const RETRY_JITTER = 1.2;

export const DEFAULT_PREPULL_SETTINGS: PrepullSettings = {
  maxEntries: 1000,
  ttlSeconds: 7 * 24 * 3600,
  queueSize: 1000,
  flushIntervalMs: 5000,
  helperImage: "",
  helperBinaryPath: "/usr/local/bin/kube-image-cache-noop",
  nodeSelector: {},
  policy: { kind: "all" },
  maxPullsPerNode: 1,
  maxPulls: 10,
  nodeBudgetBytes: 10 * GIB,
  assumedImageBytes: GIB,
  manifestWaitSeconds: 60,
  pullTimeoutSeconds: 600,
  retryFailedAfterSeconds: 1800,
  resyncIntervalMs: 15_000,
  leaseDurationSeconds: 15,
  renewDeadlineSeconds: 10,
  retryPeriodSeconds: 2,
};

/** Names of the objects the record, the controller status and the lease live in. */
export const OBJECT_NAMES = {
  record: "kube-image-cache-cold-images",
  status: "kube-image-cache-prepull-status",
  lease: "kube-image-cache-prepull",
} as const;

type NumericSetting = {
  [K in keyof PrepullSettings]: PrepullSettings[K] extends number ? K : never;
}[keyof PrepullSettings];

/** Returns the defaults with `overrides` applied. */
export function prepullSettings(overrides: Partial<PrepullSettings> = {}): PrepullSettings {
  return { ...DEFAULT_PREPULL_SETTINGS, ...overrides };
}

// Settings that must be whole numbers above 0.
const WHOLE_POSITIVE: readonly NumericSetting[] = [
  "maxEntries",
  "ttlSeconds",
  "queueSize",
  "flushIntervalMs",
  "maxPullsPerNode",
  "maxPulls",
  "nodeBudgetBytes",
  "assumedImageBytes",
  "pullTimeoutSeconds",
  "resyncIntervalMs",
  // The Lease's own field is a whole number; the other two timings are never written.
  "leaseDurationSeconds",
];

/**
 * Lists what is wrong with the settings, one "prepull.<field>: <problem>" string each, so the
 * configuration loader can report them with the rest. Empty when they are valid.
 */
export function checkPrepullSettings(settings: PrepullSettings): string[] {
  const problems: string[] = [];
  for (const key of WHOLE_POSITIVE) {
    const value = settings[key];
    if (!Number.isSafeInteger(value) || value <= 0) {
      problems.push(`prepull.${key}: ${value} is not a positive whole number`);
    }
  }
  for (const key of ["renewDeadlineSeconds", "retryPeriodSeconds"] as const) {
    if (!(settings[key] > 0)) {
      problems.push(`prepull.${key}: ${settings[key]} must be above 0`);
    }
  }

  for (const key of ["manifestWaitSeconds", "retryFailedAfterSeconds"] as const) {
    if (!Number.isInteger(settings[key]) || settings[key] < 0) {
      problems.push(`prepull.${key}: ${settings[key]} is not a whole number of 0 or more`);
    }
  }
  if (!settings.helperBinaryPath.startsWith("/")) {
    problems.push(
      `prepull.helperBinaryPath: "${settings.helperBinaryPath}" must be an absolute path inside the helper image`,
    );
  }
  if (
    settings.policy.kind === "mostSpare" &&
    !(Number.isInteger(settings.policy.count) && settings.policy.count >= 1)
  ) {
    problems.push(
      `prepull.policy.mostSpare: ${settings.policy.count} must be a whole number of 1 or more`,
    );
  }
  if (settings.maxPullsPerNode > settings.maxPulls) {
    problems.push(
      `prepull.maxPullsPerNode: ${settings.maxPullsPerNode} exceeds prepull.maxPulls ` +
        `(${settings.maxPulls}); lower it or raise maxPulls`,
    );
  }
  return [...problems, ...leaseTimingProblems(settings)];
}

/**
 * Checks the lease timings as client-go's NewLeaderElector does: a leader must give up before
 * its lease can expire, and must get to retry within the renew deadline.
 */
function leaseTimingProblems(settings: PrepullSettings): string[] {
  const { leaseDurationSeconds, renewDeadlineSeconds, retryPeriodSeconds } = settings;
  const problems: string[] = [];
  if (renewDeadlineSeconds >= leaseDurationSeconds) {
    problems.push(
      `prepull.renewDeadlineSeconds: ${renewDeadlineSeconds} must be below ` +
        `prepull.leaseDurationSeconds (${leaseDurationSeconds})`,
    );
  }
  if (retryPeriodSeconds * RETRY_JITTER >= renewDeadlineSeconds) {
    problems.push(
      `prepull.retryPeriodSeconds: ${retryPeriodSeconds} times ${RETRY_JITTER} must be below ` +
        `prepull.renewDeadlineSeconds (${renewDeadlineSeconds})`,
    );
  }
  return problems;
}

/** Raised for settings the controller cannot run with; lists every problem. */
export class InvalidPrepullSettingsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid pre-pull settings:\n  - ${problems.join("\n  - ")}`);
    this.name = "InvalidPrepullSettingsError";
  }
}
