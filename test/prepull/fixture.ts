// Test support for the pre-pull modules: an API-server double with clients of the real
// @kubernetes/client-node, a stand-in kubelet that sets pull pod statuses, and builders for
// record entries and nodes.
import type { TestContext } from "node:test";

import { CoordinationV1Api, CoreV1Api, type KubeConfig } from "@kubernetes/client-node";

import { loadKubeconfig } from "../../src/inventory/kube-client.ts";
import { createApiClient } from "../../src/prepull/kube-api.ts";
import { pullPodName } from "../../src/prepull/pull-pod.ts";
import type { ColdImageEntry } from "../../src/prepull/record.ts";
import { ApiServerDouble, kubeconfigFor, type KubeObject } from "../support/apiserver-double.ts";
import { captureLogs, type LogCapture } from "../server/test-server.ts";

export const NAMESPACE = "kube-image-cache";

/** A double and what a test needs to talk to it. */
export interface DoubleFixture {
  readonly double: ApiServerDouble;
  readonly kubeConfig: KubeConfig;
  /** The kubeconfig file behind kubeConfig. */
  readonly kubeconfigPath: string;
  /** A new CoreV1Api client, as a separate replica would have. */
  readonly core: () => CoreV1Api;
  readonly leases: () => CoordinationV1Api;
  readonly logs: LogCapture;
}

/** Starts a double; `t.after` closes it and aborts every client made from the fixture. */
export async function startDouble(t: TestContext): Promise<DoubleFixture> {
  const double = await ApiServerDouble.start({ bookmarkIntervalMs: 100 });
  const kubeconfigPath = await kubeconfigFor(double);
  const kubeConfig = loadKubeconfig({ kind: "file", path: kubeconfigPath });
  const abort = new AbortController();
  t.after(async () => {
    abort.abort();
    await double.close();
  });
  return {
    double,
    kubeConfig,
    kubeconfigPath,
    core: () => createApiClient(CoreV1Api, kubeConfig, abort.signal, 10_000),
    leases: () => createApiClient(CoordinationV1Api, kubeConfig, abort.signal, 10_000),
    logs: captureLogs(),
  };
}

/** Builds a record entry seen `count` times, last `ageSeconds` ago. */
export function entry(
  image: string,
  namespace = "team-a",
  options: { count?: number; ageSeconds?: number; pullSecrets?: string[]; now?: number } = {},
): ColdImageEntry {
  const seen = (options.now ?? Date.now()) - (options.ageSeconds ?? 0) * 1000;
  return {
    image,
    namespace,
    pullSecrets: options.pullSecrets ?? [],
    firstSeen: seen,
    lastSeen: seen,
    count: options.count ?? 1,
  };
}

/** Builds a Linux node with 4 CPUs and 8 GiB allocatable, reporting `images`. */
export function linuxNode(
  name: string,
  options: {
    labels?: Record<string, string>;
    images?: string[];
    architecture?: string;
    taints?: Record<string, string>[];
  } = {},
): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels: { "kubernetes.io/hostname": name, ...options.labels } },
    spec: options.taints === undefined ? {} : { taints: options.taints },
    status: {
      allocatable: { cpu: "4", memory: "8Gi" },
      nodeInfo: { architecture: options.architecture ?? "amd64", operatingSystem: "linux" },
      images: (options.images ?? []).map((image) => ({ names: [image], sizeBytes: 1000 })),
    },
  };
}

/** Returns the pull pod of an image on a node, as the double stores it. */
export function findPullPod(
  double: ApiServerDouble,
  image: string,
  node: string,
  namespace = "team-a",
): KubeObject | undefined {
  return double.find("pods", pullPodName(image, namespace, node), namespace);
}

/** Sets a pull pod's status as the kubelet would; throws when the pod does not exist. */
export function setPodStatus(
  double: ApiServerDouble,
  image: string,
  node: string,
  status: Record<string, unknown>,
  namespace = "team-a",
): void {
  const pod = findPullPod(double, image, node, namespace);
  if (pod === undefined) {
    throw new Error(`no pull pod for ${image} on ${node} in ${namespace}`);
  }
  double.update("pods", { ...pod, status });
}

/** The status of a pull pod whose no-op container ran and exited 0. */
export const SUCCEEDED = {
  phase: "Succeeded",
  containerStatuses: [{ name: "pull", state: { terminated: { exitCode: 0 } } }],
};

/** Returns the status of a pull pod whose image cannot be pulled. */
export function pullError(message: string): Record<string, unknown> {
  return {
    phase: "Pending",
    containerStatuses: [{ name: "pull", state: { waiting: { reason: "ErrImagePull", message } } }],
  };
}
