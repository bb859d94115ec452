// Faults found by trying the webhook as a new user would, each kept as a small test.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ORIGINAL_IMAGES_ANNOTATION, mutatePod } from "../../src/admission/pod-mutation.ts";
import { InvalidConfigError, validateConfig } from "../../src/config.ts";
import { parseImageReference } from "../../src/image/reference.ts";
import { applyPatch } from "../support/apiserver-jsonpatch.ts";
import { contextWith, nodeWith, podWith } from "../support/pods.ts";

const create = { kind: "create" } as const;
const NGINX: [string[], number] = [["docker.io/library/nginx:1.25"], 70_000_000];

function annotationOf(pod: unknown): Record<string, string> {
  const annotations = (pod as { metadata: { annotations: Record<string, string> } }).metadata
    .annotations;
  return JSON.parse(annotations[ORIGINAL_IMAGES_ANNOTATION] ?? "{}") as Record<string, string>;
}

function configProblems(raw: unknown): readonly string[] {
  try {
    validateConfig(raw, "test");
    return [];
  } catch (error: unknown) {
    assert.ok(error instanceof InvalidConfigError);
    return error.problems;
  }
}

describe("regressions", () => {
  it("records a container named constructor", () => {
    const pod = podWith([{ name: "constructor", image: "nginx:1.25" }]);
    const result = mutatePod(pod, "team-a", create, contextWith([]));
    assert.deepEqual(annotationOf(result.object), { constructor: "nginx:1.25" });
  });

  it("reads prototype-named label keys as absent", () => {
    const affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            { matchExpressions: [{ key: "constructor", operator: "DoesNotExist" }] },
          ],
        },
      },
    };
    const context = contextWith([nodeWith("node-a", [NGINX]), nodeWith("node-b", [])]);
    const result = mutatePod(
      podWith([{ name: "web", image: "nginx:1.25" }], { affinity }),
      "team-a",
      create,
      context,
    );
    assert.deepEqual(
      result.preferredNodes.map((preference) => preference.node),
      ["node-a"],
    );
  });

  it("keeps weights valid for absurd sizes", () => {
    const huge: [string[], number][] = [
      [["docker.io/library/nginx:1.25"], 1e308],
      [["docker.io/library/redis:7"], 1e308],
    ];
    const context = contextWith([nodeWith("node-a", huge), nodeWith("node-b", [])]);
    const pod = podWith([
      { name: "a", image: "nginx:1.25" },
      { name: "b", image: "redis:7" },
    ]);
    const result = mutatePod(pod, "team-a", create, context);
    for (const preference of result.preferredNodes) {
      assert.ok(
        Number.isInteger(preference.weight) && preference.weight >= 1 && preference.weight <= 100,
      );
    }
  });

  it("is idempotent for default-mirror images", () => {
    const context = contextWith(
      [
        nodeWith("node-a", [[["ghcr.io/team/app:2"], 10]]),
        nodeWith("node-b", [[["registry.example.com/other/ghcr.io/team/app:2"], 10]]),
      ],
      { mirror: { registries: {}, default: "registry.example.com/other" } },
    );
    const pod = podWith([{ name: "app", image: "ghcr.io/team/app:2" }]);
    const first = mutatePod(pod, "team-a", create, context);
    const applied = applyPatch(pod, first.patch);
    assert.ok(applied.ok);
    assert.deepEqual(mutatePod(applied.doc, "team-a", create, context).patch, []);
  });

  it("replaces a stale original-images entry", () => {
    const pod = podWith([{ name: "web", image: "nginx:1.26" }]);
    (pod["metadata"] as Record<string, unknown>)["annotations"] = {
      [ORIGINAL_IMAGES_ANNOTATION]: JSON.stringify({ web: "nginx:1.25" }),
    };
    const result = mutatePod(pod, "team-a", create, contextWith([]));
    assert.deepEqual(annotationOf(result.object), { web: "nginx:1.26" });
  });

  it("excludes images by familiar glob", () => {
    const context = contextWith([], { exclude: { images: ["busybox:*", "nginx"] } });
    const pod = podWith([
      { name: "a", image: "busybox:1.36" },
      { name: "b", image: "nginx" },
    ]);
    const result = mutatePod(pod, "team-a", create, context);
    assert.deepEqual(
      result.containers.map((container) => container.result),
      ["unchanged", "unchanged"],
    );
  });

  it("accepts sha384 digests", () => {
    assert.ok(parseImageReference(`nginx@sha384:${"a".repeat(96)}`).ok);
  });

  it("spreads ties across pods", () => {
    const warm = Array.from({ length: 20 }, (_, index) => nodeWith(`warm-${index}`, [NGINX]));
    const cold = Array.from({ length: 20 }, (_, index) => nodeWith(`cold-${index}`, []));
    const base = contextWith([...warm, ...cold], { affinity: { maxPreferredNodes: 3 } });
    const chosen = new Set<string>();
    for (const seed of ["uid-1", "uid-2", "uid-3", "uid-4", "uid-5"]) {
      const result = mutatePod(podWith([{ name: "web", image: "nginx:1.25" }]), "team-a", create, {
        ...base,
        tieBreakSeed: seed,
      });
      result.preferredNodes.forEach((preference) => chosen.add(preference.node));
    }
    assert.ok(chosen.size > 3, `always the same nodes: ${[...chosen].join(", ")}`);
  });
});

describe("configuration conflicts", () => {
  it("rejects a rule duplicated by normalisation", () => {
    const problems = configProblems({
      mirror: {
        registries: { "docker.io": "m.example.com/a", "index.docker.io": "m.example.com/b" },
      },
    });
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? "", /duplicates the rule for docker\.io/);
  });

  it("rejects a source that is a mirror host", () => {
    const problems = configProblems({ mirror: { registries: { "quay.io": "docker.io/quay" } } });
    assert.equal(problems.length, 0);
    const self = configProblems({
      mirror: { registries: { "m.example.com": "m.example.com/self" } },
    });
    assert.match(self[0] ?? "", /also a mirror host/);
  });

  it("rejects nested prefixes", () => {
    const problems = configProblems({
      mirror: {
        registries: { "docker.io": "m.example.com/hub", "quay.io": "m.example.com/hub/quay" },
      },
    });
    assert.match(problems[0] ?? "", /nested under "m\.example\.com\/hub"/);
  });

  it("matches rule hosts in any case", () => {
    const config = validateConfig(
      { mirror: { registries: { "DOCKER.IO": "m.example.com/hub" } } },
      "test",
    );
    assert.equal(config.mirror.registries.get("docker.io"), "m.example.com/hub");
  });
});
