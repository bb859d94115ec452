// The images registry tests push: a base image, two app versions built on it, a multi-platform
// index with an attestation, and images that exist only for arm64.
import {
  LINUX_AMD64,
  LINUX_ARM64,
  makeAttestation,
  makeImage,
  makeIndex,
  makeLayer,
  type Blob,
  type TestArtifact,
  type TestImage,
  type TestIndex,
} from "./registry-images.ts";
import { pushImage, type PushOptions, type TestRegistry } from "./registry.ts";

/** The test images, with the layers they are made of. */
export interface TestImages {
  readonly layers: {
    readonly os: Blob;
    readonly runtime: Blob;
    readonly appV1: Blob;
    readonly appV2: Blob;
  };
  /** base:latest, the OS and runtime layers (amd64). */
  readonly base: TestImage;
  /** app:v1 and app:v2, base plus one app layer each (amd64). */
  readonly appV1: TestImage;
  readonly appV2: TestImage;
  /** multi:v1, app v1 for amd64 and arm64, and an attestation of the amd64 image. */
  readonly multi: TestIndex;
  /** arm-index:v1, an index with only an arm64 image and its attestation. */
  readonly armIndex: TestIndex;
  /** arm-single:v1, a single arm64 manifest; only its config names the platform. */
  readonly armSingle: TestImage;
}

/** Builds the test images; equal calls give equal digests. */
export function buildTestImages(): TestImages {
  const os = makeLayer({ "etc/os-release": 'NAME="kic test os"\n', "bin/sh": "#!shell\n" });
  const runtime = makeLayer({ "usr/lib/runtime.so": "runtime library ".repeat(64) });
  const appV1 = makeLayer({ "app/server": "app version 1\n" });
  const appV2 = makeLayer({ "app/server": "app version 2\n", "app/NEWS": "faster\n" });
  const armOs = makeLayer({ "etc/os-release": 'NAME="kic test os"\nARCH=arm64\n' });

  const base = makeImage(LINUX_AMD64, [os, runtime]);
  const v1 = makeImage(LINUX_AMD64, [os, runtime, appV1]);
  const v2 = makeImage(LINUX_AMD64, [os, runtime, appV2]);
  const armV1 = makeImage(LINUX_ARM64, [armOs, runtime, appV1]);
  return {
    layers: { os, runtime, appV1, appV2 },
    base,
    appV1: v1,
    appV2: v2,
    multi: makeIndex([v1, armV1, makeAttestation(v1)]),
    armIndex: makeIndex([armV1, makeAttestation(armV1)]),
    armSingle: armV1,
  };
}

/** Repository and tag of every test image, as pushed by pushTestImages. */
export function testImageTags(images: TestImages): [string, string, TestArtifact][] {
  return [
    ["base", "latest", images.base],
    ["app", "v1", images.appV1],
    ["app", "v2", images.appV2],
    ["multi", "v1", images.multi],
    ["arm-index", "v1", images.armIndex],
    ["arm-single", "v1", images.armSingle],
  ];
}

/** Pushes every test image to the registry, one after another. */
export async function pushTestImages(
  registry: TestRegistry,
  images: TestImages,
  options: PushOptions = {},
): Promise<void> {
  for (const [repository, tag, artifact] of testImageTags(images)) {
    await pushImage(registry, repository, tag, artifact, options);
  }
}

/** Digests and sizes of an image's layers, the shape the registry module returns. */
export function layersOf(image: TestImage): { digest: string; size: number }[] {
  return image.layers.map((layer) => ({ digest: layer.digest, size: layer.size }));
}
