// fast-check arbitraries for pods and the AdmissionReviews that carry them: random pods built
// field by field, and the admission cases' own reviews, both with the request fields varied.
import fc from "fast-check";

import { ORIGINAL_IMAGES_ANNOTATION, SKIP_LABEL } from "../../src/admission/pod-mutation.ts";
import { loadCases } from "../support/cases.ts";
import { imageValue } from "./images.ts";

/** The admission cases' reviews, as the API server sent them. */
export const CASE_REVIEWS: readonly Record<string, unknown>[] = loadCases("admission").map(
  (c) => c.input,
);

/** The API server's limit on the total size of a pod's annotations, keys and values. */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024;

const dnsLabel = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,14}[a-z0-9])?$/);

const containerName = fc.oneof(
  { weight: 8, arbitrary: dnsLabel },
  { weight: 1, arbitrary: fc.constantFrom("constructor", "__proto__", "toString", "a".repeat(63)) },
  { weight: 1, arbitrary: fc.constantFrom("", "Web", "web_1", "wéb", "a".repeat(64), "a/b", "~0") },
  { weight: 1, arbitrary: fc.oneof(fc.constant(null), fc.integer(), fc.constant({})) },
);

const pullPolicy = fc.option(fc.constantFrom("Always", "IfNotPresent", "Never", "never", ""), {
  nil: undefined,
});

/** Env values: mostly short, some unicode, a few past 64 KB. */
const envValue = fc.oneof(
  { weight: 40, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 10, arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom("x", "é", "😀", "\\", '"'), fc.integer({ min: 1024, max: 70_000 }))
      .map(([unit, length]) => unit.repeat(Math.floor(length / unit.length))),
  },
);

const envVar = fc.record({
  name: fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,12}$/),
  value: envValue,
});

const container = fc
  .record(
    {
      name: containerName,
      image: imageValue,
      imagePullPolicy: pullPolicy,
      env: fc.array(envVar, { maxLength: 2 }),
      args: fc.array(fc.string({ unit: "grapheme", maxLength: 12 }), { maxLength: 2 }),
    },
    { requiredKeys: ["name", "image"] },
  )
  .map((record) =>
    Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)),
  );

/** Containers, sometimes with a name repeated and sometimes 120 of them. */
const containers = fc.oneof(
  { weight: 8, arbitrary: fc.array(container, { maxLength: 4 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.array(container, { minLength: 2, maxLength: 4 }), fc.nat())
      .map(([list, pick]) => {
        const copy = list.map((entry) => ({ ...entry }));
        const source = copy[pick % copy.length];
        const last = copy[copy.length - 1];
        if (source !== undefined && last !== undefined) {
          last["name"] = source["name"];
        }
        return copy;
      }),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(...["nginx:1.25", "redis:7.2", "quay.io/team-a/worker:3.3"])
      .map((image) => Array.from({ length: 120 }, (_, i) => ({ name: `c${i}`, image }))),
  },
);

const nodeTerm = (node: string, weight: number) => ({
  weight,
  preference: { matchFields: [{ key: "metadata.name", operator: "In", values: [node] }] },
});

const affinity = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.constant({}),
  fc.constant({ nodeAffinity: null }),
  fc.constant({ podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } }),
  fc.constant({ nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } }),
  fc.constant({
    nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [nodeTerm("node-b", 7)] },
  }),
  fc.constant({
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [
          { matchExpressions: [{ key: "kubernetes.io/arch", operator: "In", values: ["amd64"] }] },
        ],
      },
    },
  }),
  fc.constantFrom("none", 5, [] as unknown[]),
);

const annotationKey = fc.oneof(
  fc.stringMatching(/^[a-z0-9]([-a-z0-9.]{0,10}[a-z0-9])?\/[a-z]{1,8}$/),
  fc.constantFrom(ORIGINAL_IMAGES_ANNOTATION, "kubernetes.io/config.mirror"),
);

const annotations = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: fc.dictionary(annotationKey, fc.string({ maxLength: 40 })) },
  { weight: 1, arbitrary: fc.constantFrom(null, "x", {}) },
  // Annotations filling most of the limit, so the webhook's own annotation may not fit.
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: MAX_ANNOTATIONS_BYTES - 600, max: MAX_ANNOTATIONS_BYTES - 20 })
      .map((size) => ({ "example.com/filler": "f".repeat(size - "example.com/filler".length) })),
  },
);

const labels = fc.oneof(
  fc.constant(undefined),
  fc.constant({ app: "web" }),
  fc.constant({ [SKIP_LABEL]: "true" }),
  fc.constant({ [SKIP_LABEL]: "false" }),
);

const metadata = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(undefined, null, "x") },
  {
    weight: 8,
    arbitrary: fc.record({
      generateName: fc.constant("web-"),
      labels,
      annotations,
    }),
  },
);

/** A pod built field by field; most are valid, some carry wrong types where noted above. */
export const randomPod: fc.Arbitrary<Record<string, unknown>> = fc
  .record({
    metadata,
    containers,
    initContainers: fc.option(fc.array(container, { maxLength: 2 }), { nil: undefined }),
    ephemeralContainers: fc.option(fc.array(container, { maxLength: 2 }), { nil: undefined }),
    affinity,
    nodeSelector: fc.option(fc.constantFrom({ "kubernetes.io/os": "linux" }, {}), {
      nil: undefined,
    }),
  })
  .map(({ metadata: meta, containers: main, ...rest }) => {
    const spec = Object.fromEntries(
      Object.entries({ containers: main, ...rest }).filter(([, value]) => value !== undefined),
    );
    return dropUndefined({ apiVersion: "v1", kind: "Pod", metadata: meta, spec });
  });

/** Request fields that decide whether and how the webhook mutates. */
const requestVariant = fc.record({
  uid: fc.oneof(
    { weight: 8, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 40 }) },
    { weight: 1, arbitrary: fc.constantFrom("x".repeat(5000), "uid\u0000", "😀") },
  ),
  namespace: fc.oneof(
    { weight: 8, arbitrary: fc.constant("team-a") },
    { weight: 1, arbitrary: fc.constantFrom("kube-system", "image-mirror-system") },
    { weight: 1, arbitrary: fc.constantFrom(undefined, null, 7, "") },
  ),
  operation: fc.oneof(
    { weight: 8, arbitrary: fc.constant("CREATE") },
    { weight: 1, arbitrary: fc.constantFrom("UPDATE", "DELETE", "CONNECT", "create", null) },
  ),
  subResource: fc.oneof(
    { weight: 8, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom("ephemeralcontainers", "status", "", 3) },
  ),
  dryRun: fc.constantFrom(false, true, undefined, "yes"),
  apiVersion: fc.oneof(
    { weight: 8, arbitrary: fc.constant("admission.k8s.io/v1") },
    { weight: 1, arbitrary: fc.constant("admission.k8s.io/v1beta1") },
  ),
});

/** A review of a random pod, with the request fields varied. */
export const randomPodReview: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(randomPod, requestVariant, fc.option(randomPod, { nil: undefined }))
  .map(([pod, variant, oldPod]) => {
    const { apiVersion, ...request } = variant;
    return {
      apiVersion,
      kind: "AdmissionReview",
      request: dropUndefined({
        ...request,
        kind: { group: "", version: "v1", kind: "Pod" },
        resource: { group: "", version: "v1", resource: "pods" },
        object: pod,
        oldObject: request.operation === "UPDATE" ? (oldPod ?? pod) : null,
      }),
    };
  });

/** A case review with a fresh uid, so each request of a run has its own. */
export const caseReview: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(fc.constantFrom(...CASE_REVIEWS), fc.uuid())
  .map(([review, uid]) => {
    const copy = structuredClone(review);
    (copy["request"] as Record<string, unknown>)["uid"] = uid;
    return copy;
  });

function dropUndefined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}
