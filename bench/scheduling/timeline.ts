// The timeline of the workload: initial deployments, rolling updates to new tags, scale changes
// and job pods, as events in time. Apps act one action at a time: an action that falls inside a
// running rollout waits for it to finish, as a Deployment controller would.
import { seededRandom, zipfPicker } from "../hints/cluster.ts";
import type { Catalog } from "./catalog.ts";
import type { SimulationParams } from "./params.ts";
import type { App, NodeSpec, PodTemplate, WorkloadEvent } from "./workload.ts";

type Action =
  | { readonly at: number; readonly kind: "deploy" | "rollout"; readonly app: App }
  | { readonly at: number; readonly kind: "scale"; readonly app: App; readonly factor: number };

// A ReplicaSet creates the pods of a scale-up within seconds; this spaces them.
const CREATE_SPACING_SECONDS = 0.2;
// Initial deployments are spread over the first half hour.
const DEPLOY_WINDOW_SECONDS = 1800;

export class Timeline {
  readonly #uids = new Map<App, string[]>();
  readonly #busyUntil = new Map<App, number>();
  readonly #horizon: number;
  readonly #stackPhase: number[];
  #nextUid = 0;

  constructor(
    private readonly params: SimulationParams,
    private readonly catalog: Catalog,
    private readonly apps: readonly App[],
    private readonly random: () => number,
    private readonly events: WorkloadEvent[],
  ) {
    this.#horizon = params.hours * 3600;
    this.#stackPhase = Array.from({ length: catalog.stackCount }, () => random());
  }

  run(): void {
    const actions = [...this.#deployments(), ...this.#rollouts(), ...this.#scaling()];
    actions.sort((left, right) => left.at - right.at);
    for (const action of actions) {
      this.#apply(action);
    }
    this.#jobs();
  }

  #deployments(): Action[] {
    return this.apps
      .filter((app) => !app.job)
      .map((app) => ({ at: this.random() * DEPLOY_WINDOW_SECONDS, kind: "deploy", app }));
  }

  #rollouts(): Action[] {
    const rate = this.params.workload.rolloutsPerAppPerDay / 86_400;
    return this.apps.flatMap((app) =>
      this.#poisson(rate, DEPLOY_WINDOW_SECONDS).map((at): Action => ({
        at,
        kind: "rollout",
        app,
      })),
    );
  }

  #scaling(): Action[] {
    const services = this.apps.filter((app) => !app.job);
    const pick = zipfPicker(services.length, this.random);
    const rate = this.params.workload.scaleEventsPerHour / 3600;
    return this.#poisson(rate, DEPLOY_WINDOW_SECONDS).map((at) => ({
      at,
      kind: "scale",
      app: services[pick()]!,
      // Down to 0.6x or up to 1.6x: symmetric in log terms, so the fleet stays near its size.
      factor: Math.exp((this.random() * 2 - 1) * Math.log(1.6)),
    }));
  }

  #poisson(ratePerSecond: number, start: number): number[] {
    const times: number[] = [];
    let at = start;
    for (;;) {
      at += -Math.log(1 - this.random()) / ratePerSecond;
      if (at >= this.#horizon) {
        return times;
      }
      times.push(at);
    }
  }

  #apply(action: Action): void {
    const { app } = action;
    const at = Math.max(action.at, this.#busyUntil.get(app) ?? 0);
    if (at >= this.#horizon) {
      return;
    }
    switch (action.kind) {
      case "deploy":
        this.#build(app, at);
        this.#scaleTo(app, app.replicas, at);
        return;
      case "rollout":
        this.#build(app, at);
        if (!app.job) {
          this.#roll(app, at);
        }
        return;
      case "scale": {
        const cap = Math.floor(this.params.nodes.count / 3);
        const replicas = Math.min(cap, Math.max(1, Math.round(app.replicas * action.factor)));
        this.#scaleTo(app, replicas, at);
        return;
      }
    }
  }

  /** Builds the app's next tag: new code always, new dependencies sometimes, all new on a new stack. */
  #build(app: App, at: number): void {
    const stackVersion = this.#stackVersionAt(app.stack, at);
    const rebuildAll = app.dependencies === undefined || stackVersion !== app.stackVersion;
    if (rebuildAll || this.random() < this.params.workload.dependencyChangeShare) {
      app.dependencies = this.catalog.newLayer(app.dependencyBytes);
    }
    app.stackVersion = stackVersion;
    app.version += 1;
    app.image = this.catalog.addImage(
      `registry.example.com/${app.namespace}/${app.name}`,
      `v${app.version}`,
      [
        this.catalog.stackLayers(app.stack, stackVersion),
        app.dependencies!,
        this.catalog.newLayer(app.codeBytes),
      ],
      app.arches,
    );
  }

  #stackVersionAt(stack: number, at: number): number {
    const every = this.params.workload.stackUpdateEveryHours * 3600;
    const phase = (this.#stackPhase[stack] ?? 0) * every;
    return at < phase ? 0 : 1 + Math.floor((at - phase) / every);
  }

  /** Replaces every replica with one of the new tag, one at a time (maxSurge 1, maxUnavailable 0). */
  #roll(app: App, at: number): void {
    const spacing = this.params.workload.rolloutSpacingSeconds;
    const old = this.#uids.get(app) ?? [];
    const fresh: string[] = [];
    old.forEach((uid, index) => {
      const start = at + index * spacing;
      fresh.push(this.#create(app, start));
      this.events.push({ at: start + spacing * 0.8, kind: "delete", uid });
    });
    this.#uids.set(app, fresh);
    this.#busyUntil.set(app, at + old.length * spacing);
  }

  #scaleTo(app: App, replicas: number, at: number): void {
    const uids = this.#uids.get(app) ?? [];
    let when = at;
    while (uids.length < replicas) {
      uids.push(this.#create(app, when));
      when += CREATE_SPACING_SECONDS;
    }
    while (uids.length > replicas) {
      this.events.push({ at, kind: "delete", uid: uids.pop()! });
    }
    app.replicas = replicas;
    this.#uids.set(app, uids);
    this.#busyUntil.set(app, when);
  }

  #create(app: App, at: number): string {
    const uid = `pod-${(this.#nextUid += 1)}`;
    this.events.push({ at, kind: "create", uid, pod: templateOf(app) });
    return uid;
  }

  /** Job pods: Poisson arrivals sized so jobs request their share of the cluster's CPU. */
  #jobs(): void {
    const jobs = this.apps.filter((app) => app.job);
    if (jobs.length === 0) {
      return;
    }
    const { workload, nodes } = this.params;
    const [shortest, longest] = workload.jobMinutes;
    const meanSeconds = ((shortest + longest) / 2) * 60;
    const meanCpu = jobs.reduce((sum, app) => sum + app.cpuMillis, 0) / jobs.length;
    const cpu = workload.targetCpuShare * workload.jobShare * nodes.count * nodes.cpuMillis;
    const rate = cpu / (meanSeconds * meanCpu);
    const pick = zipfPicker(jobs.length, this.random);
    for (const at of this.#poisson(rate, 0)) {
      const app = jobs[pick()]!;
      if (app.image === undefined || this.#stackVersionAt(app.stack, at) !== app.stackVersion) {
        this.#build(app, at);
      }
      const seconds = (shortest + this.random() * (longest - shortest)) * 60;
      const uid = this.#create(app, at);
      this.events.push({ at: at + seconds, kind: "delete", uid });
    }
  }
}

function templateOf(app: App): PodTemplate {
  return {
    app: app.name,
    namespace: app.namespace,
    images: [app.image!.name, ...(app.sidecar === undefined ? [] : [app.sidecar])],
    cpuMillis: app.cpuMillis,
    memoryBytes: app.memoryBytes,
    nodeSelector: app.gpu
      ? { "nvidia.com/gpu.present": "true" }
      : app.arches.includes("arm64")
        ? {}
        : { "kubernetes.io/arch": "amd64" },
    gpu: app.gpu,
  };
}

/** Node joins (new, empty nodes) and removals (drained nodes), at the configured hours. */
export function addNodeChanges(
  params: SimulationParams,
  nodes: readonly NodeSpec[],
  nodeSpec: (index: number) => NodeSpec,
  events: WorkloadEvent[],
): void {
  const random = seededRandom(params.seed + 2);
  let next = nodes.length;
  for (const join of params.workload.nodeJoins) {
    for (let index = 0; index < join.count; index += 1) {
      events.push({ at: join.atHour * 3600 + index * 20, kind: "nodeAdd", node: nodeSpec(next) });
      next += 1;
    }
  }
  for (const removal of params.workload.nodeRemovals) {
    // Removed nodes are picked by name among the initial nodes, never by their state.
    const names = nodes.map((node) => node.name);
    for (let index = 0; index < removal.count && names.length > 0; index += 1) {
      const [name] = names.splice(Math.floor(random() * names.length), 1);
      events.push({ at: removal.atHour * 3600 + index * 60, kind: "nodeRemove", name: name! });
    }
  }
}
