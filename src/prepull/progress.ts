// The controller's memory of pulls: per recorded entry (image and namespace) and node, whether a
// pull runs, is done or failed, with the bytes each charges to its node's budget.

/** The state of one entry on one node. Times are milliseconds since the Unix epoch. */
export type NodeState =
  | {
      readonly kind: "running";
      readonly pod: string;
      readonly since: number;
      readonly bytes: number;
    }
  | { readonly kind: "done"; readonly at: number; readonly bytes: number }
  | {
      readonly kind: "failed";
      readonly at: number;
      readonly reason: string;
      /** True when every node would fail the same way, such as an image that does not exist. */
      readonly imageWide: boolean;
    };

/** Pull states by entry key ("namespace/image") and node name. */
export class PullProgress {
  readonly #states = new Map<string, Map<string, NodeState>>();
  readonly #images = new Map<string, string>();
  readonly #keysByImage = new Map<string, Set<string>>();

  /** Returns the state of an entry on a node, if any. */
  get(key: string, node: string): NodeState | undefined {
    return this.#states.get(key)?.get(node);
  }

  /** Returns every node state of an entry. */
  statesOf(key: string): ReadonlyMap<string, NodeState> {
    return this.#states.get(key) ?? new Map();
  }

  set(key: string, image: string, node: string, state: NodeState): void {
    let nodes = this.#states.get(key);
    if (nodes === undefined) {
      nodes = new Map();
      this.#states.set(key, nodes);
      this.#images.set(key, image);
      const keys = this.#keysByImage.get(image) ?? new Set();
      keys.add(key);
      this.#keysByImage.set(image, keys);
    }
    nodes.set(node, state);
  }

  delete(key: string, node: string): void {
    this.#states.get(key)?.delete(node);
  }

  /**
   * Returns "done" when any namespace's entry of the image is done on the node, else "running"
   * when one runs there.
   */
  imageStateOn(image: string, node: string): "done" | "running" | undefined {
    let running = false;
    for (const key of this.#keysByImage.get(image) ?? []) {
      const state = this.get(key, node);
      if (state?.kind === "done") {
        return "done";
      }
      running ||= state?.kind === "running";
    }
    return running ? "running" : undefined;
  }

  /** Counts the pulls running on one node, or in the whole cluster without `node`. */
  running(node?: string): number {
    let count = 0;
    for (const nodes of this.#states.values()) {
      for (const [name, state] of nodes) {
        if (state.kind === "running" && (node === undefined || name === node)) {
          count += 1;
        }
      }
    }
    return count;
  }

  /** Returns the bytes charged to each node: its done and running pulls. */
  bytesByNode(): Map<string, number> {
    const bytes = new Map<string, number>();
    for (const nodes of this.#states.values()) {
      for (const [node, state] of nodes) {
        if (state.kind !== "failed") {
          bytes.set(node, (bytes.get(node) ?? 0) + state.bytes);
        }
      }
    }
    return bytes;
  }

  /** Lists the running pulls as [key, node, state], to match them with the pods that exist. */
  runningPulls(): [string, string, NodeState & { kind: "running" }][] {
    const pulls: [string, string, NodeState & { kind: "running" }][] = [];
    for (const [key, nodes] of this.#states) {
      for (const [node, state] of nodes) {
        if (state.kind === "running") {
          pulls.push([key, node, state]);
        }
      }
    }
    return pulls;
  }

  /**
   * Forgets entries no longer recorded and nodes no longer in the cluster, so their bytes leave
   * the budgets: the kubelet's image garbage collection removes unused images first.
   */
  retain(keys: ReadonlySet<string>, nodes: ReadonlySet<string>): void {
    for (const [key, states] of this.#states) {
      if (!keys.has(key)) {
        this.#forget(key);
        continue;
      }
      for (const node of states.keys()) {
        if (!nodes.has(node)) {
          states.delete(node);
        }
      }
    }
  }

  #forget(key: string): void {
    const image = this.#images.get(key);
    this.#states.delete(key);
    this.#images.delete(key);
    if (image !== undefined) {
      const keys = this.#keysByImage.get(image);
      keys?.delete(key);
      if (keys?.size === 0) {
        this.#keysByImage.delete(image);
      }
    }
  }
}
