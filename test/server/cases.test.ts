// Every admission case through the real HTTPS server started as start-local starts it, with the
// cases' configuration and nodes: the same expectations as the pipeline test, the patch applied
// by the API server's library, and the response bytes equal to what dry-run -o review prints.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { serializeReview } from "../../src/admission/review.ts";
import { startLocalServer, type LocalServer } from "../../src/cli/start-local.ts";
import { processItems } from "../../src/cli/dry-run.ts";
import { loadConfig } from "../../src/config.ts";
import { loadNodeSnapshot } from "../../src/inventory/snapshot.ts";
import { applyPatch } from "../support/apiserver-jsonpatch.ts";
import { checkAdmissionCase, decodePatch } from "../support/admission-expectations.ts";
import { fixturePath, loadCases } from "../support/cases.ts";
import { createReview, podWith } from "../support/pods.ts";
import { validateObject } from "../support/schema.ts";
import { send } from "./https-client.ts";
import { captureLogs } from "./test-server.ts";

const R1 = fixturePath("configs/r1-offline.yaml");
const C1 = fixturePath("cases/c1-nodes.json");

describe("admission cases over HTTPS", () => {
  let local: LocalServer;
  let directory: string;
  let ca: Buffer;

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), "kube-image-cache-cases-"));
    local = await startLocalServer({
      logger: captureLogs("silent").logger,
      certDirectory: join(directory, "certs"),
      configPath: R1,
      nodesPath: C1,
      port: 0,
    });
    ca = await readFile(local.caCertPath);
  });

  after(async () => {
    await local.server.close();
    await rm(directory, { recursive: true, force: true });
  });

  async function post(body: unknown): Promise<{ status: number; text: string }> {
    return send(local.server.url, "/mutate", {
      ca,
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
    });
  }

  const context = { config: loadConfig(R1), inventory: loadNodeSnapshot(C1) };

  for (const testCase of loadCases("admission")) {
    it(`${testCase.id} over HTTPS`, async () => {
      const reply = await post(testCase.input);
      assert.equal(reply.status, 200, reply.text);
      const review = JSON.parse(reply.text) as Record<string, unknown>;
      const original = (testCase.input["request"] as { object?: unknown }).object;
      const patch = decodePatch(review);
      const applied = patch.length > 0 ? applyPatch(original, patch) : undefined;
      checkAdmissionCase(testCase, review, undefined, original, applied);
      if (applied !== undefined) {
        assert.ok(applied.ok, applied.error);
        assert.deepEqual(validateObject(applied.doc), []);
      }
      const [entry] = processItems([testCase.input], "default", context);
      assert.equal(reply.text, serializeReview(entry?.review ?? {}));
    });
  }

  it("answers a pod without metadata", async () => {
    const reply = await post(
      createReview({ spec: { containers: [{ name: "a", image: "nginx" }] } }),
    );
    assert.equal(reply.status, 200);
    const patch = decodePatch(JSON.parse(reply.text) as Record<string, unknown>);
    assert.ok(patch.some((operation) => operation.path === "/metadata"));
  });

  it("answers a pod without spec", async () => {
    const reply = await post(createReview({ metadata: { name: "a" } }, "team-a", "uid-no-spec"));
    assert.equal(reply.status, 200);
    assert.deepEqual(JSON.parse(reply.text), {
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      response: { uid: "uid-no-spec", allowed: true },
    });
  });

  it("answers a 120-container pod", async () => {
    const containers = Array.from({ length: 120 }, (_, index) => ({
      name: `c${index}`,
      image: `nginx:1.${index}`,
    }));
    const pod = podWith(containers);
    const reply = await post(createReview(pod));
    assert.equal(reply.status, 200);
    const applied = applyPatch(pod, decodePatch(JSON.parse(reply.text) as Record<string, unknown>));
    assert.ok(applied.ok, applied.error);
    assert.deepEqual(validateObject(applied.doc), []);
  });
});
