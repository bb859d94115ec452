// Test images built in code: gzip-compressed tar layers with fixed content, image configs,
// single-platform manifests and multi-platform indexes, written as an OCI image layout directory
// (OCI image spec, "OCI Image Layout") that skopeo can push. Content is deterministic, so a layer
// built twice from the same files has the same digest.
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

import type { Platform } from "../../src/locality/layers.ts";

/** A blob with its descriptor fields. */
export interface Blob {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly bytes: Buffer;
}

/** A single-platform image: its manifest, config and layers. */
export interface TestImage {
  readonly kind: "image";
  readonly platform: Platform;
  readonly manifest: Blob;
  readonly config: Blob;
  readonly layers: readonly Blob[];
  /** Annotations for the index entry pointing to this image. */
  readonly entryAnnotations?: Readonly<Record<string, string>>;
}

/** A multi-platform index and the images it lists. */
export interface TestIndex {
  readonly kind: "index";
  readonly index: Blob;
  readonly images: readonly TestImage[];
}

export type TestArtifact = TestImage | TestIndex;

export const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";
const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const IN_TOTO = "application/vnd.in-toto+json";
const TAR_BLOCK = 512;

export const LINUX_AMD64: Platform = { os: "linux", architecture: "amd64" };
export const LINUX_ARM64: Platform = { os: "linux", architecture: "arm64", variant: "v8" };

/** Makes a blob of the given media type from bytes. */
export function blobOf(mediaType: string, bytes: Buffer): Blob {
  const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  return { mediaType, digest, size: bytes.length, bytes };
}

/** Makes a gzip-compressed tar layer holding the given files (path -> text content). */
export function makeLayer(files: Readonly<Record<string, string>>): Blob & { diffId: string } {
  const tar = tarArchive(files);
  const diffId = `sha256:${createHash("sha256").update(tar).digest("hex")}`;
  return { ...blobOf(OCI_LAYER, gzipSync(tar, { level: 9 })), diffId };
}

/** Makes an image for one platform from layers, with an OCI config naming that platform. */
export function makeImage(
  platform: Platform,
  layers: readonly (Blob & { diffId: string })[],
): TestImage {
  const config = blobOf(
    OCI_CONFIG,
    json({
      ...platform,
      config: {},
      rootfs: { type: "layers", diff_ids: layers.map((layer) => layer.diffId) },
    }),
  );
  return { kind: "image", platform, config, layers, manifest: manifestOf(config, layers) };
}

/**
 * Makes a BuildKit-style attestation manifest for `subject`: an in-toto layer, listed in an
 * index with platform unknown/unknown and the attestation annotations.
 */
export function makeAttestation(subject: TestImage): TestImage {
  const statement = blobOf(IN_TOTO, json({ _type: "https://in-toto.io/Statement/v0.1" }));
  const platform: Platform = { os: "unknown", architecture: "unknown" };
  const config = blobOf(
    OCI_CONFIG,
    json({ ...platform, rootfs: { type: "layers", diff_ids: [] } }),
  );
  return {
    kind: "image",
    platform,
    config,
    layers: [statement],
    manifest: manifestOf(config, [statement]),
    entryAnnotations: {
      "vnd.docker.reference.type": "attestation-manifest",
      "vnd.docker.reference.digest": subject.manifest.digest,
    },
  };
}

/** Makes an OCI index listing the images with their platforms. */
export function makeIndex(images: readonly TestImage[]): TestIndex {
  const manifests = images.map((image) => ({
    mediaType: image.manifest.mediaType,
    digest: image.manifest.digest,
    size: image.manifest.size,
    platform: image.platform,
    ...(image.entryAnnotations === undefined ? {} : { annotations: image.entryAnnotations }),
  }));
  const index = blobOf(OCI_INDEX, json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
  return { kind: "index", index, images };
}

/** Returns the manifest or index blob at the top of an artifact. */
export function topBlob(artifact: TestArtifact): Blob {
  return artifact.kind === "index" ? artifact.index : artifact.manifest;
}

/** Writes an OCI image layout in `dir` whose index.json names `artifact` as `tag`. */
export async function writeOciLayout(
  dir: string,
  tag: string,
  artifact: TestArtifact,
): Promise<void> {
  const blobDir = join(dir, "blobs", "sha256");
  await mkdir(blobDir, { recursive: true });
  for (const blob of blobsOf(artifact)) {
    await writeFile(join(blobDir, blob.digest.slice("sha256:".length)), blob.bytes);
  }

  const top = topBlob(artifact);
  const entry = {
    mediaType: top.mediaType,
    digest: top.digest,
    size: top.size,
    annotations: { "org.opencontainers.image.ref.name": tag },
  };
  await writeFile(join(dir, "oci-layout"), json({ imageLayoutVersion: "1.0.0" }));
  await writeFile(join(dir, "index.json"), json({ schemaVersion: 2, manifests: [entry] }));
}

function blobsOf(artifact: TestArtifact): Blob[] {
  if (artifact.kind === "index") {
    return [artifact.index, ...artifact.images.flatMap(blobsOf)];
  }
  return [artifact.manifest, artifact.config, ...artifact.layers];
}

function manifestOf(config: Blob, layers: readonly Blob[]): Blob {
  const descriptor = (blob: Blob) => ({
    mediaType: blob.mediaType,
    digest: blob.digest,
    size: blob.size,
  });
  return blobOf(
    OCI_MANIFEST,
    json({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: descriptor(config),
      layers: layers.map(descriptor),
    }),
  );
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

/**
 * Writes a POSIX ustar archive of regular files, with fixed owner, mode and time so equal input
 * gives equal bytes. Paths must fit the 100-byte name field.
 */
export function tarArchive(files: Readonly<Record<string, string>>): Buffer {
  const parts: Buffer[] = [];
  for (const [path, content] of Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const data = Buffer.from(content, "utf8");
    parts.push(tarHeader(path, data.length), data, Buffer.alloc(padding(data.length)));
  }
  // Two zero blocks end the archive.
  parts.push(Buffer.alloc(2 * TAR_BLOCK));
  return Buffer.concat(parts);
}

function tarHeader(path: string, size: number): Buffer {
  if (Buffer.byteLength(path) > 100) {
    throw new Error(`tar path "${path}" is longer than the 100-byte ustar name field`);
  }
  const header = Buffer.alloc(TAR_BLOCK);
  header.write(path, 0, "utf8");
  header.write(octal(0o644, 8), 100, "ascii"); // mode
  header.write(octal(0, 8), 108, "ascii"); // uid
  header.write(octal(0, 8), 116, "ascii"); // gid
  header.write(octal(size, 12), 124, "ascii");
  header.write(octal(0, 12), 136, "ascii"); // mtime
  header.write("0", 156, "ascii"); // typeflag: regular file
  header.write("ustar\u000000", 257, "ascii"); // magic and version

  // The checksum is summed with its own field read as eight spaces.
  header.write(" ".repeat(8), 148, "ascii");
  const sum = header.reduce((total, byte) => total + byte, 0);
  header.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, "ascii");
  return header;
}

/** Formats a number as zero-padded octal ending in NUL, filling a field of `width` bytes. */
function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\u0000`;
}

function padding(size: number): number {
  return (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;
}
