// The log line and metric counts for one admission decision. Each /mutate request logs exactly
// one info line that carries the request's identity.
import type { ContainerDecision, MutationResult, RequestSummary } from "../admission/contract.ts";
import { withoutRedaction, type Logger } from "../logger.ts";
import type { AdmissionCounts, AdmissionResult } from "./metrics.ts";

/** The results a reviewed request can have; the others come from the server itself. */
export type ReviewedResult = Extract<AdmissionResult, "mutated" | "unchanged" | "skipped">;

/** The metric result and counts of a reviewed request. */
export interface Decision {
  readonly result: ReviewedResult;
  readonly counts: AdmissionCounts;
}

const MESSAGES: Record<ReviewedResult, string> = {
  mutated: "admitted with patch",
  unchanged: "admitted unchanged",
  skipped: "admitted unchanged, object skipped",
};

/**
 * Returns the identity fields of a raw AdmissionReview body for a child logger, omitting those
 * that are missing or of the wrong type. Used before the pipeline has decoded the request.
 */
export function requestFieldsOf(body: unknown): Record<string, string | boolean> {
  const request = objectAt(body, "request");
  const metadata = objectAt(objectAt(request, "object"), "metadata");
  const fields: Record<string, string | boolean> = {};

  for (const key of ["uid", "namespace", "name", "operation", "subResource"]) {
    const value = request?.[key];
    if (typeof value === "string") {
      fields[key] = value;
    }
  }
  const generateName = metadata?.["generateName"];
  if (fields["name"] === undefined && typeof generateName === "string") {
    fields["generateName"] = generateName;
  }
  if (typeof request?.["dryRun"] === "boolean") {
    fields["dryRun"] = request["dryRun"];
  }
  return fields;
}

/** Returns the identity fields of a decoded request for a child logger. */
export function summaryFieldsOf(request: RequestSummary): Record<string, string | boolean> {
  const fields: Record<string, string | boolean> = { uid: request.uid };
  const optional = {
    namespace: request.namespace,
    ...(request.name !== undefined
      ? { name: request.name }
      : { generateName: request.generateName }),
    kind: request.kind,
    operation: request.operation,
    subResource: request.subResource,
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) {
      fields[key] = value;
    }
  }
  fields["dryRun"] = request.dryRun;
  return fields;
}

/** Classifies a reviewed request for the metrics. */
export function decide(result: MutationResult): Decision {
  let kind: ReviewedResult = "unchanged";
  if (result.skipReason !== undefined) {
    kind = "skipped";
  } else if (result.patch.length > 0) {
    kind = "mutated";
  }

  return {
    result: kind,
    counts: {
      imagesRewritten: result.containers.filter((c) => c.result === "rewritten").length,
      preferredNodesAdded: result.preferredNodes.length,
      coldImages: result.coldImages.length,
    },
  };
}

/**
 * Logs the decision for a reviewed request: one info line with the request's identity, what
 * happened to each container, the preferred nodes and the cold images, then the patch at debug.
 * Returns the classification. The info line skips redaction because every key in it is fixed
 * here (image strings and reasons are values, and redaction matches keys only).
 */
export function logReviewed(
  parent: Logger,
  request: RequestSummary,
  result: MutationResult,
  durationMs: number,
): Decision {
  const decision = decide(result);
  const identity = summaryFieldsOf(request);
  const containers = groupContainers(result.containers);

  withoutRedaction(parent).info(
    {
      ...identity,
      result: decision.result,
      ...(result.skipReason !== undefined ? { skipReason: result.skipReason } : {}),
      ...containers,
      preferredNodes: result.preferredNodes.map(({ node, weight }) => ({ node, weight })),
      ...(result.localityBasis !== undefined
        ? { hintBasis: result.localityBasis, hintReason: result.localityReason }
        : {}),
      ...(result.warmShare !== undefined ? { warmShare: round(result.warmShare) } : {}),
      coldImages: result.coldImages,
      ...(result.warnings.length > 0 ? { warnings: result.warnings } : {}),
      durationMs: Math.round(durationMs * 1000) / 1000,
    },
    MESSAGES[decision.result],
  );
  if (result.patch.length > 0 && parent.isLevelEnabled("debug")) {
    parent.child(identity).debug({ patch: result.patch }, "admission patch");
  }
  return decision;
}

function groupContainers(decisions: readonly ContainerDecision[]) {
  const describe = (decision: ContainerDecision) => ({
    container: decision.name,
    ...(decision.field !== "containers" ? { field: decision.field } : {}),
    image: decision.image,
    ...(decision.rewrittenImage !== undefined ? { rewrittenImage: decision.rewrittenImage } : {}),
    reason: decision.reason,
  });
  const pick = (result: ContainerDecision["result"]) =>
    decisions.filter((decision) => decision.result === result).map(describe);

  return { rewritten: pick("rewritten"), unchanged: pick("unchanged"), skipped: pick("skipped") };
}

function objectAt(value: unknown, key: string): Record<string, unknown> | undefined {
  if (typeof value !== "object" || value === null) {
    return undefined;
  }
  const child = (value as Record<string, unknown>)[key];
  return typeof child === "object" && child !== null && !Array.isArray(child)
    ? (child as Record<string, unknown>)
    : undefined;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
