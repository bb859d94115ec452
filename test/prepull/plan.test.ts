// Pre-pull planning with the mostSpare policy: which nodes an entry targets, and that the
// spare-capacity ranking is skipped once enough nodes hold the image.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { buildInventory, type NodeSummary } from "../../src/inventory/inventory.ts";
import { planPulls } from "../../src/prepull/plan.ts";
import { PullProgress } from "../../src/prepull/progress.ts";
import type { ColdImageEntry } from "../../src/prepull/record.ts";
import { prepullSettings } from "../../src/prepull/settings.ts";

const IMAGE = "registry.example.com/team/app:v2";

const nodes = buildInventory(
  ["a", "b", "c", "d"].map((name) => ({
    metadata: { name },
    status: {
      nodeInfo: { operatingSystem: "linux", architecture: "amd64" },
      allocatable: { cpu: "4", memory: "16Gi" },
    },
  })),
).inventory.nodes;

const entry: ColdImageEntry = {
  image: IMAGE,
  namespace: "team",
  pullSecrets: [],
  firstSeen: 0,
  lastSeen: 0,
  count: 3,
};

/** Plans with the image reported on `holders` and spare capacity from `spares`. */
function plan(holders: string[], spares: Record<string, number>, count: number) {
  const spareCalls: string[] = [];
  const result = planPulls({
    entries: [entry],
    nodes,
    isReported: (image, node) => image === IMAGE && holders.includes(node),
    spare: (node: NodeSummary) => {
      spareCalls.push(node.name);
      return spares[node.name] ?? 0;
    },
    facts: () => ({
      status: "known",
      platforms: [{ os: "linux", architecture: "amd64" }],
      sizeFor: () => 100,
    }),
    progress: new PullProgress(),
    settings: prepullSettings({ policy: { kind: "mostSpare", count } }),
    now: 0,
  });
  return { result, spareCalls };
}

describe("mostSpare planning", () => {
  it("tops up with the most spare nodes", () => {
    const { result } = plan(["a"], { b: 0.2, c: 0.9, d: 0.5 }, 3);
    assert.deepEqual(result.entries[0]?.done, ["a"]);
    assert.deepEqual(result.entries[0]?.pending, ["c", "d"]);
    assert.deepEqual(
      result.pulls.map((pull) => pull.node.name),
      ["c", "d"],
    );
  });

  it("pulls nothing when enough nodes hold it", () => {
    const { result } = plan(["a", "b"], { c: 0.9, d: 0.5 }, 2);
    assert.deepEqual(result.entries[0]?.done, ["a", "b"]);
    assert.deepEqual(result.entries[0]?.pending, []);
    assert.deepEqual(result.pulls, []);
  });

  it("skips the spare ranking when enough nodes hold it", () => {
    const { spareCalls } = plan(["a", "b"], { c: 0.9, d: 0.5 }, 2);
    assert.deepEqual(spareCalls, []);
  });
});
