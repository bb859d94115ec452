// Inputs of the admission benchmark: the synthetic catalogue of bench/hints as a mirror would
// hold it, OCI manifests for it, node snapshots, the webhook configuration, and AdmissionReview
// bodies built from the real pod shapes in test/fixtures/cases/.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

import { parse as parseYaml } from "yaml";

import { parseImageReference } from "../../src/image/reference.ts";
import { loadCases } from "../../test/support/cases.ts";
import { buildCatalog, buildNodes, seededRandom, zipfPicker } from "../hints/cluster.ts";
import type { CatalogImage } from "../hints/cluster.ts";

const CATALOG_SIZE = 400;
const BASES = 8;
const IMAGES_PER_NODE = 50;
const SEED = 42;
/** Replaced by a fresh uid in every request the load generator sends. */
export const UID_PLACEHOLDER = "00000000-uid-placeholder-0000";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";

/** A catalogue image under its source name (in pods) and its mirror name (on nodes). */
export interface MirroredImage {
  readonly sourceName: string;
  readonly image: CatalogImage;
}

/** Everything the registry double serves: manifests by tag and digest, configs by digest. */
export interface RegistryContent {
  /** Keyed by "<repository path>:<tag>" and "<repository path>@<digest>". */
  readonly manifests: ReadonlyMap<string, { readonly digest: string; readonly body: Buffer }>;
  readonly blobs: ReadonlyMap<string, Buffer>;
}

/** The catalogue, its registry content and the node objects for one mirror host. */
export interface BenchCluster {
  readonly images: readonly MirroredImage[];
  readonly registry: RegistryContent;
  readonly nodes: readonly Record<string, unknown>[];
}

interface MirrorRule {
  readonly source: string;
  /** Mirror repository prefix, "<host>/<path>". */
  readonly prefix: string;
}

/**
 * Reads the R1 configuration and points its mirror prefixes at `mirrorHost` (the loopback
 * registry double), with manifest reads on over plain HTTP. Returns the YAML text to write.
 */
export function webhookConfig(basePath: string, mirrorHost: string): string {
  const config = parseYaml(readFileSync(basePath, "utf8")) as Record<string, unknown>;
  const mirror = config["mirror"] as { registries: Record<string, string> };
  for (const [host, prefix] of Object.entries(mirror.registries)) {
    mirror.registries[host] = `${mirrorHost}/${prefix.slice(prefix.indexOf("/") + 1)}`;
  }
  // At 5,000 nodes the first layer index build blocks the event loop for seconds, and a fetch it
  // scheduled counts that time against registry.timeoutMs (5 s by default) before it is sent.
  config["registry"] = { enabled: true, timeoutMs: 30_000 };
  config["registries"] = { [mirrorHost]: { plainHTTP: true } };
  return JSON.stringify(config, null, 2);
}

/** Returns the mirror rules of a configuration written by webhookConfig. */
export function mirrorRules(configText: string): MirrorRule[] {
  const config = JSON.parse(configText) as { mirror: { registries: Record<string, string> } };
  return Object.entries(config.mirror.registries).map(([source, prefix]) => ({ source, prefix }));
}

/**
 * Builds the catalogue of bench/hints (seed 42) with each image moved under a mirror prefix, as
 * nodes report images pulled through the mirror, then `nodeCount` nodes holding 50 images each.
 * Each image gets a real OCI manifest and config, so its digest is the manifest's sha256.
 */
export function buildBenchCluster(nodeCount: number, rules: readonly MirrorRule[]): BenchCluster {
  const random = seededRandom(SEED);
  const catalog = buildCatalog(CATALOG_SIZE, BASES, random);
  const manifests = new Map<string, { digest: string; body: Buffer }>();
  const blobs = new Map<string, Buffer>();

  const images = catalog.map((image, index) => {
    const rule = rules[index % rules.length] as MirrorRule;
    // "registry.example.com/team-3/app-7:v1" becomes "team-3/app-7" with tag "v1".
    const repository = image.name.slice(image.name.indexOf("/") + 1, image.name.lastIndexOf(":"));
    const mirrorPath = `${rule.prefix.slice(rule.prefix.indexOf("/") + 1)}/${repository}`;
    const mirrorHost = rule.prefix.slice(0, rule.prefix.indexOf("/"));

    const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux" }));
    const configDigest = sha256(config);
    blobs.set(configDigest, config);
    const body = Buffer.from(JSON.stringify(manifestOf(image, configDigest, config.length)));
    const digest = sha256(body);
    manifests.set(`${mirrorPath}:v1`, { digest, body });
    manifests.set(`${mirrorPath}@${digest}`, { digest, body });

    const mirrored: CatalogImage = { ...image, name: `${mirrorHost}/${mirrorPath}:v1`, digest };
    return { sourceName: `${rule.source}/${repository}:v1`, image: mirrored };
  });

  const nodes = buildNodes(
    nodeCount,
    IMAGES_PER_NODE,
    images.map((entry) => entry.image),
    random,
  );
  return { images, registry: { manifests, blobs }, nodes };
}

function manifestOf(image: CatalogImage, configDigest: string, configSize: number) {
  return {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: configDigest, size: configSize },
    layers: image.layers.map((layer) => ({
      mediaType: OCI_LAYER,
      digest: layer.digest,
      size: layer.size,
    })),
  };
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** An AdmissionReview body with UID_PLACEHOLDER where request.uid goes. */
export interface BodyTemplate {
  readonly caseId: string;
  readonly text: string;
}

// Namespaces the R1 configuration excludes; the webhook's namespaceSelector keeps their pods
// away, so the API server would not send them.
const EXCLUDED_NAMESPACES = new Set(["kube-system", "image-mirror-system"]);

/**
 * Builds `count` bodies from the admission cases whose object is a Pod, cycling through them.
 * Every valid container image is replaced by a catalogue image drawn by Zipf popularity (seed 7),
 * so the pods request images the nodes hold. Invalid image strings stay, because they exercise
 * the webhook's handling of them.
 */
export function buildBodyTemplates(
  images: readonly MirroredImage[],
  count: number,
): BodyTemplate[] {
  const podCases = loadCases("admission").filter((record) => {
    const request = record.input["request"] as Record<string, unknown> | undefined;
    const object = request?.["object"] as Record<string, unknown> | undefined;
    const namespace = request?.["namespace"];
    return object?.["kind"] === "Pod" && !EXCLUDED_NAMESPACES.has(String(namespace));
  });
  const pick = zipfPicker(images.length, seededRandom(7));

  return Array.from({ length: count }, (_, index) => {
    const record = podCases[index % podCases.length];
    if (record === undefined) {
      throw new Error("test/fixtures/cases/cases.jsonl has no Pod admission cases");
    }
    const review = structuredClone(record.input) as {
      request: { uid: string; object: { spec: Record<string, unknown> } };
    };
    review.request.uid = UID_PLACEHOLDER;
    for (const list of ["initContainers", "containers", "ephemeralContainers"]) {
      const containers = review.request.object.spec[list];
      for (const container of Array.isArray(containers) ? containers : []) {
        const entry = container as { image?: unknown };
        if (typeof entry.image === "string" && parseImageReference(entry.image).ok) {
          entry.image = images[pick()]?.sourceName;
        }
      }
    }
    return { caseId: record.id, text: JSON.stringify(review) };
  });
}
