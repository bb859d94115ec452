// Manifest parsing: the four media types, attestation entries, media type checks and invalid
// documents, from JSON written in the test.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  CorruptManifestError,
  UnsupportedMediaTypeError,
  type RequestSubject,
} from "../../src/registry/errors.ts";
import {
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  OCI_INDEX,
  OCI_MANIFEST,
  parseManifest,
} from "../../src/registry/manifest.ts";

const SUBJECT: RequestSubject = { registry: "registry.test", image: "registry.test/app:v1" };
const DIGEST_A = `sha256:${"a".repeat(64)}`;
const DIGEST_B = `sha256:${"b".repeat(64)}`;
const DIGEST_C = `sha256:${"c".repeat(64)}`;

function bytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function entry(digest: string, platform: unknown, extra: Record<string, unknown> = {}) {
  return { mediaType: OCI_MANIFEST, digest, size: 500, platform, ...extra };
}

const IMAGE_MANIFEST = {
  schemaVersion: 2,
  mediaType: OCI_MANIFEST,
  config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: DIGEST_A, size: 300 },
  layers: [
    { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: DIGEST_B, size: 1000 },
    { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: DIGEST_C, size: 2000 },
  ],
};

describe("parseManifest", () => {
  test("OCI manifest layers and config", () => {
    const parsed = parseManifest(bytes(IMAGE_MANIFEST), OCI_MANIFEST, SUBJECT);

    assert.equal(parsed.kind, "manifest");
    assert.ok(parsed.kind === "manifest");
    assert.equal(parsed.config.digest, DIGEST_A);
    assert.deepEqual(parsed.layers, [
      { digest: DIGEST_B, size: 1000 },
      { digest: DIGEST_C, size: 2000 },
    ]);
  });

  test("Docker manifest read like OCI", () => {
    const docker = { ...IMAGE_MANIFEST, mediaType: DOCKER_MANIFEST };
    const parsed = parseManifest(bytes(docker), DOCKER_MANIFEST, SUBJECT);

    assert.equal(parsed.kind, "manifest");
    assert.equal(parsed.mediaType, DOCKER_MANIFEST);
  });

  test("index entries keep platform and variant", () => {
    const index = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        entry(DIGEST_A, { os: "linux", architecture: "amd64" }),
        entry(DIGEST_B, { os: "linux", architecture: "arm64", variant: "v8" }),
      ],
    };
    const parsed = parseManifest(bytes(index), OCI_INDEX, SUBJECT);

    assert.ok(parsed.kind === "index");
    assert.deepEqual(
      parsed.entries.map((item) => item.platform),
      [
        { os: "linux", architecture: "amd64" },
        { os: "linux", architecture: "arm64", variant: "v8" },
      ],
    );
  });

  test("Docker manifest list read as index", () => {
    const list = {
      schemaVersion: 2,
      mediaType: DOCKER_MANIFEST_LIST,
      manifests: [
        {
          ...entry(DIGEST_A, { os: "linux", architecture: "amd64" }),
          mediaType: DOCKER_MANIFEST,
        },
      ],
    };
    const parsed = parseManifest(bytes(list), DOCKER_MANIFEST_LIST, SUBJECT);

    assert.ok(parsed.kind === "index");
    assert.equal(parsed.entries.length, 1);
  });

  test("attestation entries skipped", () => {
    const index = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        entry(DIGEST_A, { os: "linux", architecture: "amd64" }),
        entry(
          DIGEST_B,
          { os: "unknown", architecture: "unknown" },
          {
            annotations: {
              "vnd.docker.reference.type": "attestation-manifest",
              "vnd.docker.reference.digest": DIGEST_A,
            },
          },
        ),
        // Only the unknown/unknown platform marks this one.
        entry(DIGEST_C, { os: "unknown", architecture: "unknown" }),
      ],
    };
    const parsed = parseManifest(bytes(index), OCI_INDEX, SUBJECT);

    assert.ok(parsed.kind === "index");
    assert.deepEqual(
      parsed.entries.map((item) => item.digest),
      [DIGEST_A],
    );
  });

  test("nested index entries skipped", () => {
    const index = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        entry(DIGEST_A, { os: "linux", architecture: "amd64" }),
        { mediaType: OCI_INDEX, digest: DIGEST_B, size: 10 },
      ],
    };
    const parsed = parseManifest(bytes(index), OCI_INDEX, SUBJECT);

    assert.ok(parsed.kind === "index");
    assert.equal(parsed.entries.length, 1);
  });

  test("entry without platform kept", () => {
    const index = {
      schemaVersion: 2,
      manifests: [{ mediaType: OCI_MANIFEST, digest: DIGEST_A, size: 1 }],
    };
    const parsed = parseManifest(bytes(index), OCI_INDEX, SUBJECT);

    assert.ok(parsed.kind === "index");
    assert.equal(parsed.entries[0]?.platform, undefined);
  });

  test("media type inferred from fields", () => {
    const withoutType = { ...IMAGE_MANIFEST, mediaType: undefined };
    const index = { schemaVersion: 2, manifests: [] };

    assert.equal(parseManifest(bytes(withoutType), undefined, SUBJECT).kind, "manifest");
    assert.equal(parseManifest(bytes(index), "application/json", SUBJECT).kind, "index");
  });

  const corrupt: readonly { name: string; body: Buffer; contentType?: string; message: RegExp }[] =
    [
      { name: "invalid JSON", body: Buffer.from("{not json"), message: /not valid JSON/ },
      { name: "JSON array", body: bytes([IMAGE_MANIFEST]), message: /not a JSON object/ },
      {
        name: "Content-Type differs from mediaType",
        body: bytes(IMAGE_MANIFEST),
        contentType: OCI_INDEX,
        message: /differs from Content-Type/,
      },
      {
        name: "manifests and layers together",
        body: bytes({ schemaVersion: 2, manifests: [], layers: [], config: IMAGE_MANIFEST.config }),
        message: /neither an index nor a manifest/,
      },
      {
        name: "layer digest invalid",
        body: bytes({
          ...IMAGE_MANIFEST,
          layers: [{ mediaType: "x", digest: "sha256:zz", size: 1 }],
        }),
        message: /layers\[0\]\.digest "sha256:zz" is not a sha256 or sha512 digest/,
      },
      {
        name: "layer size negative",
        body: bytes({
          ...IMAGE_MANIFEST,
          layers: [{ mediaType: "x", digest: DIGEST_B, size: -1 }],
        }),
        message: /layers\[0\]\.size -1 is not a byte count/,
      },
      {
        name: "layers missing",
        body: bytes({ ...IMAGE_MANIFEST, layers: undefined }),
        message: /no layers array/,
      },
    ];
  for (const { name, body, contentType, message } of corrupt) {
    test(`corrupt: ${name}`, () => {
      assert.throws(
        () => parseManifest(body, contentType, SUBJECT),
        (error: unknown) => {
          assert.ok(error instanceof CorruptManifestError);
          assert.match(error.message, message);
          assert.match(error.message, /registry\.test\/app:v1/);
          return true;
        },
      );
    });
  }

  const unsupported: readonly { name: string; body: unknown; message: RegExp }[] = [
    {
      name: "Docker schema 1",
      body: { schemaVersion: 1, name: "app", fsLayers: [] },
      message: /schemaVersion 1/,
    },
    {
      name: "artifact media type",
      body: { ...IMAGE_MANIFEST, mediaType: "application/vnd.cncf.helm.chart.v1+json" },
      message: /media type "application\/vnd\.cncf\.helm\.chart\.v1\+json"; expected one of/,
    },
  ];
  for (const { name, body, message } of unsupported) {
    test(`unsupported: ${name}`, () => {
      assert.throws(
        () => parseManifest(bytes(body), undefined, SUBJECT),
        (error: unknown) =>
          error instanceof UnsupportedMediaTypeError && message.test(error.message),
      );
    });
  }
});
