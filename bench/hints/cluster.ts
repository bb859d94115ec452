// A synthetic cluster for the hint benchmark: images built from a few shared bases, Zipf
// popularity, and nodes each reporting the images they hold, as kubelets do.
import type { ImageReference } from "../../src/image/reference.ts";
import type { ImageManifestInfo, Layer, LayerSource } from "../../src/locality/layers.ts";

export interface CatalogImage {
  readonly name: string;
  readonly digest: string;
  readonly layers: readonly Layer[];
  readonly sizeBytes: number;
}

/** A seeded PRNG (mulberry32), so every run builds the same cluster. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hexDigest(random: () => number): string {
  let hex = "";
  while (hex.length < 64) {
    hex += Math.floor(random() * 0xffffffff)
      .toString(16)
      .padStart(8, "0");
  }
  return `sha256:${hex.slice(0, 64)}`;
}

/** Images: each on one of `bases` base stacks (3 layers) plus 2-5 layers of its own. */
export function buildCatalog(count: number, bases: number, random: () => number): CatalogImage[] {
  const baseStacks = Array.from({ length: bases }, () =>
    Array.from({ length: 3 }, () => ({
      digest: hexDigest(random),
      size: Math.round((10 + random() * 60) * 1e6),
    })),
  );
  return Array.from({ length: count }, (_, index) => {
    const base = baseStacks[index % bases] ?? [];
    const own = Array.from({ length: 2 + Math.floor(random() * 4) }, () => ({
      digest: hexDigest(random),
      size: Math.round((1 + random() * 80) * 1e6),
    }));
    const layers = [...base, ...own];
    return {
      name: `registry.example.com/team-${index % 20}/app-${index}:v1`,
      digest: hexDigest(random),
      layers,
      sizeBytes: layers.reduce((sum, layer) => sum + layer.size, 0),
    };
  });
}

/** Picks an index with Zipf(s = 1) popularity over n items. */
export function zipfPicker(n: number, random: () => number): () => number {
  const weights = Array.from({ length: n }, (_, rank) => 1 / (rank + 1));
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  const cumulative: number[] = [];
  let running = 0;
  for (const weight of weights) {
    running += weight / total;
    cumulative.push(running);
  }
  return () => {
    const target = random();
    let low = 0;
    let high = n - 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((cumulative[middle] ?? 1) < target) {
        low = middle + 1;
      } else {
        high = middle;
      }
    }
    return low;
  };
}

/** Node objects, each reporting `perNode` distinct images drawn by popularity. */
export function buildNodes(
  count: number,
  perNode: number,
  catalog: readonly CatalogImage[],
  random: () => number,
): Record<string, unknown>[] {
  const pick = zipfPicker(catalog.length, random);
  return Array.from({ length: count }, (_, index) => {
    const held = new Set<number>();
    while (held.size < Math.min(perNode, catalog.length)) {
      held.add(pick());
    }
    const images = [...held].map((imageIndex) => {
      const image = catalog[imageIndex] as CatalogImage;
      const repository = image.name.slice(0, image.name.lastIndexOf(":"));
      return { names: [`${repository}@${image.digest}`, image.name], sizeBytes: image.sizeBytes };
    });
    return {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name: `node-${index}`,
        labels: { "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64" },
      },
      spec: {},
      status: {
        nodeInfo: { operatingSystem: "linux", architecture: "amd64" },
        allocatable: { cpu: "8", memory: "32Gi" },
        images,
      },
    };
  });
}

/** Manifest data for every catalog image, as a warm manifest cache would hold it. */
export function catalogLayerSource(catalog: readonly CatalogImage[]): LayerSource {
  const byKey = new Map<string, ImageManifestInfo>();
  for (const image of catalog) {
    const info: ImageManifestInfo = {
      status: "resolved",
      platforms: [{ os: "linux", architecture: "amd64" }],
      layersFor: (platform) => (platform.architecture === "amd64" ? image.layers : undefined),
    };
    const repository = image.name.slice(0, image.name.lastIndexOf(":"));
    byKey.set(image.name, info);
    byKey.set(`${repository}@${image.digest}`, info);
  }
  return {
    lookup(reference: ImageReference) {
      const name = `${reference.domain}/${reference.path}`;
      const key =
        reference.digest === undefined
          ? `${name}:${reference.tag ?? "latest"}`
          : `${name}@${reference.digest}`;
      return byKey.get(key);
    },
  };
}
