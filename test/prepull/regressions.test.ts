// Faults found by trying the pre-puller as an operator would, each kept as a small test.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { InvalidConfigError, validateConfig } from "../../src/config.ts";
import { PullProgress } from "../../src/prepull/progress.ts";
import { restoreProgress, type PrepullStatus } from "../../src/prepull/status.ts";

const status: PrepullStatus = {
  updatedAt: "2026-12-04T10:00:00.000Z",
  holder: "first",
  totals: { images: 1, done: 1, pending: 0, failed: 1, running: 0 },
  images: [
    {
      image: "registry.example.com/team/app:1",
      namespace: "team-a",
      count: 1,
      lastSeen: "2026-12-04T09:00:00.000Z",
      done: ["node-a"],
      pending: [],
      failed: [{ node: "node-b", reason: "ErrImagePull: not found" }],
    },
  ],
};
const key = "team-a/registry.example.com/team/app:1";

describe("pre-pull restore", () => {
  it("charges unknown sizes as assumed", () => {
    const progress = new PullProgress();
    restoreProgress(status, progress, new Set([key]), 1024);
    assert.deepEqual(progress.get(key, "node-a"), {
      kind: "done",
      at: Date.parse(status.updatedAt),
      bytes: 1024,
    });
  });

  it("keeps failures for their retry delay", () => {
    const progress = new PullProgress();
    restoreProgress(status, progress, new Set([key]), 1024);
    assert.equal(progress.get(key, "node-b")?.kind, "failed");
  });
});

describe("pre-pull settings", () => {
  const invalid: [string, Record<string, unknown>][] = [
    ["negative manifest wait", { manifestWaitSeconds: -5 }],
    ["fractional retry delay", { retryFailedAfterSeconds: 0.5 }],
    ["fractional mostSpare", { policy: { mostSpare: 2.5 } }],
    ["invalid helper image", { helperImage: "NOT A REF!!" }],
    ["relative helper binary", { helperBinaryPath: "relative/noop" }],
    ["huge ttl", { ttlSeconds: 1e308 }],
  ];
  for (const [label, prepull] of invalid) {
    it(`rejects ${label}`, () => {
      assert.throws(() => validateConfig({ prepull }, "test"), InvalidConfigError);
    });
  }
});

describe("prepull status command", () => {
  it("rejects a missing record file", async () => {
    const { runCli } = await import("../../src/cli/main.ts");
    const { captureIo } = await import("../cli/capture-io.ts");
    const io = captureIo();
    const code = await runCli(
      ["prepull", "status", "--record-file", "/nonexistent/record.json"],
      io,
    );
    assert.equal(code, 2);
    assert.match(io.errors(), /does not exist/);
  });

  it("prints usage for --help", async () => {
    const { runCli } = await import("../../src/cli/main.ts");
    const { captureIo } = await import("../cli/capture-io.ts");
    const io = captureIo();
    assert.equal(await runCli(["prepull", "--help"], io), 0);
    assert.match(io.output(), /usage: kube-image-cache prepull status/);
  });
});
