import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";

import { CASE_KINDS, fixturePath, loadCases, parseCases } from "./cases.ts";

describe("loadCases", () => {
  it("loads every kind", () => {
    const kinds = new Set(loadCases().map((record) => record.kind));

    assert.deepEqual([...kinds].sort(), [...CASE_KINDS].sort());
  });

  it("has unique case ids", () => {
    const ids = loadCases().map((record) => record.id);

    assert.equal(new Set(ids).size, ids.length);
  });

  it("filters by kind", () => {
    const cases = loadCases("image-ref");

    assert.ok(cases.length > 0);
    assert.ok(cases.every((record) => record.kind === "image-ref"));
    assert.ok(cases.every((record) => typeof record.input === "string"));
  });

  it("returns admission reviews", () => {
    const cases = loadCases("admission");

    assert.ok(cases.length > 0);
    assert.ok(cases.every((record) => record.input.kind === "AdmissionReview"));
  });

  it("returns fresh copies", () => {
    const [first] = loadCases("node-status");
    assert.ok(first !== undefined);
    (first.expected as Record<string, unknown>).changed = true;

    assert.equal(loadCases("node-status")[0]?.expected.changed, undefined);
  });
});

describe("parseCases", () => {
  const valid = { id: "ref-1", kind: "image-ref", input: "nginx", expected: {}, note: "" };

  it("parses lines and skips blanks", () => {
    const text = `${JSON.stringify(valid)}\n\n${JSON.stringify({ ...valid, id: "ref-2" })}\n`;

    assert.deepEqual(
      parseCases(text, "t.jsonl").map((record) => record.id),
      ["ref-1", "ref-2"],
    );
  });

  const malformed: [string, string, RegExp][] = [
    ["invalid JSON", "{", /t\.jsonl:1: invalid JSON: /],
    ["array line", "[]", /expected a JSON object per line/],
    ["empty id", JSON.stringify({ ...valid, id: "" }), /"id" must be a non-empty string/],
    ["unknown kind", JSON.stringify({ ...valid, kind: "x" }), /unknown kind "x"; expected one of/],
    ["array expected", JSON.stringify({ ...valid, expected: [] }), /"expected" must be an object/],
    ["missing note", JSON.stringify({ ...valid, note: undefined }), /"note" must be a string/],
    [
      "non-string image",
      JSON.stringify({ ...valid, input: 1 }),
      /image-ref "input" must be a string/,
    ],
    [
      "non-object review",
      JSON.stringify({ ...valid, kind: "admission" }),
      /admission "input" must be an object/,
    ],
  ];

  for (const [name, line, message] of malformed) {
    it(`rejects ${name}`, () => {
      assert.throws(() => parseCases(line, "t.jsonl"), message);
    });
  }
});

describe("fixturePath", () => {
  it("resolves shared fixture files", () => {
    for (const name of ["README.md", "cases.jsonl", "r1-config.yaml", "c1-nodes.json"]) {
      assert.ok(existsSync(fixturePath(`cases/${name}`)), name);
    }
  });

  it("rejects paths outside fixtures", () => {
    assert.throws(() => fixturePath("../support/cases.ts"), /outside test\/fixtures/);
    assert.throws(() => fixturePath("/etc/passwd"), /outside test\/fixtures/);
    assert.throws(() => fixturePath(""), /outside test\/fixtures/);
  });
});
