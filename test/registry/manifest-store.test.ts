// The manifest store against a real registry, through a counting proxy: layers per platform,
// caching, single flight, tag expiry, failures and metrics.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { Registry } from "prom-client";

import type { Config } from "../../src/config.ts";
import type { ImageReference } from "../../src/image/reference.ts";
import type { ImageManifestInfo, Layer } from "../../src/locality/layers.ts";
import {
  ManifestStore,
  type ManifestStoreOptions,
  type ManifestUpdate,
} from "../../src/registry/manifest-store.ts";
import { pushImage, startRegistry, type TestRegistry } from "../support/registry.ts";
import {
  buildTestImages,
  layersOf,
  pushTestImages,
  type TestImages,
} from "../support/registry-fixtures.ts";
import { LINUX_AMD64, LINUX_ARM64 } from "../support/registry-images.ts";
import { captureLogs } from "../support/registry-logs.ts";
import { startRegistryProxy, type RegistryProxy } from "../support/registry-proxy.ts";
import { metricValue } from "../support/registry-metrics.ts";

const SETTINGS: Config["registry"] = {
  enabled: true,
  timeoutMs: 5000,
  admissionBudgetMs: 0,
  tagTtlSeconds: 300,
  manifestCacheBytes: 64 * 1024 * 1024,
};
// Upper bound of any wait for a background fetch; fetches from a local registry take far less.
const WAIT_MS = 10_000;
const AMD64 = { os: "linux", architecture: "amd64" };
const ARM64 = { os: "linux", architecture: "arm64" };

function resolvedInfo(info: ImageManifestInfo | undefined) {
  assert.ok(info !== undefined, "image not cached");
  assert.equal(info.status, "resolved", info.status === "failed" ? info.reason : "");
  assert.ok(info.status === "resolved");
  return info;
}

function digests(layers: readonly Layer[] | undefined): string[] {
  return (layers ?? []).map((layer) => layer.digest);
}

describe("manifest store", () => {
  const images: TestImages = buildTestImages();
  let registry: TestRegistry;
  let proxy: RegistryProxy;

  before(async () => {
    registry = await startRegistry();
    await pushTestImages(registry, images);
    proxy = await startRegistryProxy(registry.host);
  });
  after(async () => {
    await proxy?.close();
    await registry?.stop();
  });

  function createStore(overrides: Partial<ManifestStoreOptions> = {}) {
    const metrics = new Registry();
    const logs = captureLogs();
    const store = new ManifestStore({
      registries: new Map([[proxy.host, { plainHTTP: true }]]),
      settings: SETTINGS,
      locate: (image) => image,
      metrics,
      logger: logs.logger,
      ...overrides,
    });
    return { store, metrics, logs };
  }
  const image = (path: string, tag: string): ImageReference => ({ domain: proxy.host, path, tag });

  test("miss, then layers after fetch", async () => {
    const { store } = createStore();
    const appV1 = image("app", "v1");

    assert.equal(store.lookup(appV1), undefined);
    await store.prefetch([appV1], WAIT_MS);
    const info = resolvedInfo(store.lookup(appV1));

    assert.deepEqual(info.platforms, [LINUX_AMD64]);
    assert.deepEqual(info.layersFor(AMD64), layersOf(images.appV1));
  });

  test("app versions share base layers", async () => {
    const { store } = createStore();
    await store.prefetch(
      [image("app", "v1"), image("app", "v2"), image("base", "latest")],
      WAIT_MS,
    );
    const v1 = digests(resolvedInfo(store.lookup(image("app", "v1"))).layersFor(AMD64));
    const v2 = digests(resolvedInfo(store.lookup(image("app", "v2"))).layersFor(AMD64));
    const base = digests(resolvedInfo(store.lookup(image("base", "latest"))).layersFor(AMD64));

    assert.deepEqual(
      v2.filter((digest) => v1.includes(digest)),
      base,
    );
    assert.equal(v1.length, 3);
    assert.equal(v2.length, 3);
  });

  test("index resolved per platform", async () => {
    const { store } = createStore();
    await store.prefetch([image("multi", "v1")], WAIT_MS);
    const info = resolvedInfo(store.lookup(image("multi", "v1")));

    assert.deepEqual(info.platforms, [LINUX_AMD64, LINUX_ARM64], "no attestation platform");
    assert.deepEqual(info.layersFor(AMD64), layersOf(images.appV1));
    assert.deepEqual(info.layersFor(ARM64), layersOf(images.armSingle));
    assert.deepEqual(info.layersFor({ ...ARM64, variant: "v8" }), layersOf(images.armSingle));
  });

  test("arm64-only index has no amd64 layers", async () => {
    const { store } = createStore();
    await store.prefetch([image("arm-index", "v1")], WAIT_MS);
    const info = resolvedInfo(store.lookup(image("arm-index", "v1")));

    assert.deepEqual(info.platforms, [LINUX_ARM64]);
    assert.equal(info.layersFor(AMD64), undefined);
    assert.deepEqual(info.layersFor(ARM64), layersOf(images.armSingle));
  });

  test("single manifest platform from config", async () => {
    const { store } = createStore();
    const before = proxy.count("GET", "/v2/arm-single/blobs/");
    await store.prefetch([image("arm-single", "v1")], WAIT_MS);
    const info = resolvedInfo(store.lookup(image("arm-single", "v1")));

    assert.deepEqual(info.platforms, [LINUX_ARM64]);
    assert.equal(info.layersFor(AMD64), undefined);
    assert.deepEqual(info.layersFor(ARM64), layersOf(images.armSingle));
    assert.equal(proxy.count("GET", "/v2/arm-single/blobs/") - before, 1, "one config GET");
  });

  test("digest reference needs no HEAD", async () => {
    const { store } = createStore();
    const pinned = { domain: proxy.host, path: "app", digest: images.appV2.manifest.digest };
    const heads = proxy.count("HEAD", "/v2/app/manifests/");
    await store.prefetch([pinned], WAIT_MS);

    assert.deepEqual(resolvedInfo(store.lookup(pinned)).layersFor(AMD64), layersOf(images.appV2));
    assert.equal(proxy.count("HEAD", "/v2/app/manifests/"), heads);
  });

  test("concurrent misses make one fetch", async () => {
    const { store } = createStore();
    const multi = image("multi", "v1");
    const heads = proxy.count("HEAD", "/v2/multi/manifests/v1");
    const gets = proxy.count("GET", "/v2/multi/manifests/");

    for (let lookup = 0; lookup < 20; lookup += 1) {
      assert.equal(store.lookup(multi), undefined);
    }
    await Promise.all([store.prefetch([multi], WAIT_MS), store.prefetch([multi, multi], WAIT_MS)]);

    assert.equal(proxy.count("HEAD", "/v2/multi/manifests/v1") - heads, 1);
    assert.equal(proxy.count("GET", "/v2/multi/manifests/") - gets, 3, "index and two platforms");
  });

  test("cached image not fetched again", async () => {
    const { store } = createStore();
    await store.prefetch([image("app", "v1")], WAIT_MS);
    const requests = proxy.requests.length;

    for (let lookup = 0; lookup < 10; lookup += 1) {
      resolvedInfo(store.lookup(image("app", "v1")));
    }
    await store.prefetch([image("app", "v1")], WAIT_MS);
    assert.equal(proxy.requests.length, requests);
  });

  test("missing image cached as failed", async () => {
    const { store, metrics, logs } = createStore();
    const missing = image("app", "v404");
    await store.prefetch([missing], WAIT_MS);
    const heads = proxy.count("HEAD", "/v2/app/manifests/v404");
    const info = store.lookup(missing);

    assert.equal(info?.status, "failed");
    assert.match(info?.status === "failed" ? info.reason : "", /not found on registry/);
    store.lookup(missing);
    await store.prefetch([missing], WAIT_MS);
    assert.equal(proxy.count("HEAD", "/v2/app/manifests/v404"), heads, "no refetch");
    const labels = { registry: proxy.host, kind: "not_found" };
    assert.equal(await metricValue(metrics, "kube_image_cache_registry_errors_total", labels), 1);
    assert.equal(logs.matching("manifest fetch failed").length, 1);
  });

  test("tag expiry re-resolves", async () => {
    const { store } = createStore({ settings: { ...SETTINGS, tagTtlSeconds: 1 } });
    const moving = { domain: proxy.host, path: "moving", tag: "latest" };
    const updates: ManifestUpdate[] = [];
    store.onUpdate((update) => updates.push(update));
    await pushImage(registry, "moving", "latest", images.base);
    await store.prefetch([moving], WAIT_MS);
    const expired = Date.now() + 1100;
    await pushImage(registry, "moving", "latest", images.appV2);

    assert.deepEqual(resolvedInfo(store.lookup(moving)).layersFor(AMD64), layersOf(images.base));
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expired - Date.now())));
    // An expired tag keeps its last digest while it is fetched again.
    assert.deepEqual(resolvedInfo(store.lookup(moving)).layersFor(AMD64), layersOf(images.base));
    await store.prefetch([moving], WAIT_MS);
    assert.deepEqual(resolvedInfo(store.lookup(moving)).layersFor(AMD64), layersOf(images.appV2));
    assert.equal(updates.length, 2, "one update per digest");
    assert.deepEqual(updates[1]?.image, moving);
  });

  test("located reference fetched", async () => {
    const upstream = { domain: "upstream.test", path: "app", tag: "v1" };
    const { store } = createStore({
      locate: (reference) =>
        reference.domain === "upstream.test" ? { ...reference, domain: proxy.host } : reference,
    });
    await store.prefetch([upstream], WAIT_MS);

    assert.deepEqual(resolvedInfo(store.lookup(upstream)).layersFor(AMD64), layersOf(images.appV1));
  });

  test("byte bound evicts least recently used", async () => {
    // Room for one single-platform image (manifest and config), not two.
    const oneImage = images.appV1.manifest.size + images.appV1.config.size;
    const { store, metrics } = createStore({
      settings: { ...SETTINGS, manifestCacheBytes: Math.floor(oneImage * 1.5) },
    });
    await store.prefetch([image("app", "v1")], WAIT_MS);
    await store.prefetch([image("app", "v2")], WAIT_MS);
    const gets = proxy.count("GET", "/v2/app/manifests/");

    assert.equal(store.lookup(image("app", "v1")), undefined, "v1 evicted");
    assert.equal(store.lookup(image("app", "v2"))?.status, "resolved");
    await store.prefetch([image("app", "v1")], WAIT_MS);
    assert.equal(proxy.count("GET", "/v2/app/manifests/") - gets, 1, "v1 fetched again");
    const bytes = await metricValue(metrics, "kube_image_cache_manifest_cache_bytes", {});
    assert.ok(bytes !== undefined);
    assert.ok(bytes <= oneImage * 1.5);
  });

  test("image over the byte bound fails", async () => {
    const { store } = createStore({ settings: { ...SETTINGS, manifestCacheBytes: 100 } });
    await store.prefetch([image("app", "v1")], WAIT_MS);
    const heads = proxy.count("HEAD", "/v2/app/manifests/v1");
    const info = store.lookup(image("app", "v1"));

    assert.equal(info?.status, "failed");
    assert.match(
      info?.status === "failed" ? info.reason : "",
      /more than registry\.manifestCacheBytes \(100\)/,
    );
    await store.prefetch([image("app", "v1")], WAIT_MS);
    assert.equal(proxy.count("HEAD", "/v2/app/manifests/v1"), heads, "no refetch");
  });

  test("lookups counted by result", async () => {
    const { store, metrics } = createStore();
    store.lookup(image("app", "v1"));
    await store.prefetch([image("app", "v1")], WAIT_MS);
    store.lookup(image("app", "v1"));
    store.lookup(image("app", "v1"));
    const lookups = "kube_image_cache_layer_cache_lookups_total";

    assert.equal(await metricValue(metrics, lookups, { result: "miss" }), 1);
    assert.equal(await metricValue(metrics, lookups, { result: "hit" }), 2);
    const bytes = await metricValue(metrics, "kube_image_cache_manifest_cache_bytes", {});
    assert.ok(bytes !== undefined);
    assert.ok(bytes > 0);
  });

  test("budget of zero does not wait", async () => {
    const { store } = createStore();
    await store.prefetch([image("base", "latest")], 0);

    assert.equal(store.lookup(image("base", "latest")), undefined);
    await store.prefetch([image("base", "latest")], WAIT_MS);
    assert.equal(store.lookup(image("base", "latest"))?.status, "resolved");
  });
});
