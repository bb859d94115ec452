import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  dnsLabelProblems,
  dnsSubdomainProblems,
  isInt64,
  labelValueProblems,
  qualifiedNameProblems,
} from "./k8s-names.ts";

/** Rows of [input, valid?] for one check. */
type Table = readonly (readonly [string, boolean])[];

/** Shows long inputs by their start and length, so test names stay short and distinct. */
function shortName(input: string): string {
  return input.length > 30
    ? `${JSON.stringify(input.slice(0, 12))}… (${input.length} characters)`
    : JSON.stringify(input);
}

function runTable(check: (value: string) => string[], rows: Table): void {
  for (const [input, valid] of rows) {
    it(`${valid ? "accepts" : "rejects"} ${shortName(input)}`, () => {
      assert.equal(check(input).length === 0, valid, check(input).join("; "));
    });
  }
}

describe("qualifiedNameProblems", () => {
  runTable(qualifiedNameProblems, [
    ["app", true],
    ["app.kubernetes.io/name", true],
    ["A_b.c-D", true],
    [`example.com/${"n".repeat(63)}`, true],
    [`${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}/x`, true],
    ["", false],
    ["example.com/", false],
    ["/app", false],
    ["a/b/c", false],
    ["-app", false],
    ["app_", false],
    ["my app", false],
    ["Example.com/app", false],
    [`example.com/${"n".repeat(64)}`, false],
    [`${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(62)}/x`, false],
  ]);
});

describe("labelValueProblems", () => {
  runTable(labelValueProblems, [
    ["", true],
    ["web", true],
    ["1.25.0_rc-1", true],
    ["v".repeat(63), true],
    ["v".repeat(64), false],
    ["web shop", false],
    [".hidden", false],
    ["trailing-", false],
    ["a/b", false],
  ]);
});

describe("dnsLabelProblems", () => {
  runTable(dnsLabelProblems, [
    ["web", true],
    ["debugger-x7k2p", true],
    ["0", true],
    ["c".repeat(63), true],
    ["", false],
    ["c".repeat(64), false],
    ["Web", false],
    ["web_1", false],
    ["web.1", false],
    ["-web", false],
  ]);
});

describe("dnsSubdomainProblems", () => {
  runTable(dnsSubdomainProblems, [
    ["node-a", true],
    ["ip-10-0-0-1.ec2.internal", true],
    ["", false],
    ["Node-A", false],
    ["node_a", false],
    ["node-a.", false],
    ["node..a", false],
    [`${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(62)}`, false],
  ]);
});

describe("isInt64", () => {
  const rows: readonly (readonly [unknown, boolean])[] = [
    ["0", true],
    ["42", true],
    ["-7", true],
    ["+7", true],
    ["9223372036854775807", true],
    ["-9223372036854775808", true],
    ["9223372036854775808", false],
    ["-9223372036854775809", false],
    ["1.5", false],
    ["1e3", false],
    ["0x10", false],
    ["1_000", false],
    [" 1", false],
    ["", false],
    [5, false],
  ];

  for (const [input, expected] of rows) {
    it(`returns ${expected} for ${JSON.stringify(input)}`, () => {
      assert.equal(isInt64(input), expected);
    });
  }
});
