// The object store behind the API-server double: objects by type, namespace and name, one
// resourceVersion counter shared by every type (as etcd's revision is), and the recent history
// of changes that watches replay when they resume from a resourceVersion.
import { randomBytes, randomUUID } from "node:crypto";

import {
  ApiFailure,
  qualifiedResource,
  type ResourceName,
  type ResourceType,
} from "./apiserver-resources.ts";

/** A Kubernetes object as stored: any JSON object with metadata. */
export type KubeObject = Record<string, unknown> & { metadata: Record<string, unknown> };

export type ChangeType = "ADDED" | "MODIFIED" | "DELETED";

/** One change, as watches replay it. */
export interface StoredChange {
  readonly resourceVersion: number;
  readonly resource: ResourceName;
  readonly type: ChangeType;
  /** The object after the change; for DELETED, the object as it was, at the deletion's version. */
  readonly object: KubeObject;
  /** The object before the change, so a watch with a selector can tell entering from leaving. */
  readonly previous?: KubeObject;
}

/** Preconditions of a DELETE, as in metav1.DeleteOptions. */
export interface DeletePreconditions {
  readonly uid?: string;
  readonly resourceVersion?: string;
}

/** Number of changes kept for resuming watches, unless the double's options set another. */
export const DEFAULT_HISTORY_LIMIT = 1000;

// The first resourceVersion handed out. Starting above 0 keeps "0", which means "any version"
// in list and watch requests, from ever naming a real state.
const FIRST_RESOURCE_VERSION = 100;

/** Objects and their change history. Every method copies, so callers never share state. */
export class ObjectStore {
  private revision = FIRST_RESOURCE_VERSION;
  private readonly objects = new Map<string, KubeObject>();
  private history: StoredChange[] = [];
  /** Changes after this version are in the history; a watch from an older one gets 410. */
  private compactedRevision = FIRST_RESOURCE_VERSION;
  private readonly listeners = new Set<(change: StoredChange) => void>();

  constructor(private readonly historyLimit = DEFAULT_HISTORY_LIMIT) {}

  /** The version of the latest change, which list responses report. */
  get resourceVersion(): number {
    return this.revision;
  }

  /** The oldest version a watch may resume from without a 410 Gone. */
  get oldestResumableVersion(): number {
    return this.compactedRevision;
  }

  /** Objects of one type, sorted by namespace and name; in one namespace when it is given. */
  list(type: ResourceType, namespace?: string): KubeObject[] {
    const prefix = namespace === undefined ? `${type.name}/` : `${type.name}/${namespace}/`;
    return [...this.objects.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => compareKeys(a, b))
      .map(([, object]) => structuredClone(object));
  }

  get(type: ResourceType, namespace: string | undefined, name: string): KubeObject {
    return structuredClone(this.require(type, namespace, name));
  }

  /** Stores a new object; a generateName gets five random characters appended. */
  create(type: ResourceType, namespace: string | undefined, body: KubeObject): KubeObject {
    const name = nameFor(body.metadata);
    if (name === undefined) {
      throw new ApiFailure("Invalid", `${type.kind} is invalid: metadata.name: Required value`);
    }
    checkNamespace(body, namespace);
    if (this.objects.has(keyOf(type, namespace, name))) {
      throw new ApiFailure("AlreadyExists", `${qualifiedResource(type)} "${name}" already exists`, {
        name,
        kind: type.name,
      });
    }

    const object = structuredClone(body);
    object.metadata = {
      ...object.metadata,
      name,
      ...(namespace === undefined ? {} : { namespace }),
      uid: randomUUID(),
      creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    };
    delete object.metadata["generateName"];
    if (namespace === undefined) {
      delete object.metadata["namespace"];
    }
    return this.commit(type, namespace, name, "ADDED", object, undefined);
  }

  /**
   * Replaces an object. When the body carries metadata.resourceVersion it must be the current
   * one, or the replace fails with 409 Conflict. Without it the update is unconditional, as the
   * API server allows for these types.
   */
  replace(type: ResourceType, namespace: string | undefined, name: string, body: KubeObject) {
    const current = this.require(type, namespace, name);
    if (body.metadata["name"] !== name) {
      throw new ApiFailure(
        "BadRequest",
        `the name of the object (${String(body.metadata["name"])}) does not match the name on the URL (${name})`,
      );
    }
    checkNamespace(body, namespace);
    const expected = body.metadata["resourceVersion"];
    if (expected !== undefined && expected !== current.metadata["resourceVersion"]) {
      throw conflict(type, name);
    }

    const object = structuredClone(body);
    object.metadata = {
      ...object.metadata,
      uid: current.metadata["uid"],
      creationTimestamp: current.metadata["creationTimestamp"],
    };
    return this.commit(type, namespace, name, "MODIFIED", object, current);
  }

  /** Removes an object; the returned copy carries the deletion's resourceVersion. */
  delete(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    preconditions: DeletePreconditions = {},
  ): KubeObject {
    const current = this.require(type, namespace, name);
    const { uid, resourceVersion } = preconditions;
    if (
      (uid !== undefined && uid !== current.metadata["uid"]) ||
      (resourceVersion !== undefined && resourceVersion !== current.metadata["resourceVersion"])
    ) {
      throw conflict(type, name);
    }
    return this.commit(type, namespace, name, "DELETED", structuredClone(current), current);
  }

  /** Changes after `version`, oldest first; throws ApiFailure 410 Expired when they are gone. */
  changesAfter(version: number): StoredChange[] {
    if (version < this.compactedRevision) {
      throw new ApiFailure(
        "Expired",
        `too old resource version: ${version} (${this.compactedRevision})`,
      );
    }
    return this.history.filter((change) => change.resourceVersion > version);
  }

  /** Forgets the whole history, as etcd compaction does: resuming from any earlier version fails. */
  compact(): void {
    this.history = [];
    this.compactedRevision = this.revision;
  }

  /** Calls `listener` after every change; returns the function that unsubscribes. */
  subscribe(listener: (change: StoredChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private require(type: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const object = this.objects.get(keyOf(type, namespace, name));
    if (object === undefined) {
      throw new ApiFailure("NotFound", `${qualifiedResource(type)} "${name}" not found`, {
        name,
        kind: type.name,
      });
    }
    return object;
  }

  private commit(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    changeType: ChangeType,
    object: KubeObject,
    previous: KubeObject | undefined,
  ): KubeObject {
    this.revision += 1;
    object.metadata = { ...object.metadata, resourceVersion: String(this.revision) };
    const key = keyOf(type, namespace, name);
    if (changeType === "DELETED") {
      this.objects.delete(key);
    } else {
      this.objects.set(key, object);
    }

    const change: StoredChange = {
      resourceVersion: this.revision,
      resource: type.name,
      type: changeType,
      object,
      ...(previous === undefined ? {} : { previous }),
    };
    this.remember(change);
    for (const listener of this.listeners) {
      listener(change);
    }
    return structuredClone(object);
  }

  private remember(change: StoredChange): void {
    this.history.push(change);
    const excess = this.history.length - this.historyLimit;
    if (excess > 0) {
      const dropped = this.history.splice(0, excess);
      this.compactedRevision = dropped.at(-1)?.resourceVersion ?? this.compactedRevision;
    }
  }
}

/** Returns the store key "TYPE/NAMESPACE/NAME", with an empty namespace for cluster-scoped objects. */
export function keyOf(type: ResourceType, namespace: string | undefined, name: string): string {
  return `${type.name}/${namespace ?? ""}/${name}`;
}

/** Orders keys by UTF-16 code units, the order in which list pages compare continue keys. */
function compareKeys(a: string, b: string): number {
  if (a < b) {
    return -1;
  }
  return a > b ? 1 : 0;
}

function nameFor(metadata: Record<string, unknown>): string | undefined {
  const name = metadata["name"];
  if (typeof name === "string" && name !== "") {
    return name;
  }
  const prefix = metadata["generateName"];
  if (typeof prefix === "string" && prefix !== "") {
    return `${prefix}${randomBytes(4).toString("hex").slice(0, 5)}`;
  }
  return undefined;
}

function checkNamespace(body: KubeObject, namespace: string | undefined): void {
  const given = body.metadata["namespace"];
  if (namespace !== undefined && given !== undefined && given !== namespace) {
    throw new ApiFailure(
      "BadRequest",
      "the namespace of the provided object does not match the namespace sent on the request",
    );
  }
}

function conflict(type: ResourceType, name: string): ApiFailure {
  return new ApiFailure(
    "Conflict",
    `Operation cannot be fulfilled on ${qualifiedResource(type)} "${name}": the object has been ` +
      "modified; please apply your changes to the latest version and try again",
    { name, kind: type.name },
  );
}
