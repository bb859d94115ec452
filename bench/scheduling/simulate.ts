// Replays a workload over the simulated cluster under one policy. Pods are admitted (by the
// webhook when the policy has one), queued, scheduled every second, and pull what their node
// lacks. Node status reaches the scheduler and the webhook at each status sync, and image GC,
// the pre-pull controller and the imbalance samples run on their own periods.
import { seededRandom } from "../hints/cluster.ts";
import type { Catalog } from "./catalog.ts";
import { DIAGNOSE, Diagnostics } from "./diagnose.ts";
import { SimNode } from "./nodes.ts";
import type { SimulationParams } from "./params.ts";
import { PrepullModel } from "./prepull.ts";
import { Scheduler, type SchedulingPod } from "./scheduler.ts";
import { Webhook } from "./webhook.ts";
import type { PodTemplate, Workload, WorkloadEvent } from "./workload.ts";

export interface Policy {
  readonly name: string;
  /** Basis of the hints: none (no webhook), whole images, or shared layers. */
  readonly hints: "none" | "images" | "layers";
  readonly prepull: boolean;
  /** Webhook configuration; params.webhook when absent. */
  readonly webhook?: Record<string, unknown>;
}

export interface PolicyResult {
  readonly policy: Policy;
  /** Counted after the warm-up only. */
  readonly podsStarted: number;
  readonly startBytes: number;
  readonly backgroundBytes: number;
  readonly backgroundPulls: number;
  /** Container starts whose image was already on the node. */
  readonly pullsAvoided: number;
  readonly containerStarts: number;
  /** Estimated pull time of each started pod, in seconds. */
  readonly startSeconds: readonly number[];
  /** Coefficient of variation of requested CPU share across nodes, one per sample. */
  readonly cpuCov: readonly number[];
  /** Mean requested CPU share of the arm64 nodes and of all nodes, one per sample. */
  readonly arm64Share: readonly number[];
  readonly meanShare: readonly number[];
  readonly podsHinted: number;
  readonly podsOnHintedNode: number;
  readonly pendingAtEnd: number;
  readonly wallSeconds: number;
}

interface LivePod {
  readonly template: PodTemplate;
  readonly scheduling: SchedulingPod;
  node?: SimNode;
  nextTry: number;
}

interface Timer {
  at: number;
  readonly every: number;
  readonly run: () => void;
}

const SCHEDULE_EVERY_SECONDS = 1;
const RETRY_UNSCHEDULABLE_SECONDS = 30;
const FLUSH_EVERY_SECONDS = 5;

export class Simulation {
  readonly #params: SimulationParams;
  readonly #catalog: Catalog;
  readonly #nodes = new Map<string, SimNode>();
  readonly #scheduler: Scheduler;
  readonly #webhook: Webhook | undefined;
  readonly #prepull: PrepullModel | undefined;
  readonly #pods = new Map<string, LivePod>();
  #queue: string[] = [];
  #removed: string[] = [];
  #now = 0;
  readonly #timers: Timer[];
  readonly #warmup: number;
  readonly #diagnostics: Diagnostics | undefined;
  readonly #result = {
    podsStarted: 0,
    startBytes: 0,
    pullsAvoided: 0,
    containerStarts: 0,
    startSeconds: [] as number[],
    cpuCov: [] as number[],
    arm64Share: [] as number[],
    meanShare: [] as number[],
    podsHinted: 0,
    podsOnHintedNode: 0,
  };

  constructor(
    params: SimulationParams,
    private readonly workload: Workload,
    private readonly policy: Policy,
  ) {
    this.#params = params;
    this.#catalog = workload.catalog;
    this.#warmup = params.warmupHours * 3600;
    this.#scheduler = new Scheduler([], seededRandom(params.seed + 3));
    for (const spec of workload.nodes) {
      this.#addNode(new SimNode(spec, params));
    }
    const layers = this.#catalog.layerSource();
    this.#webhook =
      policy.hints === "none"
        ? undefined
        : new Webhook({
            config: policy.webhook ?? params.webhook,
            ...(policy.hints === "layers" ? { layers } : {}),
            now: () => this.#now,
          });
    this.#prepull = policy.prepull
      ? new PrepullModel(params.prepull, layers, this.#catalog)
      : undefined;
    this.#timers = this.#createTimers();
    this.#diagnostics = DIAGNOSE ? new Diagnostics(params.nodes.count) : undefined;
  }

  run(): PolicyResult {
    const started = performance.now();
    // NOTE: events past the horizon (ends of jobs started before it, up to jobMinutes later)
    // are replayed too, so the last samples see the job pods drain under every policy.
    for (const event of this.workload.events) {
      this.#advance(event.at);
      this.#handle(event);
    }
    this.#advance(this.#params.hours * 3600);
    if (this.#diagnostics !== undefined) {
      console.log(`${this.policy.name}\n${this.#diagnostics.report()}`);
    }
    return {
      policy: this.policy,
      ...this.#result,
      backgroundBytes: this.#prepull?.backgroundBytes ?? 0,
      backgroundPulls: this.#prepull?.pulls ?? 0,
      pendingAtEnd: this.#queue.length,
      wallSeconds: (performance.now() - started) / 1000,
    };
  }

  #createTimers(): Timer[] {
    const { kubelet } = this.#params;
    const timers = [
      { at: 0, every: kubelet.statusSyncSeconds, run: () => this.#syncStatus() },
      { at: 0.5, every: SCHEDULE_EVERY_SECONDS, run: () => this.#scheduleQueue() },
      {
        at: kubelet.gcPeriodSeconds,
        every: kubelet.gcPeriodSeconds,
        run: () => this.#collectGarbage(),
      },
      { at: this.#warmup, every: this.#params.sampleEverySeconds, run: () => this.#sample() },
    ];
    const prepull = this.#prepull;
    if (prepull !== undefined && this.#webhook !== undefined) {
      const webhook = this.#webhook;
      timers.push({ at: 0, every: FLUSH_EVERY_SECONDS, run: () => prepull.flush(this.#now) });
      timers.push({
        at: 1,
        every: prepull.settings.resyncIntervalMs / 1000,
        run: () =>
          prepull.reconcile(
            this.#now,
            this.#nodes,
            webhook.inventory,
            webhook.load,
            this.#params.pullMBps,
          ),
      });
    }
    return timers;
  }

  /** Runs every timer due up to `until`, in time order. */
  #advance(until: number): void {
    for (;;) {
      let next: Timer | undefined;
      for (const timer of this.#timers) {
        if (timer.at <= until && (next === undefined || timer.at < next.at)) {
          next = timer;
        }
      }
      if (next === undefined) {
        this.#now = until;
        return;
      }
      this.#now = next.at;
      next.run();
      next.at += next.every;
    }
  }

  #handle(event: WorkloadEvent): void {
    switch (event.kind) {
      case "create":
        this.#create(event.uid, event.pod, event.uid);
        return;
      case "delete":
        this.#delete(event.uid);
        return;
      case "nodeAdd":
        this.#addNode(new SimNode(event.node, this.#params));
        return;
      case "nodeRemove":
        this.#removeNode(event.name);
        return;
    }
  }

  /** Admits a pod (through the webhook, if any) and queues it for scheduling. */
  #create(uid: string, template: PodTemplate, requestUid: string): void {
    let preferred: ReadonlyMap<string, number> = new Map();
    if (this.#webhook !== undefined) {
      const admission = this.#webhook.admit(requestUid, template);
      preferred = admission.preferred;
      this.#prepull?.recordAdmission(admission.outcome, admission.body, this.#now);
    }
    const scheduling: SchedulingPod = {
      app: template.app,
      images: template.images,
      cpuMillis: template.cpuMillis,
      memoryBytes: template.memoryBytes,
      nodeSelector: template.nodeSelector,
      toleratesGpu: template.gpu,
      preferred,
    };
    this.#pods.set(uid, { template, scheduling, nextTry: 0 });
    this.#queue.push(uid);
  }

  #delete(uid: string): void {
    const pod = this.#pods.get(uid);
    if (pod === undefined) {
      return;
    }
    this.#pods.delete(uid);
    if (pod.node !== undefined) {
      this.#unbind(uid, pod, pod.node);
    }
  }

  #scheduleQueue(): void {
    const waiting: string[] = [];
    for (const uid of this.#queue) {
      const pod = this.#pods.get(uid);
      if (pod === undefined || pod.node !== undefined) {
        continue;
      }
      if (pod.nextTry > this.#now) {
        waiting.push(uid);
        continue;
      }
      const node = this.#scheduler.schedule(pod.scheduling);
      if (node === undefined) {
        pod.nextTry = this.#now + RETRY_UNSCHEDULABLE_SECONDS;
        waiting.push(uid);
        continue;
      }
      this.#bind(uid, pod, node);
    }
    this.#queue = waiting;
  }

  #bind(uid: string, pod: LivePod, node: SimNode): void {
    const { template } = pod;
    this.#diagnostics?.bound(this.#now, node, this.#nodes.values(), pod.scheduling, template);
    pod.node = node;
    node.requestedCpu += template.cpuMillis;
    node.requestedMemory += template.memoryBytes;
    node.pods += 1;
    node.appPods.set(template.app, (node.appPods.get(template.app) ?? 0) + 1);
    this.#scheduler.countPod(node, template.app, 1);
    this.#webhook?.bound(uid, node, template);

    let bytes = 0;
    let avoided = 0;
    for (const name of new Set(template.images)) {
      if (node.hasImage(name)) {
        avoided += 1;
      } else {
        bytes += node.pull(this.#catalog.image(name), this.#now);
      }
      node.use(name, this.#now, 1);
    }
    if (this.#now < this.#warmup) {
      return;
    }
    const result = this.#result;
    result.podsStarted += 1;
    result.startBytes += bytes;
    result.pullsAvoided += avoided;
    result.containerStarts += new Set(template.images).size;
    result.startSeconds.push(bytes / (this.#params.pullMBps * 1e6));
    if (pod.scheduling.preferred.size > 0) {
      result.podsHinted += 1;
      result.podsOnHintedNode += pod.scheduling.preferred.has(node.name) ? 1 : 0;
    }
  }

  #unbind(uid: string, pod: LivePod, node: SimNode): void {
    const { template } = pod;
    this.#diagnostics?.unbound(this.#now, node, this.#nodes.values(), template.cpuMillis);
    node.requestedCpu -= template.cpuMillis;
    node.requestedMemory -= template.memoryBytes;
    node.pods -= 1;
    node.appPods.set(template.app, (node.appPods.get(template.app) ?? 1) - 1);
    this.#scheduler.countPod(node, template.app, -1);
    for (const name of new Set(template.images)) {
      node.use(name, this.#now, -1);
    }
    this.#webhook?.deleted(uid);
    pod.node = undefined;
  }

  #addNode(node: SimNode): void {
    this.#nodes.set(node.name, node);
    this.#scheduler.nodes.push(node);
  }

  /** Drains a node: its pods are recreated by their controllers and admitted again. */
  #removeNode(name: string): void {
    const node = this.#nodes.get(name);
    if (node === undefined) {
      return;
    }
    this.#nodes.delete(name);
    this.#scheduler.nodes.splice(this.#scheduler.nodes.indexOf(node), 1);
    for (const name of node.reported) {
      this.#scheduler.imageNodes.set(name, (this.#scheduler.imageNodes.get(name) ?? 1) - 1);
    }
    this.#removed.push(name);
    for (const [uid, pod] of [...this.#pods]) {
      if (pod.node === node) {
        this.#unbind(uid, pod, node);
        this.#pods.delete(uid);
        this.#create(uid, pod.template, `${uid}/recreated-${Math.round(this.#now)}`);
      }
    }
  }

  /** Node status syncs: changed image lists reach the scheduler's image states and the webhook. */
  #syncStatus(): void {
    const objects: Record<string, unknown>[] = [];
    const counts = this.#scheduler.imageNodes;
    for (const node of this.#nodes.values()) {
      if (!node.imagesChanged) {
        continue;
      }
      for (const image of node.reported) {
        counts.set(image, (counts.get(image) ?? 1) - 1);
      }
      objects.push(node.syncStatus(this.#params.kubelet.maxReportedImages));
      for (const image of node.reported) {
        counts.set(image, (counts.get(image) ?? 0) + 1);
      }
    }
    this.#webhook?.syncNodes(objects, this.#removed);
    this.#removed = [];
  }

  #collectGarbage(): void {
    for (const node of this.#nodes.values()) {
      node.collectGarbage(this.#now, this.#params.kubelet);
    }
  }

  #sample(): void {
    // GPU nodes are left out: they are tainted for the few GPU apps and idle under every policy.
    const nodes = [...this.#nodes.values()].filter((node) => !node.gpu);
    const share = (node: SimNode): number => node.requestedCpu / node.cpuMillis;
    this.#result.cpuCov.push(coefficientOfVariation(nodes.map(share)));
    this.#diagnostics?.sample(this.#now, nodes, this.#result.cpuCov.at(-1) ?? 0);
    const arm = nodes.filter((node) => node.arch === "arm64");
    this.#result.arm64Share.push(arm.reduce((sum, node) => sum + share(node), 0) / arm.length);
    this.#result.meanShare.push(nodes.reduce((sum, node) => sum + share(node), 0) / nodes.length);
  }
}

function coefficientOfVariation(values: readonly number[]): number {
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / values.length;
  return mean === 0 ? 0 : Math.sqrt(variance) / mean;
}
