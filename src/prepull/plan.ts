// Planning: which nodes each recorded image should be on, and which pulls may start now within
// the concurrency limits and the per-node byte budget. Pure: the controller gathers the inputs
// and carries out the result.
import type { NodeSummary } from "../inventory/inventory.ts";
import { selectForPlatform } from "../registry/platform.ts";
import { imageBytesOn, type ImageFacts } from "./image-facts.ts";
import type { PullProgress } from "./progress.ts";
import { entryKey, type ColdImageEntry } from "./record.ts";
import type { PrepullSettings } from "./settings.ts";

/** Everything a plan is computed from. */
export interface PlanInput {
  /** Recorded entries; the plan orders them by demand. */
  readonly entries: readonly ColdImageEntry[];
  readonly nodes: readonly NodeSummary[];
  /** True when the node inventory reports the image on the node. */
  readonly isReported: (image: string, node: string) => boolean;
  /** Spare capacity of a node, 0 (full or unknown) to 1 (idle). */
  readonly spare: (node: NodeSummary) => number;
  readonly facts: (image: string) => ImageFacts;
  readonly progress: PullProgress;
  readonly settings: PrepullSettings;
  /** Milliseconds since the Unix epoch. */
  readonly now: number;
}

/** A failure of an entry on a node, as status shows it. */
export interface NodeFailure {
  readonly node: string;
  readonly reason: string;
}

/** Progress of one entry over its target nodes. */
export interface EntryPlan {
  readonly entry: ColdImageEntry;
  readonly done: readonly string[];
  /** Target nodes still to pull on, running pulls included. */
  readonly pending: readonly string[];
  readonly failed: readonly NodeFailure[];
  /** Largest size of the image over the target nodes' platforms, when the manifest is known. */
  readonly sizeBytes?: number;
  /** The reason pending nodes wait, when it is not just their turn in the queue. */
  readonly note?: string;
}

/** A pull to start now. */
export interface PlannedPull {
  readonly entry: ColdImageEntry;
  readonly node: NodeSummary;
  /** Bytes charged to the node's budget. */
  readonly bytes: number;
}

export interface Plan {
  readonly entries: readonly EntryPlan[];
  readonly pulls: readonly PlannedPull[];
}

// Nodes whose condition taints mean they cannot pull now: the node lifecycle controller sets
// these for NotReady, unreachable, disk pressure and no network (well-known taints).
const UNFIT_TAINTS = new Set([
  "node.kubernetes.io/not-ready",
  "node.kubernetes.io/unreachable",
  "node.kubernetes.io/disk-pressure",
  "node.kubernetes.io/network-unavailable",
]);

/** Computes the plan: each entry's target nodes and the pulls that may start now. */
export function planPulls(input: PlanInput): Plan {
  const capacity = new Capacity(input);
  const base = input.nodes.filter((node) => isFitNode(node, input.settings.nodeSelector));
  const entries = [...input.entries].sort(compareDemand).map((entry) => {
    const facts = input.facts(entry.image);
    return planEntry(entry, facts, base, input, capacity);
  });
  return { entries, pulls: capacity.pulls };
}

/** True when the node may receive pulls at all: Linux, selected, schedulable and healthy. */
export function isFitNode(node: NodeSummary, selector: Readonly<Record<string, string>>): boolean {
  // The no-op binary the pull container runs is a Linux executable.
  if (node.operatingSystem !== "linux" || node.unschedulable) {
    return false;
  }
  if (node.taints.some((taint) => UNFIT_TAINTS.has(taint.key))) {
    return false;
  }
  return Object.entries(selector).every(([key, value]) => node.labels[key] === value);
}

function planEntry(
  entry: ColdImageEntry,
  facts: ImageFacts,
  base: readonly NodeSummary[],
  input: PlanInput,
  capacity: Capacity,
): EntryPlan {
  const key = entryKey(entry);
  const eligible = base.filter((node) => supports(facts, node));
  const failures = activeFailures(key, input);
  const blocked = [...failures.values()].find((failure) => failure.imageWide);
  const targets = chooseTargets(entry, eligible, failures, input);

  const done: string[] = [];
  const pending: string[] = [];
  const failed: NodeFailure[] = [];
  let budgetFull = 0;
  for (const node of targets) {
    const onNode = input.progress.imageStateOn(entry.image, node.name);
    const failure = failures.get(node.name);
    if (onNode === "done" || input.isReported(entry.image, node.name)) {
      done.push(node.name);
    } else if (failure !== undefined && onNode === undefined) {
      failed.push({ node: node.name, reason: failure.reason });
    } else {
      pending.push(node.name);
      const ready = onNode === undefined && blocked === undefined && facts.status !== "pending";
      if (
        ready &&
        capacity.take(entry, node, imageBytesOn(facts, node, input.settings.assumedImageBytes)) ===
          "budget"
      ) {
        budgetFull += 1;
      }
    }
  }
  const note = noteFor(facts, blocked?.reason, budgetFull, pending.length);
  const sizeBytes = largestSize(facts, targets);
  return {
    entry,
    done,
    pending,
    failed,
    ...(sizeBytes === undefined ? {} : { sizeBytes }),
    ...(note === undefined ? {} : { note }),
  };
}

/**
 * Chooses the target nodes. With the "all" policy, every eligible node. With "mostSpare", the
 * eligible nodes that hold the image or pull it now, topped up to `count` with the nodes of most
 * spare capacity that have not failed it.
 */
function chooseTargets(
  entry: ColdImageEntry,
  eligible: readonly NodeSummary[],
  failures: ReadonlyMap<string, { reason: string }>,
  input: PlanInput,
): NodeSummary[] {
  const policy = input.settings.policy;
  if (policy.kind === "all") {
    return [...eligible];
  }
  const present = (node: NodeSummary) =>
    input.isReported(entry.image, node.name) ||
    input.progress.imageStateOn(entry.image, node.name) !== undefined;
  const holding = eligible.filter(present);
  const missing = Math.max(0, policy.count - holding.length);
  const failedNodes = eligible.filter((node) => failures.has(node.name) && !present(node));
  if (missing === 0) {
    // Most recorded images are already on their nodes, and sorting every eligible node by spare
    // capacity for each of them would dominate the pass.
    return [...holding, ...failedNodes];
  }
  const candidates = eligible
    .filter((node) => !present(node) && !failures.has(node.name))
    .map((node) => ({ node, spare: input.spare(node) }))
    .sort((a, b) => b.spare - a.spare || compareNames(a.node.name, b.node.name))
    .map(({ node }) => node);
  return [...holding, ...candidates.slice(0, missing), ...failedNodes];
}

/** Failures of the entry still within the retry interval; older ones are forgotten. */
function activeFailures(
  key: string,
  input: PlanInput,
): Map<string, { reason: string; imageWide: boolean }> {
  const failures = new Map<string, { reason: string; imageWide: boolean }>();
  const retryAfterMs = input.settings.retryFailedAfterSeconds * 1000;
  for (const [node, state] of input.progress.statesOf(key)) {
    if (state.kind !== "failed") {
      continue;
    }
    if (input.now - state.at >= retryAfterMs) {
      input.progress.delete(key, node);
    } else {
      failures.set(node, { reason: state.reason, imageWide: state.imageWide });
    }
  }
  return failures;
}

/** The pulls taken so far and what remains of each limit. */
class Capacity {
  readonly pulls: PlannedPull[] = [];
  readonly #running = new Map<string, number>();
  readonly #bytes: Map<string, number>;
  #total: number;

  constructor(private readonly input: PlanInput) {
    this.#total = input.progress.running();
    this.#bytes = input.progress.bytesByNode();
  }

  /** Takes a pull if every limit allows it; otherwise returns the limit that stopped it. */
  take(entry: ColdImageEntry, node: NodeSummary, bytes: number): "taken" | "budget" | "busy" {
    const { maxPulls, maxPullsPerNode, nodeBudgetBytes } = this.input.settings;
    const used = this.#bytes.get(node.name) ?? 0;
    if (used + bytes > nodeBudgetBytes) {
      return "budget";
    }
    const running = this.#running.get(node.name) ?? this.input.progress.running(node.name);
    if (this.#total >= maxPulls || running >= maxPullsPerNode) {
      return "busy";
    }
    this.pulls.push({ entry, node, bytes });
    this.#running.set(node.name, running + 1);
    this.#bytes.set(node.name, used + bytes);
    this.#total += 1;
    return "taken";
  }
}

function supports(facts: ImageFacts, node: NodeSummary): boolean {
  if (facts.status !== "known") {
    return true;
  }
  const { operatingSystem: os, architecture } = node;
  if (os === undefined || architecture === undefined) {
    return false;
  }
  const entries = facts.platforms.map((platform) => ({ platform }));
  return selectForPlatform(entries, { os, architecture }) !== undefined;
}

function largestSize(facts: ImageFacts, nodes: readonly NodeSummary[]): number | undefined {
  if (facts.status !== "known") {
    return undefined;
  }
  let largest: number | undefined;
  for (const { operatingSystem: os, architecture } of nodes) {
    const size = os && architecture ? facts.sizeFor({ os, architecture }) : undefined;
    if (size !== undefined && (largest === undefined || size > largest)) {
      largest = size;
    }
  }
  return largest;
}

function noteFor(
  facts: ImageFacts,
  blockedBy: string | undefined,
  budgetFull: number,
  pending: number,
): string | undefined {
  if (blockedBy !== undefined) {
    return `stopped until the retry interval passes: ${blockedBy}`;
  }
  if (facts.status === "pending" && pending > 0) {
    return "waiting for the image manifest";
  }
  if (budgetFull > 0) {
    return `node byte budget reached on ${budgetFull} node(s)`;
  }
  return facts.status === "unavailable" ? `size assumed: ${facts.reason}` : undefined;
}

/** Orders entries by admissions seen, then most recently seen, then key. */
function compareDemand(a: ColdImageEntry, b: ColdImageEntry): number {
  return b.count - a.count || b.lastSeen - a.lastSeen || compareNames(entryKey(a), entryKey(b));
}

function compareNames(a: string, b: string): number {
  if (a === b) {
    return 0;
  }
  return a < b ? -1 : 1;
}
