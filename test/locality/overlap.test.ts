// Which nodes hold a pod's images and which images are cold: digest names match by digest under
// any repository, tagged names match as written or as mirrored. The property test compares both
// results with a plain scan of the Node objects, so a shortcut in the index lookups cannot change
// them.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import fc from "fast-check";

import {
  formatReference,
  parseImageReference,
  type ImageReference,
} from "../../src/image/reference.ts";
import { buildInventory, taggedNameKey, type Holding } from "../../src/inventory/inventory.ts";
import {
  coldImages,
  computeOverlap,
  findHolders,
  type PodImage,
} from "../../src/locality/overlap.ts";
import { nodeWith } from "../support/pods.ts";

const DIGEST_A = `sha256:${"a".repeat(64)}`;
const DIGEST_B = `sha256:${"b".repeat(64)}`;
const MIRROR = "mirror.example.com/dockerhub";

function reference(image: string): ImageReference {
  const parsed = parseImageReference(image);
  assert.ok(parsed.ok, `test image ${image} must parse`);
  return parsed.reference;
}

/** Builds a pod image written as `original`, rewritten to `mirrored` when given. */
function podImage(original: string, mirrored?: string): PodImage {
  return mirrored === undefined
    ? { original: reference(original) }
    : { original: reference(original), mirrored: reference(mirrored) };
}

function byNode(holdings: readonly Holding[]): Holding[] {
  return [...holdings].sort((left, right) => left.node.localeCompare(right.node));
}

const { inventory } = buildInventory([
  // Pulled by tag from Docker Hub; the kubelet reports the tag and the digest name.
  nodeWith("direct", [[["docker.io/team/app:v1", `docker.io/team/app@${DIGEST_A}`], 100]]),
  // Pulled through the mirror: the same content under the mirror's name.
  nodeWith("mirrored", [[[`${MIRROR}/team/app:v1`, `${MIRROR}/team/app@${DIGEST_A}`], 120]]),
  // Both names on one node, with different reported sizes.
  nodeWith("both", [
    [["docker.io/team/app:v1"], 90],
    [[`${MIRROR}/team/app:v1`], 110],
  ]),
  // Only under the mirror's name.
  nodeWith("mirror-only", [[[`${MIRROR}/team/tool:v3`], 40]]),
  // Only a digest name: held by digest, never by a tag.
  nodeWith("digest-only", [[[`docker.io/team/base@${DIGEST_B}`], 60]]),
]);

describe("cold images", () => {
  const cases: { name: string; image: PodImage; cold: boolean }[] = [
    { name: "digest held", image: podImage(`docker.io/team/app@${DIGEST_A}`), cold: false },
    {
      name: "digest held under another repository",
      image: podImage(`docker.io/other/name@${DIGEST_B}`),
      cold: false,
    },
    {
      name: "digest not held, tag held",
      image: podImage(`docker.io/team/app:v1@sha256:${"c".repeat(64)}`),
      cold: true,
    },
    { name: "tag held as written", image: podImage("docker.io/team/app:v1"), cold: false },
    {
      name: "tag held as written and mirrored",
      image: podImage("docker.io/team/app:v1", `${MIRROR}/team/app:v1`),
      cold: false,
    },
    {
      name: "tag held only mirrored",
      image: podImage("docker.io/team/tool:v3", `${MIRROR}/team/tool:v3`),
      cold: false,
    },
    {
      name: "tag held only as written, mirrored name cold",
      image: podImage("docker.io/team/app:v1", `${MIRROR}/team/app:v9`),
      cold: false,
    },
    {
      name: "tag held under neither name",
      image: podImage("docker.io/team/app:v2", `${MIRROR}/team/app:v2`),
      cold: true,
    },
    { name: "tag not held, no mirror", image: podImage("docker.io/team/app:v2"), cold: true },
    {
      name: "tag of a digest-only name",
      image: podImage("docker.io/team/base:latest"),
      cold: true,
    },
  ];

  for (const { name, image, cold } of cases) {
    it(name, () => {
      const expected = cold ? [formatReference(image.mirrored ?? image.original)] : [];
      assert.deepEqual(coldImages(inventory, [image]).map(formatReference), expected);
      assert.equal(findHolders(inventory, image).length === 0, cold);
      const overlap = computeOverlap(inventory, [image]);
      assert.deepEqual(overlap.cold.map(formatReference), expected);
    });
  }

  it("lists a repeated image once", () => {
    const image = podImage("docker.io/team/app:v2", `${MIRROR}/team/app:v2`);
    assert.deepEqual(coldImages(inventory, [image, image]).map(formatReference), [
      `${MIRROR}/team/app:v2`,
    ]);
  });
});

describe("image holders", () => {
  it("merges both names, keeping the larger size", () => {
    const holders = findHolders(
      inventory,
      podImage("docker.io/team/app:v1", `${MIRROR}/team/app:v1`),
    );
    assert.deepEqual(byNode(holders), [
      { node: "both", sizeBytes: 110 },
      { node: "direct", sizeBytes: 100 },
      { node: "mirrored", sizeBytes: 120 },
    ]);
  });

  it("returns the mirrored holders alone", () => {
    const holders = findHolders(
      inventory,
      podImage("docker.io/team/tool:v3", `${MIRROR}/team/tool:v3`),
    );
    assert.deepEqual(byNode(holders), [{ node: "mirror-only", sizeBytes: 40 }]);
  });

  it("returns the direct holders alone", () => {
    const holders = findHolders(
      inventory,
      podImage("docker.io/team/app:v1", `${MIRROR}/team/app:v9`),
    );
    assert.deepEqual(byNode(holders), [
      { node: "both", sizeBytes: 90 },
      { node: "direct", sizeBytes: 100 },
    ]);
  });

  it("matches a digest under any repository", () => {
    const holders = findHolders(inventory, podImage(`docker.io/x/y@${DIGEST_A}`));
    assert.deepEqual(byNode(holders), [
      { node: "direct", sizeBytes: 100 },
      { node: "mirrored", sizeBytes: 120 },
    ]);
  });
});

// The property test draws node images and pod images from small sets of names, so that most pod
// images are held by some nodes and many nodes hold an image under both names.
const REPOSITORIES = ["docker.io/team/app", `${MIRROR}/team/app`, "docker.io/team/db"];
const TAGS = ["v1", "v2"];
const DIGESTS = [DIGEST_A, DIGEST_B];

const nodeImageName = fc.oneof(
  fc.tuple(fc.constantFrom(...REPOSITORIES), fc.constantFrom(...TAGS)).map(([r, t]) => `${r}:${t}`),
  fc
    .tuple(fc.constantFrom(...REPOSITORIES), fc.constantFrom(...DIGESTS))
    .map(([r, d]) => `${r}@${d}`),
);
const nodeImages = fc.array(
  fc.tuple(
    fc.array(nodeImageName, { minLength: 1, maxLength: 3 }),
    fc.integer({ min: 1, max: 500 }),
  ),
  { maxLength: 4 },
);
const podImages = fc.array(
  fc.oneof(
    fc.constantFrom(...DIGESTS).map((digest) => podImage(`docker.io/team/app@${digest}`)),
    fc.constantFrom(...TAGS).map((tag) => podImage(`docker.io/team/app:${tag}`)),
    fc
      .constantFrom(...TAGS)
      .map((tag) => podImage(`docker.io/team/app:${tag}`, `${MIRROR}/team/app:${tag}`)),
    fc.constantFrom(...TAGS).map((tag) => podImage(`docker.io/team/db:${tag}`)),
  ),
  { minLength: 1, maxLength: 4 },
);

/** Whether a node image name matches the pod image, scanning names instead of the index. */
function nameMatches(name: ImageReference, image: PodImage): boolean {
  if (image.original.digest !== undefined) {
    return name.digest === image.original.digest;
  }
  if (name.tag === undefined && name.digest !== undefined) {
    return false;
  }
  const keys = [image.original, image.mirrored].flatMap((pod) =>
    pod === undefined ? [] : [taggedNameKey(pod)],
  );
  return keys.includes(taggedNameKey(name));
}

/** Holders of the pod image by a scan of every node image: the larger size per node. */
function scanHolders(nodes: [string, [string[], number][]][], image: PodImage): Holding[] {
  const holders = new Map<string, number>();
  for (const [node, images] of nodes) {
    for (const [names, sizeBytes] of images) {
      if (names.some((name) => nameMatches(reference(name), image))) {
        holders.set(node, Math.max(holders.get(node) ?? 0, sizeBytes));
      }
    }
  }
  return byNode([...holders].map(([node, sizeBytes]) => ({ node, sizeBytes })));
}

describe("holders and cold images against a scan", () => {
  it("agree on random inventories", () => {
    fc.assert(
      fc.property(fc.array(nodeImages, { maxLength: 6 }), podImages, (perNode, images) => {
        const nodes = perNode.map((list, index): [string, [string[], number][]] => [
          `node-${index}`,
          list,
        ]);
        const built = buildInventory(nodes.map(([name, list]) => nodeWith(name, list))).inventory;
        const expectedCold = new Set<string>();
        for (const image of images) {
          const expected = scanHolders(nodes, image);
          assert.deepEqual(byNode(findHolders(built, image)), expected);
          if (expected.length === 0) {
            expectedCold.add(formatReference(image.mirrored ?? image.original));
          }
        }
        const cold = coldImages(built, images).map(formatReference);
        assert.deepEqual(new Set(cold), expectedCold);
        assert.equal(cold.length, expectedCold.size);
      }),
      { seed: 20_261_204, numRuns: 500 },
    );
  });
});
