// Reading a Pod object into the little the node load keeps: its uid, its node and its effective
// CPU and memory requests, computed the way the scheduler computes them. The pod is not kept.
import { arrayField, field, stringField } from "../object-fields.ts";
import type { Resources } from "./inventory.ts";
import { parseMilliCpu, parseQuantity } from "./quantity.ts";

/** The record the node load keeps of one pod. */
export interface PodLoad {
  readonly uid: string;
  /** spec.nodeName; absent while the pod is not scheduled. */
  readonly node?: string;
  readonly requests: Resources;
  /** True in phase Succeeded or Failed, when the pod no longer counts against its node. */
  readonly finished: boolean;
}

const ZERO: Resources = { cpuMillis: 0, memoryBytes: 0 };

/** Reads a Pod object of any shape; undefined when it has no metadata.uid. */
export function readPodLoad(pod: unknown): PodLoad | undefined {
  const uid = stringField(field(pod, "metadata"), "uid");
  if (uid === undefined || uid === "") {
    return undefined;
  }
  const node = stringField(field(pod, "spec"), "nodeName");
  const phase = stringField(field(pod, "status"), "phase");
  return {
    uid,
    ...(node === undefined || node === "" ? {} : { node }),
    requests: podRequests(pod),
    finished: phase === "Succeeded" || phase === "Failed",
  };
}

/**
 * Computes a pod's effective requests as the scheduler does (PodRequests in
 * k8s.io/component-helpers/resource): the sum over containers, raised to the peak of any init
 * container step, then replaced per resource by pod-level requests where set, plus overhead.
 * A sidecar (an init container with restartPolicy Always) keeps running, so it adds to the sum
 * and to every later init step.
 */
export function podRequests(pod: unknown): Resources {
  const spec = field(pod, "spec");
  let total = ZERO;
  const resized = resizedRequests(field(pod, "status"));
  for (const container of arrayField(spec, "containers")) {
    const declared = requestsOf(field(field(container, "resources"), "requests"));
    const actual = resized.get(stringField(container, "name") ?? "");
    total = add(total, actual === undefined ? declared : max(declared, actual));
  }

  let sidecars = ZERO;
  let initPeak = ZERO;
  for (const container of arrayField(spec, "initContainers")) {
    const requests = requestsOf(field(field(container, "resources"), "requests"));
    if (field(container, "restartPolicy") === "Always") {
      total = add(total, requests);
      sidecars = add(sidecars, requests);
      initPeak = max(initPeak, sidecars);
    } else {
      initPeak = max(initPeak, add(requests, sidecars));
    }
  }
  total = max(total, initPeak);

  total = withPodLevelRequests(total, field(field(spec, "resources"), "requests"));
  return add(total, requestsOf(field(spec, "overhead")));
}

/**
 * Requests the kubelet reports in status.containerStatuses[].resources after an in-place
 * resize. The scheduler counts the larger of these and the spec while a resize is in progress.
 * NOTE: when a resize is infeasible the scheduler counts the status alone. That case is not
 * detected here, so such a pod counts its larger spec requests.
 */
function resizedRequests(status: unknown): Map<string, Resources> {
  const requests = new Map<string, Resources>();
  for (const containerStatus of arrayField(status, "containerStatuses")) {
    const name = stringField(containerStatus, "name");
    const reported = field(field(containerStatus, "resources"), "requests");
    if (name !== undefined && reported !== undefined) {
      requests.set(name, requestsOf(reported));
    }
  }
  return requests;
}

/** Pod-level requests (spec.resources) replace the container total for each resource they set. */
function withPodLevelRequests(total: Resources, podLevel: unknown): Resources {
  const cpuMillis = parseMilliCpu(field(podLevel, "cpu"));
  const memoryBytes = parseQuantity(field(podLevel, "memory"));
  return {
    cpuMillis: cpuMillis ?? total.cpuMillis,
    memoryBytes: memoryBytes ?? total.memoryBytes,
  };
}

/** Reads a ResourceList ({cpu: "250m", memory: "64Mi"}); absent or invalid entries count 0. */
function requestsOf(list: unknown): Resources {
  return {
    cpuMillis: parseMilliCpu(field(list, "cpu")) ?? 0,
    memoryBytes: parseQuantity(field(list, "memory")) ?? 0,
  };
}

function add(a: Resources, b: Resources): Resources {
  return { cpuMillis: a.cpuMillis + b.cpuMillis, memoryBytes: a.memoryBytes + b.memoryBytes };
}

function max(a: Resources, b: Resources): Resources {
  return {
    cpuMillis: Math.max(a.cpuMillis, b.cpuMillis),
    memoryBytes: Math.max(a.memoryBytes, b.memoryBytes),
  };
}
