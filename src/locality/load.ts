// Node load: CPU and memory requested on each node by scheduled pods, plus hints issued but not
// yet visible as scheduled pods. Hints read it to keep warm nodes from filling up first.
import type { Resources } from "../inventory/inventory.ts";

/** Read access for the admission path. */
export interface NodeLoadView {
  /** Requests of scheduled pods plus pending hints on the node. */
  requested(node: string): Resources;
  /** Mean requested CPU share (requested / allocatable) over nodes with allocatable CPU. */
  meanCpuShare(allocatable: (node: string) => number): number;
}

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

  constructor(private readonly now: () => number = Date.now) {}

  /** Records or replaces a scheduled pod; a pod without a node is forgotten. */
  setPod(uid: string, node: string | undefined, requests: Resources): void {
    this.deletePod(uid);
    if (node === undefined || node === "") {
      return;
    }
    this.pods.set(uid, { node, requests });
    this.add(node, requests, 1);
    this.settleHint(node);
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
  }

  requested(node: string): Resources {
    this.expireHints();
    const base = this.totals.get(node) ?? ZERO;
    let cpuMillis = base.cpuMillis;
    let memoryBytes = base.memoryBytes;
    for (const hint of this.hints) {
      if (hint.node === node) {
        cpuMillis += hint.requests.cpuMillis;
        memoryBytes += hint.requests.memoryBytes;
      }
    }
    return { cpuMillis, memoryBytes };
  }

  meanCpuShare(allocatable: (node: string) => number): number {
    let sum = 0;
    let count = 0;
    for (const [node, total] of this.totals) {
      const capacity = allocatable(node);
      if (capacity > 0) {
        sum += total.cpuMillis / capacity;
        count += 1;
      }
    }
    return count === 0 ? 0 : sum / count;
  }

  /** Number of pods tracked, for metrics. */
  get podCount(): number {
    return this.pods.size;
  }

  private add(node: string, requests: Resources, direction: 1 | -1): void {
    const total = this.totals.get(node) ?? ZERO;
    this.totals.set(node, {
      cpuMillis: total.cpuMillis + direction * requests.cpuMillis,
      memoryBytes: total.memoryBytes + direction * requests.memoryBytes,
    });
  }

  /** A pod landing on a hinted node is the hint coming true: the oldest hint there is settled. */
  private settleHint(node: string): void {
    const index = this.hints.findIndex((hint) => hint.node === node);
    if (index >= 0) {
      this.hints.splice(index, 1);
    }
  }

  private expireHints(): void {
    const now = this.now();
    if (this.hints.some((hint) => hint.expiresAt <= now)) {
      this.hints = this.hints.filter((hint) => hint.expiresAt > now);
    }
  }
}
