// Node facts the controller reads from the inventory: the images nodes report, and their spare
// capacity.
import { parseImageReference } from "../image/reference.ts";
import type { Inventory, NodeSummary } from "../inventory/inventory.ts";
import type { NodeLoadView } from "../locality/load.ts";
import { findHolders } from "../locality/overlap.ts";

/** Nodes the inventory reports holding the image, by digest or by tagged name. */
export function holdersOf(inventory: Inventory, image: string): ReadonlySet<string> {
  const parsed = parseImageReference(image);
  if (!parsed.ok) {
    return new Set();
  }
  return new Set(findHolders(inventory, { original: parsed.reference }).map(({ node }) => node));
}

/**
 * Spare capacity of a node: 1 minus the larger of its requested CPU and memory shares. A node
 * that reports no allocatable resources counts as full, so it is chosen last.
 */
export function spareShare(node: NodeSummary, load: NodeLoadView | undefined): number {
  const { cpuMillis, memoryBytes } = node.allocatable;
  if (cpuMillis <= 0 || memoryBytes <= 0) {
    return 0;
  }
  const requested = load?.requested(node.name) ?? { cpuMillis: 0, memoryBytes: 0 };
  const used = Math.max(requested.cpuMillis / cpuMillis, requested.memoryBytes / memoryBytes);
  return Math.max(0, 1 - used);
}
