// buildLayerReport on hand-built nodes and a hand-written layer source: the layer totals, the
// pre-pull ranking, platforms, unreadable manifests and the image limit.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { formatReference, parseImageReference } from "../../src/image/reference.ts";
import { buildInventory } from "../../src/inventory/inventory.ts";
import type { ImageManifestInfo, Layer, LayerSource } from "../../src/locality/layers.ts";
import { buildLayerReport } from "../../src/report/layer-report.ts";
import { NOT_READ } from "../../src/report/node-storage.ts";
import { nodeWith } from "../support/pods.ts";

const OS: Layer = { digest: `sha256:${"1".repeat(64)}`, size: 100 };
const RUNTIME: Layer = { digest: `sha256:${"2".repeat(64)}`, size: 200 };
const APP_V1: Layer = { digest: `sha256:${"3".repeat(64)}`, size: 10 };
const APP_V2: Layer = { digest: `sha256:${"4".repeat(64)}`, size: 20 };
const DIGEST_V1 = `sha256:${"a".repeat(64)}`;

/** amd64-only images by normalised name; names listed in `failed` fail with that reason. */
function sourceOf(
  images: Record<string, readonly Layer[]>,
  failed: Record<string, string> = {},
): LayerSource {
  return {
    lookup(image): ImageManifestInfo | undefined {
      const name = formatReference(image);
      const reason = failed[name];
      if (reason !== undefined) {
        return { status: "failed", reason };
      }
      const layers = images[name];
      if (layers === undefined) {
        return undefined;
      }
      return {
        status: "resolved",
        platforms: [{ os: "linux", architecture: "amd64" }],
        layersFor: (platform) => (platform.architecture === "amd64" ? layers : undefined),
      };
    },
  };
}

const SOURCE = sourceOf({
  "docker.io/library/base:1": [OS, RUNTIME],
  "docker.io/library/app:v1": [OS, RUNTIME, APP_V1],
  [`docker.io/library/app@${DIGEST_V1}`]: [OS, RUNTIME, APP_V1],
  "docker.io/library/app:v2": [OS, RUNTIME, APP_V2],
});

function report(nodes: unknown[], source: LayerSource = SOURCE) {
  return buildLayerReport(buildInventory(nodes).inventory, source);
}

const THREE_NODES = [
  nodeWith("a", [
    [["app:v1"], 1],
    [["base:1"], 1],
  ]),
  nodeWith("b", [[["app:v2"], 1]]),
  nodeWith("c", []),
];

describe("layer totals", () => {
  const { layers } = report(THREE_NODES);

  it("counts unique layers", () => {
    assert.equal(layers.unique, 4);
    assert.equal(layers.uniqueBytes, 330);
  });

  it("counts each layer once per node", () => {
    assert.equal(layers.references, 6);
    assert.equal(layers.storedBytes, 310 + 320);
  });

  it("counts every image in full without sharing", () => {
    assert.equal(layers.unsharedBytes, 310 + 300 + 320);
  });
});

describe("pre-pull candidates", () => {
  it("ranks by holders times mean missing bytes", () => {
    const { prepullCandidates } = report(THREE_NODES);

    assert.deepEqual(
      prepullCandidates.map((candidate) => candidate.image),
      ["docker.io/library/app:v2", "docker.io/library/app:v1", "docker.io/library/base:1"],
    );
  });

  it("counts only the layers a node lacks", () => {
    const v2 = report(THREE_NODES).prepullCandidates[0];

    // Node a holds every layer of app:v2 but APP_V2; node c holds none.
    assert.equal(v2?.missingBytes, 20 + 320);
    assert.equal(v2?.score, Math.round((1 * 340) / 3));
    assert.equal(v2?.sizeBytes, 320);
  });

  it("leaves out images on every node", () => {
    const nodes = ["a", "b"].map((name) => nodeWith(name, [[["base:1"], 1]]));

    assert.deepEqual(report(nodes).prepullCandidates, []);
  });

  it("skips nodes of other platforms", () => {
    const arm = { labels: { "kubernetes.io/arch": "arm64" } };
    const nodes = [nodeWith("a", [[["base:1"], 1]]), nodeWith("arm", [], arm), nodeWith("c", [])];
    const base = report(nodes).prepullCandidates[0];

    assert.equal(base?.eligibleNodes, 2);
    assert.equal(base?.missingBytes, 300);
  });

  it("groups names of one digest", () => {
    const nodes = [
      nodeWith("a", [[[`app@${DIGEST_V1}`, "app:v1"], 1]]),
      nodeWith("b", [[[`mirror.example/hub/library/app@${DIGEST_V1}`], 1]]),
      nodeWith("c", []),
    ];
    const result = report(nodes);

    assert.equal(result.distinctImages, 1);
    assert.equal(result.prepullCandidates[0]?.holders, 2);
    assert.equal(result.prepullCandidates[0]?.image, "docker.io/library/app:v1");
  });
});

describe("unread manifests", () => {
  it("lists failures with their reason", () => {
    const source = sourceOf({}, { "docker.io/library/gone:1": "manifest unknown" });
    const result = report([nodeWith("a", [[["gone:1"], 1]])], source);

    assert.deepEqual(result.unreadManifests, [
      { image: "docker.io/library/gone:1", nodes: 1, reason: "manifest unknown" },
    ]);
    assert.equal(result.readImages, 0);
  });

  it("lists images the source lacks", () => {
    const result = report([nodeWith("a", [[["other:1"], 1]]), nodeWith("b", [[["other:1"], 1]])]);

    assert.deepEqual(result.unreadManifests, [
      { image: "docker.io/library/other:1", nodes: 2, reason: NOT_READ },
    ]);
  });

  it("lists images without the node's platform", () => {
    const arm = { labels: { "kubernetes.io/arch": "arm64" } };
    const result = report([nodeWith("arm", [[["base:1"], 1]], arm)]);

    assert.match(result.unreadManifests[0]?.reason ?? "", /no image for linux\/arm64/);
  });

  it("leaves unread images out of the bytes", () => {
    const result = report([nodeWith("a", [[["other:1"], 1]])]);

    assert.equal(result.layers.storedBytes, 0);
  });
});

describe("nodes", () => {
  it("lists nodes near the image limit", () => {
    const names = (count: number): [string[], number][] =>
      Array.from({ length: count }, (_, index) => [[`image-${index}:1`], 1]);
    const nodes = [
      nodeWith("n44", names(44)),
      nodeWith("n45", names(45)),
      nodeWith("n50", names(50)),
    ];

    assert.deepEqual(report(nodes).nearImageLimit, [
      { node: "n50", imageCount: 50 },
      { node: "n45", imageCount: 45 },
    ]);
  });

  it("lists nodes without a platform", () => {
    const bare = { apiVersion: "v1", kind: "Node", metadata: { name: "bare" }, status: {} };

    assert.deepEqual(report([bare]).nodesWithoutPlatform, ["bare"]);
  });

  it("counts entries and distinct images", () => {
    const result = report(THREE_NODES);

    assert.equal(result.nodes, 3);
    assert.equal(result.imageEntries, 3);
    assert.equal(result.distinctImages, 3);
    assert.equal(result.readImages, 3);
  });
});

describe("test source", () => {
  it("resolves by normalised name", () => {
    const parsed = parseImageReference("app:v1");
    assert.ok(parsed.ok);

    assert.equal(SOURCE.lookup(parsed.reference)?.status, "resolved");
  });
});
