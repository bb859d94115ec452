// Node load: CPU and memory requested on each node by scheduled pods, plus hints issued but not
// yet visible as scheduled pods. Hints read it to keep warm nodes from filling up first.
import type { NodeSummary, Resources } from "../inventory/inventory.ts";

/** Read access for the admission path. */
export interface NodeLoadView {
  /** Requests of scheduled pods plus pending hints on the node. */
  requested(node: string): Resources;
  /**
   * Mean requested CPU share (requested / allocatable) over the nodes that report allocatable
   * CPU, idle nodes included.
   */
  meanCpuShare(nodes: readonly NodeSummary[]): number;
}

// The mean is reused for this long: it scans every node, and admissions come in bursts.
const MEAN_REUSE_MS = 1000;

interface PodRecord {
  readonly node: string;
  readonly requests: Resources;
}

interface HintRecord {
  readonly node: string;
  readonly requests: Resources;
  readonly expiresAt: number;
}

const ZERO: Resources = { cpuMillis: 0, memoryBytes: 0 };

/**
 * Slim per-node load: only the node name and requests of each pod are kept, never pod objects.
 * Pending hints expire after their lifetime or when a pod lands on a hinted node.
 */
export class NodeLoad implements NodeLoadView {
  private readonly pods = new Map<string, PodRecord>();
  private readonly totals = new Map<string, Resources>();
  private hints: HintRecord[] = [];
  private readonly hintTotals = new Map<string, Resources>();
  private mean: { nodes: readonly NodeSummary[]; at: number; value: number } | undefined;

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
    this.hints.push({ node, requests, expiresAt: this.now() + lifetimeMs });
    addTo(this.hintTotals, node, requests, 1);
  }

  requested(node: string): Resources {
    this.expireHints();
    const base = this.totals.get(node) ?? ZERO;
    const pending = this.hintTotals.get(node) ?? ZERO;
    return {
      cpuMillis: base.cpuMillis + pending.cpuMillis,
      memoryBytes: base.memoryBytes + pending.memoryBytes,
    };
  }

  meanCpuShare(nodes: readonly NodeSummary[]): number {
    const now = this.now();
    if (
      this.mean !== undefined &&
      this.mean.nodes === nodes &&
      now - this.mean.at < MEAN_REUSE_MS
    ) {
      return this.mean.value;
    }
    let sum = 0;
    let count = 0;
    for (const node of nodes) {
      if (node.allocatable.cpuMillis > 0) {
        sum += this.requested(node.name).cpuMillis / node.allocatable.cpuMillis;
        count += 1;
      }
    }
    const value = count === 0 ? 0 : sum / count;
    this.mean = { nodes, at: now, value };
    return value;
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
    const index = this.hints.findIndex((hint) => hint.node === node);
    const hint = this.hints[index];
    if (hint !== undefined) {
      this.hints.splice(index, 1);
      addTo(this.hintTotals, node, hint.requests, -1);
    }
  }

  private expireHints(): void {
    const now = this.now();
    // Hints are appended in time order (one lifetime for all), so expired ones lead the list.
    let expired = 0;
    while (expired < this.hints.length && (this.hints[expired]?.expiresAt ?? Infinity) <= now) {
      const hint = this.hints[expired];
      if (hint !== undefined) {
        addTo(this.hintTotals, hint.node, hint.requests, -1);
      }
      expired += 1;
    }
    if (expired > 0) {
      this.hints = this.hints.slice(expired);
    }
  }
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
