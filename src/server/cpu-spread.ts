// The spread of requested CPU across nodes, the measure hints are judged by next to the
// warm-bytes ratio: flat hints toward warm nodes raise it.
import type { NodeSummary } from "../inventory/inventory.ts";
import type { NodeLoadView } from "../locality/load.ts";

/**
 * Coefficient of variation (standard deviation over mean) of requested CPU share across nodes
 * reporting allocatable CPU; 0 when there are none or nothing is requested.
 */
export function cpuSpread(nodes: readonly NodeSummary[], load: NodeLoadView): number {
  const shares = nodes
    .filter((node) => node.allocatable.cpuMillis > 0)
    .map((node) => load.requested(node.name).cpuMillis / node.allocatable.cpuMillis);
  if (shares.length === 0) {
    return 0;
  }
  const mean = shares.reduce((sum, share) => sum + share, 0) / shares.length;
  if (mean === 0) {
    return 0;
  }
  const variance = shares.reduce((sum, share) => sum + (share - mean) ** 2, 0) / shares.length;
  return Math.sqrt(variance) / mean;
}
