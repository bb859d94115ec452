// The sinks of listed and watched objects: nodes go into the image index, pods into the node
// load. Each keeps only its own summary of an object, never the object.
import type { NodeLoad } from "../locality/load.ts";
import type { Logger } from "../logger.ts";
import { field, stringField } from "../object-fields.ts";
import type { NodeIndex } from "./inventory.ts";
import type { ChangeType, ResourceSink } from "./list-watch.ts";
import { readPodLoad, type PodLoad } from "./pod-requests.ts";

/** Keeps a NodeIndex equal to the listed and watched nodes. */
export class NodeSink implements ResourceSink {
  private listed: Set<string> | undefined;

  constructor(
    private readonly index: NodeIndex,
    private readonly logger: Logger,
  ) {}

  /**
   * Starts a relist. Listed nodes replace their entries as each page arrives, so readers see
   * every node either as it was or as listed, never a half-built index.
   */
  beginList(): void {
    this.listed = new Set();
  }

  addListed(node: unknown): void {
    const name = nodeName(node);
    if (name !== undefined) {
      this.listed?.add(name);
    }
    this.upsert(node);
  }

  /** Removes the nodes that the new list no longer contains, such as those deleted meanwhile. */
  commitList(): void {
    const listed = this.listed ?? new Set<string>();
    for (const node of this.index.nodes) {
      if (!listed.has(node.name)) {
        this.index.remove(node.name);
      }
    }
    this.listed = undefined;
  }

  apply(type: ChangeType, node: unknown): void {
    if (type !== "DELETED") {
      this.upsert(node);
      return;
    }
    const name = nodeName(node);
    if (name !== undefined) {
      this.index.remove(name);
    }
  }

  private upsert(node: unknown): void {
    const problems = this.index.upsert(node);
    if (problems.length > 0) {
      this.logger.debug({ node: nodeName(node), problems }, "skipped unreadable parts of a node");
    }
  }
}

/** Keeps a NodeLoad equal to the requests of the listed and watched pods. */
export class PodSink implements ResourceSink {
  private listed: PodLoad[] | undefined;

  constructor(private readonly load: NodeLoad) {}

  /** Starts a relist; the load keeps its old pods until the whole list is in. */
  beginList(): void {
    this.listed = [];
  }

  addListed(pod: unknown): void {
    const record = readPodLoad(pod);
    if (record !== undefined) {
      this.listed?.push(record);
    }
  }

  commitList(): void {
    // Finished pods no longer count; the rest replace the old set in one step.
    this.load.replacePods((this.listed ?? []).filter((record) => !record.finished));
    this.listed = undefined;
  }

  apply(type: ChangeType, pod: unknown): void {
    const record = readPodLoad(pod);
    if (record === undefined) {
      return;
    }
    if (type === "DELETED") {
      this.load.deletePod(record.uid);
    } else {
      this.record(record);
    }
  }

  /** A finished pod no longer counts against its node, even before the watch reports it gone. */
  private record(record: PodLoad): void {
    if (record.finished) {
      this.load.deletePod(record.uid);
    } else {
      this.load.setPod(record.uid, record.node, record.requests);
    }
  }
}

function nodeName(node: unknown): string | undefined {
  const name = stringField(field(node, "metadata"), "name");
  return name === "" ? undefined : name;
}
