// Faults the admission fuzzer found, each shrunk to a small input, and the request bodies at the
// edges of the contract, all sent through the real HTTPS server.
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { after, before, describe, it } from "node:test";

import { ORIGINAL_IMAGES_ANNOTATION, mutatePod } from "../../src/admission/pod-mutation.ts";
import { applyPatch } from "../support/apiserver-jsonpatch.ts";
import { decodePatch } from "../support/admission-expectations.ts";
import { contextWith, createReview, nodeWith, podWith } from "../support/pods.ts";
import { validateObject } from "../support/schema.ts";
import type { FuzzInput } from "./bodies.ts";
import { emptyTally, runBatch } from "./harness.ts";
import { nested } from "./mutations.ts";
import { MAX_ANNOTATIONS_BYTES } from "./pods.ts";
import { startFuzzServer, type FuzzServer } from "./server.ts";

const JSON_TYPE = { "content-type": "application/json" };

describe("fuzz regressions", () => {
  let server: FuzzServer;

  before(async () => {
    server = await startFuzzServer(60_000);
  });

  after(async () => {
    await server.stop();
  });

  async function review(pod: unknown): Promise<Record<string, unknown>> {
    const reply = await server.post(Buffer.from(JSON.stringify(createReview(pod))), JSON_TYPE);
    assert.equal(reply.kind, "response");
    assert.equal(reply.kind === "response" ? reply.status : 0, 200);
    return JSON.parse(reply.kind === "response" ? reply.text : "{}") as Record<string, unknown>;
  }

  const annotationPath = `/metadata/annotations/${ORIGINAL_IMAGES_ANNOTATION.replace("/", "~1")}`;

  /** Returns a pod of one rewritten container carrying these annotations. */
  function annotatedPod(annotations: Record<string, string>): Record<string, unknown> {
    const pod = podWith([{ name: "web", image: "nginx:1.25" }]);
    pod["metadata"] = { generateName: "web-", annotations };
    return pod;
  }

  /** Applies the patch as the API server would and checks the result is a valid pod. */
  function assertAppliesValid(pod: unknown, patch: Parameters<typeof applyPatch>[1]): void {
    const applied = applyPatch(pod, patch);
    assert.ok(applied.ok, applied.error);
    assert.deepEqual(validateObject(applied.doc), []);
  }

  it("leaves out annotation past the size limit", async () => {
    const filler = "f".repeat(MAX_ANNOTATIONS_BYTES - 40 - "example.com/filler".length);
    const pod = annotatedPod({ "example.com/filler": filler });
    assert.deepEqual(validateObject(pod), []);

    const response = await review(pod);
    const patch = decodePatch(response);
    assert.ok(patch.some((operation) => operation.path === "/spec/containers/0/image"));
    assert.ok(patch.every((operation) => !operation.path.startsWith("/metadata")));
    const warnings = (response["response"] as { warnings?: string[] }).warnings ?? [];
    assert.ok(warnings.some((warning) => warning.includes(ORIGINAL_IMAGES_ANNOTATION)));

    assertAppliesValid(pod, patch);
  });

  it("keeps annotation that fits the limit", async () => {
    const filler = "f".repeat(MAX_ANNOTATIONS_BYTES - 200 - "example.com/filler".length);
    const pod = annotatedPod({ "example.com/filler": filler });

    const patch = decodePatch(await review(pod));
    assert.ok(patch.some((operation) => operation.path === annotationPath));
    assertAppliesValid(pod, patch);
  });

  it("counts annotation bytes, not characters", async () => {
    // "é" is 2 bytes in UTF-8: the filler's characters fit the limit, its bytes do not.
    const key = "example.com/filler";
    const filler = "é".repeat((MAX_ANNOTATIONS_BYTES - key.length) / 2 - 20);
    const pod = annotatedPod({ [key]: filler });
    assert.deepEqual(validateObject(pod), []);

    const response = await review(pod);
    const patch = decodePatch(response);
    assert.ok(patch.some((operation) => operation.path === "/spec/containers/0/image"));
    assert.ok(patch.every((operation) => !operation.path.startsWith("/metadata")));
    assertAppliesValid(pod, patch);
  });

  it("keeps annotation beside multi-byte text that fits", async () => {
    // Three quarters of the limit in bytes, but over a third of it in characters, so the size
    // cannot be bounded by 3 bytes per character and is measured exactly.
    const pod = annotatedPod({
      "example.com/accents": "é".repeat(MAX_ANNOTATIONS_BYTES / 8),
      "example.com/ascii": "f".repeat(MAX_ANNOTATIONS_BYTES / 2),
    });
    assert.deepEqual(validateObject(pod), []);

    const patch = decodePatch(await review(pod));
    assert.ok(patch.some((operation) => operation.path === annotationPath));
    assertAppliesValid(pod, patch);
  });

  it("rewrites a pod nested 2,500 levels deep", async () => {
    const pod = podWith([{ name: "web", image: "nginx:1.25" }], {
      nodeSelector: nested(2500, "object"),
    });
    const response = await review(pod);
    assert.equal((response["response"] as { warnings?: unknown }).warnings, undefined);
    const patch = decodePatch(response);
    assert.ok(patch.some((operation) => operation.path === "/spec/containers/0/image"));
    const applied = applyPatch(pod, patch);
    assert.ok(applied.ok, applied.error);
  });

  it("rewrites pod with null field requirement", async () => {
    const preferred = [{ weight: 1, preference: { matchFields: [null] } }];
    const pod = podWith([{ name: "web", image: "nginx:1.25" }], {
      affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: preferred } },
    });
    const response = await review(pod);
    assert.equal((response["response"] as { warnings?: unknown }).warnings, undefined);
    const patch = decodePatch(response);
    assert.ok(patch.some((operation) => operation.path === "/spec/containers/0/image"));
    const applied = applyPatch(pod, patch);
    assert.ok(applied.ok, applied.error);
  });

  it("leaves the input pod unchanged", () => {
    const affinity = { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } };
    const pod = podWith(
      [
        { name: "a", image: "nginx:1.25" },
        { name: "b", image: "nginx:1.25" },
      ],
      { affinity, nodeSelector: nested(2500, "object") },
    );
    const before = JSON.stringify(pod);
    const nodes = [nodeWith("node-a", [[["docker.io/library/nginx:1.25"], 70_000_000]])];
    const result = mutatePod(pod, "team-a", { kind: "create" }, contextWith(nodes));

    assert.ok(result.patch.length >= 4, JSON.stringify(result.patch));
    assert.equal(JSON.stringify(pod), before);
    assert.notEqual(JSON.stringify(result.object), before);
  });

  it("answers bodies at the contract's edges", async () => {
    const valid = JSON.stringify(createReview(podWith([{ name: "web", image: "nginx:1.25" }])));
    const padded = (size: number) => {
      const body = Buffer.alloc(size, 0x20);
      body.write(valid, 0, "utf8");
      return body;
    };
    const document = JSON.parse(valid) as unknown;
    const inputs: FuzzInput[] = [
      {
        source: "limit",
        body: padded(server.maxBodyBytes),
        headers: JSON_TYPE,
        document,
        expectedStatus: 200,
      },
      {
        source: "limit+1",
        body: padded(server.maxBodyBytes + 1),
        headers: JSON_TYPE,
        expectedStatus: 413,
      },
      {
        source: "gzip-bomb",
        body: gzipSync(Buffer.alloc(server.maxBodyBytes + 1, 0x20)),
        headers: { ...JSON_TYPE, "content-encoding": "gzip" },
        expectedStatus: 413,
      },
      {
        source: "gzip",
        body: gzipSync(valid),
        headers: { ...JSON_TYPE, "content-encoding": "gzip" },
        document,
        expectedStatus: 200,
      },
      {
        source: "unknown-encoding",
        body: Buffer.from(valid),
        headers: { ...JSON_TYPE, "content-encoding": "zz" },
        expectedStatus: 415,
      },
      {
        source: "text/plain",
        body: Buffer.from(valid),
        headers: { "content-type": "text/plain" },
        document,
        expectedStatus: 200,
      },
      { source: "no-type", body: Buffer.from(valid), headers: {}, document, expectedStatus: 200 },
      { source: "empty", body: Buffer.alloc(0), headers: JSON_TYPE, expectedStatus: 400 },
      {
        source: "bom",
        body: Buffer.from(`\ufeff${valid}`),
        headers: JSON_TYPE,
        expectedStatus: 400,
      },
      {
        source: "utf16",
        body: Buffer.from(valid, "utf16le"),
        headers: JSON_TYPE,
        expectedStatus: 400,
      },
      {
        source: "deep-arrays",
        body: Buffer.from("[".repeat(100_000) + "]".repeat(100_000)),
        headers: JSON_TYPE,
        expectedStatus: 400,
      },
      {
        source: "no-uid",
        body: Buffer.from(valid.replace('"uid"', '"uuid"')),
        headers: JSON_TYPE,
        expectedStatus: 400,
      },
    ];
    const tally = emptyTally();
    await runBatch(server, inputs, tally);
    assert.deepEqual(tally.failures, []);
    assert.equal(tally.inputs, inputs.length);
    assert.equal(tally.patchesApplied, 4);
  });
});
