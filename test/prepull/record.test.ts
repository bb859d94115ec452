// The record's pure rules: merging by image and namespace, eviction by TTL and bounds, and the
// stored document.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  decodeRecord,
  encodeRecord,
  entryKey,
  evictEntries,
  mergeEntries,
} from "../../src/prepull/record.ts";
import { entry } from "./fixture.ts";

const NOW = Date.parse("2025-01-10T12:00:00Z");
const APP = "registry.example.com/team/app:1";
const DB = "registry.example.com/team/db:2";

describe("record merge", () => {
  test("same image and namespace merge", () => {
    const stored = {
      ...entry(APP, "team-a", { count: 3, ageSeconds: 600, now: NOW }),
      pullSecrets: ["old"],
    };
    const batch = { ...entry(APP, "team-a", { count: 2, now: NOW }), pullSecrets: ["new", "old"] };

    const [merged, ...rest] = mergeEntries([stored], [batch]);

    assert.equal(rest.length, 0);
    assert.equal(merged?.count, 5);
    assert.equal(merged?.firstSeen, NOW - 600_000);
    assert.equal(merged?.lastSeen, NOW);
    assert.deepEqual(merged?.pullSecrets, ["new", "old"]);
  });

  test("namespaces stay apart", () => {
    const merged = mergeEntries([entry(APP, "team-a")], [entry(APP, "team-b")]);

    assert.deepEqual(merged.map(entryKey).sort(), [`team-a/${APP}`, `team-b/${APP}`]);
  });

  test("older batch keeps stored lastSeen", () => {
    const stored = entry(APP, "team-a", { now: NOW });
    const late = entry(APP, "team-a", { ageSeconds: 60, now: NOW });

    const [merged] = mergeEntries([stored], [late]);

    assert.equal(merged?.lastSeen, NOW);
    assert.equal(merged?.firstSeen, NOW - 60_000);
  });
});

describe("record eviction", () => {
  test("TTL drops entries not seen", () => {
    const fresh = entry(APP, "team-a", { ageSeconds: 59, now: NOW });
    const stale = entry(DB, "team-a", { ageSeconds: 61, now: NOW });

    const eviction = evictEntries([fresh, stale], { maxEntries: 10, ttlSeconds: 60 }, NOW);

    assert.deepEqual(
      eviction.kept.map((kept) => kept.image),
      [APP],
    );
    assert.equal(eviction.expired, 1);
    assert.equal(eviction.overflow, 0);
  });

  test("bound drops least recently seen", () => {
    const entries = [30, 10, 20].map((age) =>
      entry(`registry.example.com/team/app-${age}:1`, "team-a", { ageSeconds: age, now: NOW }),
    );

    const eviction = evictEntries(entries, { maxEntries: 2, ttlSeconds: 3600 }, NOW);

    assert.deepEqual(
      eviction.kept.map((kept) => kept.image),
      ["registry.example.com/team/app-10:1", "registry.example.com/team/app-20:1"],
    );
    assert.equal(eviction.overflow, 1);
  });

  test("byte bound drops least recently seen", () => {
    const entries = [1, 2, 3].map((age) =>
      entry(`registry.example.com/team/app-${age}:1`, "team-a", { ageSeconds: age, now: NOW }),
    );
    const oneEntryBytes = encodeRecord(entries.slice(0, 1)).length;

    const eviction = evictEntries(
      entries,
      { maxEntries: 10, ttlSeconds: 3600, maxBytes: oneEntryBytes * 2 - 60 },
      NOW,
    );

    assert.equal(eviction.kept.length, 2);
    assert.equal(eviction.kept[1]?.image, "registry.example.com/team/app-2:1");
    assert.equal(eviction.overflow, 1);
  });
});

describe("record document", () => {
  test("encode and decode round-trip", () => {
    const entries = [{ ...entry(APP, "team-a", { count: 4, now: NOW }), pullSecrets: ["regcred"] }];

    const decoded = decodeRecord(encodeRecord(entries));

    assert.deepEqual(decoded.entries, entries);
    assert.deepEqual(decoded.problems, []);
  });

  test("invalid entries are skipped", () => {
    const valid = {
      image: DB,
      namespace: "team-a",
      pullSecrets: [],
      firstSeen: "2025-01-10T11:00:00.000Z",
      lastSeen: "2025-01-10T11:00:00.000Z",
      count: 1,
    };
    const text = JSON.stringify({ version: 1, entries: [{ image: APP }, valid] });

    const decoded = decodeRecord(text);

    assert.deepEqual(
      decoded.entries.map((kept) => kept.image),
      [DB],
    );
    assert.equal(decoded.problems.length, 1);
    assert.match(decoded.problems[0] ?? "", /^entries\[0\]: not a valid entry/);
  });

  test("other documents yield nothing", () => {
    const decoded = decodeRecord('{"version":7}');

    assert.deepEqual(decoded.entries, []);
    assert.match(decoded.problems[0] ?? "", /got version 7/);
  });
});
