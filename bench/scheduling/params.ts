// Parameters of the scheduling simulation, read from a JSON file (params.json beside this file
// by default). Every field is required, so a run's file states all it depends on.
import { readFileSync } from "node:fs";

export interface SimulationParams {
  readonly seed: number;
  /** Simulated time, in hours. */
  readonly hours: number;
  /** Pulls and imbalance are counted only after this many hours (the initial deployments). */
  readonly warmupHours: number;
  readonly nodes: {
    readonly count: number;
    readonly zones: number;
    readonly cpuMillis: number;
    readonly memoryGiB: number;
    /** The kubelet's maxPods. */
    readonly maxPods: number;
    /** Disk space for images per node, in GiB; image GC thresholds are shares of it. */
    readonly imageDiskGiB: number;
    readonly arm64Share: number;
    /** Nodes tainted nvidia.com/gpu=present:NoSchedule; only GPU apps tolerate them. */
    readonly gpuNodes: number;
  };
  /** Pull bandwidth of one node, in MB/s (10^6 bytes): start time = bytes / bandwidth. */
  readonly pullMBps: number;
  readonly catalog: {
    readonly apps: number;
    /** Base stacks (OS layer plus runtime layers) shared by the apps. */
    readonly stacks: number;
    /** Exponent s of the Zipf popularity of apps and stacks. */
    readonly zipfExponent: number;
    /** Share of apps with arm64 images; the others select amd64 nodes. */
    readonly multiArchShare: number;
    /** Share of apps whose pods carry a sidecar container from a shared image. */
    readonly sidecarShare: number;
    readonly gpuShare: number;
  };
  readonly workload: {
    /** Requested CPU of the steady workload over allocatable CPU. */
    readonly targetCpuShare: number;
    /** Share of apps that run as short jobs instead of long-running replicas. */
    readonly jobShare: number;
    /** Duration range of one job pod, in minutes. */
    readonly jobMinutes: readonly [number, number];
    readonly rolloutsPerAppPerDay: number;
    /** Seconds between replacing two replicas in a rolling update (maxSurge 1). */
    readonly rolloutSpacingSeconds: number;
    /** Share of new tags that also rebuild the dependency layer. */
    readonly dependencyChangeShare: number;
    /** Each stack gets a new version this often; the next build of each app picks it up. */
    readonly stackUpdateEveryHours: number;
    readonly scaleEventsPerHour: number;
    readonly nodeJoins: readonly { readonly atHour: number; readonly count: number }[];
    readonly nodeRemovals: readonly { readonly atHour: number; readonly count: number }[];
  };
  readonly kubelet: {
    readonly gcHighPercent: number;
    readonly gcLowPercent: number;
    readonly gcPeriodSeconds: number;
    readonly imageMinAgeSeconds: number;
    /** How often a node's status (its image list) reaches the inventory and the scheduler. */
    readonly statusSyncSeconds: number;
    readonly maxReportedImages: number;
  };
  /** Interval of the imbalance samples, in seconds. */
  readonly sampleEverySeconds: number;
  /** The webhook configuration (the config file's affinity and balance sections). */
  readonly webhook: Record<string, unknown>;
  /** Overrides of the pre-pull settings for the pre-pulling policy. */
  readonly prepull: Record<string, unknown>;
}

/** Reads a parameter file; fails with the missing key named. */
export function readParams(path: string): SimulationParams {
  const raw: unknown = JSON.parse(readFileSync(path, "utf8"));
  const required = [
    "seed",
    "hours",
    "warmupHours",
    "nodes",
    "pullMBps",
    "catalog",
    "workload",
    "kubelet",
  ];
  for (const key of required) {
    if (typeof raw !== "object" || raw === null || !(key in raw)) {
      throw new Error(`${path}: missing key "${key}"; see bench/scheduling/params.json`);
    }
  }
  return raw as SimulationParams;
}

export const MB = 1e6;
export const MIB = 1024 * 1024;
export const GIB = 1024 * MIB;
