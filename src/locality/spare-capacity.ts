// Spare capacity of warm nodes: which of them may be hinted without unbalancing the cluster's
// requested CPU, and in what order, read from the node load.
import type { Config } from "../config.ts";
import type { Inventory, NodeSummary } from "../inventory/inventory.ts";
import type { ScoredNode } from "./affinity.ts";
import type { NodeLoadView } from "./load.ts";

/** Inputs of the spare-capacity rule besides the candidates. */
export interface SpareCapacityInputs {
  readonly config: Config;
  readonly inventory: Inventory;
  readonly load?: NodeLoadView;
}

/**
 * Walks the ranked candidates and keeps the first maxNodes whose requested CPU share is at most
 * both the feasible nodes' mean plus balance.headroomOverMean and their balance.loadQuantile
 * quantile, so the walk is short however many nodes are warm. Without load data, or with
 * balance off, the first maxNodes are kept.
 */
export function withSpareCapacity(
  ranked: Iterable<ScoredNode>,
  feasibleNodes: readonly NodeSummary[],
  maxNodes: number,
  inputs: SpareCapacityInputs,
): { kept: ScoredNode[] } {
  const { load, inventory, config } = inputs;
  const unbalanced = load === undefined || !config.balance.enabled;
  // The mean is over the nodes this pod could use: idle nodes it cannot run on (tainted,
  // another architecture) would pull the mean down and switch hints off.
  const limit = unbalanced
    ? Infinity
    : Math.min(
        load.meanCpuShare(feasibleNodes) + config.balance.headroomOverMean,
        load.cpuShareQuantile(feasibleNodes, config.balance.loadQuantile),
      );
  const kept: ScoredNode[] = [];
  for (const candidate of ranked) {
    if (kept.length >= maxNodes) {
      break;
    }
    if (unbalanced) {
      kept.push(candidate);
      continue;
    }
    const capacity = inventory.nodesByName.get(candidate.node)?.allocatable.cpuMillis ?? 0;
    if (capacity <= 0) {
      kept.push(candidate);
      continue;
    }
    const share = load.requested(candidate.node).cpuMillis / capacity;
    if (share <= limit) {
      kept.push({ ...candidate, spare: 1 - share });
    }
  }
  return { kept };
}
