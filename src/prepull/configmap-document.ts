// One text document kept under one data key of a ConfigMap, updated by read-modify-write with
// optimistic concurrency. Every replace carries the resourceVersion it read. A 409 Conflict
// reads again and reapplies the change, so writers in several replicas lose no update.
import type { CoreV1Api, V1ConfigMap } from "@kubernetes/client-node";

import { ClusterRequestError } from "../inventory/cluster-errors.ts";
import { requestError, sleep, statusOf } from "./kube-api.ts";

/** Location of the document, and the retry limits of an update. */
export interface ConfigMapDocumentOptions {
  readonly api: CoreV1Api;
  readonly namespace: string;
  readonly name: string;
  /** The data key holding the document, such as "record.json". */
  readonly key: string;
  /** Labels set on the ConfigMap when it is created. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Attempts per update before it fails; default 10. */
  readonly maxAttempts?: number;
  /** First delay after a conflict, doubled per attempt with jitter; default 20 ms. */
  readonly initialBackoffMs?: number;
  /** Maximum delay between attempts; default 1000 ms. */
  readonly maxBackoffMs?: number;
}

/** The API server's limit on a ConfigMap's data (ValidateConfigMap: 1 MiB). */
export const MAX_CONFIGMAP_DATA_BYTES = 1024 * 1024;

const DEFAULT_MAX_ATTEMPTS = 10;
const DEFAULT_INITIAL_BACKOFF_MS = 20;
const DEFAULT_MAX_BACKOFF_MS = 1000;

/** A document in a ConfigMap, read and updated through the API server. */
export class ConfigMapDocument {
  constructor(private readonly options: ConfigMapDocumentOptions) {}

  /** "namespace/name", for messages. */
  get location(): string {
    return `ConfigMap ${this.options.namespace}/${this.options.name}`;
  }

  /** Returns the document, or undefined when the ConfigMap or its key does not exist. */
  async read(): Promise<string | undefined> {
    const current = await this.get();
    return current?.data?.[this.options.key];
  }

  /**
   * Applies `change` to the current document (undefined when there is none) and writes the
   * result, creating the ConfigMap when it is absent. On a conflict it reads again and calls
   * `change` again, so `change` must be a pure function of its argument. Returns the document
   * written. Throws ClusterRequestError when the API server rejects a request, or when
   * conflicts last for every attempt.
   */
  async update(change: (current: string | undefined) => string): Promise<string> {
    const maxAttempts = this.options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
      const current = await this.get();
      const text = change(current?.data?.[this.options.key]);
      this.checkSize(text);
      const written =
        current === undefined ? await this.create(text) : await this.replace(current, text);
      if (written) {
        return text;
      }
      if (attempt < maxAttempts) {
        await sleep(this.backoff(attempt));
      }
    }
    throw new ClusterRequestError(
      `failed to update ${this.location}: another writer changed it on each of ${maxAttempts} ` +
        "attempts; it is retried with the next change",
      409,
    );
  }

  private async get(): Promise<V1ConfigMap | undefined> {
    const { api, namespace, name } = this.options;
    try {
      return await api.readNamespacedConfigMap({ name, namespace });
    } catch (error: unknown) {
      if (statusOf(error) === 404) {
        return undefined;
      }
      throw requestError(`failed to read ${this.location}`, error);
    }
  }

  /** Creates the ConfigMap; returns false when another writer created it first. */
  private async create(text: string): Promise<boolean> {
    const { api, namespace, name, key, labels } = this.options;
    const body: V1ConfigMap = {
      metadata: { name, namespace, ...(labels === undefined ? {} : { labels: { ...labels } }) },
      data: { [key]: text },
    };
    try {
      await api.createNamespacedConfigMap({ namespace, body });
      return true;
    } catch (error: unknown) {
      if (statusOf(error) === 409) {
        return false;
      }
      throw requestError(`failed to create ${this.location}`, error);
    }
  }

  /** Replaces the document if the ConfigMap is unchanged since `current`; false on a conflict. */
  private async replace(current: V1ConfigMap, text: string): Promise<boolean> {
    const { api, namespace, name, key } = this.options;
    const body: V1ConfigMap = { ...current, data: { ...current.data, [key]: text } };
    try {
      await api.replaceNamespacedConfigMap({ name, namespace, body });
      return true;
    } catch (error: unknown) {
      if (statusOf(error) === 409) {
        return false;
      }
      throw requestError(`failed to update ${this.location}`, error);
    }
  }

  private checkSize(text: string): void {
    const bytes = Buffer.byteLength(text);
    if (bytes > MAX_CONFIGMAP_DATA_BYTES) {
      throw new ClusterRequestError(
        `cannot write ${this.location}: the document takes ${bytes} bytes, more than the ` +
          `${MAX_CONFIGMAP_DATA_BYTES} bytes a ConfigMap may hold`,
        undefined,
      );
    }
  }

  /** Returns a random delay of half to all of the doubled backoff, so racing writers spread out. */
  private backoff(attempt: number): number {
    const initial = this.options.initialBackoffMs ?? DEFAULT_INITIAL_BACKOFF_MS;
    const max = this.options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
    const ceiling = Math.min(max, initial * 2 ** (attempt - 1));
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }
}
