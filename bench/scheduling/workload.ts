// The workload generator: nodes, apps and a timeline of pod creations and deletions, rollouts of
// new tags, scale changes, jobs, node joins and removals. It is computed up front from the seed
// and never sees where pods land, so every policy replays the same events.
import { seededRandom, zipfPicker } from "../hints/cluster.ts";
import { Catalog, type Arch, type ImageVersion } from "./catalog.ts";
import { MB, type SimulationParams } from "./params.ts";
import { addNodeChanges, Timeline } from "./timeline.ts";

/** A node as it joins the cluster. */
export interface NodeSpec {
  readonly name: string;
  readonly zone: string;
  readonly arch: Arch;
  readonly gpu: boolean;
}

/** What a pod asks for; the simulator turns it into a Pod object. */
export interface PodTemplate {
  readonly app: string;
  readonly namespace: string;
  /** Container images, the app's own first. */
  readonly images: readonly string[];
  readonly cpuMillis: number;
  readonly memoryBytes: number;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly gpu: boolean;
}

export type WorkloadEvent =
  | {
      readonly at: number;
      readonly kind: "create";
      readonly uid: string;
      readonly pod: PodTemplate;
    }
  | { readonly at: number; readonly kind: "delete"; readonly uid: string }
  | { readonly at: number; readonly kind: "nodeAdd"; readonly node: NodeSpec }
  | { readonly at: number; readonly kind: "nodeRemove"; readonly name: string };

export interface Workload {
  readonly catalog: Catalog;
  readonly nodes: readonly NodeSpec[];
  /** Ordered by time (seconds from the start); ties keep generation order. */
  readonly events: readonly WorkloadEvent[];
}

/** An app (a Deployment, or a CronJob for job apps) and the state of its last build. */
export interface App {
  readonly name: string;
  readonly namespace: string;
  readonly stack: number;
  readonly arches: readonly Arch[];
  readonly sidecar?: string;
  readonly gpu: boolean;
  readonly job: boolean;
  readonly cpuMillis: number;
  readonly memoryBytes: number;
  readonly dependencyBytes: number;
  readonly codeBytes: number;
  replicas: number;
  // Build state: the stack version and dependency layer of the last tag.
  version: number;
  stackVersion: number;
  dependencies?: ReturnType<Catalog["newLayer"]>;
  image?: ImageVersion;
}

// Pod sizes (CPU millicores, memory MiB) and their shares, as in a typical service fleet.
const POD_SIZES = [
  { cpuMillis: 250, memoryMiB: 512, share: 0.3 },
  { cpuMillis: 500, memoryMiB: 1024, share: 0.3 },
  { cpuMillis: 1000, memoryMiB: 2048, share: 0.2 },
  { cpuMillis: 2000, memoryMiB: 4096, share: 0.15 },
  { cpuMillis: 4000, memoryMiB: 8192, share: 0.05 },
];

const REGISTRY = "registry.example.com";

/** Generates the workload of a parameter set; the same parameters give the same workload. */
export function generateWorkload(params: SimulationParams): Workload {
  const random = seededRandom(params.seed);
  const catalog = new Catalog(params.catalog.stacks, params.seed + 1);
  const nodes = initialNodes(params, random);
  const sidecars = buildSidecars(catalog);
  const apps = buildApps(params, catalog, sidecars, random);
  const events: WorkloadEvent[] = [];
  const timeline = new Timeline(params, catalog, apps, random, events);
  timeline.run();
  addNodeChanges(params, nodes, (index) => nodeSpec(index, params, random), events);
  events.sort((left, right) => left.at - right.at);
  return { catalog, nodes, events };
}

function initialNodes(params: SimulationParams, random: () => number): NodeSpec[] {
  return Array.from({ length: params.nodes.count }, (_, index) => nodeSpec(index, params, random));
}

function nodeSpec(index: number, params: SimulationParams, random: () => number): NodeSpec {
  const arch: Arch = random() < params.nodes.arm64Share ? "arm64" : "amd64";
  return {
    name: `node-${String(index).padStart(4, "0")}`,
    zone: `zone-${String.fromCharCode(97 + (index % params.nodes.zones))}`,
    arch,
    // Every n-th node of the initial set is a GPU node; joining nodes never are.
    gpu: arch === "amd64" && index < params.nodes.count && index % gpuEvery(params) === 0,
  };
}

function gpuEvery(params: SimulationParams): number {
  return params.nodes.gpuNodes > 0
    ? Math.floor(params.nodes.count / params.nodes.gpuNodes)
    : Infinity;
}

function buildSidecars(catalog: Catalog): string[] {
  // A service-mesh proxy and a log agent, on a small shared OS layer.
  const base = catalog.newLayer(8 * MB);
  return [
    catalog.addImage(
      `${REGISTRY}/platform/mesh-proxy`,
      "v1.31",
      [base, catalog.newLayer(55 * MB)],
      ["amd64", "arm64"],
    ),
    catalog.addImage(
      `${REGISTRY}/platform/log-agent`,
      "v2.4",
      [base, catalog.newLayer(35 * MB)],
      ["amd64", "arm64"],
    ),
  ].map((image) => image.name);
}

function buildApps(
  params: SimulationParams,
  catalog: Catalog,
  sidecars: readonly string[],
  random: () => number,
): App[] {
  const pickStack = zipfPicker(catalog.stackCount, random);
  const apps = Array.from({ length: params.catalog.apps }, (_, index): App => {
    const size = pickSize(random);
    const gpu = random() < params.catalog.gpuShare;
    const sidecar =
      random() < params.catalog.sidecarShare ? sidecars[index % sidecars.length] : undefined;
    return {
      name: `app-${index}`,
      namespace: `team-${index % 20}`,
      stack: pickStack(),
      arches: !gpu && random() < params.catalog.multiArchShare ? ["amd64", "arm64"] : ["amd64"],
      ...(sidecar === undefined ? {} : { sidecar }),
      gpu,
      job: random() < params.workload.jobShare,
      cpuMillis: size.cpuMillis,
      memoryBytes: size.memoryMiB * 1024 * 1024,
      // Dependency layers of 20-420 MB and code layers of 2-60 MB.
      dependencyBytes: Math.round((20 + 400 * random() ** 2) * MB),
      codeBytes: Math.round((2 + 58 * random()) * MB),
      replicas: 0,
      version: 0,
      stackVersion: 0,
    };
  });
  sizeReplicas(params, apps);
  return apps;
}

function pickSize(random: () => number): (typeof POD_SIZES)[number] {
  let target = random();
  for (const size of POD_SIZES) {
    target -= size.share;
    if (target <= 0) {
      return size;
    }
  }
  return POD_SIZES[0]!;
}

/**
 * Sets replicas by Zipf popularity (rank r gets A / (r + 1)^s, at least 1, at most a third of
 * the nodes), with A chosen so the services request their share of the cluster's CPU.
 */
function sizeReplicas(params: SimulationParams, apps: App[]): void {
  const services = apps.filter((app) => !app.job);
  const cap = Math.floor(params.nodes.count / 3);
  const target =
    params.workload.targetCpuShare *
    (1 - params.workload.jobShare) *
    params.nodes.count *
    params.nodes.cpuMillis;
  const replicasFor = (scale: number, rank: number): number =>
    Math.min(cap, Math.max(1, Math.round(scale / (rank + 1) ** params.catalog.zipfExponent)));
  let low = 1;
  let high = 1e6;
  for (let step = 0; step < 60; step += 1) {
    const middle = (low + high) / 2;
    const cpu = services.reduce(
      (sum, app, rank) => sum + replicasFor(middle, rank) * app.cpuMillis,
      0,
    );
    [low, high] = cpu < target ? [middle, high] : [low, middle];
  }
  services.forEach((app, rank) => {
    app.replicas = replicasFor(low, rank);
  });
}
