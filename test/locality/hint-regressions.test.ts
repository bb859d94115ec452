// Faults found by trying layer hints against a live registry and API double, each kept as a test.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { mutatePod } from "../../src/admission/pod-mutation.ts";
import { InvalidConfigError, validateConfig } from "../../src/config.ts";
import { parseImageReference } from "../../src/image/reference.ts";
import type { ImageManifestInfo, LayerSource } from "../../src/locality/layers.ts";
import { podLayersFor } from "../../src/locality/layer-overlap.ts";
import { NodeLoad } from "../../src/locality/load.ts";
import { decideRewrite } from "../../src/mirror/rules.ts";
import { applyPatch } from "../support/apiserver-jsonpatch.ts";
import { contextWith, nodeWith, podWith } from "../support/pods.ts";

const create = { kind: "create" } as const;
const NGINX: [string[], number] = [["docker.io/library/nginx:1.25"], 70_000_000];

function withCpu(node: Record<string, unknown>): Record<string, unknown> {
  (node["status"] as Record<string, unknown>)["allocatable"] = { cpu: "4", memory: "16Gi" };
  return node;
}

describe("hint regressions", () => {
  it("adds no terms on reinvocation under load", () => {
    const load = new NodeLoad();
    const nodes = ["w1", "w2"].map((name) => withCpu(nodeWith(name, [NGINX])));
    const cold = ["c1", "c2"].map((name) => withCpu(nodeWith(name, [])));
    const context = {
      ...contextWith([...nodes, ...cold], { affinity: { maxPreferredNodes: 1 } }),
      load,
    };
    const pod = podWith([{ name: "web", image: "nginx:1.25" }]);
    const first = mutatePod(pod, "team-a", create, context);
    assert.equal(first.preferredNodes.length, 1);
    load.addHint(first.preferredNodes[0]?.node ?? "", { cpuMillis: 4000, memoryBytes: 0 }, 60_000);
    const applied = applyPatch(pod, first.patch);
    assert.ok(applied.ok);
    assert.deepEqual(mutatePod(applied.doc, "team-a", create, context).patch, []);
  });

  it("keeps hints across pod updates", () => {
    const load = new NodeLoad();
    load.setPod("tiny", "w1", { cpuMillis: 0, memoryBytes: 0 });
    load.addHint("w1", { cpuMillis: 1000, memoryBytes: 0 }, 60_000);
    load.setPod("tiny", "w1", { cpuMillis: 0, memoryBytes: 0 });
    load.replacePods([{ uid: "tiny", node: "w1", requests: { cpuMillis: 0, memoryBytes: 0 } }]);
    assert.equal(load.requested("w1").cpuMillis, 1000);
  });

  it("settles a hint for a new pod in a relist", () => {
    const load = new NodeLoad();
    load.addHint("w1", { cpuMillis: 1000, memoryBytes: 0 }, 60_000);
    load.replacePods([{ uid: "new", node: "w1", requests: { cpuMillis: 1000, memoryBytes: 0 } }]);
    assert.equal(load.requested("w1").cpuMillis, 1000);
  });

  it("checks every image for platform support", () => {
    const armOnly: ImageManifestInfo = {
      status: "resolved",
      platforms: [{ os: "linux", architecture: "arm64" }],
      layersFor: (platform) => (platform.architecture === "arm64" ? [] : undefined),
    };
    const source: LayerSource = {
      lookup: (image) => (image.path === "team/arm" ? armOnly : undefined),
    };
    const missing = parseImageReference("team/missing:1");
    const arm = parseImageReference("team/arm:1");
    assert.ok(missing.ok && arm.ok);
    const images = [{ original: missing.reference }, { original: arm.reference }];
    const result = podLayersFor(images, { os: "linux", architecture: "amd64" }, source);
    assert.equal(result.status, "unsupported");
  });

  it("matches mirror hosts in any case", () => {
    const config = validateConfig(
      {
        mirror: {
          registries: { "docker.io": "Mirror.Example.com/hub" },
          default: "other.example.com/all",
        },
      },
      "test",
    );
    const parsed = parseImageReference("mirror.example.com/hub/library/nginx:1.25");
    assert.ok(parsed.ok);
    const decision = decideRewrite(parsed.reference, config.mirror, []);
    assert.equal(decision.rewritten, false);
  });

  it("rejects a budget too close to the deadline", () => {
    assert.throws(
      () =>
        validateConfig(
          { registry: { admissionBudgetMs: 1999 }, server: { deadlineMs: 2000 } },
          "test",
        ),
      InvalidConfigError,
    );
  });

  it("gives no hint to a pinned pod", () => {
    const affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            { matchFields: [{ key: "metadata.name", operator: "In", values: ["w1"] }] },
          ],
        },
      },
    };
    const context = contextWith([nodeWith("w1", [NGINX]), nodeWith("c1", [])]);
    const result = mutatePod(
      podWith([{ name: "web", image: "nginx:1.25" }], { affinity }),
      "team-a",
      create,
      context,
    );
    assert.deepEqual(result.preferredNodes, []);
    assert.match(result.localityReason ?? "", /pins the pod to w1/);
  });

  it("averages load over feasible nodes only", () => {
    const load = new NodeLoad();
    // w1 at 0.1 is below the feasible nodes' mean (0.2), but above the mean of all seven (0.086).
    load.setPod("p1", "w1", { cpuMillis: 400, memoryBytes: 0 });
    load.setPod("p2", "c1", { cpuMillis: 1000, memoryBytes: 0 });
    load.setPod("p3", "c2", { cpuMillis: 1000, memoryBytes: 0 });
    const tainted = ["t1", "t2", "t3", "t4"].map((name) =>
      withCpu(nodeWith(name, [], { spec: { taints: [{ key: "gpu", effect: "NoSchedule" }] } })),
    );
    const nodes = [
      withCpu(nodeWith("w1", [NGINX])),
      withCpu(nodeWith("c1", [])),
      withCpu(nodeWith("c2", [])),
      ...tainted,
    ];
    const context = { ...contextWith(nodes), load };
    const result = mutatePod(
      podWith([{ name: "web", image: "nginx:1.25" }]),
      "team-a",
      create,
      context,
    );
    assert.deepEqual(
      result.preferredNodes.map((preference) => preference.node),
      ["w1"],
    );
  });
});
