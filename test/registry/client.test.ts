// The registry client against a real registry (docker-registry 2.8) and a proxy in front of it
// that can alter manifest bytes.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import type { ImageReference } from "../../src/image/reference.ts";
import { RegistryClient, type FetchedManifest } from "../../src/registry/client.ts";
import { CorruptManifestError, ImageNotFoundError } from "../../src/registry/errors.ts";
import { DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX } from "../../src/registry/manifest.ts";
import { startRegistry, pushImage, type TestRegistry } from "../support/registry.ts";
import {
  buildTestImages,
  layersOf,
  pushTestImages,
  type TestImages,
} from "../support/registry-fixtures.ts";
import { makeIndex } from "../support/registry-images.ts";
import { startRegistryProxy, type RegistryProxy } from "../support/registry-proxy.ts";

const TIMEOUT_MS = 5000;

describe("registry client", () => {
  const images: TestImages = buildTestImages();
  let registry: TestRegistry;
  let proxy: RegistryProxy;
  let client: RegistryClient;

  before(async () => {
    registry = await startRegistry();
    await pushTestImages(registry, images);
    // skopeo cannot convert the attestation's in-toto layer to a Docker media type.
    const platformImages = makeIndex(images.multi.images.slice(0, 2));
    await pushImage(registry, "docker-multi", "v1", platformImages, { format: "docker" });
    proxy = await startRegistryProxy(registry.host);
    client = new RegistryClient({
      registries: new Map([
        [registry.host, { plainHTTP: true }],
        [proxy.host, { plainHTTP: true }],
      ]),
      timeoutMs: TIMEOUT_MS,
    });
  });
  after(async () => {
    await proxy?.close();
    await registry?.stop();
  });

  const image = (path: string, tag: string): ImageReference => ({
    domain: registry.host,
    path,
    tag,
  });
  const layersFrom = (fetched: FetchedManifest) =>
    fetched.document.kind === "manifest" ? fetched.document.layers : undefined;

  test("app versions share base layers", async () => {
    const v1 = await client.getManifest(image("app", "v1"));
    const v2 = await client.getManifest(image("app", "v2"));

    assert.equal(v1.digest, images.appV1.manifest.digest);
    assert.deepEqual(layersFrom(v1), layersOf(images.appV1));
    assert.deepEqual(layersFrom(v2), layersOf(images.appV2));
    assert.deepEqual(layersFrom(v1)?.slice(0, 2), layersFrom(v2)?.slice(0, 2));
    assert.notEqual(layersFrom(v1)?.[2]?.digest, layersFrom(v2)?.[2]?.digest);
  });

  test("HEAD returns the tag's digest", async () => {
    const head = await client.headManifest(image("multi", "v1"));

    assert.equal(head.digest, images.multi.index.digest);
    assert.equal(head.mediaType, OCI_INDEX);
  });

  test("index resolves to platform manifests", async () => {
    const index = await client.getManifest(image("multi", "v1"));
    assert.ok(index.document.kind === "index");
    const [amd64, arm64] = index.document.entries;

    assert.equal(index.document.entries.length, 2, "the attestation entry is skipped");
    assert.deepEqual(amd64?.platform, { os: "linux", architecture: "amd64" });
    assert.deepEqual(arm64?.platform, { os: "linux", architecture: "arm64", variant: "v8" });
    const amd64Manifest = await client.getManifest({
      ...image("multi", "v1"),
      digest: amd64?.digest,
    });
    const arm64Manifest = await client.getManifest({
      ...image("multi", "v1"),
      digest: arm64?.digest,
    });
    assert.deepEqual(layersFrom(amd64Manifest), layersOf(images.appV1));
    assert.deepEqual(layersFrom(arm64Manifest), layersOf(images.armSingle));
  });

  test("Docker manifest list read", async () => {
    const list = await client.getManifest(image("docker-multi", "v1"));
    assert.ok(list.document.kind === "index");
    assert.equal(list.document.mediaType, DOCKER_MANIFEST_LIST);
    const amd64 = list.document.entries[0];

    assert.equal(amd64?.mediaType, DOCKER_MANIFEST);
    const manifest = await client.getManifest({
      ...image("docker-multi", "v1"),
      digest: amd64?.digest,
    });
    assert.deepEqual(layersFrom(manifest), layersOf(images.appV1));
  });

  test("config blob gives the platform", async () => {
    const single = await client.getManifest(image("arm-single", "v1"));
    assert.ok(single.document.kind === "manifest");
    const { platform } = await client.getImagePlatform(
      image("arm-single", "v1"),
      single.document.config,
    );

    assert.deepEqual(platform, { os: "linux", architecture: "arm64", variant: "v8" });
  });

  test("missing tag not found", async () => {
    await assert.rejects(client.getManifest(image("app", "v404")), (error: unknown) => {
      assert.ok(error instanceof ImageNotFoundError);
      assert.equal(error.kind, "not_found");
      assert.match(error.message, new RegExp(`image ${registry.host}/app:v404 not found`));
      assert.match(error.message, /HTTP 404 MANIFEST_UNKNOWN/);
      return true;
    });
  });

  test("altered bytes rejected by digest", async () => {
    proxy.setRewrite((path, body) =>
      path.includes("/manifests/")
        ? Buffer.from(body.toString().replace('"schemaVersion":2', '"schemaVersion": 2'))
        : undefined,
    );
    try {
      const viaProxy = { domain: proxy.host, path: "app", tag: "v1" };
      const byDigest = { ...viaProxy, digest: images.appV1.manifest.digest };

      await assert.rejects(client.getManifest(byDigest), (error: unknown) => {
        assert.ok(error instanceof CorruptManifestError);
        assert.match(error.message, /not the requested digest sha256:/);
        return true;
      });
      await assert.rejects(client.getManifest(viaProxy), (error: unknown) => {
        assert.ok(error instanceof CorruptManifestError);
        assert.match(error.message, /not the Docker-Content-Digest header/);
        return true;
      });
    } finally {
      proxy.setRewrite(undefined);
    }
  });

  test("proxy passes bytes unchanged", async () => {
    const fetched = await client.getManifest({ domain: proxy.host, path: "app", tag: "v1" });

    assert.equal(fetched.digest, images.appV1.manifest.digest);
  });
});
