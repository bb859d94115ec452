// The pod mutation beyond the shared cases: idempotence, large pods, missing fields, exclusions,
// mirror health, and the feasibility filter for hints.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { MutationContext } from "../../src/admission/contract.ts";
import {
  ORIGINAL_IMAGES_ANNOTATION,
  SKIP_LABEL,
  mutatePod,
} from "../../src/admission/pod-mutation.ts";
import { applyPatch, applyPatches } from "../support/apiserver-jsonpatch.ts";
import { addedPreferredTerms, type Operation } from "../support/admission-expectations.ts";
import { contextWith, nodeWith, podWith } from "../support/pods.ts";
import { validateObject } from "../support/schema.ts";

const create = { kind: "create" } as const;
const NGINX: [string[], number] = [["docker.io/library/nginx:1.25"], 70_000_000];

function mutateAndApply(
  pod: Record<string, unknown>,
  context: MutationContext,
  namespace = "team-a",
) {
  const result = mutatePod(pod, namespace, create, context);
  const applied = applyPatch(pod, result.patch);
  assert.ok(applied.ok, applied.ok ? "" : applied.error);
  return { result, patched: applied.doc as Record<string, unknown> };
}

function preferredNodes(patch: readonly unknown[]): string[] {
  return addedPreferredTerms(patch as Operation[]).map(
    (term) => term.preference.matchFields?.[0]?.values[0] ?? "",
  );
}

describe("pod mutation", () => {
  const nodes = [nodeWith("node-a", [NGINX]), nodeWith("node-b", [])];

  it("is idempotent on a second pass", () => {
    const context = contextWith(nodes);
    const { patched } = mutateAndApply(podWith([{ name: "web", image: "nginx:1.25" }]), context);
    const second = mutatePod(patched, "team-a", create, context);
    assert.deepEqual(second.patch, []);
  });

  it("rewrites a 120-container pod", () => {
    const containers = Array.from({ length: 120 }, (_, index) => ({
      name: `c${index}`,
      image: `team/app-${index}:1`,
    }));
    const { result, patched } = mutateAndApply(podWith(containers), contextWith(nodes));
    assert.equal(
      result.containers.filter((container) => container.result === "rewritten").length,
      120,
    );
    assert.deepEqual(validateObject(patched), []);
  });

  it("creates metadata when absent", () => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      spec: { containers: [{ name: "web", image: "nginx:1.25" }] },
    };
    const { patched } = mutateAndApply(pod, contextWith(nodes));
    const annotations = (patched["metadata"] as { annotations: Record<string, string> })
      .annotations;
    assert.equal(annotations[ORIGINAL_IMAGES_ANNOTATION], JSON.stringify({ web: "nginx:1.25" }));
  });

  it("keeps earlier recorded originals", () => {
    const pod = podWith([
      { name: "web", image: "registry.example.com/dockerhub/library/nginx:1.25" },
      { name: "sidecar", image: "busybox:1.36" },
    ]);
    (pod["metadata"] as Record<string, unknown>)["annotations"] = {
      [ORIGINAL_IMAGES_ANNOTATION]: JSON.stringify({ web: "nginx:1.25" }),
    };
    const { result, patched } = mutateAndApply(pod, contextWith(nodes));
    assert.ok(
      result.patch.some(
        (operation) => operation.op === "replace" && operation.path.endsWith("original-images"),
      ),
    );
    const annotations = (patched["metadata"] as { annotations: Record<string, string> })
      .annotations;
    assert.deepEqual(JSON.parse(annotations[ORIGINAL_IMAGES_ANNOTATION] ?? "{}"), {
      web: "nginx:1.25",
      sidecar: "busybox:1.36",
    });
  });

  it("skips a pod without spec", () => {
    const result = mutatePod({ metadata: {} }, "team-a", create, contextWith(nodes));
    assert.equal(result.skipReason, "pod has no spec");
    assert.deepEqual(result.patch, []);
  });

  it("skips non-object containers", () => {
    const pod = podWith([{ name: "web", image: 42 }]);
    (pod["spec"] as Record<string, unknown>)["initContainers"] = "not a list";
    const result = mutatePod(pod, "team-a", create, contextWith(nodes));
    assert.equal(result.containers[0]?.result, "skipped");
    assert.deepEqual(result.patch, []);
  });

  it("honours the skip label", () => {
    const pod = podWith([{ name: "web", image: "nginx:1.25" }]);
    (pod["metadata"] as { labels: Record<string, string> }).labels[SKIP_LABEL] = "true";
    const result = mutatePod(pod, "team-a", create, contextWith(nodes));
    assert.match(result.skipReason ?? "", /labelled/);
  });

  it("skips the webhook namespace", () => {
    const context = contextWith(nodes, { webhook: { namespace: "image-cache" } });
    const result = mutatePod(
      podWith([{ name: "web", image: "nginx:1.25" }]),
      "image-cache",
      create,
      context,
    );
    assert.match(result.skipReason ?? "", /own namespace/);
  });

  it("leaves images for a down mirror", () => {
    const context = {
      ...contextWith(nodes),
      unavailableMirrors: new Set(["registry.example.com"]),
    };
    const result = mutatePod(
      podWith([{ name: "web", image: "nginx:1.25" }]),
      "team-a",
      create,
      context,
    );
    assert.equal(result.containers[0]?.result, "unchanged");
    assert.match(result.containers[0]?.reason ?? "", /mirror unavailable/);
    assert.ok(result.patch.every((operation) => !operation.path.endsWith("/image")));
  });

  it("excludes images by glob", () => {
    const context = contextWith(nodes, { exclude: { images: ["docker.io/library/*"] } });
    const result = mutatePod(
      podWith([{ name: "web", image: "nginx:1.25" }]),
      "team-a",
      create,
      context,
    );
    assert.match(result.containers[0]?.reason ?? "", /excluded by image pattern/);
  });

  it("sends other registries to the default", () => {
    const context = contextWith(nodes, {
      mirror: { registries: {}, default: "registry.example.com/cache" },
    });
    const result = mutatePod(
      podWith([{ name: "web", image: "registry.example.org:5000/team/app:1" }]),
      "team-a",
      create,
      context,
    );
    assert.equal(
      result.containers[0]?.rewrittenImage,
      "registry.example.com/cache/registry.example.org_5000/team/app:1",
    );
  });

  it("adds no hints for a pod naming a node", () => {
    const result = mutatePod(
      podWith([{ name: "web", image: "nginx:1.25" }], { nodeName: "node-b" }),
      "team-a",
      create,
      contextWith(nodes),
    );
    assert.deepEqual(result.preferredNodes, []);
  });
});

describe("hint feasibility", () => {
  it("skips tainted nodes without toleration", () => {
    const context = contextWith([
      nodeWith("node-a", [NGINX], { spec: { taints: [{ key: "gpu", effect: "NoSchedule" }] } }),
      nodeWith("node-b", [NGINX]),
      nodeWith("node-c", []),
    ]);
    const result = mutatePod(
      podWith([{ name: "web", image: "nginx:1.25" }]),
      "team-a",
      create,
      context,
    );
    assert.deepEqual(preferredNodes(result.patch), ["node-b"]);
  });

  it("keeps tolerated tainted nodes", () => {
    const context = contextWith([
      nodeWith("node-a", [NGINX], { spec: { taints: [{ key: "gpu", effect: "NoSchedule" }] } }),
      nodeWith("node-c", []),
    ]);
    const pod = podWith([{ name: "web", image: "nginx:1.25" }], {
      tolerations: [{ key: "gpu", operator: "Exists" }],
    });
    assert.deepEqual(preferredNodes(mutatePod(pod, "team-a", create, context).patch), ["node-a"]);
  });

  it("skips cordoned nodes", () => {
    const context = contextWith([
      nodeWith("node-a", [NGINX], { spec: { unschedulable: true } }),
      nodeWith("node-c", []),
    ]);
    const result = mutatePod(
      podWith([{ name: "web", image: "nginx:1.25" }]),
      "team-a",
      create,
      context,
    );
    assert.deepEqual(result.preferredNodes, []);
  });

  it("respects required node affinity", () => {
    const context = contextWith([
      nodeWith("node-a", [NGINX], { labels: { zone: "a" } }),
      nodeWith("node-b", [NGINX], { labels: { zone: "b" } }),
      nodeWith("node-c", [], { labels: { zone: "b" } }),
    ]);
    const affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            { matchExpressions: [{ key: "zone", operator: "In", values: ["b"] }] },
          ],
        },
      },
    };
    const result = mutatePod(
      podWith([{ name: "web", image: "nginx:1.25" }], { affinity }),
      "team-a",
      create,
      context,
    );
    assert.deepEqual(preferredNodes(result.patch), ["node-b"]);
  });

  it("gives no hint when all nodes are equal", () => {
    const context = contextWith([nodeWith("node-a", [NGINX]), nodeWith("node-b", [NGINX])]);
    const result = mutatePod(
      podWith([{ name: "web", image: "nginx:1.25" }]),
      "team-a",
      create,
      context,
    );
    assert.deepEqual(result.preferredNodes, []);
    assert.match(result.localityReason ?? "", /not discriminate/);
  });

  it("cuts to the configured maximum", () => {
    const warm = Array.from({ length: 5 }, (_, index) => nodeWith(`node-${index}`, [NGINX]));
    const cold = Array.from({ length: 5 }, (_, index) => nodeWith(`cold-${index}`, []));
    const context = contextWith([...warm, ...cold], { affinity: { maxPreferredNodes: 3 } });
    const result = mutatePod(
      podWith([{ name: "web", image: "nginx:1.25" }]),
      "team-a",
      create,
      context,
    );
    assert.equal(result.preferredNodes.length, 3);
  });

  it("appends to existing preferred terms", () => {
    const own = {
      weight: 5,
      preference: { matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] },
    };
    const affinity = { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [own] } };
    const pod = podWith([{ name: "web", image: "nginx:1.25" }], { affinity });
    const context = contextWith([nodeWith("node-a", [NGINX]), nodeWith("node-c", [])]);
    const result = mutatePod(pod, "team-a", create, context);
    const [applied] = applyPatches([{ doc: pod, patch: result.patch }]);
    assert.ok(applied?.ok);
    const terms = (applied.doc as { spec: { affinity: typeof affinity } }).spec.affinity
      .nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution;
    assert.equal(terms.length, 2);
    assert.deepEqual(terms[0], own);
  });
});
