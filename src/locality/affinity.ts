// Preferred node affinity: which warm nodes to name and with what weight.
//
// The scheduler's NodeAffinity score sums the weights of matching preferred terms and then
// normalises so the best node gets 100, so only the ratio between weights matters.
import type { NodeOverlap } from "./overlap.ts";

/** A node the pod is steered toward, with the bytes of the pod's images it holds. */
export interface NodePreference {
  readonly node: string;
  readonly weight: number;
  readonly heldBytes: number;
  readonly totalBytes: number;
}

/** The nodes to prefer, or none with the reason why. */
export interface PreferenceDecision {
  readonly preferences: readonly NodePreference[];
  readonly reason: string;
}

/**
 * Picks up to maxNodes of the candidates (feasible nodes holding some of the pod's images) with
 * the most bytes held, weighted 1-100 by the share of the pod's known image bytes each holds.
 * Gives none when there is no candidate, or when two or more feasible nodes exist and every one
 * is a candidate holding the same share, because such a hint would not discriminate. coversEveryFeasibleNode is called only
 * in that last case, so its cost is paid only when all candidates hold the same bytes.
 */
export function choosePreferredNodes(
  candidates: readonly NodeOverlap[],
  totalBytes: number,
  maxNodes: number,
  coversEveryFeasibleNode: () => boolean,
): PreferenceDecision {
  if (candidates.length === 0) {
    return { preferences: [], reason: "no feasible node reports any of the pod's images" };
  }
  if (maxNodes === 0) {
    return {
      preferences: [],
      reason: "preferred node terms are disabled (affinity.maxPreferredNodes is 0)",
    };
  }
  const first = candidates[0];
  // A single warm node keeps its hint: nodes that join before the pod is scheduled are cold.
  const uniform =
    first !== undefined &&
    candidates.length > 1 &&
    candidates.every((candidate) => candidate.heldBytes === first.heldBytes) &&
    coversEveryFeasibleNode();
  if (uniform) {
    return {
      preferences: [],
      reason: "every feasible node holds the same share; a hint would not discriminate",
    };
  }

  const ranked = [...candidates].sort(
    (left, right) => right.heldBytes - left.heldBytes || compareNames(left.node, right.node),
  );
  const preferences = ranked.slice(0, maxNodes).map((overlap) => ({
    node: overlap.node,
    weight: weightFor(overlap.heldBytes, totalBytes),
    heldBytes: overlap.heldBytes,
    totalBytes,
  }));
  const cut = ranked.length > maxNodes ? ` (top ${maxNodes} of ${ranked.length})` : "";
  return {
    preferences,
    reason: `preferring ${preferences.length} warm node(s) by held image bytes${cut}`,
  };
}

function weightFor(heldBytes: number, totalBytes: number): number {
  if (totalBytes <= 0) {
    return 1;
  }
  return Math.min(100, Math.max(1, Math.round((100 * heldBytes) / totalBytes)));
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
  const requirement = fields[0] as { key?: unknown; operator?: unknown; values?: unknown };
  const values = requirement.values;
  if (
    requirement.key !== "metadata.name" ||
    requirement.operator !== "In" ||
    !Array.isArray(values) ||
    values.length !== 1 ||
    typeof values[0] !== "string"
  ) {
    return undefined;
  }
  return values[0];
}
