// The least-recently-used cache and the background fetch queue.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { FetchQueue } from "../../src/registry/fetch-queue.ts";
import { LruCache } from "../../src/registry/lru.ts";

describe("LruCache", () => {
  test("evicts least recently used", () => {
    const cache = new LruCache<string>(30);
    cache.set("a", "A", 10);
    cache.set("b", "B", 10);
    cache.set("c", "C", 10);
    cache.get("a");
    cache.set("d", "D", 10);

    assert.equal(cache.peek("b"), undefined);
    assert.equal(cache.peek("a"), "A");
    assert.equal(cache.peek("c"), "C");
    assert.equal(cache.weight, 30);
  });

  test("heavy value evicts several", () => {
    const cache = new LruCache<string>(30);
    cache.set("a", "A", 10);
    cache.set("b", "B", 10);
    cache.set("big", "BIG", 25);

    assert.equal(cache.size, 1);
    assert.equal(cache.weight, 25);
  });

  test("value over the bound not stored", () => {
    const cache = new LruCache<string>(30);
    cache.set("a", "A", 10);
    cache.set("huge", "H", 31);

    assert.equal(cache.peek("huge"), undefined);
    assert.equal(cache.peek("a"), "A");
  });

  test("replacing a key updates weight", () => {
    const cache = new LruCache<string>(30);
    cache.set("a", "A", 10);
    cache.set("a", "A2", 5);

    assert.equal(cache.weight, 5);
    assert.equal(cache.get("a"), "A2");
  });
});

describe("FetchQueue", () => {
  test("one task per key", async () => {
    const queue = new FetchQueue(2, 10);
    let runs = 0;
    let release = (): void => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const task = async (): Promise<void> => {
      runs += 1;
      await gate;
    };

    const first = queue.schedule("k", task);
    const second = queue.schedule("k", task);
    assert.equal(first, second);
    release();
    await first;

    assert.equal(runs, 1);
    assert.equal(queue.size, 0);
  });

  test("concurrency bounded", async () => {
    const queue = new FetchQueue(2, 10);
    let running = 0;
    let peak = 0;
    const task = async (): Promise<void> => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setImmediate(resolve));
      running -= 1;
    };

    const runs: Promise<void>[] = [];
    for (const key of ["a", "b", "c", "d", "e"]) {
      const run = queue.schedule(key, task);
      assert.ok(run !== undefined);
      runs.push(run);
    }
    await Promise.all(runs);

    assert.equal(peak, 2);
  });

  test("full queue declines", () => {
    const queue = new FetchQueue(1, 1);
    const never = () => new Promise<void>(() => {});

    assert.notEqual(queue.schedule("running", never), undefined);
    assert.notEqual(queue.schedule("waiting", never), undefined);
    assert.equal(queue.schedule("declined", never), undefined);
  });

  test("rejecting task does not stop the queue", async () => {
    const queue = new FetchQueue(1, 10);
    let ran = false;
    const failing = queue.schedule("bad", () => Promise.reject(new Error("boom")));
    const next = queue.schedule("good", () => {
      ran = true;
      return Promise.resolve();
    });

    await failing;
    await next;
    assert.equal(ran, true);
  });
});
