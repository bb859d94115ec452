// The image catalogue of the simulation: apps built on a few shared base stacks (an OS layer and
// runtime layers), each new tag sharing most layers with the previous one, and per-architecture
// layer digests as in multi-platform images. It also serves the manifests as a LayerSource.
import type { ImageReference } from "../../src/image/reference.ts";
import type { ImageManifestInfo, Layer, LayerSource } from "../../src/locality/layers.ts";
import { seededRandom } from "../hints/cluster.ts";
import { MB } from "./params.ts";

export type Arch = "amd64" | "arm64";

/** One tag of one repository, with its layers on each architecture it supports. */
export interface ImageVersion {
  /** repository:tag, as pods name it. */
  readonly name: string;
  readonly repository: string;
  /** Digest of the (index) manifest; nodes report repository@digest besides the tag. */
  readonly digest: string;
  readonly layers: ReadonlyMap<Arch, readonly Layer[]>;
}

/** Sum of the layer sizes of an image on an architecture (0 when unsupported). */
export function imageBytes(image: ImageVersion, arch: Arch): number {
  return (image.layers.get(arch) ?? []).reduce((sum, layer) => sum + layer.size, 0);
}

interface StackVersion {
  readonly layers: ReadonlyMap<Arch, readonly Layer[]>;
}

/** Creates random sha256 digests from a seeded generator. */
export function digestMaker(random: () => number): () => string {
  return () => {
    let hex = "";
    while (hex.length < 64) {
      hex += Math.floor(random() * 0xffffffff)
        .toString(16)
        .padStart(8, "0");
    }
    return `sha256:${hex.slice(0, 64)}`;
  };
}

const ARCHES: readonly Arch[] = ["amd64", "arm64"];

/** A layer of `size` bytes built for each architecture: same size, a different blob per arch. */
function archLayer(size: number, nextDigest: () => string): Map<Arch, Layer> {
  return new Map(ARCHES.map((arch) => [arch, { digest: nextDigest(), size }]));
}

/** The base stacks and every image built so far, by name. */
export class Catalog {
  readonly #random: () => number;
  readonly #digest: () => string;
  readonly #stackShapes: { os: number; runtime: number[] }[];
  readonly #stackVersions: StackVersion[][] = [];
  readonly #images = new Map<string, ImageVersion>();
  readonly #byDigest = new Map<string, ImageVersion>();

  constructor(stacks: number, seed: number) {
    this.#random = seededRandom(seed);
    this.#digest = digestMaker(this.#random);
    // OS layers of 3-80 MB (alpine to ubuntu) and 0-2 runtime layers of 30-200 MB (JDK,
    // Python, Node.js with their system packages).
    this.#stackShapes = Array.from({ length: stacks }, () => ({
      os: Math.round((3 + this.#random() * 77) * MB),
      runtime: Array.from({ length: Math.floor(this.#random() * 3) }, () =>
        Math.round((30 + this.#random() * 170) * MB),
      ),
    }));
  }

  get stackCount(): number {
    return this.#stackShapes.length;
  }

  /** Layers of version `version` of a stack; a new version rebuilds every layer. */
  stackLayers(stack: number, version: number): ReadonlyMap<Arch, readonly Layer[]> {
    const versions = (this.#stackVersions[stack] ??= []);
    while (versions.length <= version) {
      const shape = this.#stackShapes[stack];
      if (shape === undefined) {
        throw new Error(`stack ${stack} does not exist; expected 0-${this.stackCount - 1}`);
      }
      const parts = [shape.os, ...shape.runtime].map((size) => archLayer(size, this.#digest));
      versions.push({
        layers: new Map(ARCHES.map((arch) => [arch, parts.map((part) => part.get(arch)!)])),
      });
    }
    return versions[version]!.layers;
  }

  /** Creates a layer of `size` bytes per architecture. */
  newLayer(size: number): ReadonlyMap<Arch, readonly Layer[]> {
    return new Map([...archLayer(size, this.#digest)].map(([arch, layer]) => [arch, [layer]]));
  }

  /** Registers an image made of the given per-architecture layer lists. */
  addImage(
    repository: string,
    tag: string,
    parts: readonly ReadonlyMap<Arch, readonly Layer[]>[],
    arches: readonly Arch[],
  ): ImageVersion {
    const layers = new Map(
      arches.map((arch) => [arch, parts.flatMap((part) => part.get(arch) ?? [])]),
    );
    const image = { name: `${repository}:${tag}`, repository, digest: this.#digest(), layers };
    this.#images.set(image.name, image);
    this.#byDigest.set(image.digest, image);
    return image;
  }

  image(name: string): ImageVersion {
    const image = this.#images.get(name);
    if (image === undefined) {
      throw new Error(`image ${name} is not in the catalogue`);
    }
    return image;
  }

  /** Manifest data of every image, by tag and by digest, as a warm manifest cache holds it. */
  layerSource(): LayerSource {
    const cache = new Map<string, ImageManifestInfo>();
    const infoOf = (image: ImageVersion): ImageManifestInfo => ({
      status: "resolved",
      platforms: [...image.layers.keys()].map((architecture) => ({ os: "linux", architecture })),
      layersFor: (platform) =>
        platform.os === "linux" ? image.layers.get(platform.architecture as Arch) : undefined,
    });
    return {
      lookup: (reference: ImageReference) => {
        const name = `${reference.domain}/${reference.path}`;
        const key =
          reference.digest === undefined
            ? `${name}:${reference.tag ?? "latest"}`
            : reference.digest;
        let info = cache.get(key);
        if (info === undefined) {
          const image =
            reference.digest === undefined ? this.#images.get(key) : this.#byDigest.get(key);
          if (image === undefined) {
            return undefined;
          }
          info = infoOf(image);
          cache.set(key, info);
        }
        return info;
      },
    };
  }
}
