// The admission fuzzer in CI: a fixed seed and 2,000 inputs through the real HTTPS server (about
// 30 s on 2 cores). bench/fuzz/run.ts runs the same generators and checks at any size.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { formatTally, runFuzz } from "./run-fuzz.ts";

const SEED = 20_261_204;
const COUNT = 2000;

describe("admission fuzzing", () => {
  it("keeps the contract on 2,000 inputs", async () => {
    const result = await runFuzz({ seed: SEED, count: COUNT, shrinkPerCheck: 1 });
    const { tally } = result;
    const report = formatTally(result).join("\n");

    const failures = result.shrunk.map(
      (failure) =>
        `${failure.check} at seed ${failure.seed} path ${failure.path}: ${failure.detail}` +
        (failure.minimal === undefined ? "" : `\n  minimal input: ${failure.minimal}`),
    );
    assert.deepEqual(failures, [], report);
    assert.equal(result.aliveAfter, true, report);
    assert.equal(tally.inputs, COUNT);

    // The run must reach every check, or a passing run proves little.
    assert.ok((tally.byStatus.get(200) ?? 0) > COUNT / 2, report);
    assert.ok((tally.byStatus.get(400) ?? 0) > 0, report);
    assert.ok(tally.patchesApplied > COUNT / 5, report);
    assert.ok(tally.mutatedPodsValidated > COUNT / 10, report);
    assert.equal(tally.reinvocations, tally.patchesApplied, report);
  });
});
