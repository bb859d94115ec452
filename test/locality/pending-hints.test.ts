// Pending hints in typed arrays, checked against a plain list of hint objects over random runs
// of adds, settles and clock steps long enough to grow and compact the arrays many times.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import fc from "fast-check";

import { PendingHints } from "../../src/locality/pending-hints.ts";

const NODES = ["a", "b", "c", "d"];
const LIFETIME_MS = 1000;

/** The reference: one object per hint, scanned in full on every call. */
class HintList {
  private readonly hints: { node: string; cpu: number; expiresAt: number; done: boolean }[] = [];

  add(node: string, cpu: number, expiresAt: number): void {
    this.hints.push({ node, cpu, expiresAt, done: false });
  }

  expire(now: number): void {
    for (const hint of this.hints) {
      if (hint.expiresAt <= now) {
        hint.done = true;
      }
    }
  }

  settleOldest(node: string): void {
    const oldest = this.hints.find((hint) => !hint.done && hint.node === node);
    if (oldest !== undefined) {
      oldest.done = true;
    }
  }

  totalOf(node: string): number {
    return this.hints
      .filter((hint) => !hint.done && hint.node === node)
      .reduce((sum, hint) => sum + hint.cpu, 0);
  }
}

type Step =
  | { kind: "add"; node: number; cpu: number; count: number }
  | { kind: "settle"; node: number; count: number }
  | { kind: "tick"; ms: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant("add" as const),
    node: fc.nat(NODES.length - 1),
    cpu: fc.integer({ min: 1, max: 4000 }),
    count: fc.integer({ min: 1, max: 700 }),
  }),
  fc.record({
    kind: fc.constant("settle" as const),
    node: fc.nat(NODES.length - 1),
    count: fc.integer({ min: 1, max: 500 }),
  }),
  fc.record({ kind: fc.constant("tick" as const), ms: fc.integer({ min: 0, max: 600 }) }),
);

describe("pending hints", () => {
  it("match a plain hint list", () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => {
        const pending = new PendingHints();
        const reference = new HintList();
        let now = 0;
        for (const current of steps) {
          if (current.kind === "tick") {
            now += current.ms;
          }
          pending.expire(now);
          reference.expire(now);
          for (let index = 0; current.kind !== "tick" && index < current.count; index += 1) {
            const node = NODES[current.node] as string;
            if (current.kind === "add") {
              pending.add(node, { cpuMillis: current.cpu, memoryBytes: 0 }, now + LIFETIME_MS);
              reference.add(node, current.cpu, now + LIFETIME_MS);
            } else {
              pending.settleOldest(node);
              reference.settleOldest(node);
            }
          }
          for (const node of NODES) {
            assert.equal(pending.totalOf(node)?.cpuMillis ?? 0, reference.totalOf(node), node);
          }
        }
      }),
      { seed: 20261204, numRuns: 200 },
    );
  });

  it("forget a node once its hints are gone", () => {
    const pending = new PendingHints();
    pending.add("a", { cpuMillis: 100, memoryBytes: 5 }, 1000);
    pending.add("a", { cpuMillis: 200, memoryBytes: 7 }, 1000);
    pending.settleOldest("a");
    assert.equal(pending.totalOf("a")?.cpuMillis, 200);
    assert.equal(pending.totalOf("a")?.memoryBytes, 7);

    pending.expire(1000);
    assert.equal(pending.totalOf("a"), undefined);
  });

  it("keep a backlog of 300,000 hints", () => {
    const pending = new PendingHints();
    for (let index = 0; index < 300_000; index += 1) {
      pending.add(`node-${index % 500}`, { cpuMillis: 1, memoryBytes: 0 }, 60_000 + index);
    }
    assert.equal(pending.totalOf("node-7")?.cpuMillis, 600);

    pending.expire(60_000 + 149_999);
    assert.equal(pending.totalOf("node-7")?.cpuMillis, 300);
  });
});
