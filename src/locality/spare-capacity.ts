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

const GB = 1e9;

/**
 * Walks the ranked candidates and keeps the first maxNodes that pass two load checks, so the
 * walk is short however many nodes are warm. Without load data, or with balance off, the first
 * maxNodes are kept.
 *
 * - The node's requested CPU share is at most both the feasible nodes' mean plus
 *   balance.headroomOverMean and their balance.loadQuantile quantile.
 * - The imbalance the hint adds is paid for by the bytes it saves. Without the hint, the
 *   scheduler's LeastAllocated score sends the pod to about the emptiest feasible node. Placing
 *   it instead on a node whose share is `gap` above that adds about 2 x gap x (pod CPU / node
 *   CPU) to the sum of squared deviations of the node shares. The hint is kept while
 *   gap x (pod CPU / node CPU) is at most balance.imbalancePerGB for each GB (1e9 bytes) of the
 *   pod's image bytes the node holds. A big pod steered to a busy node must save a large pull,
 *   while a small pod may follow a warm node further from the emptiest ones.
 */
export function withSpareCapacity(
  ranked: Iterable<ScoredNode>,
  feasibleNodes: readonly NodeSummary[],
  maxNodes: number,
  inputs: SpareCapacityInputs,
  podCpuMillis: number,
): { kept: ScoredNode[] } {
  const { load, inventory, config } = inputs;
  const unbalanced = load === undefined || !config.balance.enabled;
  const { balance } = config;
  // The mean is over the nodes this pod could use: idle nodes it cannot run on (tainted,
  // another architecture) would pull the mean down and switch hints off.
  const limit = unbalanced
    ? Infinity
    : Math.min(
        load.meanCpuShare(feasibleNodes) + balance.headroomOverMean,
        load.cpuShareQuantile(feasibleNodes, balance.loadQuantile),
      );
  const emptiest = unbalanced ? 0 : load.cpuShareQuantile(feasibleNodes, balance.emptiestQuantile);
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
    const imbalance = Math.max(0, share - emptiest) * (podCpuMillis / capacity);
    if (share <= limit && imbalance <= balance.imbalancePerGB * (candidate.heldBytes / GB)) {
      kept.push({ ...candidate, spare: 1 - share });
    }
  }
  return { kept };
}
