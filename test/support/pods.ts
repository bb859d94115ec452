// Builders for pods and AdmissionReviews used across tests.
import type { MutationContext } from "../../src/admission/contract.ts";
import { validateConfig } from "../../src/config.ts";
import { buildInventory } from "../../src/inventory/inventory.ts";

export interface ContainerSpec {
  name: string;
  image?: unknown;
  imagePullPolicy?: string;
}

/** Builds a minimal valid pod with the given containers. */
export function podWith(
  containers: ContainerSpec[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { generateName: "web-", labels: { app: "web" } },
    spec: { containers, ...extra },
  };
}

/** Builds a CREATE AdmissionReview for a pod in a namespace. */
export function createReview(
  pod: unknown,
  namespace = "team-a",
  uid = "00000000-0000-4000-8000-000000000001",
): Record<string, unknown> {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid,
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      namespace,
      operation: "CREATE",
      dryRun: false,
      object: pod,
    },
  };
}

/** Builds a Node object with the given image names and sizes. */
export function nodeWith(
  name: string,
  images: [string[], number][],
  extra: { labels?: Record<string, string>; spec?: Record<string, unknown> } = {},
): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels: { "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", ...extra.labels },
    },
    spec: extra.spec ?? {},
    status: { images: images.map(([names, sizeBytes]) => ({ names, sizeBytes })) },
  };
}

/** Builds a context with a docker.io rule, the given raw configuration merged in, and these nodes. */
export function contextWith(
  nodes: unknown[],
  rawConfig: Record<string, unknown> = {},
): MutationContext {
  const config = validateConfig(
    { mirror: { registries: { "docker.io": "registry.example.com/dockerhub" } }, ...rawConfig },
    "test configuration",
  );
  return { config, inventory: buildInventory(nodes).inventory };
}
