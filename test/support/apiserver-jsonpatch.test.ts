import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";

import { applyPatch, applyPatches, resolveApiserverJsonpatch } from "./apiserver-jsonpatch.ts";

function pod(): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "web", labels: { app: "web" } },
    spec: { containers: [{ name: "web", image: "nginx:1.25" }] },
  };
}

describe("applyPatch", () => {
  it("rejects add under missing parent", () => {
    const result = applyPatch(pod(), [
      { op: "add", path: "/metadata/annotations/example.com~1held", value: "true" },
    ]);

    assert.equal(result.ok, false);
    assert.match(result.error ?? "", /missing/);
  });

  it("rejects remove of missing key", () => {
    const result = applyPatch(pod(), [{ op: "remove", path: "/metadata/labels/tier" }]);

    assert.equal(result.ok, false);
    assert.match(result.error ?? "", /nonexistent key/);
  });

  it("rejects replace past array end", () => {
    const result = applyPatch(pod(), [
      { op: "replace", path: "/spec/containers/1/image", value: "redis:7.2" },
    ]);

    assert.equal(result.ok, false);
    assert.match(result.error ?? "", /missing/);
  });

  it("rejects undecodable patch", () => {
    const result = applyPatch(pod(), { op: "add", path: "/a", value: 1 });

    assert.equal(result.ok, false);
    assert.match(result.error ?? "", /^decode patch:/);
  });

  it("decodes ~1 and ~0 escapes", () => {
    const result = applyPatch(pod(), [
      { op: "add", path: "/metadata/labels/example.com~1held", value: "slash" },
      { op: "add", path: "/metadata/labels/a~0b", value: "tilde" },
    ]);

    assert.equal(result.ok, true);
    assert.deepEqual(result.doc, {
      ...pod(),
      metadata: {
        name: "web",
        labels: { app: "web", "example.com/held": "slash", "a~b": "tilde" },
      },
    });
  });

  it("applies valid patch in order", () => {
    const result = applyPatch(pod(), [
      { op: "replace", path: "/spec/containers/0/image", value: "mirror.test/nginx:1.25" },
      { op: "add", path: "/spec/affinity", value: {} },
      { op: "add", path: "/spec/affinity/nodeAffinity", value: { preferred: [] } },
      { op: "add", path: "/spec/affinity/nodeAffinity/preferred/-", value: "node-a" },
      { op: "remove", path: "/metadata/labels/app" },
    ]);

    assert.equal(result.ok, true);
    assert.deepEqual(result.doc, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web", labels: {} },
      spec: {
        containers: [{ name: "web", image: "mirror.test/nginx:1.25" }],
        affinity: { nodeAffinity: { preferred: ["node-a"] } },
      },
    });
  });

  it("keeps characters that Go escapes", () => {
    const result = applyPatch({}, [{ op: "add", path: "/note", value: "a<b>&c\u2028" }]);

    assert.deepEqual(result.doc, { note: "a<b>&c\u2028" });
  });
});

describe("applyPatches", () => {
  it("keeps batch order", () => {
    const results = applyPatches([
      { doc: { n: 1 }, patch: [{ op: "replace", path: "/n", value: 10 }] },
      { doc: { n: 2 }, patch: [{ op: "remove", path: "/missing" }] },
      { doc: { n: 3 }, patch: [{ op: "replace", path: "/n", value: 30 }] },
      { doc: { n: 4 }, patch: [] },
    ]);

    assert.equal(results.length, 4);
    assert.deepEqual(results[0], { ok: true, doc: { n: 10 } });
    assert.equal(results[1]?.ok, false);
    assert.deepEqual(results[2], { ok: true, doc: { n: 30 } });
    assert.deepEqual(results[3], { ok: true, doc: { n: 4 } });
  });

  it("returns nothing for empty batch", () => {
    assert.deepEqual(applyPatches([]), []);
  });
});

describe("resolveApiserverJsonpatch", () => {
  const saved = process.env.APISERVER_JSONPATCH;

  afterEach(() => {
    if (saved === undefined) {
      delete process.env.APISERVER_JSONPATCH;
    } else {
      process.env.APISERVER_JSONPATCH = saved;
    }
  });

  it("names path and build script", () => {
    process.env.APISERVER_JSONPATCH = "/nonexistent/apiserver-jsonpatch";

    assert.throws(() => applyPatch({}, []), /\/nonexistent\/apiserver-jsonpatch/);
    assert.throws(() => resolveApiserverJsonpatch(), /apiserver-jsonpatch\/build\.sh/);
  });
});
