// Preferred node affinity: which warm nodes to name and with what weight.
//
// The scheduler's NodeAffinity score sums the weights of matching preferred terms and then
// normalises so the best node gets 100, so only the ratio between weights matters.

/** A node the pod is steered toward, with the bytes of the pod's images it holds. */
export interface NodePreference {
  readonly node: string;
  readonly weight: number;
  readonly heldBytes: number;
  readonly totalBytes: number;
}

/** A feasible node holding part of the pod's bytes, with its spare CPU share when known. */
export interface ScoredNode {
  readonly node: string;
  readonly heldBytes: number;
  /** The pod's bytes on this node's platform. */
  readonly totalBytes: number;
  /** 1 minus the node's requested CPU share; undefined without load data. */
  readonly spare?: number;
}

/** The nodes to prefer, or none with the reason why. */
export interface PreferenceDecision {
  readonly preferences: readonly NodePreference[];
  readonly reason: string;
}

/** Share of the pod's bytes a node holds, 0 to 1. */
export function heldShare(node: ScoredNode): number {
  const share = node.heldBytes / node.totalBytes;
  return Number.isFinite(share) && share > 0 ? Math.min(1, share) : 0;
}

/**
 * Picks up to maxNodes candidates by held share, then spare capacity, and weights each 1-100 by
 * its held share scaled by its spare capacity, so of two equally warm nodes the emptier one
 * gets the larger weight.
 */
export function choosePreferredNodes(
  candidates: readonly ScoredNode[],
  maxNodes: number,
  basis: string,
  warmNodes = candidates.length,
): PreferenceDecision {
  const ranked = [...candidates].sort(
    (left, right) =>
      heldShare(right) - heldShare(left) ||
      (right.spare ?? 0) - (left.spare ?? 0) ||
      compareNames(left.node, right.node),
  );
  const preferences = ranked.slice(0, maxNodes).map((candidate) => ({
    node: candidate.node,
    weight: weightFor(candidate),
    heldBytes: candidate.heldBytes,
    totalBytes: candidate.totalBytes,
  }));
  const cut =
    warmNodes > preferences.length ? ` (${preferences.length} of ${warmNodes} warm nodes)` : "";
  return {
    preferences,
    reason: `preferring ${preferences.length} warm node(s) by held ${bytesOf(basis)}${cut}`,
  };
}

/** Returns the unit of held bytes for a basis: "layer bytes", "image bytes". */
function bytesOf(basis: string): string {
  if (basis === "layers") {
    return "layer bytes";
  }
  if (basis === "images") {
    return "image bytes";
  }
  return `${basis} bytes`;
}

function weightFor(candidate: ScoredNode): number {
  const capacity = candidate.spare === undefined ? 1 : 0.5 + 0.5 * clamp(candidate.spare);
  return Math.min(100, Math.max(1, Math.round(100 * heldShare(candidate) * capacity)));
}

function clamp(value: number): number {
  return Math.min(1, Math.max(0, value));
}

function compareNames(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}

/**
 * Builds one PreferredSchedulingTerm per node. A matchFields requirement on metadata.name may
 * carry exactly one value (API validation), so nodes cannot share a term.
 */
export function buildPreferredTerms(preferences: readonly NodePreference[]): PreferredTerm[] {
  return preferences.map((preference) => ({
    weight: preference.weight,
    preference: {
      matchFields: [{ key: "metadata.name", operator: "In", values: [preference.node] }],
    },
  }));
}

export interface PreferredTerm {
  weight: number;
  preference: {
    matchFields: { key: "metadata.name"; operator: "In"; values: [string] }[];
  };
}

/** Returns the node a term names when it has exactly our shape: one metadata.name In one node. */
export function singleNodeOfTerm(term: unknown): string | undefined {
  if (typeof term !== "object" || term === null) {
    return undefined;
  }
  const preference = (term as { preference?: unknown }).preference;
  const fields = (preference as { matchFields?: unknown } | undefined)?.matchFields;
  const expressions = (preference as { matchExpressions?: unknown } | undefined)?.matchExpressions;
  if (
    !Array.isArray(fields) ||
    fields.length !== 1 ||
    (Array.isArray(expressions) && expressions.length > 0)
  ) {
    return undefined;
  }
  return nodeOfRequirement(fields[0]);
}

/** Returns the node of a `metadata.name In [<node>]` field requirement, or undefined. */
function nodeOfRequirement(requirement: unknown): string | undefined {
  if (typeof requirement !== "object" || requirement === null) {
    return undefined;
  }
  const { key, operator, values } = requirement as {
    key?: unknown;
    operator?: unknown;
    values?: unknown;
  };
  if (
    key !== "metadata.name" ||
    operator !== "In" ||
    !Array.isArray(values) ||
    values.length !== 1 ||
    typeof values[0] !== "string"
  ) {
    return undefined;
  }
  return values[0];
}
