// Manifest documents: the four media types we read, and parsing of indexes (multi-platform lists)
// and image manifests (config and layers) into plain values.
import type { Layer, Platform } from "../locality/layers.ts";
import { isDigest } from "./digest.ts";
import { CorruptManifestError, UnsupportedMediaTypeError, type RequestSubject } from "./errors.ts";
import { readPlatform } from "./platform.ts";

export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";

/** Config media types of container images, OCI and Docker; other configs are artifacts. */
export const IMAGE_CONFIG_TYPES: readonly string[] = [
  "application/vnd.oci.image.config.v1+json",
  "application/vnd.docker.container.image.v1+json",
];

const INDEX_TYPES: readonly string[] = [OCI_INDEX, DOCKER_MANIFEST_LIST];
const MANIFEST_TYPES: readonly string[] = [OCI_MANIFEST, DOCKER_MANIFEST];

/** The Accept header of manifest requests: every type this module parses, and no others. */
export const MANIFEST_ACCEPT = [
  OCI_INDEX,
  OCI_MANIFEST,
  DOCKER_MANIFEST_LIST,
  DOCKER_MANIFEST,
].join(", ");

// BuildKit stores provenance and SBOM attestations as extra index entries with this annotation
// and the platform unknown/unknown (Docker build docs, "Image attestation storage"). No node
// runs them.
const REFERENCE_TYPE_ANNOTATION = "vnd.docker.reference.type";
const ATTESTATION_REFERENCE_TYPE = "attestation-manifest";

/** A content descriptor: what a manifest or index points to. */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
}

/** One runnable entry of an index; `platform` is absent when the index does not name it. */
export interface IndexEntry extends Descriptor {
  readonly platform?: Platform;
}

/** A parsed manifest document. */
export type ManifestDocument =
  | {
      readonly kind: "index";
      readonly mediaType: string;
      /** Image manifest entries; attestations and nested indexes are left out. */
      readonly entries: readonly IndexEntry[];
    }
  | {
      readonly kind: "manifest";
      readonly mediaType: string;
      readonly config: Descriptor;
      readonly layers: readonly Layer[];
    };

/**
 * Parses manifest bytes as an index or an image manifest. The type comes from the document's
 * `mediaType`, else from the Content-Type header, else from its fields. Throws
 * CorruptManifestError for invalid JSON or fields, and UnsupportedMediaTypeError for other types
 * (Docker schema 1, artifacts).
 */
export function parseManifest(
  bytes: Uint8Array,
  contentType: string | undefined,
  subject: RequestSubject,
): ManifestDocument {
  const document = parseJsonObject(bytes, subject);
  const mediaType = documentMediaType(document, contentType, subject);

  if (INDEX_TYPES.includes(mediaType)) {
    return { kind: "index", mediaType, entries: readEntries(document, subject) };
  }
  if (MANIFEST_TYPES.includes(mediaType)) {
    return {
      kind: "manifest",
      mediaType,
      config: readDescriptor(document["config"], "config", subject),
      layers: readLayers(document, subject),
    };
  }
  throw new UnsupportedMediaTypeError(
    subject,
    `media type "${mediaType}"; expected one of ${MANIFEST_ACCEPT}`,
  );
}

/** Parses bytes as one JSON object, or throws CorruptManifestError naming what it got. */
export function parseJsonObject(
  bytes: Uint8Array,
  subject: RequestSubject,
): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (error: unknown) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CorruptManifestError(subject, `not valid JSON (${reason})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CorruptManifestError(subject, "not a JSON object");
  }
  return value as Record<string, unknown>;
}

/**
 * Decides the document's media type. Since OCI distribution spec 1.0.1 (the fix of
 * CVE-2021-41190) a `mediaType` in the document must equal the Content-Type, and a document
 * without one that has both `manifests` and `layers` or `config` is ambiguous, so both are
 * rejected instead of guessed.
 */
function documentMediaType(
  document: Record<string, unknown>,
  contentType: string | undefined,
  subject: RequestSubject,
): string {
  const schemaVersion = document["schemaVersion"];
  if (schemaVersion !== 2) {
    throw new UnsupportedMediaTypeError(
      subject,
      `schemaVersion ${JSON.stringify(schemaVersion)}; only schema version 2 manifests are read (Docker schema 1 was retired)`,
    );
  }

  const declared = document["mediaType"];
  const header = contentType?.split(";")[0]?.trim().toLowerCase();
  if (declared !== undefined && typeof declared !== "string") {
    throw new CorruptManifestError(subject, "mediaType is not a string");
  }
  if (declared !== undefined && header !== undefined && header !== "" && declared !== header) {
    throw new CorruptManifestError(
      subject,
      `mediaType "${declared}" differs from Content-Type "${header}"`,
    );
  }
  if (declared !== undefined) {
    return declared;
  }
  return inferMediaType(document, header, subject);
}

/** Types a document without `mediaType` (optional in OCI manifests before image spec 1.1). */
function inferMediaType(
  document: Record<string, unknown>,
  header: string | undefined,
  subject: RequestSubject,
): string {
  const hasManifests = document["manifests"] !== undefined;
  const hasImageFields = document["layers"] !== undefined || document["config"] !== undefined;
  if (hasManifests && hasImageFields) {
    throw new CorruptManifestError(
      subject,
      "document has both manifests and layers or config, so it is neither an index nor a manifest",
    );
  }
  if (header !== undefined && header !== "" && header !== "application/json") {
    return header;
  }
  return hasManifests ? OCI_INDEX : OCI_MANIFEST;
}

function readEntries(document: Record<string, unknown>, subject: RequestSubject): IndexEntry[] {
  const manifests = document["manifests"];
  if (!Array.isArray(manifests)) {
    throw new CorruptManifestError(subject, "index has no manifests array");
  }

  const entries: IndexEntry[] = [];
  for (const [position, value] of manifests.entries()) {
    const descriptor = readDescriptor(value, `manifests[${position}]`, subject);
    if (!MANIFEST_TYPES.includes(descriptor.mediaType) || isAttestation(value)) {
      continue;
    }
    const platform = readPlatform((value as Record<string, unknown>)["platform"]);
    entries.push(platform === undefined ? descriptor : { ...descriptor, platform });
  }
  return entries;
}

function isAttestation(entry: unknown): boolean {
  const { annotations, platform } = entry as Record<string, unknown>;
  if (typeof annotations === "object" && annotations !== null) {
    const type = (annotations as Record<string, unknown>)[REFERENCE_TYPE_ANNOTATION];
    if (type === ATTESTATION_REFERENCE_TYPE) {
      return true;
    }
  }
  const parsed = readPlatform(platform);
  return parsed?.os === "unknown" && parsed.architecture === "unknown";
}

function readLayers(document: Record<string, unknown>, subject: RequestSubject): Layer[] {
  const layers = document["layers"];
  if (!Array.isArray(layers)) {
    throw new CorruptManifestError(subject, "manifest has no layers array");
  }
  return layers.map((value, position) => {
    const { digest, size } = readDescriptor(value, `layers[${position}]`, subject);
    return { digest, size };
  });
}

function readDescriptor(value: unknown, field: string, subject: RequestSubject): Descriptor {
  if (typeof value !== "object" || value === null) {
    throw new CorruptManifestError(subject, `${field} is not a descriptor object`);
  }
  const { mediaType, digest, size } = value as Record<string, unknown>;
  if (typeof mediaType !== "string" || mediaType === "") {
    throw new CorruptManifestError(subject, `${field}.mediaType is missing`);
  }
  if (!isDigest(digest)) {
    throw new CorruptManifestError(
      subject,
      `${field}.digest ${JSON.stringify(digest)} is not a sha256 or sha512 digest`,
    );
  }
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    throw new CorruptManifestError(
      subject,
      `${field}.size ${JSON.stringify(size)} is not a byte count`,
    );
  }
  return { mediaType, digest, size };
}
