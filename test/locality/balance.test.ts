// Balance rules of hint planning: the load-quantile gate, the imbalance a hint may add per GB it
// saves, and the quantiles of the node load they read.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { validateConfig } from "../../src/config.ts";
import { parseImageReference, type ImageReference } from "../../src/image/reference.ts";
import { buildInventory } from "../../src/inventory/inventory.ts";
import { planHints, type HintInputs, type HintPlan } from "../../src/locality/hints.ts";
import type { ImageManifestInfo, Layer, LayerSource } from "../../src/locality/layers.ts";
import { NodeLoad } from "../../src/locality/load.ts";
import { buildNodeLayerIndex } from "../../src/locality/node-layers.ts";
import type { PodImage } from "../../src/locality/overlap.ts";
import { nodeWith } from "../support/pods.ts";

const MB = 1_000_000;
const layer = (digit: string, size: number): Layer => ({
  digest: `sha256:${digit.repeat(64)}`,
  size,
});
const os = layer("1", 80 * MB);
const runtime = layer("2", 15 * MB);
const layersByImage: Record<string, Layer[]> = {
  // v2 shares 95 of its 100 MB with v1.
  "docker.io/team/app:v1": [os, runtime, layer("3", 5 * MB)],
  "docker.io/team/app:v2": [os, runtime, layer("4", 5 * MB)],
};

const source: LayerSource = {
  lookup(image: ImageReference): ImageManifestInfo | undefined {
    const layers = layersByImage[`${image.domain}/${image.path}:${image.tag ?? "latest"}`];
    return layers === undefined
      ? undefined
      : {
          status: "resolved",
          platforms: [{ os: "linux", architecture: "amd64" }],
          layersFor: (platform) => (platform.architecture === "amd64" ? layers : undefined),
        };
  },
};

/** Builds a 4-CPU node holding the given images (none: a cold node). */
function node(name: string, images: string[] = []): Record<string, unknown> {
  const object = nodeWith(
    name,
    images.map((image) => [[image], 100 * MB]),
  );
  (object["status"] as Record<string, unknown>)["allocatable"] = { cpu: "4", memory: "16Gi" };
  return object;
}

function plan(
  nodes: unknown[],
  cpuMillisByNode: Record<string, number>,
  raw: Record<string, unknown>,
  spec: Record<string, unknown> = {},
): string[] {
  return planFor(nodes, cpuMillisByNode, raw, spec).preferences.map(
    (preference) => preference.node,
  );
}

function planFor(
  nodes: unknown[],
  cpuMillisByNode: Record<string, number>,
  raw: Record<string, unknown>,
  spec: Record<string, unknown>,
): HintPlan {
  const load = new NodeLoad();
  for (const [name, cpuMillis] of Object.entries(cpuMillisByNode)) {
    load.setPod(`pod-on-${name}`, name, { cpuMillis, memoryBytes: 0 });
  }
  const { inventory } = buildInventory(nodes);
  const inputs: HintInputs = {
    config: validateConfig(raw, "test"),
    inventory,
    layers: source,
    nodeLayers: buildNodeLayerIndex(inventory, source),
    load,
  };
  const parsed = parseImageReference("team/app:v2");
  assert.ok(parsed.ok);
  const images: PodImage[] = [{ original: parsed.reference }];
  return planHints(spec, images, inputs);
}

/** Two nodes with app:v1 (warm-a, warm-b) and three without it (cold-c, cold-d, cold-e). */
const nodes = [
  node("warm-a", ["docker.io/team/app:v1"]),
  node("warm-b", ["docker.io/team/app:v1"]),
  node("cold-c"),
  node("cold-d"),
  node("cold-e"),
];

describe("load quantile gate", () => {
  // Shares 0.2 (warm-a), 0 (warm-b), 0 (cold-c), 0.1 (cold-d), 0.7 (cold-e): the mean is 0.2
  // and the lower quartile 0.
  const load = { "warm-a": 800, "cold-d": 400, "cold-e": 2800 };

  it("skips warm nodes above the quartile", () => {
    assert.deepEqual(plan(nodes, load, { balance: { loadQuantile: 0.25 } }), ["warm-b"]);
  });

  it("keeps them with the gate off", () => {
    const names = plan(nodes, load, { balance: { loadQuantile: 1 } });
    assert.deepEqual([...names].sort(), ["warm-a", "warm-b"]);
  });

  it("rejects a quantile above 1", () => {
    assert.throws(() => validateConfig({ balance: { loadQuantile: 1.5 } }, "test"), /loadQuantile/);
  });
});

describe("imbalance per held GB", () => {
  // Shares 0.5 (warm-a), 0.25 (warm-b), 0 (cold-c), 0.75 (cold-d), 1 (cold-e): the mean is 0.5
  // and the emptiest share 0. Each warm node has 95 MB (0.095 GB) of the pod's 100 MB.
  const load = { "warm-a": 2000, "warm-b": 1000, "cold-d": 3000, "cold-e": 4000 };
  // 400 m of a 4-CPU node: warm-a would add 0.5 x 0.1 = 0.05, warm-b 0.25 x 0.1 = 0.025.
  const pod = {
    containers: [{ name: "app", image: "team/app:v2", resources: { requests: { cpu: "400m" } } }],
  };
  const sorted = (names: string[]): string[] => [...names].sort();

  it("keeps nodes whose imbalance the bytes pay for", () => {
    // 1 per GB allows 0.095: both pass.
    assert.deepEqual(sorted(plan(nodes, load, { balance: { imbalancePerGB: 1 } }, pod)), [
      "warm-a",
      "warm-b",
    ]);
  });

  it("skips the busier node first", () => {
    // 0.4 per GB allows 0.038: warm-b (0.025) passes, warm-a (0.05) does not.
    assert.deepEqual(plan(nodes, load, { balance: { imbalancePerGB: 0.4 } }, pod), ["warm-b"]);
  });

  it("gives no hint when no node pays", () => {
    // 0.1 per GB allows 0.0095: neither passes.
    const result = planFor(nodes, load, { balance: { imbalancePerGB: 0.1 } }, pod);
    assert.deepEqual(result.preferences, []);
    assert.match(result.reason, /balance\.imbalancePerGB/);
  });

  it("lets a pod without CPU requests through", () => {
    assert.deepEqual(sorted(plan(nodes, load, { balance: { imbalancePerGB: 0.1 } })), [
      "warm-a",
      "warm-b",
    ]);
  });

  it("reads the emptiest share at emptiestQuantile", () => {
    // The median share is 0.5: warm-a adds nothing above it and warm-b is below it.
    const raw = { balance: { imbalancePerGB: 0.1, emptiestQuantile: 0.5 } };
    assert.deepEqual(sorted(plan(nodes, load, raw, pod)), ["warm-a", "warm-b"]);
  });

  it("rejects a negative imbalancePerGB", () => {
    assert.throws(
      () => validateConfig({ balance: { imbalancePerGB: -0.1 } }, "test"),
      /imbalancePerGB/,
    );
  });

  it("rejects an emptiestQuantile above 1", () => {
    assert.throws(
      () => validateConfig({ balance: { emptiestQuantile: 1.5 } }, "test"),
      /emptiestQuantile/,
    );
  });
});

describe("node load quantiles", () => {
  const nodes = buildInventory(
    ["a", "b", "c", "d"].map((name) => ({
      metadata: { name },
      status: { allocatable: { cpu: "4" } },
    })),
  ).inventory.nodes;
  const load = new NodeLoad();
  load.setPod("p1", "b", { cpuMillis: 1000, memoryBytes: 0 });
  load.setPod("p2", "c", { cpuMillis: 2000, memoryBytes: 0 });
  load.setPod("p3", "d", { cpuMillis: 4000, memoryBytes: 0 });

  const cases: [number, number][] = [
    [0, 0],
    [0.25, 0.25],
    [0.5, 0.5],
    [0.75, 1],
    [1, 1],
  ];
  for (const [fraction, expected] of cases) {
    it(`returns ${expected} at quantile ${fraction}`, () => {
      assert.equal(load.cpuShareQuantile(nodes, fraction), expected);
    });
  }

  it("returns 0 without nodes", () => {
    assert.equal(new NodeLoad().cpuShareQuantile([], 0.5), 0);
  });

  it("skips nodes without allocatable CPU", () => {
    const unknown = buildInventory([{ metadata: { name: "x" }, status: {} }]).inventory.nodes;
    assert.equal(load.cpuShareQuantile([...nodes, ...unknown], 0), 0);
    assert.equal(load.cpuShareQuantile(unknown, 0.5), 0);
  });
});
