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

/**
 * Returns the identity fields of a decoded request for a child logger. Built by assignment, not
 * spreading, because it runs once per admission.
 */
export function summaryFieldsOf(request: RequestSummary): Record<string, unknown> {
  const fields: Record<string, unknown> = { uid: request.uid };
  setDefined(fields, "namespace", request.namespace);
  if (request.name !== undefined) {
    fields["name"] = request.name;
  } else {
    setDefined(fields, "generateName", request.generateName);
  }
  setDefined(fields, "kind", request.kind);
  setDefined(fields, "operation", request.operation);
  setDefined(fields, "subResource", request.subResource);
  fields["dryRun"] = request.dryRun;
  return fields;
}

function setDefined(fields: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== undefined) {
    fields[key] = value;
  }
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
  const line = summaryFieldsOf(request);
  line["result"] = decision.result;
  setDefined(line, "skipReason", result.skipReason);
  groupContainers(result.containers, line);
  line["preferredNodes"] = result.preferredNodes.map(({ node, weight }) => ({ node, weight }));
  if (result.localityBasis !== undefined) {
    line["hintBasis"] = result.localityBasis;
    line["hintReason"] = result.localityReason;
  }
  if (result.warmShare !== undefined) {
    line["warmShare"] = round(result.warmShare);
  }
  line["coldImages"] = result.coldImages;
  if (result.warnings.length > 0) {
    line["warnings"] = result.warnings;
  }
  line["durationMs"] = round(durationMs);

  withoutRedaction(parent).info(line, MESSAGES[decision.result]);
  if (result.patch.length > 0 && parent.isLevelEnabled("debug")) {
    parent.child(summaryFieldsOf(request)).debug({ patch: result.patch }, "admission patch");
  }
  return decision;
}

/** Adds the rewritten, unchanged and skipped container lists to the line, in one pass. */
function groupContainers(
  decisions: readonly ContainerDecision[],
  line: Record<string, unknown>,
): void {
  const groups: Record<ContainerDecision["result"], Record<string, unknown>[]> = {
    rewritten: [],
    unchanged: [],
    skipped: [],
  };
  for (const decision of decisions) {
    const entry: Record<string, unknown> = { container: decision.name };
    if (decision.field !== "containers") {
      entry["field"] = decision.field;
    }
    entry["image"] = decision.image;
    setDefined(entry, "rewrittenImage", decision.rewrittenImage);
    entry["reason"] = decision.reason;
    groups[decision.result].push(entry);
  }
  line["rewritten"] = groups.rewritten;
  line["unchanged"] = groups.unchanged;
  line["skipped"] = groups.skipped;
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
