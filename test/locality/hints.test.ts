// Hint planning with layer data and node load: layer-level matching, platform support, the
// holder-share rule and the spare-capacity filter.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { validateConfig } from "../../src/config.ts";
import { parseImageReference, type ImageReference } from "../../src/image/reference.ts";
import { buildInventory } from "../../src/inventory/inventory.ts";
import { planHints, type HintInputs } from "../../src/locality/hints.ts";
import type { ImageManifestInfo, Layer, LayerSource, Platform } from "../../src/locality/layers.ts";
import { NodeLoad } from "../../src/locality/load.ts";
import { buildNodeLayerIndex, type NodeLayerIndex } from "../../src/locality/node-layers.ts";
import type { PodImage } from "../../src/locality/overlap.ts";
import { nodeWith } from "../support/pods.ts";

const MB = 1_000_000;
const base: Layer[] = [
  { digest: `sha256:${"1".repeat(64)}`, size: 80 * MB },
  { digest: `sha256:${"2".repeat(64)}`, size: 15 * MB },
];
const v1Top: Layer = { digest: `sha256:${"3".repeat(64)}`, size: 5 * MB };
const v2Top: Layer = { digest: `sha256:${"4".repeat(64)}`, size: 5 * MB };
const other: Layer = { digest: `sha256:${"5".repeat(64)}`, size: 50 * MB };

/** An in-memory LayerSource: image name -> layers per "os/arch". */
function layerSource(images: Record<string, Record<string, Layer[]>>): LayerSource {
  return {
    lookup(image: ImageReference): ImageManifestInfo | undefined {
      const entry = images[`${image.domain}/${image.path}:${image.tag ?? "latest"}`];
      if (entry === undefined) {
        return undefined;
      }
      const platforms = Object.keys(entry).map((key): Platform => {
        const [os = "", architecture = ""] = key.split("/");
        return { os, architecture };
      });
      return {
        status: "resolved",
        platforms,
        layersFor: (platform) => entry[`${platform.os}/${platform.architecture}`],
      };
    },
  };
}

const amd64 = "linux/amd64";
const source = layerSource({
  "docker.io/team/app:v1": { [amd64]: [...base, v1Top] },
  "docker.io/team/app:v2": { [amd64]: [...base, v2Top], "linux/arm64": [...base, v2Top] },
  "docker.io/team/other:1": { [amd64]: [other] },
  "docker.io/team/armonly:1": { "linux/arm64": [...base, v2Top] },
});

function podImage(image: string): PodImage {
  const parsed = parseImageReference(image);
  assert.ok(parsed.ok);
  return { original: parsed.reference };
}

function inputsFor(
  nodes: unknown[],
  extra: Partial<HintInputs> = {},
  raw: Record<string, unknown> = {},
): HintInputs {
  const { inventory } = buildInventory(nodes);
  return {
    config: validateConfig(raw, "test"),
    inventory,
    layers: source,
    nodeLayers: buildNodeLayerIndex(inventory, source),
    ...extra,
  };
}

const armLabels = { labels: { "kubernetes.io/arch": "arm64" } };

describe("layer-level hints", () => {
  const nodes = [
    nodeWith("warm-v1", [[["docker.io/team/app:v1"], 100 * MB]]),
    nodeWith("other", [[["docker.io/team/other:1"], 50 * MB]]),
    nodeWith("empty", []),
  ];

  it("prefers a node holding a sibling image", () => {
    const plan = planHints({}, [podImage("team/app:v2")], inputsFor(nodes));
    assert.equal(plan.basis, "layers");
    assert.deepEqual(
      plan.preferences.map((preference) => preference.node),
      ["warm-v1"],
    );
    assert.equal(plan.preferences[0]?.heldBytes, 95 * MB);
    assert.equal(plan.preferences[0]?.totalBytes, 100 * MB);
  });

  it("hints nodes holding at least minHeldShare", () => {
    // warm-v1 holds the 95 MB base of 150 MB (63 %), other holds other:1's 50 MB (33 %).
    const images = [podImage("team/app:v2"), podImage("team/other:1")];
    const plan = planHints({}, images, inputsFor(nodes));
    assert.deepEqual(
      plan.preferences.map((preference) => preference.node),
      ["warm-v1"],
    );

    const lower = planHints({}, images, inputsFor(nodes, {}, { affinity: { minHeldShare: 0.3 } }));
    assert.deepEqual(
      lower.preferences.map((preference) => preference.node),
      ["warm-v1", "other"],
    );
  });

  it("skips hints below minHeldShare", () => {
    const images = [podImage("team/app:v2"), podImage("team/other:1")];
    const plan = planHints({}, images, inputsFor(nodes, {}, { affinity: { minHeldShare: 0.7 } }));
    assert.deepEqual(plan.preferences, []);
    assert.match(plan.reason, /affinity\.minHeldShare/);
  });

  it("falls back to images without manifests", () => {
    const inputs = inputsFor(nodes, { layers: layerSource({}) });
    const plan = planHints({}, [podImage("team/app:v2")], {
      ...inputs,
      nodeLayers: buildNodeLayerIndex(inputs.inventory, layerSource({})),
    });
    assert.equal(plan.basis, "images");
    assert.deepEqual(plan.preferences, []);
  });

  it("never prefers a node of the wrong architecture", () => {
    const mixed = [
      nodeWith("amd-warm", [[["docker.io/team/app:v1"], 100 * MB]]),
      nodeWith("arm-warm", [[["docker.io/team/app:v2"], 100 * MB]], armLabels),
      nodeWith("arm-empty", [], armLabels),
    ];
    const plan = planHints({}, [podImage("team/armonly:1")], inputsFor(mixed));
    assert.deepEqual(
      plan.preferences.map((preference) => preference.node),
      ["arm-warm"],
    );
  });

  it("scores each platform by its own layers", () => {
    const mixed = [
      nodeWith("amd-warm", [[["docker.io/team/app:v1"], 100 * MB]]),
      nodeWith("arm-empty", [], armLabels),
      nodeWith("amd-empty", []),
    ];
    const plan = planHints({}, [podImage("team/app:v2")], inputsFor(mixed));
    assert.deepEqual(
      plan.preferences.map((preference) => preference.node),
      ["amd-warm"],
    );
    assert.ok((plan.warmShare ?? 0) > 0.9);
  });
});

describe("balanced hints", () => {
  const warm = (name: string): Record<string, unknown> => {
    const node = nodeWith(name, [[["docker.io/team/app:v2"], 100 * MB]]);
    (node["status"] as Record<string, unknown>)["allocatable"] = { cpu: "4", memory: "16Gi" };
    return node;
  };
  const cold = (name: string): Record<string, unknown> => {
    const node = nodeWith(name, []);
    (node["status"] as Record<string, unknown>)["allocatable"] = { cpu: "4", memory: "16Gi" };
    return node;
  };

  it("gives no hint when most nodes hold it", () => {
    const nodes = [warm("a"), warm("b"), warm("c"), warm("d"), cold("e")];
    const plan = planHints({}, [podImage("team/app:v2")], inputsFor(nodes));
    assert.deepEqual(plan.preferences, []);
    assert.match(plan.reason, /4 of 5 feasible nodes already hold/);
  });

  it("skips warm nodes above the mean", () => {
    const load = new NodeLoad();
    load.setPod("p1", "a", { cpuMillis: 3000, memoryBytes: 0 });
    load.setPod("p2", "c", { cpuMillis: 200, memoryBytes: 0 });
    const nodes = [warm("a"), warm("b"), cold("c"), cold("d")];
    const plan = planHints({}, [podImage("team/app:v2")], inputsFor(nodes, { load }));
    assert.deepEqual(
      plan.preferences.map((preference) => preference.node),
      ["b"],
    );
  });

  it("weights emptier nodes higher", () => {
    const load = new NodeLoad();
    load.setPod("p1", "a", { cpuMillis: 1000, memoryBytes: 0 });
    load.setPod("p2", "c", { cpuMillis: 3000, memoryBytes: 0 });
    const nodes = [warm("a"), warm("b"), cold("c"), cold("d")];
    const plan = planHints({}, [podImage("team/app:v2")], inputsFor(nodes, { load }));
    const weights = new Map(
      plan.preferences.map((preference) => [preference.node, preference.weight]),
    );
    assert.ok((weights.get("b") ?? 0) > (weights.get("a") ?? 0), JSON.stringify([...weights]));
  });

  it("counts pending hints as load", () => {
    const load = new NodeLoad();
    load.setPod("p1", "c", { cpuMillis: 1000, memoryBytes: 0 });
    const nodes = [warm("a"), warm("b"), cold("c"), cold("d")];
    load.addHint("a", { cpuMillis: 2000, memoryBytes: 0 }, 60_000);
    const plan = planHints({}, [podImage("team/app:v2")], inputsFor(nodes, { load }));
    assert.deepEqual(
      plan.preferences.map((preference) => preference.node),
      ["b"],
    );
  });

  it("ignores load when balance is off", () => {
    const load = new NodeLoad();
    load.setPod("p1", "a", { cpuMillis: 3900, memoryBytes: 0 });
    const nodes = [warm("a"), warm("b"), cold("c"), cold("d")];
    const plan = planHints(
      {},
      [podImage("team/app:v2")],
      inputsFor(nodes, { load }, { balance: { enabled: false } }),
    );
    assert.equal(plan.preferences.length, 2);
  });
});

describe("node load", () => {
  it("adds and removes pod requests", () => {
    const load = new NodeLoad();
    load.setPod("p1", "a", { cpuMillis: 500, memoryBytes: 10 });
    load.setPod("p2", "a", { cpuMillis: 250, memoryBytes: 5 });
    load.deletePod("p1");
    assert.deepEqual(load.requested("a"), { cpuMillis: 250, memoryBytes: 5 });
  });

  it("moves a pod between nodes", () => {
    const load = new NodeLoad();
    load.setPod("p1", "a", { cpuMillis: 500, memoryBytes: 0 });
    load.setPod("p1", "b", { cpuMillis: 500, memoryBytes: 0 });
    assert.equal(load.requested("a").cpuMillis, 0);
    assert.equal(load.requested("b").cpuMillis, 500);
  });

  it("expires pending hints", () => {
    let now = 0;
    const load = new NodeLoad(() => now);
    load.addHint("a", { cpuMillis: 100, memoryBytes: 0 }, 1000);
    assert.equal(load.requested("a").cpuMillis, 100);
    now = 1000;
    assert.equal(load.requested("a").cpuMillis, 0);
  });

  it("settles a hint when a pod lands", () => {
    const load = new NodeLoad();
    load.addHint("a", { cpuMillis: 100, memoryBytes: 0 }, 60_000);
    load.setPod("p1", "a", { cpuMillis: 100, memoryBytes: 0 });
    assert.equal(load.requested("a").cpuMillis, 100);
  });

  it("expires and settles many hints once each", () => {
    let now = 0;
    const load = new NodeLoad(() => now);
    // Hints on a and b alternate, one per millisecond, so the queues compact several times.
    for (let i = 0; i < 1000; i += 1) {
      now = i;
      load.addHint(i % 2 === 0 ? "a" : "b", { cpuMillis: 1, memoryBytes: 0 }, 1000);
    }
    for (let i = 0; i < 300; i += 1) {
      load.setPod(`p${i}`, "a", { cpuMillis: 0, memoryBytes: 0 });
    }
    // a: 500 hints, 300 settled (the oldest). b: 500 hints, none settled.
    assert.equal(load.requested("a").cpuMillis, 200);
    assert.equal(load.requested("b").cpuMillis, 500);

    // At 1,599 the hints added at 0..599 have expired: a's 300 left among them were settled.
    now = 1599;
    assert.equal(load.requested("a").cpuMillis, 200);
    assert.equal(load.requested("b").cpuMillis, 200);

    // Settling after expiry takes the oldest hint still pending (added at 600), not an expired one.
    load.setPod("late", "a", { cpuMillis: 0, memoryBytes: 0 });
    assert.equal(load.requested("a").cpuMillis, 199);
    now = 2000;
    assert.equal(load.requested("a").cpuMillis, 0);
    assert.equal(load.requested("b").cpuMillis, 0);
  });

  it("keeps separate shares per nodes list", () => {
    const load = new NodeLoad(() => 0);
    load.setPod("p1", "a", { cpuMillis: 2000, memoryBytes: 0 });
    const { inventory } = buildInventory([
      { metadata: { name: "a" }, status: { allocatable: { cpu: "4" } } },
      { metadata: { name: "b" }, status: { allocatable: { cpu: "4" } } },
    ]);
    const both = inventory.nodes;
    const onlyA = both.filter((node) => node.name === "a");
    assert.equal(load.meanCpuShare(both), 0.25);
    assert.equal(load.meanCpuShare(onlyA), 0.5);
    assert.equal(load.meanCpuShare(both), 0.25);
  });

  it("averages over idle nodes too", () => {
    const load = new NodeLoad();
    load.setPod("p1", "a", { cpuMillis: 2000, memoryBytes: 0 });
    const nodes = buildInventory([
      { metadata: { name: "a" }, status: { allocatable: { cpu: "4" } } },
      { metadata: { name: "b" }, status: { allocatable: { cpu: "4" } } },
    ]).inventory.nodes;
    assert.equal(load.meanCpuShare(nodes), 0.25);
  });
});

/** Nodes a (holding app:v1), b and c, and a planner for app:v2 against a given layer index. */
function layerRankingSetup() {
  const { inventory } = buildInventory([
    nodeWith("a", [[["docker.io/team/app:v1"], 100 * MB]]),
    nodeWith("b", []),
    nodeWith("c", []),
  ]);
  const config = validateConfig({}, "test");
  const plan = (nodeLayers: NodeLayerIndex) =>
    planHints({}, [podImage("team/app:v2")], { config, inventory, layers: source, nodeLayers });
  return { inventory, plan };
}

describe("cached rankings", () => {
  it("follow an image change when ranked by images", () => {
    const { inventory } = buildInventory([
      nodeWith("a", [[["docker.io/team/app:v1"], 100 * MB]]),
      nodeWith("b", []),
      nodeWith("c", []),
    ]);
    const inputs: HintInputs = { config: validateConfig({}, "test"), inventory };
    const images = [podImage("team/app:v1")];
    assert.deepEqual(
      planHints({}, images, inputs).preferences.map((preference) => preference.node),
      ["a"],
    );

    inventory.upsert(nodeWith("a", []));
    inventory.upsert(nodeWith("b", [[["docker.io/team/app:v1"], 100 * MB]]));
    const plan = planHints({}, images, inputs);
    assert.equal(plan.basis, "images");
    assert.deepEqual(
      plan.preferences.map((preference) => preference.node),
      ["b"],
    );
  });

  it("keep a layer ranking until the layer index is rebuilt", () => {
    const { inventory, plan } = layerRankingSetup();
    const nodeLayers = buildNodeLayerIndex(inventory, source);
    const first = plan(nodeLayers);
    assert.equal(first.basis, "layers");

    // An image change alone leaves the layer index, and so the ranking, as it was.
    inventory.upsert(nodeWith("b", [[["docker.io/team/other:1"], 50 * MB]]));
    const same = plan(nodeLayers);
    assert.deepEqual(same.preferences, first.preferences);

    // The rebuilt index also lists app:v1 on b.
    inventory.upsert(nodeWith("b", [[["docker.io/team/app:v1"], 100 * MB]]));
    const rebuilt = buildNodeLayerIndex(inventory, source);
    const after = plan(rebuilt);
    assert.deepEqual(after.preferences.map((preference) => preference.node).sort(), ["a", "b"]);
  });

  it("drop a layer ranking when a node leaves", () => {
    const { inventory, plan } = layerRankingSetup();
    const nodeLayers = buildNodeLayerIndex(inventory, source);
    const first = plan(nodeLayers);
    assert.deepEqual(
      first.preferences.map((preference) => preference.node),
      ["a"],
    );

    inventory.remove("a");
    const after = plan(nodeLayers);
    assert.deepEqual(after.preferences, []);
  });
});
