// A ClusterInventory wired to a fresh API-server double, with fast reconnection settings and
// logs kept in memory, plus builders for the Node and Pod objects the tests put in the double.
import type { TestContext } from "node:test";

import { Registry } from "prom-client";

import { ClusterInventory, type ClusterInventoryOptions } from "../../src/inventory/cluster.ts";
import { loadKubeconfig } from "../../src/inventory/kube-client.ts";
import { ApiServerDouble, kubeconfigFor } from "../support/apiserver-double.ts";
import { captureLogs, type LogCapture } from "../server/test-server.ts";

/** A started inventory and the double it watches; both stop when the test ends. */
export interface ClusterFixture {
  readonly double: ApiServerDouble;
  readonly cluster: ClusterInventory;
  readonly logs: LogCapture;
  readonly registry: Registry;
}

/** Settings a test may change. The backoff defaults to 20 ms, doubling up to 200 ms. */
export type FixtureOptions = Partial<Omit<ClusterInventoryOptions, "kubeConfig" | "logger">> & {
  /** Stop the double listening before the inventory starts. */
  readonly unreachable?: boolean;
};

/** Starts a double and an inventory watching it; `t.after` stops both. */
export async function startCluster(
  t: TestContext,
  setup: (double: ApiServerDouble) => void = () => undefined,
  options: FixtureOptions = {},
): Promise<ClusterFixture> {
  const double = await ApiServerDouble.start({ bookmarkIntervalMs: 100 });
  setup(double);
  const kubeConfig = loadKubeconfig({ kind: "file", path: await kubeconfigFor(double) });
  if (options.unreachable === true) {
    await double.stopListening();
  }

  const logs = captureLogs();
  const registry = new Registry();
  const cluster = new ClusterInventory({
    kubeConfig,
    logger: logs.logger,
    registry,
    backoff: { initialMs: 20, maxMs: 200 },
    ...options,
  });
  t.after(async () => {
    await cluster.stop();
    await double.close();
  });
  cluster.start();
  return { double, cluster, logs, registry };
}

/** Returns a Node reporting `images` (each entry's names), with 4 CPUs and 8 GiB allocatable. */
export function node(
  name: string,
  images: readonly (readonly string[])[] = [],
  labels: Record<string, string> = {},
): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels: { "kubernetes.io/hostname": name, ...labels } },
    spec: {},
    status: {
      allocatable: { cpu: "4", memory: "8Gi" },
      nodeInfo: { architecture: "amd64", operatingSystem: "linux" },
      images: images.map((names) => ({ names, sizeBytes: 10_000_000 })),
    },
  };
}

/** Container requests, such as { cpu: "100m", memory: "64Mi" }. */
export type Requests = Readonly<Record<string, string>>;

/** The shape of a test pod, with containers and init containers given by their requests. */
export interface PodShape {
  readonly nodeName?: string;
  readonly phase?: string;
  readonly containers?: readonly Requests[];
  readonly initContainers?: readonly (Requests & { restartPolicy?: string })[];
  readonly overhead?: Requests;
}

/** Returns a Pod in namespace "team" with one container per entry of `shape.containers`. */
export function pod(name: string, shape: PodShape = {}): Record<string, unknown> {
  const container = (prefix: string) => (requests: Requests, index: number) => {
    const { restartPolicy, ...resources } = requests as Requests & { restartPolicy?: string };
    return {
      name: `${prefix}-${index}`,
      image: "registry.example.com/app:1",
      resources: { requests: resources },
      ...(restartPolicy === undefined ? {} : { restartPolicy }),
    };
  };
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "team" },
    spec: {
      containers: (shape.containers ?? [{ cpu: "100m", memory: "64Mi" }]).map(container("app")),
      initContainers: (shape.initContainers ?? []).map(container("init")),
      ...(shape.nodeName === undefined ? {} : { nodeName: shape.nodeName }),
      ...(shape.overhead === undefined ? {} : { overhead: shape.overhead }),
    },
    status: { phase: shape.phase ?? "Running" },
  };
}
