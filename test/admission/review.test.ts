// AdmissionReview decoding and the response contract.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { allowUnchanged, reviewAdmission } from "../../src/admission/review.ts";
import { contextWith, createReview, podWith } from "../support/pods.ts";

const context = contextWith([]);

describe("review decoding", () => {
  const invalidBodies: [string, unknown][] = [
    ["a string", "hello"],
    ["an array", []],
    ["null", null],
    ["a Pod", podWith([])],
    [
      "an unknown version",
      { apiVersion: "admission.k8s.io/v2", kind: "AdmissionReview", request: { uid: "x" } },
    ],
    ["a review without request", { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" }],
    [
      "a request without uid",
      { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: {} },
    ],
    [
      "an empty uid",
      { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: { uid: "" } },
    ],
  ];
  for (const [label, body] of invalidBodies) {
    it(`rejects ${label}`, () => {
      const outcome = reviewAdmission(body, context);
      assert.equal(outcome.kind, "invalid");
      assert.equal(outcome.status, 400);
    });
  }

  it("answers a request without object", () => {
    const review = createReview(undefined);
    const outcome = reviewAdmission(review, context);
    assert.ok(outcome.kind === "reviewed");
    assert.deepEqual(outcome.review["response"], {
      uid: "00000000-0000-4000-8000-000000000001",
      allowed: true,
    });
  });

  it("answers a pod without metadata", () => {
    const outcome = reviewAdmission(
      createReview({ spec: { containers: [{ name: "web", image: "nginx" }] } }),
      context,
    );
    assert.ok(outcome.kind === "reviewed");
    assert.equal(
      (outcome.review["response"] as { uid: string }).uid,
      "00000000-0000-4000-8000-000000000001",
    );
    assert.equal(outcome.result.containers[0]?.result, "rewritten");
  });

  it("skips DELETE", () => {
    const review = createReview(podWith([{ name: "web", image: "nginx" }]));
    (review["request"] as Record<string, unknown>)["operation"] = "DELETE";
    const outcome = reviewAdmission(review, context);
    assert.ok(outcome.kind === "reviewed");
    assert.match(outcome.result.skipReason ?? "", /DELETE/);
    assert.equal((outcome.review["response"] as Record<string, unknown>)["patch"], undefined);
  });

  it("carries dryRun into the summary", () => {
    const review = createReview(podWith([{ name: "web", image: "nginx" }]));
    (review["request"] as Record<string, unknown>)["dryRun"] = true;
    const outcome = reviewAdmission(review, context);
    assert.ok(outcome.kind === "reviewed");
    assert.equal(outcome.request.dryRun, true);
    assert.equal(outcome.request.generateName, "web-");
  });

  it("warns about invalid images", () => {
    const outcome = reviewAdmission(
      createReview(podWith([{ name: "web", image: "Nginx:1" }])),
      context,
    );
    assert.ok(outcome.kind === "reviewed");
    const warnings = (outcome.review["response"] as { warnings?: string[] }).warnings ?? [];
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? "", /container web/);
  });
});

describe("allow unchanged", () => {
  it("echoes uid and version", () => {
    const review = createReview(podWith([]));
    review["apiVersion"] = "admission.k8s.io/v1beta1";
    assert.deepEqual(allowUnchanged(review, "timed out"), {
      apiVersion: "admission.k8s.io/v1beta1",
      kind: "AdmissionReview",
      response: {
        uid: "00000000-0000-4000-8000-000000000001",
        allowed: true,
        warnings: ["timed out"],
      },
    });
  });

  it("returns undefined without uid", () => {
    assert.equal(allowUnchanged({ request: {} }, "failed"), undefined);
  });
});
