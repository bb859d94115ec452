// Node load: CPU and memory requested on each node by scheduled pods, plus hints issued but not
// yet visible as scheduled pods. Hints read it to keep warm nodes from filling up first.
import type { NodeSummary, Resources } from "../inventory/inventory.ts";
import { PendingHints } from "./pending-hints.ts";

/** Read access for the admission path. */
export interface NodeLoadView {
  /** Requests of scheduled pods plus pending hints on the node. */
  requested(node: string): Resources;
  /**
   * Mean requested CPU share (requested / allocatable) over the nodes that report allocatable
   * CPU, idle nodes included.
   */
  meanCpuShare(nodes: readonly NodeSummary[]): number;
  /**
   * The requested CPU share below which `fraction` of the nodes that report allocatable CPU lie
   * (0.25: the lower quartile); 0 without such nodes.
   */
  cpuShareQuantile(nodes: readonly NodeSummary[], fraction: number): number;
}

// The mean and quantiles are reused for this long: they scan every node, and admissions come
// in bursts.
const MEAN_REUSE_MS = 1000;

interface PodRecord {
  readonly node: string;
  readonly requests: Resources;
}

const ZERO: Resources = { cpuMillis: 0, memoryBytes: 0 };

/**
 * Slim per-node load: only the node name and requests of each pod are kept, never pod objects.
 * Pending hints expire after their lifetime or when a pod lands on a hinted node.
 */
export class NodeLoad implements NodeLoadView {
  private readonly pods = new Map<string, PodRecord>();
  private readonly totals = new Map<string, Resources>();
  /** Every pending hint, oldest first. All share one lifetime, so they expire in this order. */
  private readonly hints = new PendingHints();
  // Keyed by the nodes array: each cached hint ranking keeps its own feasible nodes array.
  private readonly shares = new WeakMap<readonly NodeSummary[], CpuShares>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Records or replaces a scheduled pod; a pod without a node is forgotten. A pod that was not
   * on this node before settles one pending hint there; updates of a known pod (status, labels)
   * settle nothing.
   */
  setPod(uid: string, node: string | undefined, requests: Resources): void {
    const previous = this.pods.get(uid);
    this.deletePod(uid);
    if (node === undefined || node === "") {
      return;
    }
    this.pods.set(uid, { node, requests });
    this.add(node, requests, 1);
    if (previous?.node !== node) {
      this.settleHint(node);
    }
  }

  /**
   * Replaces every pod with a fresh list (after a relist). Pods that were already known keep
   * their hints unsettled; only pods new to their node settle one.
   */
  replacePods(pods: Iterable<{ uid: string; node?: string; requests: Resources }>): void {
    const previous = new Map(this.pods);
    this.clearPods();
    for (const pod of pods) {
      if (pod.node === undefined || pod.node === "") {
        continue;
      }
      this.pods.set(pod.uid, { node: pod.node, requests: pod.requests });
      this.add(pod.node, pod.requests, 1);
      if (previous.get(pod.uid)?.node !== pod.node) {
        this.settleHint(pod.node);
      }
    }
  }

  deletePod(uid: string): void {
    const record = this.pods.get(uid);
    if (record !== undefined) {
      this.pods.delete(uid);
      this.add(record.node, record.requests, -1);
    }
  }

  /** Forgets every pod, before a relist replaces them. */
  clearPods(): void {
    this.pods.clear();
    this.totals.clear();
  }

  /** Counts a pod's requests against a hinted node until it expires or a pod lands there. */
  addHint(node: string, requests: Resources, lifetimeMs: number): void {
    if (lifetimeMs <= 0) {
      return;
    }
    this.hints.add(node, requests, this.now() + lifetimeMs);
  }

  requested(node: string): Resources {
    this.hints.expire(this.now());
    const base = this.totals.get(node) ?? ZERO;
    const pending = this.hints.totalOf(node) ?? ZERO;
    return {
      cpuMillis: base.cpuMillis + pending.cpuMillis,
      memoryBytes: base.memoryBytes + pending.memoryBytes,
    };
  }

  meanCpuShare(nodes: readonly NodeSummary[]): number {
    return this.sharesOf(nodes).mean;
  }

  cpuShareQuantile(nodes: readonly NodeSummary[], fraction: number): number {
    const { sorted } = this.sharesOf(nodes);
    const index = Math.min(sorted.length - 1, Math.floor(fraction * sorted.length));
    return sorted[Math.max(0, index)] ?? 0;
  }

  /** Computes the nodes' requested CPU shares, sorted, and their mean, reused for MEAN_REUSE_MS. */
  private sharesOf(nodes: readonly NodeSummary[]): CpuShares {
    const now = this.now();
    const cached = this.shares.get(nodes);
    if (cached !== undefined && now - cached.at < MEAN_REUSE_MS) {
      return cached;
    }
    const sorted: number[] = [];
    let sum = 0;
    for (const node of nodes) {
      if (node.allocatable.cpuMillis > 0) {
        const share = this.requested(node.name).cpuMillis / node.allocatable.cpuMillis;
        sorted.push(share);
        sum += share;
      }
    }
    sorted.sort((left, right) => left - right);
    const shares = { at: now, mean: sorted.length === 0 ? 0 : sum / sorted.length, sorted };
    this.shares.set(nodes, shares);
    return shares;
  }

  /** Number of pods tracked, for metrics. */
  get podCount(): number {
    return this.pods.size;
  }

  private add(node: string, requests: Resources, direction: 1 | -1): void {
    addTo(this.totals, node, requests, direction);
  }

  /** A pod landing on a hinted node is the hint coming true: the oldest hint there is settled. */
  private settleHint(node: string): void {
    this.hints.expire(this.now());
    this.hints.settleOldest(node);
  }
}

interface CpuShares {
  readonly at: number;
  readonly mean: number;
  readonly sorted: readonly number[];
}

function addTo(
  totals: Map<string, Resources>,
  node: string,
  requests: Resources,
  direction: 1 | -1,
): void {
  const total = totals.get(node) ?? ZERO;
  totals.set(node, {
    cpuMillis: total.cpuMillis + direction * requests.cpuMillis,
    memoryBytes: total.memoryBytes + direction * requests.memoryBytes,
  });
}
