// Every admission case through the pure pipeline: response shape, image operations, preferred
// nodes, cold images, the case's "must not" rules, and the patch applied by the API server's
// JSON-patch library with the result checked against the Kubernetes schemas.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";

import type { MutationContext, ReviewOutcome } from "../../src/admission/contract.ts";
import { ORIGINAL_IMAGES_ANNOTATION } from "../../src/admission/pod-mutation.ts";
import { reviewAdmission } from "../../src/admission/review.ts";
import { loadConfig } from "../../src/config.ts";
import { loadNodeSnapshot } from "../../src/inventory/snapshot.ts";
import { applyPatches, type PatchResult } from "../support/apiserver-jsonpatch.ts";
import { fixturePath, loadCases, type AdmissionCase } from "../support/cases.ts";
import { validateObject } from "../support/schema.ts";
import {
  checkAdmissionCase,
  decodePatch,
  type Operation,
} from "../support/admission-expectations.ts";

const context: MutationContext = {
  config: loadConfig(fixturePath("cases/r1-config.yaml")),
  inventory: loadNodeSnapshot(fixturePath("cases/c1-nodes.json")),
};

const cases = loadCases("admission");

describe("admission cases through the pipeline", () => {
  const outcomes = new Map<string, ReviewOutcome>();
  const applied = new Map<string, PatchResult>();

  before(() => {
    for (const testCase of cases) {
      outcomes.set(testCase.id, reviewAdmission(testCase.input, context));
    }
    const patched = cases.filter((testCase) => patchOf(outcomes.get(testCase.id)).length > 0);
    const results = applyPatches(
      patched.map((testCase) => ({
        doc: objectOf(testCase),
        patch: patchOf(outcomes.get(testCase.id)),
      })),
    );
    patched.forEach((testCase, index) => applied.set(testCase.id, results[index] as PatchResult));
  });

  for (const testCase of cases) {
    it(`${testCase.id} matches its expectations`, () => {
      const outcome = outcomes.get(testCase.id);
      assert.ok(outcome?.kind === "reviewed", `${testCase.id} was not reviewed`);
      checkAdmissionCase(
        testCase,
        outcome.review,
        outcome.result.coldImages,
        objectOf(testCase),
        applied.get(testCase.id),
      );
    });

    it(`${testCase.id} patch applies and validates`, () => {
      const outcome = outcomes.get(testCase.id);
      const result = applied.get(testCase.id);
      if (patchOf(outcome).length === 0) {
        assert.equal(result, undefined);
        return;
      }
      assert.ok(result?.ok, `API server patch library rejected the patch: ${result?.error ?? ""}`);
      assert.deepEqual(validateObject(result.doc), []);
      assert.deepEqual(
        result.doc,
        outcome?.kind === "reviewed" ? outcome.result.object : undefined,
      );
    });
  }

  it("records original images as JSON", () => {
    const outcome = reviewAdmission(caseInput("adm-022"), context);
    assert.ok(outcome.kind === "reviewed");
    const object = outcome.result.object as { metadata: { annotations: Record<string, string> } };
    const recorded: unknown = JSON.parse(
      object.metadata.annotations[ORIGINAL_IMAGES_ANNOTATION] ?? "null",
    );
    const containers = outcome.result.containers.filter(
      (container) => container.result === "rewritten",
    );
    assert.deepEqual(
      recorded,
      Object.fromEntries(containers.map((container) => [container.name, container.image])),
    );
  });
});

function caseInput(id: string): Record<string, unknown> {
  const found = cases.find((testCase) => testCase.id === id);
  assert.ok(found, `case ${id} missing from fixtures`);
  return found.input;
}

function objectOf(testCase: AdmissionCase): unknown {
  return (testCase.input["request"] as { object?: unknown } | undefined)?.object;
}

function patchOf(outcome: ReviewOutcome | undefined): Operation[] {
  return outcome?.kind === "reviewed" ? decodePatch(outcome.review) : [];
}
