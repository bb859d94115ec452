// Request bodies for the admission fuzzer. Most are reviews of random and case pods, plain or
// mutated. The rest are pods near the API server's 1.5 MB object limit, bodies at the server's
// limit, JSON that is no AdmissionReview, bytes that are no JSON, compressed bodies and odd
// content types.
import { deflateSync, gzipSync } from "node:zlib";

import fc from "fast-check";

import { mutated } from "./mutations.ts";
import { caseReview, randomPod, randomPodReview } from "./pods.ts";

/** One request of a fuzz run and the status the admission contract requires for it. */
export interface FuzzInput {
  /** Name of the generator that built it, for the counts. */
  readonly source: string;
  readonly body: Buffer;
  readonly headers: Readonly<Record<string, string>>;
  /** The JSON document the server reads from the body, when the body is JSON. */
  readonly document?: unknown;
  /**
   * 200 for an AdmissionReview, 400 for anything else, 413 past the body limit, and 415 for an
   * unknown content encoding.
   */
  readonly expectedStatus: 200 | 400 | 413 | 415;
}

const REVIEW_VERSIONS = new Set(["admission.k8s.io/v1", "admission.k8s.io/v1beta1"]);

/** Whether a document is an AdmissionReview, which must get 200 and its own uid back. */
export function isAdmissionReview(document: unknown): boolean {
  if (!isRecord(document) || document["kind"] !== "AdmissionReview") {
    return false;
  }
  const apiVersion = document["apiVersion"];
  const request = document["request"];
  return (
    typeof apiVersion === "string" &&
    REVIEW_VERSIONS.has(apiVersion) &&
    isRecord(request) &&
    typeof request["uid"] === "string" &&
    request["uid"] !== ""
  );
}

const contentType = fc.oneof(
  { weight: 12, arbitrary: fc.constant("application/json") },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "application/json; charset=utf-8",
      "application/json; charset=utf-16",
      "text/plain",
      "application/x-www-form-urlencoded",
      "application/octet-stream",
      "application/yaml",
      "multipart/form-data; boundary=x",
      "%%%",
      "",
    ),
  },
);

function fromDocument(source: string, document: unknown, type: string): FuzzInput {
  const text = JSON.stringify(document) ?? "";
  return {
    source,
    body: Buffer.from(text, "utf8"),
    headers: type === "" ? {} : { "content-type": type },
    document,
    expectedStatus: text === "" ? 400 : isAdmissionReview(document) ? 200 : 400,
  };
}

function fromBytes(
  source: string,
  body: Buffer,
  expectedStatus: FuzzInput["expectedStatus"],
  extra = {},
) {
  return {
    source,
    body,
    headers: { "content-type": "application/json", ...extra },
    expectedStatus,
  } satisfies FuzzInput;
}

/** A review whose pod carries one env value sized so the body is near 1.5 MB. */
const nearObjectLimit = fc
  .tuple(randomPodReview, fc.integer({ min: 1_400_000, max: 1_600_000 }))
  .map(([review, target]) => {
    const pod = (review["request"] as Record<string, unknown>)["object"];
    const spec = (pod as { spec: { containers: Record<string, unknown>[] } }).spec;
    const padding = Math.max(0, target - JSON.stringify(review).length);
    spec.containers = [
      ...spec.containers,
      { name: "padded", image: "nginx:1.25", env: [{ name: "PAD", value: "p".repeat(padding) }] },
    ];
    return review;
  });

/** Bytes that are not JSON: random, truncated reviews, a byte-order mark, UTF-16. */
function notJson(): fc.Arbitrary<FuzzInput> {
  return fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 200 }).map((bytes) => {
      const body = Buffer.from(bytes);
      // Random bytes are JSON only by chance, and an AdmissionReview practically never.
      return fromBytes("bytes", body, isReviewText(body) ? 200 : 400);
    }),
    fc.tuple(caseReview, fc.nat()).map(([review, cut]) => {
      const text = JSON.stringify(review);
      return fromBytes("truncated", Buffer.from(text.slice(0, cut % text.length)), 400);
    }),
    caseReview.map((review) =>
      fromBytes("bom", Buffer.from(`\ufeff${JSON.stringify(review)}`), 400),
    ),
    caseReview.map((review) =>
      fromBytes("utf16", Buffer.from(JSON.stringify(review), "utf16le"), 400),
    ),
  );
}

/** Compressed bodies: the server inflates gzip and deflate and applies its limit afterwards. */
function encoded(maxBodyBytes: number): fc.Arbitrary<FuzzInput> {
  return fc.oneof(
    caseReview.map((review) => ({
      ...fromDocument("gzip", review, "application/json"),
      body: gzipSync(JSON.stringify(review)),
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
    })),
    caseReview.map((review) => ({
      ...fromDocument("deflate", review, "application/json"),
      body: deflateSync(JSON.stringify(review)),
      headers: { "content-type": "application/json", "content-encoding": "deflate" },
    })),
    fc.constant(
      fromBytes("gzip-invalid", Buffer.from("not gzip"), 400, { "content-encoding": "gzip" }),
    ),
    fc.constant(
      fromBytes("encoding-unknown", Buffer.from("{}"), 415, { "content-encoding": "zz" }),
    ),
    fc.constant(null).map(() =>
      fromBytes("gzip-bomb", gzipSync(Buffer.alloc(maxBodyBytes + 1, 0x20)), 413, {
        "content-encoding": "gzip",
      }),
    ),
  );
}

/** Pads a case review with trailing spaces to exactly the limit, or one byte past it. */
function atLimit(maxBodyBytes: number): fc.Arbitrary<FuzzInput> {
  return fc.tuple(caseReview, fc.boolean()).map(([review, over]) => {
    const text = JSON.stringify(review);
    const size = over ? maxBodyBytes + 1 : maxBodyBytes;
    const body = Buffer.alloc(size, 0x20);
    body.write(text, 0, "utf8");
    return over
      ? fromBytes("limit+1", body, 413)
      : { ...fromDocument("limit", review, "application/json"), body };
  });
}

/** Arrays nested past Go's 10 000-level limit, written as text: JSON.stringify recurses. */
const deepArrays = fc
  .integer({ min: 10_000, max: 100_000 })
  .map((depth) => fromBytes("deep-json", Buffer.from("[".repeat(depth) + "]".repeat(depth)), 400));

/** Generates every kind of request body the fuzzer sends, weighted toward reviews of pods. */
export function fuzzInput(maxBodyBytes: number): fc.Arbitrary<FuzzInput> {
  const document = (source: string, arbitrary: fc.Arbitrary<unknown>) =>
    fc.tuple(arbitrary, contentType).map(([doc, type]) => fromDocument(source, doc, type));
  return fc.oneof(
    { weight: 300, arbitrary: document("random-pod", randomPodReview) },
    { weight: 120, arbitrary: document("case", caseReview) },
    { weight: 200, arbitrary: document("mutated-case", mutated(caseReview)) },
    { weight: 150, arbitrary: document("mutated-random", mutated(randomPodReview)) },
    { weight: 20, arbitrary: document("bare-pod", randomPod) },
    { weight: 20, arbitrary: document("json", fc.jsonValue({ maxDepth: 3 })) },
    { weight: 5, arbitrary: deepArrays },
    { weight: 30, arbitrary: notJson() },
    { weight: 5, arbitrary: fc.constant(fromBytes("empty", Buffer.alloc(0), 400)) },
    { weight: 5, arbitrary: encoded(maxBodyBytes) },
    { weight: 3, arbitrary: document("near-1.5MB", nearObjectLimit) },
    { weight: 1, arbitrary: atLimit(maxBodyBytes) },
  );
}

function isReviewText(body: Buffer): boolean {
  try {
    return isAdmissionReview(JSON.parse(body.toString("utf8")));
  } catch {
    return false;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
