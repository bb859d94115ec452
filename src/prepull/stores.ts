// Stores of the cold-image record: a ConfigMap in the webhook's namespace, shared by every
// replica and surviving restarts, or a JSON file for local runs. Both apply a change function to
// the stored entries, so concurrent flushes merge instead of overwriting each other.
import { randomBytes } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";

import type { CoreV1Api } from "@kubernetes/client-node";

import type { Logger } from "../logger.ts";
import { ConfigMapDocument } from "./configmap-document.ts";
import { decodeRecord, encodeRecord, type ColdImageEntry } from "./record.ts";
import { OBJECT_NAMES } from "./settings.ts";

/** A change to the record: the stored entries in, the entries to store out. Must be pure. */
export type RecordChange = (entries: readonly ColdImageEntry[]) => readonly ColdImageEntry[];

/** Storage of the record. */
export interface RecordStore {
  /** Names the store in logs and messages, such as "ConfigMap kube-image-cache/…". */
  readonly location: string;
  /** Returns the stored entries; none when nothing is stored yet. */
  read(): Promise<ColdImageEntry[]>;
  /** Applies `change` to the stored entries and stores the result; returns what was stored. */
  update(change: RecordChange): Promise<readonly ColdImageEntry[]>;
}

/** The data key of the record in its ConfigMap. */
export const RECORD_KEY = "record.json";

/** Labels of the ConfigMaps this module creates. */
export const RECORD_LABELS = {
  "app.kubernetes.io/name": "kube-image-cache",
  "app.kubernetes.io/component": "cold-image-record",
} as const;

/** Options of a ConfigMapRecordStore. */
export interface ConfigMapRecordStoreOptions {
  readonly api: CoreV1Api;
  /** The webhook's namespace. */
  readonly namespace: string;
  /** Default "kube-image-cache-cold-images". */
  readonly name?: string;
  readonly logger: Logger;
}

/** The record in a ConfigMap, updated with resourceVersion checks and retried on 409. */
export class ConfigMapRecordStore implements RecordStore {
  private readonly document: ConfigMapDocument;
  private readonly logger: Logger;

  constructor(options: ConfigMapRecordStoreOptions) {
    this.document = new ConfigMapDocument({
      api: options.api,
      namespace: options.namespace,
      name: options.name ?? OBJECT_NAMES.record,
      key: RECORD_KEY,
      labels: RECORD_LABELS,
    });
    this.logger = options.logger;
  }

  get location(): string {
    return this.document.location;
  }

  async read(): Promise<ColdImageEntry[]> {
    return this.decode(await this.document.read());
  }

  async update(change: RecordChange): Promise<readonly ColdImageEntry[]> {
    let stored: readonly ColdImageEntry[] = [];
    await this.document.update((text) => {
      stored = change(this.decode(text));
      return encodeRecord(stored);
    });
    return stored;
  }

  private decode(text: string | undefined): ColdImageEntry[] {
    return text === undefined ? [] : decodeLogged(text, this.location, this.logger);
  }
}

/**
 * The record in a JSON file, for local runs. Updates in this process run one at a time, and each
 * write goes to a temporary file renamed over the record, so a reader never sees half a file.
 * NOTE: two processes sharing the file can still lose each other's updates, because nothing
 * locks the file between the read and the rename.
 */
export class FileRecordStore implements RecordStore {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly path: string,
    private readonly logger: Logger,
  ) {}

  get location(): string {
    return `file ${this.path}`;
  }

  async read(): Promise<ColdImageEntry[]> {
    const text = await this.readText();
    return text === undefined ? [] : decodeLogged(text, this.location, this.logger);
  }

  update(change: RecordChange): Promise<readonly ColdImageEntry[]> {
    const run = this.queue.then(async () => {
      const stored = change(await this.read());
      await this.write(encodeRecord(stored));
      return stored;
    });
    // A failed update must not fail the ones queued after it.
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async readText(): Promise<string | undefined> {
    try {
      return await readFile(this.path, "utf8");
    } catch (error: unknown) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        return undefined;
      }
      throw new Error(`cannot read the cold-image record ${this.path}: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }

  private async write(text: string): Promise<void> {
    const temporary = `${this.path}.${randomBytes(4).toString("hex")}.tmp`;
    try {
      await writeFile(temporary, text, { mode: 0o644 });
      await rename(temporary, this.path);
    } catch (error: unknown) {
      await rm(temporary, { force: true });
      throw new Error(
        `cannot write the cold-image record ${this.path}: ${messageOf(error)}; check that its ` +
          "directory exists and is writable",
        { cause: error },
      );
    }
  }
}

/** Decodes a stored record, logging the entries it had to skip. */
function decodeLogged(text: string, location: string, logger: Logger): ColdImageEntry[] {
  const { entries, problems } = decodeRecord(text);
  if (problems.length > 0) {
    logger.warn({ location, problems }, "skipped unreadable entries of the cold-image record");
  }
  return entries;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
