// Node status cases: how the inventory reads status.images as kubelets really report them.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { formatReference, parseImageReference } from "../../src/image/reference.ts";
import { buildInventory } from "../../src/inventory/inventory.ts";
import { findHolders } from "../../src/locality/overlap.ts";
import { loadCases } from "../support/cases.ts";

function canonicalName(name: string): string | null {
  const parsed = parseImageReference(name);
  return parsed.ok ? formatReference(parsed.reference) : null;
}

describe("node status cases", () => {
  for (const testCase of loadCases("node-status")) {
    const node = testCase.input;
    const nodeName = (node["metadata"] as { name: string }).name;
    const { inventory } = buildInventory([node]);
    const expected = testCase.expected as {
      canonical_names?: Record<string, string | null>;
      matches?: Record<string, boolean | "unknown" | "unreliable">;
    };

    for (const [name, canonical] of Object.entries(expected.canonical_names ?? {})) {
      it(`${testCase.id} normalises ${name.slice(0, 50)}`, () => {
        assert.equal(canonicalName(name), canonical);
      });
    }

    for (const [image, match] of Object.entries(expected.matches ?? {})) {
      it(`${testCase.id} matches ${image.slice(0, 50)} as ${String(match)}`, () => {
        const parsed = parseImageReference(image);
        const holders = parsed.ok ? findHolders(inventory, { original: parsed.reference }) : [];
        const held = holders.some((holding) => holding.node === nodeName);
        if (match === "unknown") {
          assert.equal(held, false);
          assert.equal(inventory.nodesByName.get(nodeName)?.imagesReported, false);
        } else if (match === "unreliable") {
          // A tag match is only a hint; it must never stand in for a digest.
          assert.equal(held, true);
          assert.ok(parsed.ok && parsed.reference.digest === undefined);
        } else {
          assert.equal(held, match);
        }
      });
    }
  }

  it("counts entries with null names", () => {
    const node = loadCases("node-status").find((testCase) => testCase.id === "ns-004")?.input;
    assert.ok(node);
    const images = (node["status"] as { images: unknown[] }).images;
    const { inventory } = buildInventory([node]);
    assert.equal(inventory.nodes[0]?.imageCount, images.length);
  });
});

describe("inventory building", () => {
  it("skips nodes without a name", () => {
    const { inventory, problems } = buildInventory([{ metadata: {} }, null, "node"]);
    assert.equal(inventory.nodes.length, 0);
    assert.equal(problems.length, 3);
  });

  it("ignores duplicate node names", () => {
    const node = { metadata: { name: "node-a" }, status: { images: [] } };
    const { inventory, problems } = buildInventory([node, node]);
    assert.equal(inventory.nodes.length, 1);
    assert.equal(problems.length, 1);
  });

  it("indexes a digest under every repository", () => {
    const digest = `sha256:${"c".repeat(64)}`;
    const node = {
      metadata: { name: "node-a" },
      status: { images: [{ names: [`registry.example.com/mirror/app@${digest}`], sizeBytes: 10 }] },
    };
    const { inventory } = buildInventory([node]);
    const parsed = parseImageReference(`quay.io/team/app@${digest}`);
    assert.ok(parsed.ok);
    assert.deepEqual(findHolders(inventory, { original: parsed.reference }), [
      { node: "node-a", sizeBytes: 10 },
    ]);
  });

  it("reads taints, cordon and platform", () => {
    const node = {
      metadata: { name: "node-a", labels: { zone: "a" } },
      spec: { unschedulable: true, taints: [{ key: "gpu", value: "true", effect: "NoSchedule" }] },
      status: { nodeInfo: { operatingSystem: "linux", architecture: "arm64" } },
    };
    const summary = buildInventory([node]).inventory.nodes[0];
    assert.equal(summary?.unschedulable, true);
    assert.deepEqual(summary?.taints, [{ key: "gpu", value: "true", effect: "NoSchedule" }]);
    assert.equal(summary?.architecture, "arm64");
    assert.equal(summary?.imagesReported, false);
  });
});
