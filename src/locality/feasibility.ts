// Feasibility: which nodes the scheduler could place a pod on, judged from the pod's
// nodeSelector, required node affinity, tolerations and the node's taints and cordon.
// Hints toward nodes the pod cannot run on would be wasted terms.
import type { NodeSummary, Taint } from "../inventory/inventory.ts";
import { arrayField, field, isObject, stringField, stringRecord } from "../object-fields.ts";

/** The scheduling constraints of a pod spec that decide feasibility. */
export interface PodConstraints {
  readonly nodeSelector: Readonly<Record<string, string>>;
  /** Required node selector terms (ORed); undefined when the pod has none. */
  readonly requiredTerms?: readonly unknown[];
  readonly tolerations: readonly unknown[];
}

/** Reads the constraints from a pod spec of any shape. */
export function readConstraints(spec: unknown): PodConstraints {
  const required = field(
    field(
      field(field(spec, "affinity"), "nodeAffinity"),
      "requiredDuringSchedulingIgnoredDuringExecution",
    ),
    "nodeSelectorTerms",
  );
  return {
    nodeSelector: stringRecord(field(spec, "nodeSelector")),
    ...(Array.isArray(required) ? { requiredTerms: required } : {}),
    tolerations: arrayField(spec, "tolerations"),
  };
}

/** True when the pod could be scheduled on the node as far as these constraints tell. */
export function isFeasible(node: NodeSummary, constraints: PodConstraints): boolean {
  for (const [key, value] of Object.entries(constraints.nodeSelector)) {
    if (node.labels[key] !== value) {
      return false;
    }
  }
  if (constraints.requiredTerms !== undefined) {
    // Terms are ORed; an empty list matches no node, as in the scheduler.
    if (!constraints.requiredTerms.some((term) => matchesTerm(node, term))) {
      return false;
    }
  }
  if (node.unschedulable && !tolerates(constraints.tolerations, UNSCHEDULABLE_TAINT)) {
    return false;
  }
  return node.taints.every(
    (taint) =>
      (taint.effect !== "NoSchedule" && taint.effect !== "NoExecute") ||
      tolerates(constraints.tolerations, taint),
  );
}

// The scheduler treats a cordoned node as carrying this taint (NodeUnschedulable plugin).
const UNSCHEDULABLE_TAINT: Taint = {
  key: "node.kubernetes.io/unschedulable",
  effect: "NoSchedule",
};

/** A term matches when all its label expressions and field expressions match; empty matches none. */
function matchesTerm(node: NodeSummary, term: unknown): boolean {
  const expressions = arrayField(term, "matchExpressions");
  const fields = arrayField(term, "matchFields");
  if (expressions.length === 0 && fields.length === 0) {
    return false;
  }
  const labelsMatch = expressions.every((requirement) =>
    matchesRequirement(requirement, (key) => node.labels[key]),
  );
  const fieldsMatch = fields.every((requirement) =>
    matchesRequirement(requirement, (key) => (key === "metadata.name" ? node.name : undefined)),
  );
  return labelsMatch && fieldsMatch;
}

function matchesRequirement(
  requirement: unknown,
  lookup: (key: string) => string | undefined,
): boolean {
  const key = stringField(requirement, "key");
  const operator = stringField(requirement, "operator");
  const values = arrayField(requirement, "values").filter((value) => typeof value === "string");
  if (key === undefined) {
    return false;
  }
  const actual = lookup(key);
  switch (operator) {
    case "In":
      return actual !== undefined && values.includes(actual);
    case "NotIn":
      return actual === undefined || !values.includes(actual);
    case "Exists":
      return actual !== undefined;
    case "DoesNotExist":
      return actual === undefined;
    case "Gt":
    case "Lt":
      return compareInteger(actual, values[0], operator);
    case undefined:
      return false;
    default:
      // An operator the API does not define matches nothing, as in the scheduler.
      return false;
  }
}

function compareInteger(
  actual: string | undefined,
  bound: unknown,
  operator: "Gt" | "Lt",
): boolean {
  if (actual === undefined || typeof bound !== "string") {
    return false;
  }
  const left = Number.parseInt(actual, 10);
  const right = Number.parseInt(bound, 10);
  if (!Number.isFinite(left) || !Number.isFinite(right)) {
    return false;
  }
  return operator === "Gt" ? left > right : left < right;
}

/** Toleration matching as in the Kubernetes API: empty key with Exists tolerates everything. */
function tolerates(tolerations: readonly unknown[], taint: Taint): boolean {
  return tolerations.some((toleration) => {
    if (!isObject(toleration)) {
      return false;
    }
    const effect = stringField(toleration, "effect") ?? "";
    if (effect !== "" && effect !== taint.effect) {
      return false;
    }
    const key = stringField(toleration, "key") ?? "";
    const operator = stringField(toleration, "operator") ?? "Equal";
    if (operator === "Exists") {
      return key === "" || key === taint.key;
    }
    return key === taint.key && (stringField(toleration, "value") ?? "") === (taint.value ?? "");
  });
}
