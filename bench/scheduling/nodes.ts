// Simulated nodes: requested resources and pods for the scheduler, and an image store with the
// kubelet's behaviour. Layers shared between images are stored once, a pull downloads only the
// layers the node lacks, and image garbage collection frees least recently used images.
import type { Arch, ImageVersion } from "./catalog.ts";
import { GIB, type SimulationParams } from "./params.ts";
import type { NodeSpec } from "./workload.ts";

interface StoredImage {
  readonly image: ImageVersion;
  readonly bytes: number;
  /** When the kubelet first saw the image, in seconds; GC spares younger images. */
  readonly firstSeen: number;
  lastUsed: number;
  /** Running containers using the image; GC never removes an image in use. */
  inUse: number;
}

export class SimNode {
  readonly name: string;
  readonly zone: string;
  readonly arch: Arch;
  readonly gpu: boolean;
  readonly cpuMillis: number;
  readonly memoryBytes: number;
  readonly maxPods: number;
  readonly diskBytes: number;
  requestedCpu = 0;
  requestedMemory = 0;
  pods = 0;
  /** Pods per app label, for topology spreading. */
  readonly appPods = new Map<string, number>();
  readonly #layers = new Map<string, { size: number; refs: number }>();
  readonly #images = new Map<string, StoredImage>();
  #usedBytes = 0;
  /** True when the image list changed since the last status sync. */
  imagesChanged = true;
  /** Image names in the last synced node status, as the scheduler and the webhook see them. */
  reported: ReadonlySet<string> = new Set();
  /** Reported size of each reported name. */
  reportedSizes: ReadonlyMap<string, number> = new Map();

  constructor(spec: NodeSpec, params: SimulationParams) {
    this.name = spec.name;
    this.zone = spec.zone;
    this.arch = spec.arch;
    this.gpu = spec.gpu;
    this.cpuMillis = params.nodes.cpuMillis;
    this.memoryBytes = params.nodes.memoryGiB * GIB;
    this.maxPods = params.nodes.maxPods;
    this.diskBytes = params.nodes.imageDiskGiB * GIB;
  }

  get usedBytes(): number {
    return this.#usedBytes;
  }

  hasImage(name: string): boolean {
    return this.#images.has(name);
  }

  /** Bytes a pull of the image would download now: its layers the node lacks. */
  missingBytes(image: ImageVersion): number {
    let bytes = 0;
    for (const layer of image.layers.get(this.arch) ?? []) {
      bytes += this.#layers.has(layer.digest) ? 0 : layer.size;
    }
    return bytes;
  }

  /** Pulls an image (if absent) and returns the bytes downloaded. */
  pull(image: ImageVersion, now: number): number {
    const stored = this.#images.get(image.name);
    if (stored !== undefined) {
      stored.lastUsed = now;
      return 0;
    }
    const layers = image.layers.get(this.arch) ?? [];
    let downloaded = 0;
    for (const layer of layers) {
      const held = this.#layers.get(layer.digest);
      if (held === undefined) {
        this.#layers.set(layer.digest, { size: layer.size, refs: 1 });
        this.#usedBytes += layer.size;
        downloaded += layer.size;
      } else {
        held.refs += 1;
      }
    }
    const bytes = layers.reduce((sum, layer) => sum + layer.size, 0);
    this.#images.set(image.name, { image, bytes, firstSeen: now, lastUsed: now, inUse: 0 });
    this.imagesChanged = true;
    return downloaded;
  }

  /** Marks a container start (use) or stop (release) of an image on this node. */
  use(name: string, now: number, delta: 1 | -1): void {
    const stored = this.#images.get(name);
    if (stored !== undefined) {
      stored.inUse += delta;
      stored.lastUsed = now;
    }
  }

  /**
   * The kubelet's image GC: above the high threshold, removes unused images older than the
   * minimum age, least recently used first, until usage is below the low threshold.
   */
  collectGarbage(now: number, kubelet: SimulationParams["kubelet"]): number {
    if (this.#usedBytes <= (this.diskBytes * kubelet.gcHighPercent) / 100) {
      return 0;
    }
    const goal = (this.diskBytes * kubelet.gcLowPercent) / 100;
    const candidates = [...this.#images.values()]
      .filter(
        (stored) => stored.inUse === 0 && now - stored.firstSeen >= kubelet.imageMinAgeSeconds,
      )
      .sort((left, right) => left.lastUsed - right.lastUsed);
    let freed = 0;
    for (const stored of candidates) {
      if (this.#usedBytes <= goal) {
        break;
      }
      freed += this.#remove(stored);
    }
    return freed;
  }

  #remove(stored: StoredImage): number {
    this.#images.delete(stored.image.name);
    this.imagesChanged = true;
    let freed = 0;
    for (const layer of stored.image.layers.get(this.arch) ?? []) {
      const held = this.#layers.get(layer.digest);
      if (held !== undefined && (held.refs -= 1) === 0) {
        this.#layers.delete(layer.digest);
        this.#usedBytes -= held.size;
        freed += held.size;
      }
    }
    return freed;
  }

  /**
   * The Node object as the API server holds it after a status sync. The kubelet lists the
   * largest images first and at most maxReportedImages of them (nodeStatusMaxImages).
   */
  syncStatus(maxReported: number): Record<string, unknown> {
    const listed = [...this.#images.values()]
      .sort((left, right) => right.bytes - left.bytes)
      .slice(0, maxReported);
    this.reported = new Set(listed.map((stored) => stored.image.name));
    this.reportedSizes = new Map(listed.map((stored) => [stored.image.name, stored.bytes]));
    this.imagesChanged = false;
    return {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: this.name, labels: this.labels() },
      spec: this.gpu
        ? { taints: [{ key: "nvidia.com/gpu", value: "present", effect: "NoSchedule" }] }
        : {},
      status: {
        nodeInfo: { operatingSystem: "linux", architecture: this.arch },
        allocatable: {
          cpu: `${this.cpuMillis}m`,
          memory: String(this.memoryBytes),
          pods: String(this.maxPods),
        },
        images: listed.map((stored) => ({
          names: [`${stored.image.repository}@${stored.image.digest}`, stored.image.name],
          sizeBytes: stored.bytes,
        })),
      },
    };
  }

  labels(): Record<string, string> {
    return {
      "kubernetes.io/hostname": this.name,
      "kubernetes.io/os": "linux",
      "kubernetes.io/arch": this.arch,
      "topology.kubernetes.io/zone": this.zone,
      ...(this.gpu ? { "nvidia.com/gpu.present": "true" } : {}),
    };
  }
}
