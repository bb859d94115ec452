// Diagnostics of where CPU imbalance comes from, printed when SCHED_DIAG is set. They read the
// simulation's state and never change it.
import type { SimNode } from "./nodes.ts";
import type { SchedulingPod } from "./scheduler.ts";
import type { PodTemplate } from "./workload.ts";

interface Bucket {
  pods: number;
  hinted: number;
  onHinted: number;
  onTopWeight: number;
  /** Sum of (node share before the bind - mean share of its architecture), hinted pods on a hinted node. */
  excess: number;
  /** Same, for unhinted pods and hinted pods off their hints. */
  excessOther: number;
  other: number;
  /** Sum over binds of pod CPU share times (node share before - mean): variance added / 2. */
  weighted: number;
  deleted: number;
  distinctHintedWeights: number;
  hintCount: number;
}

const newBucket = (): Bucket => ({
  pods: 0,
  hinted: 0,
  onHinted: 0,
  onTopWeight: 0,
  excess: 0,
  excessOther: 0,
  other: 0,
  weighted: 0,
  deleted: 0,
  distinctHintedWeights: 0,
  hintCount: 0,
});

export const DIAGNOSE = process.env.SCHED_DIAG !== undefined && process.env.SCHED_DIAG !== "";

export class Diagnostics {
  readonly #buckets = new Map<string, Bucket>();
  readonly #samples: string[] = [];
  readonly #appOnHinted = new Map<string, number>();
  readonly #lastBind = new Map<string, number>();
  readonly #overshoot = { hintedOn: 0, hintedOff: 0, unhinted: 0, sameApp: 0 };
  readonly #tail: string[] = [];
  /** Hinted binds on a hinted node by node share before the bind minus the mean. */
  readonly #histogram = new Map<string, number>();

  constructor(private readonly initialNodes: number) {}

  bound(
    now: number,
    node: SimNode,
    nodes: Iterable<SimNode>,
    pod: SchedulingPod,
    template: PodTemplate,
  ): void {
    const meanShare = sameArchMean(node, nodes);
    const { preferred } = pod;
    const { app, cpuMillis } = template;
    const label = phase(now);
    const bucket = this.#buckets.get(label) ?? newBucket();
    this.#buckets.set(label, bucket);
    bucket.pods += 1;
    const before = node.requestedCpu / node.cpuMillis;
    const size = cpuMillis / node.cpuMillis;
    bucket.weighted += size * (before - meanShare) + (size * size) / 2;
    this.#lastBind.set(node.name, now);
    if (now >= 7200 && before + cpuMillis / node.cpuMillis > meanShare + 0.12) {
      const kind =
        preferred.size === 0 ? "unhinted" : preferred.has(node.name) ? "hintedOn" : "hintedOff";
      this.#overshoot[kind] += 1;
      this.#overshoot.sameApp += (node.appPods.get(app) ?? 0) > 0 ? 1 : 0;
    }
    if (preferred.size === 0) {
      bucket.excessOther += before - meanShare;
      bucket.other += 1;
      return;
    }
    bucket.hinted += 1;
    bucket.hintCount += preferred.size;
    bucket.distinctHintedWeights += new Set(preferred.values()).size;
    const weight = preferred.get(node.name);
    if (weight === undefined) {
      bucket.excessOther += before - meanShare;
      bucket.other += 1;
      return;
    }
    bucket.onHinted += 1;
    if (now >= 7200) {
      const bin = (Math.floor((before - meanShare) / 0.05) * 0.05).toFixed(2);
      this.#histogram.set(bin, (this.#histogram.get(bin) ?? 0) + 1);
    }
    bucket.excess += before - meanShare;
    this.#appOnHinted.set(app, (this.#appOnHinted.get(app) ?? 0) + 1);
    if (weight === Math.max(...preferred.values())) {
      bucket.onTopWeight += 1;
    }
  }

  sample(now: number, nodes: readonly SimNode[], cov: number): void {
    const share = (node: SimNode): number => node.requestedCpu / node.cpuMillis;
    const all = nodes.map(share);
    const mean = all.reduce((sum, value) => sum + value, 0) / all.length;
    const groups = {
      joined: nodes.filter((node) => Number(node.name.slice(5)) >= this.initialNodes),
      arm64: nodes.filter((node) => node.arch === "arm64"),
      amd64: nodes.filter(
        (node) => node.arch === "amd64" && Number(node.name.slice(5)) < this.initialNodes,
      ),
    };
    // Each group's part of the variance: sum of squared deviations from the overall mean.
    const parts = Object.entries(groups).map(([name, members]) => {
      const values = members.map(share);
      const groupMean = values.reduce((sum, value) => sum + value, 0) / (values.length || 1);
      const squares = values.reduce((sum, value) => sum + (value - mean) ** 2, 0);
      return `${name} n=${members.length} mean=${groupMean.toFixed(3)} var%=${(
        (100 * squares) /
        all.reduce((sum, value) => sum + (value - mean) ** 2, 0)
      ).toFixed(0)}`;
    });
    const low = nodes.filter((node) => share(node) < mean - 0.15);
    const starved = low.filter((node) => now - (this.#lastBind.get(node.name) ?? 0) > 300).length;
    const high = nodes.filter((node) => share(node) > mean + 0.12).length;
    this.#tail.push(
      `${(now / 3600).toFixed(2)}h low=${low.length}(starved ${starved}) high=${high}`,
    );
    const sorted = [...all].sort((left, right) => left - right);
    const at = (fraction: number): string =>
      (sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? 0).toFixed(2);
    this.#samples.push(
      `t=${(now / 3600).toFixed(2)}h cov=${cov.toFixed(3)} mean=${mean.toFixed(3)} p0=${at(0)} p10=${at(0.1)} p50=${at(0.5)} p90=${at(0.9)} p100=${at(1)} | ${parts.join(" | ")}`,
    );
  }

  /** Records half the variance a pod leaving a node adds, as `weighted` does for binds. */
  unbound(now: number, node: SimNode, nodes: Iterable<SimNode>, cpuMillis: number): void {
    const meanShare = sameArchMean(node, nodes);
    const bucket = this.#buckets.get(phase(now)) ?? newBucket();
    this.#buckets.set(phase(now), bucket);
    const size = cpuMillis / node.cpuMillis;
    const before = node.requestedCpu / node.cpuMillis;
    bucket.deleted += -size * (before - meanShare) + (size * size) / 2;
  }

  report(): string {
    const lines = ["-- samples --", ...this.#samples, "-- binds by phase --"];
    for (const [label, bucket] of this.#buckets) {
      lines.push(
        `${label}: pods=${bucket.pods} hinted=${bucket.hinted} onHinted=${bucket.onHinted} onTop=${bucket.onTopWeight} ` +
          `avgHints=${(bucket.hintCount / (bucket.hinted || 1)).toFixed(1)} avgDistinctW=${(bucket.distinctHintedWeights / (bucket.hinted || 1)).toFixed(1)} ` +
          `excessOnHinted=${(bucket.excess / (bucket.onHinted || 1)).toFixed(3)} excessOther=${(bucket.excessOther / (bucket.other || 1)).toFixed(3)} varAddBind=${bucket.weighted.toFixed(2)} varAddDelete=${bucket.deleted.toFixed(2)}`,
      );
    }
    lines.push(`-- binds ending above mean+0.12 (after 2 h): ${JSON.stringify(this.#overshoot)}`);
    const bins = [...this.#histogram].sort((left, right) => Number(left[0]) - Number(right[0]));
    lines.push(
      `-- hinted-on binds by share-mean: ${bins.map(([bin, n]) => `${bin}:${n}`).join(" ")}`,
    );
    lines.push(`-- tails: ${this.#tail.join("; ")}`);
    const top = [...this.#appOnHinted].sort((left, right) => right[1] - left[1]).slice(0, 10);
    lines.push(
      `-- apps with most pods on hinted nodes: ${top.map(([a, n]) => `${a}:${n}`).join(" ")}`,
    );
    return lines.join("\n");
  }
}

function phase(now: number): string {
  const hours = now / 3600;
  if (hours < 2) {
    return "warmup";
  }
  if (hours < 3) {
    return "2-3h";
  }
  if (hours < 3.5) {
    return "3-3.5h(join)";
  }
  if (hours < 4.5) {
    return "3.5-4.5h";
  }
  if (hours < 5) {
    return "4.5-5h(drain)";
  }
  return "5-6h";
}

/** Mean requested CPU share of the non-GPU nodes of the node's architecture. */
function sameArchMean(node: SimNode, nodes: Iterable<SimNode>): number {
  let sum = 0;
  let count = 0;
  for (const other of nodes) {
    if (!other.gpu && other.arch === node.arch) {
      sum += other.requestedCpu / other.cpuMillis;
      count += 1;
    }
  }
  return count === 0 ? 0 : sum / count;
}
