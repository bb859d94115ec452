// The node layer index: the sliced build must give the index the one-pass build gives, describe
// the inventory as it was when the build started, and read each node image's manifest once.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import fc from "fast-check";

import { formatReference, type ImageReference } from "../../src/image/reference.ts";
import { buildInventory, type Inventory } from "../../src/inventory/inventory.ts";
import type { ImageManifestInfo, Layer, LayerSource } from "../../src/locality/layers.ts";
import {
  buildNodeLayerIndex,
  buildNodeLayerIndexInSlices,
  platformOf,
  type NodeLayerIndex,
} from "../../src/locality/node-layers.ts";
import { nodeWith } from "../support/pods.ts";

const REPOSITORIES = ["docker.io/team/app", "docker.io/team/db", "mirror.example.com/hub/web"];
const TAGS = ["v1", "v2", "v3"];
const ARCHITECTURES = ["amd64", "arm64"];

function digestOf(label: string): string {
  const hex = Buffer.from(label).toString("hex").padEnd(64, "0").slice(0, 64);
  return `sha256:${hex}`;
}

/** Every layer digest the catalogue uses, so two indexes can be compared digest by digest. */
const LAYER_DIGESTS = Array.from({ length: 12 }, (_, index) => digestOf(`layer-${index}`));

interface CatalogEntry {
  readonly name: string;
  /** Layers per architecture; an architecture left out is unsupported. */
  readonly layers: Readonly<Record<string, readonly Layer[]>>;
}

/**
 * Builds the catalogue: each repository and tag, also addressed by a digest name. Tag v3 of each
 * repository has no manifest data (a miss), and the db images fail, as a registry error would.
 */
function buildCatalog(): Map<string, ImageManifestInfo> {
  const catalog = new Map<string, ImageManifestInfo>();
  REPOSITORIES.forEach((repository, repositoryIndex) => {
    TAGS.forEach((tag, tagIndex) => {
      if (tag === "v3") {
        return;
      }
      const layers = (shift: number): Layer[] =>
        [0, 1, 2].map((offset) => ({
          digest: LAYER_DIGESTS[(repositoryIndex * 3 + tagIndex + offset + shift) % 12] ?? "",
          size: 1000 * (offset + 1),
        }));
      const entry: CatalogEntry = {
        name: `${repository}:${tag}`,
        // Only v1 runs on arm64, with other layers than on amd64.
        layers: tag === "v1" ? { amd64: layers(0), arm64: layers(5) } : { amd64: layers(0) },
      };
      const info: ImageManifestInfo = repository.endsWith("/db")
        ? { status: "failed", reason: "manifest unknown" }
        : {
            status: "resolved",
            platforms: Object.keys(entry.layers).map((architecture) => ({
              os: "linux",
              architecture,
            })),
            layersFor: (platform) => entry.layers[platform.architecture],
          };
      catalog.set(entry.name, info);
      catalog.set(`${repository}@${digestOf(entry.name)}`, info);
    });
  });
  return catalog;
}

/** Creates a LayerSource over the catalogue that counts its lookups. */
function countingSource(): LayerSource & { lookups: number } {
  const catalog = buildCatalog();
  return {
    lookups: 0,
    lookup(image: ImageReference): ImageManifestInfo | undefined {
      this.lookups += 1;
      return catalog.get(formatReference(image));
    },
  };
}

/** A node image as a kubelet reports it: the tag name, and the digest name when pulled by one. */
const nodeImage = fc
  .record({
    repository: fc.constantFrom(...REPOSITORIES),
    tag: fc.constantFrom(...TAGS),
    byDigest: fc.boolean(),
    sizeBytes: fc.integer({ min: 1, max: 3 }),
  })
  .map(({ repository, tag, byDigest, sizeBytes }): [string[], number] => {
    const name = `${repository}:${tag}`;
    const names = byDigest ? [`${repository}@${digestOf(name)}`, name] : [name];
    return [names, sizeBytes];
  });
const node = fc.record({
  images: fc.array(nodeImage, { maxLength: 5 }),
  // undefined: no platform labels, so the node's platform is unknown.
  architecture: fc.option(fc.constantFrom(...ARCHITECTURES), { nil: undefined }),
});

function inventoryOf(nodes: readonly { images: [string[], number][]; architecture?: string }[]) {
  return buildInventory(
    nodes.map(({ images, architecture }, index) => {
      const built = nodeWith(`node-${index}`, images);
      if (architecture === undefined) {
        built.metadata = { name: `node-${index}` };
      } else {
        built.metadata = {
          name: `node-${index}`,
          labels: { "kubernetes.io/os": "linux", "kubernetes.io/arch": architecture },
        };
      }
      return built;
    }),
  ).inventory;
}

/** Returns the index as plain data: its counts and the holders of every catalogue layer. */
function contentOf(index: NodeLayerIndex) {
  return {
    inventoryVersion: index.inventoryVersion,
    completeNodes: index.completeNodes,
    nodesWithImages: index.nodesWithImages,
    holders: LAYER_DIGESTS.map((digest) => [digest, [...index.holdersOf(digest)]]),
  };
}

/** Builds the index by a direct scan of every node image, with no sharing between nodes. */
function scanIndex(inventory: Inventory, source: LayerSource) {
  const holders = new Map<string, string[]>(LAYER_DIGESTS.map((digest) => [digest, []]));
  let completeNodes = 0;
  let nodesWithImages = 0;
  for (const summary of inventory.nodes) {
    const images = inventory.imagesOf(summary.name);
    if (images.length === 0) {
      continue;
    }
    nodesWithImages += 1;
    const platform = platformOf(summary);
    const layers = new Set<string>();
    let complete = platform !== undefined;
    for (const image of images) {
      const byDigestFirst = [
        ...image.references.filter((reference) => reference.digest !== undefined),
        ...image.references.filter((reference) => reference.digest === undefined),
      ];
      const info = byDigestFirst
        .map((reference) => source.lookup(reference))
        .find((found) => found?.status === "resolved");
      const found =
        platform === undefined || info?.status !== "resolved"
          ? undefined
          : info.layersFor(platform);
      complete &&= found !== undefined;
      found?.forEach((layer) => layers.add(layer.digest));
    }
    layers.forEach((digest) => holders.get(digest)?.push(summary.name));
    completeNodes += complete ? 1 : 0;
  }
  return {
    inventoryVersion: inventory.version,
    completeNodes,
    nodesWithImages,
    holders: [...holders],
  };
}

describe("node layer index", () => {
  it("matches a direct scan", () => {
    fc.assert(
      fc.property(fc.array(node, { maxLength: 12 }), (nodes) => {
        const inventory = inventoryOf(nodes);
        const source = countingSource();
        assert.deepEqual(
          contentOf(buildNodeLayerIndex(inventory, source)),
          scanIndex(inventory, source),
        );
      }),
      { seed: 20_261_204, numRuns: 300 },
    );
  });

  it("builds the same index in slices", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(node, { maxLength: 12 }),
        // 0 and -1 too: every slice still adds a node, so the build ends.
        fc.integer({ min: -1, max: 20 }),
        async (nodes, imagesPerSlice) => {
          const inventory = inventoryOf(nodes);
          const expected = contentOf(buildNodeLayerIndex(inventory, countingSource()));
          const sliced = await buildNodeLayerIndexInSlices(inventory, countingSource(), {
            imagesPerSlice,
          });
          assert.deepEqual(contentOf(sliced), expected);
        },
      ),
      { seed: 20_261_204, numRuns: 200 },
    );
  });

  it("reads each shared node image once", () => {
    // 200 nodes on two platforms, all reporting the same five images.
    const images: [string[], number][] = REPOSITORIES.slice(0, 3).map((repository, index) => [
      [`${repository}:v1`],
      index + 1,
    ]);
    images.push([["docker.io/team/app:v2"], 9], [["docker.io/team/app:v3"], 9]);
    const nodes = Array.from({ length: 200 }, (_, index) => ({
      images,
      architecture: ARCHITECTURES[index % 2],
    }));
    const inventory = inventoryOf(nodes);
    const source = countingSource();
    const index = buildNodeLayerIndex(inventory, source);
    assert.deepEqual(contentOf(index), scanIndex(inventory, countingSource()));
    // One lookup per image and platform: each image here has a single name.
    assert.equal(source.lookups, images.length * ARCHITECTURES.length);
  });
});

describe("sliced node layer index build", () => {
  const nodes = Array.from({ length: 40 }, (_, index) => ({
    images: [
      [[`docker.io/team/app:v${(index % 2) + 1}`], 1],
      [[`mirror.example.com/hub/web:v${(index % 3) + 1}`], 1],
    ] as [string[], number][],
    architecture: ARCHITECTURES[index % 2],
  }));

  it("pauses between slices", async () => {
    const inventory = inventoryOf(nodes);
    let pauses = 0;
    const index = await buildNodeLayerIndexInSlices(inventory, countingSource(), {
      imagesPerSlice: 10,
      pause: async () => {
        pauses += 1;
        await new Promise((resolve) => setImmediate(resolve));
      },
    });
    // 80 node images, 2 per node: 8 slices of 10, so 7 pauses between them.
    assert.equal(pauses, 7);
    assert.deepEqual(contentOf(index), contentOf(buildNodeLayerIndex(inventory, countingSource())));
  });

  it("keeps the inventory it started from", async () => {
    const inventory = inventoryOf(nodes);
    const before = contentOf(buildNodeLayerIndex(inventory, countingSource()));
    let changes = 0;
    const index = await buildNodeLayerIndexInSlices(inventory, countingSource(), {
      imagesPerSlice: 10,
      pause: async () => {
        // Between slices, remove a node the build has not reached and change another.
        if (changes === 0) {
          assert.ok(inventory.remove("node-39"));
          inventory.upsert(nodeWith("node-38", [[["docker.io/team/app:v2"], 1]]));
          changes += 1;
        }
        await new Promise((resolve) => setImmediate(resolve));
      },
    });
    assert.equal(changes, 1);
    assert.deepEqual(contentOf(index), before);
    assert.notEqual(inventory.version, index.inventoryVersion);
    const after = contentOf(buildNodeLayerIndex(inventory, countingSource()));
    assert.notDeepEqual(after.holders, before.holders);
  });

  it("stops when its signal is aborted", async () => {
    const inventory = inventoryOf(nodes);
    const controller = new AbortController();
    let pauses = 0;
    const build = buildNodeLayerIndexInSlices(inventory, countingSource(), {
      imagesPerSlice: 10,
      signal: controller.signal,
      pause: async () => {
        pauses += 1;
        controller.abort(new Error("stopped by the test"));
        await new Promise((resolve) => setImmediate(resolve));
      },
    });
    await assert.rejects(build, /stopped by the test/);
    assert.equal(pauses, 1);
  });
});
