// Test configurations derived from the shared cases must keep the cases' rules exactly.
import assert from "node:assert/strict";
import { it } from "node:test";

import { loadConfig } from "../src/config.ts";
import { fixturePath } from "./support/cases.ts";

it("offline R1 keeps the R1 rules", () => {
  const r1 = loadConfig(fixturePath("cases/r1-config.yaml"));
  const offline = loadConfig(fixturePath("configs/r1-offline.yaml"));
  assert.deepEqual([...offline.mirror.registries], [...r1.mirror.registries]);
  assert.deepEqual(offline.exclude, r1.exclude);
  assert.equal(offline.registry.enabled, false);
  assert.equal(offline.mirrorHealth.enabled, false);
});
