// The reference grammar's table: every image-ref case through the parser and the R1 rewrite.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { loadConfig } from "../../src/config.ts";
import {
  formatFamiliar,
  formatNormalized,
  formatPullReference,
  parseImageReference,
} from "../../src/image/reference.ts";
import { decideRewrite, rewrittenImage } from "../../src/mirror/rules.ts";
import { fixturePath, loadCases } from "../support/cases.ts";

const r1 = loadConfig(fixturePath("cases/r1-config.yaml"));

interface ValidExpectation {
  normalized: string;
  domain: string;
  path: string;
  tag: string | null;
  digest: string | null;
  pull_ref: string;
  familiar: string;
  rewrite_R1: string;
  rewrite_R1_reason: string;
}

describe("image reference cases", () => {
  for (const testCase of loadCases("image-ref")) {
    const expected = testCase.expected as {
      valid: boolean;
      error?: string;
    } & Partial<ValidExpectation>;

    it(`${testCase.id} parses ${JSON.stringify(testCase.input.slice(0, 60))}`, () => {
      const parsed = parseImageReference(testCase.input);
      if (!expected.valid) {
        assert.equal(parsed.ok, false);
        assert.equal(parsed.ok ? undefined : parsed.error, expected.error);
        return;
      }
      assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
      const reference = parsed.reference;
      assert.equal(reference.domain, expected.domain);
      assert.equal(reference.path, expected.path);
      assert.equal(reference.tag ?? null, expected.tag);
      assert.equal(reference.digest ?? null, expected.digest);
      assert.equal(formatNormalized(reference), expected.normalized);
      assert.equal(formatPullReference(reference), expected.pull_ref);
      assert.equal(formatFamiliar(reference), expected.familiar);
    });

    if (expected.valid) {
      it(`${testCase.id} rewrites under R1`, () => {
        const parsed = parseImageReference(testCase.input);
        assert.ok(parsed.ok);
        const decision = decideRewrite(parsed.reference, r1.mirror, r1.exclude.images);
        assert.equal(rewrittenImage(testCase.input, decision), expected.rewrite_R1);
        const reason = expected.rewrite_R1_reason ?? "";
        if (reason.startsWith("rewritten")) {
          assert.equal(decision.reason, reason);
        } else {
          assert.match(decision.reason, /^unchanged: /);
        }
      });
    }
  }
});

describe("image reference edges", () => {
  it("rejects strings over 1024 characters", () => {
    const parsed = parseImageReference(`${"a".repeat(1100)}:tag`);
    assert.equal(parsed.ok, false);
  });

  it("accepts sha512 digests", () => {
    const parsed = parseImageReference(`nginx@sha512:${"a".repeat(128)}`);
    assert.ok(parsed.ok);
    assert.equal(parsed.reference.digest, `sha512:${"a".repeat(128)}`);
  });

  it("rejects a short sha256 digest", () => {
    const parsed = parseImageReference(`nginx@sha256:${"a".repeat(63)}`);
    assert.deepEqual(parsed, { ok: false, error: "invalid checksum digest length" });
  });

  it("rejects the empty string", () => {
    assert.equal(parseImageReference("").ok, false);
  });

  it("splits a port from a tag", () => {
    const parsed = parseImageReference("registry.example.net:5000/team/app:1.0");
    assert.ok(parsed.ok);
    assert.equal(parsed.reference.domain, "registry.example.net:5000");
    assert.equal(parsed.reference.tag, "1.0");
  });

  it("keeps tag and digest together", () => {
    const digest = `sha256:${"b".repeat(64)}`;
    const parsed = parseImageReference(`quay.io/team/app:2.0@${digest}`);
    assert.ok(parsed.ok);
    assert.equal(parsed.reference.tag, "2.0");
    assert.equal(parsed.reference.digest, digest);
  });
});
