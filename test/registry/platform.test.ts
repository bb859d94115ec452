// Choosing the index entry a node runs, by OS, architecture and variant.
import assert from "node:assert/strict";
import { test } from "node:test";

import type { Platform } from "../../src/locality/layers.ts";
import { readPlatform, selectForPlatform } from "../../src/registry/platform.ts";

function entries(...platforms: Platform[]): { platform: Platform; name: string }[] {
  return platforms.map((platform) => ({
    platform,
    name: [platform.os, platform.architecture, platform.variant].filter(Boolean).join("/"),
  }));
}

const CASES: readonly {
  name: string;
  available: Platform[];
  wanted: Platform;
  expected: string | undefined;
}[] = [
  {
    name: "exact architecture",
    available: [
      { os: "linux", architecture: "amd64" },
      { os: "linux", architecture: "arm64", variant: "v8" },
    ],
    wanted: { os: "linux", architecture: "arm64" },
    expected: "linux/arm64/v8",
  },
  {
    name: "missing architecture",
    available: [{ os: "linux", architecture: "arm64", variant: "v8" }],
    wanted: { os: "linux", architecture: "amd64" },
    expected: undefined,
  },
  {
    name: "other OS",
    available: [{ os: "windows", architecture: "amd64" }],
    wanted: { os: "linux", architecture: "amd64" },
    expected: undefined,
  },
  {
    name: "arm64 v8 equals no variant",
    available: [{ os: "linux", architecture: "arm64" }],
    wanted: { os: "linux", architecture: "arm64", variant: "v8" },
    expected: "linux/arm64",
  },
  {
    name: "arm64 8 spelled without v",
    available: [{ os: "linux", architecture: "arm64", variant: "8" }],
    wanted: { os: "linux", architecture: "arm64", variant: "v8" },
    expected: "linux/arm64/8",
  },
  {
    name: "arm v7 is the default",
    available: [
      { os: "linux", architecture: "arm", variant: "v6" },
      { os: "linux", architecture: "arm", variant: "v7" },
    ],
    wanted: { os: "linux", architecture: "arm" },
    expected: "linux/arm/v7",
  },
  {
    name: "named variant must match",
    available: [{ os: "linux", architecture: "arm", variant: "v7" }],
    wanted: { os: "linux", architecture: "arm", variant: "v6" },
    expected: undefined,
  },
  {
    name: "baseline amd64 preferred",
    available: [
      { os: "linux", architecture: "amd64", variant: "v3" },
      { os: "linux", architecture: "amd64" },
    ],
    wanted: { os: "linux", architecture: "amd64" },
    expected: "linux/amd64",
  },
  {
    name: "other variant when no baseline",
    available: [{ os: "linux", architecture: "amd64", variant: "v3" }],
    wanted: { os: "linux", architecture: "amd64" },
    expected: "linux/amd64/v3",
  },
];

for (const { name, available, wanted, expected } of CASES) {
  test(`selectForPlatform: ${name}`, () => {
    assert.equal(selectForPlatform(entries(...available), wanted)?.name, expected);
  });
}

test("readPlatform requires os and architecture", () => {
  assert.deepEqual(readPlatform({ os: "linux", architecture: "arm64", variant: "v8" }), {
    os: "linux",
    architecture: "arm64",
    variant: "v8",
  });
  assert.deepEqual(readPlatform({ os: "linux", architecture: "amd64", variant: "" }), {
    os: "linux",
    architecture: "amd64",
  });
  assert.equal(readPlatform({ os: "linux" }), undefined);
  assert.equal(readPlatform({ os: "", architecture: "amd64" }), undefined);
  assert.equal(readPlatform(null), undefined);
});
