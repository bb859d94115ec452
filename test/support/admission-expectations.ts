// Checks one admission case's expectations against a response review. Shared by the pipeline,
// server and dry-run tests so all three hold the webhook to the same rules.
import assert from "node:assert/strict";

import type { PatchResult } from "./apiserver-jsonpatch.ts";
import type { AdmissionCase } from "./cases.ts";

export interface Operation {
  op: string;
  path: string;
  value?: unknown;
}

interface PreferredTerm {
  weight: number;
  preference: { matchFields?: { key: string; operator: string; values: string[] }[] };
}

/** Decodes the base64 JSON patch of a response review; empty when there is none. */
export function decodePatch(review: Record<string, unknown>): Operation[] {
  const response = review["response"] as { patch?: string } | undefined;
  if (response?.patch === undefined) {
    return [];
  }
  return JSON.parse(Buffer.from(response.patch, "base64").toString("utf8")) as Operation[];
}

/**
 * Asserts the case's expectations. coldImages is checked when given (the server does not expose
 * it); applied is the API server library's result of applying the patch, when there is one.
 */
export function checkAdmissionCase(
  testCase: AdmissionCase,
  review: Record<string, unknown>,
  coldImages: readonly string[] | undefined,
  original: unknown,
  applied: PatchResult | undefined,
): void {
  const expected = testCase.expected;
  const expectedResponse = expected["response"] as Record<string, unknown>;
  const response = review["response"] as Record<string, unknown>;
  const operations = decodePatch(review);

  assert.equal(review["apiVersion"], expectedResponse["apiVersion"]);
  assert.equal(review["kind"], "AdmissionReview");
  assert.equal(response["uid"], expectedResponse["response.uid"]);
  assert.equal(response["allowed"], true);
  checkPatchPresence(expectedResponse, response);

  const imageOperations = operations.filter((operation) => operation.path.endsWith("/image"));
  assert.deepEqual(imageOperations, expected["patch_images"] ?? []);
  checkAffinity(expected["patch_affinity"], operations);
  if (coldImages !== undefined && Array.isArray(expected["record_for_prepull"])) {
    assert.deepEqual([...coldImages], expected["record_for_prepull"]);
  }
  const extra = CASE_RULES[testCase.id];
  if (extra !== undefined) {
    extra({ operations, original, patched: applied?.ok === true ? applied.doc : original });
  }
}

function checkPatchPresence(
  expected: Record<string, unknown>,
  response: Record<string, unknown>,
): void {
  const patchRule = expected["response.patch"];
  if (typeof patchRule === "string" && patchRule.startsWith("absent")) {
    assert.equal(response["patch"], undefined, "response must carry no patch");
    assert.equal(response["patchType"], undefined, "response must carry no patchType");
    return;
  }
  assert.equal(response["patchType"], expected["response.patchType"]);
  assert.equal(typeof response["patch"], "string");
}

/** Preferred terms added by the patch, whichever level of spec.affinity the add landed on. */
export function addedPreferredTerms(operations: readonly Operation[]): PreferredTerm[] {
  const terms: PreferredTerm[] = [];
  for (const operation of operations.filter((entry) => entry.path.includes("/affinity"))) {
    const value = operation.value as Record<string, unknown>;
    const nodeAffinity = (
      operation.path.endsWith("/affinity") ? value["nodeAffinity"] : value
    ) as Record<string, unknown>;
    const list = operation.path.endsWith("IgnoredDuringExecution")
      ? value
      : operation.path.endsWith("/-")
        ? [value]
        : nodeAffinity["preferredDuringSchedulingIgnoredDuringExecution"];
    terms.push(...(list as PreferredTerm[]));
  }
  return terms;
}

function checkAffinity(expected: unknown, operations: readonly Operation[]): void {
  const affinityOperations = operations.filter((operation) =>
    operation.path.startsWith("/spec/affinity"),
  );
  if (expected === null || expected === undefined || typeof expected === "string") {
    assert.deepEqual(affinityOperations, [], "no affinity may be added");
    return;
  }
  const rule = expected as { op: string; path: string; prefer_nodes: string[] };
  assert.equal(affinityOperations[0]?.op, rule.op);
  assert.equal(affinityOperations[0]?.path, rule.path);
  const terms = addedPreferredTerms(affinityOperations);
  terms.forEach(checkTermShape);
  const nodes = terms.map((term) => term.preference.matchFields?.[0]?.values[0]);
  assert.deepEqual([...nodes].sort(), [...rule.prefer_nodes].sort());
}

function checkTermShape(term: PreferredTerm): void {
  assert.ok(
    Number.isInteger(term.weight) && term.weight >= 1 && term.weight <= 100,
    `weight ${term.weight}`,
  );
  assert.equal(term.preference.matchFields?.length, 1);
  assert.equal(term.preference.matchFields?.[0]?.key, "metadata.name");
  assert.equal(term.preference.matchFields?.[0]?.operator, "In");
  assert.equal(term.preference.matchFields?.[0]?.values.length, 1);
}

interface RuleInput {
  readonly operations: readonly Operation[];
  readonly original: unknown;
  readonly patched: unknown;
}

function weightOf(operations: readonly Operation[], node: string): number | undefined {
  return addedPreferredTerms(operations).find(
    (term) => term.preference.matchFields?.[0]?.values[0] === node,
  )?.weight;
}

function affinityPart(pod: unknown, ...keys: string[]): unknown {
  return keys.reduce<unknown>(
    (value, key) => (value as Record<string, unknown> | undefined)?.[key],
    pod,
  );
}

function noOperationOn(operations: readonly Operation[], ...paths: string[]): void {
  for (const path of paths) {
    assert.equal(
      operations.filter((operation) => operation.path === path).length,
      0,
      `no operation on ${path}`,
    );
  }
}

/** The "must_not" and shape rules each case states in words, as code. */
const CASE_RULES: Readonly<Record<string, (input: RuleInput) => void>> = {
  "adm-006": ({ original, patched }) => {
    assert.deepEqual(
      affinityPart(patched, "spec", "affinity", "podAntiAffinity"),
      affinityPart(original, "spec", "affinity", "podAntiAffinity"),
    );
  },
  "adm-008": ({ original, patched }) => {
    const path = [
      "spec",
      "affinity",
      "nodeAffinity",
      "requiredDuringSchedulingIgnoredDuringExecution",
    ];
    assert.deepEqual(affinityPart(patched, ...path), affinityPart(original, ...path));
  },
  "adm-010": ({ operations }) => {
    assert.ok(
      operations.every((operation) => !operation.path.startsWith("/metadata/annotations/")),
    );
  },
  "adm-011": ({ operations }) => noOperationOn(operations, "/spec/containers/0/image"),
  "adm-016": ({ operations }) => {
    assert.ok(
      operations.every((operation) => operation.path.startsWith("/spec/ephemeralContainers/")),
    );
  },
  "adm-017": ({ operations }) => {
    assert.ok(
      operations.every((operation) => !operation.path.startsWith("/spec/ephemeralContainers/0/")),
    );
  },
  "adm-023": ({ operations }) => {
    assert.ok((weightOf(operations, "node-a") ?? 0) >= (weightOf(operations, "node-b") ?? 0));
  },
  "adm-027": ({ operations }) =>
    noOperationOn(operations, "/spec/containers/0/image", "/spec/containers/1/image"),
  "adm-028": ({ operations }) => noOperationOn(operations, "/spec/containers/0/image"),
  "adm-035": ({ operations }) => {
    const nodes = addedPreferredTerms(operations).map(
      (term) => term.preference.matchFields?.[0]?.values[0],
    );
    assert.ok(
      nodes.every((node) => node === "node-w"),
      `only the Windows node may be preferred, got ${nodes.join(", ")}`,
    );
  },
};
