// Sending one admission to a running webhook and reading back what the fault tests check: the
// uid echoed, allowed, warnings, the patch as the API server's library applies it, and the nodes
// the patch prefers.
import type { Agent } from "node:https";

import { decodePatch, type Operation } from "../support/admission-expectations.ts";
import { applyPatches } from "../support/apiserver-jsonpatch.ts";
import { createReview } from "../support/pods.ts";
import { validateObject } from "../support/schema.ts";
import { fieldAt, send } from "../server/https-client.ts";

/** A webhook response, decoded. */
export interface Admission {
  readonly status: number;
  readonly uid: unknown;
  readonly allowed: unknown;
  readonly warnings: readonly string[];
  readonly operations: readonly Operation[];
  /** The pod the review carried, for applying the patch. */
  readonly pod: unknown;
  /** Node names in the preferred node affinity terms the patch adds. */
  readonly preferredNodes: readonly string[];
}

/** Posts a CREATE review of `pod` with `uid` and decodes the response. */
export async function sendAdmission(
  url: string,
  ca: Buffer,
  pod: Record<string, unknown>,
  uid: string,
  agent?: Agent,
): Promise<Admission> {
  const body = JSON.stringify(createReview(pod, "team-a", uid));
  const reply = await send(url, "/mutate", { ca, body, ...(agent === undefined ? {} : { agent }) });
  return decodeAdmission(reply.status, reply.text, pod);
}

/** Decodes a /mutate response for `pod`, applying its patch with the API server's library. */
export function decodeAdmission(status: number, text: string, pod: unknown): Admission {
  const review = JSON.parse(text) as Record<string, unknown>;
  const response = fieldAt(review, "response");
  const operations = decodePatch(review);
  const warnings = fieldAt(response, "warnings");
  return {
    status,
    uid: fieldAt(response, "uid"),
    allowed: fieldAt(response, "allowed"),
    warnings: Array.isArray(warnings) ? warnings.map(String) : [],
    operations,
    pod,
    preferredNodes: preferredNodesOf(operations),
  };
}

/**
 * Applies every admission's patch with the API server's library in one process and validates
 * the patched pods. Returns one line per admission whose patch was rejected or gave an invalid
 * pod; an empty list when all are fine.
 */
export function patchProblems(admissions: readonly Admission[]): string[] {
  const patched = admissions.filter((admission) => admission.operations.length > 0);
  const results = applyPatches(
    patched.map((admission) => ({ doc: admission.pod, patch: admission.operations })),
  );
  const problems: string[] = [];
  results.forEach((result, index) => {
    const uid = String(patched[index]?.uid);
    if (!result.ok) {
      problems.push(`${uid}: patch rejected: ${result.error}`);
      return;
    }
    for (const problem of validateObject(result.doc)) {
      problems.push(`${uid}: ${problem}`);
    }
  });
  return problems;
}

/** Collects the values of every `metadata.name` match field in the operations' values. */
function preferredNodesOf(operations: readonly Operation[]): string[] {
  const nodes: string[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      value.forEach(visit);
      return;
    }
    if (typeof value !== "object" || value === null) {
      return;
    }
    const record = value as Record<string, unknown>;
    if (record["key"] === "metadata.name" && Array.isArray(record["values"])) {
      nodes.push(...record["values"].map(String));
      return;
    }
    Object.values(record).forEach(visit);
  };
  operations.forEach((operation) => visit(operation.value));
  return nodes;
}

/** True when a warning reports that the admission missed the internal deadline. */
export function isDeadlineWarning(warning: string): boolean {
  return warning.includes("(server.deadlineMs)");
}
