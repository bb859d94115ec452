// The cold-image record: one entry per image and namespace, how entries merge, which entries
// the bounds evict, and the JSON document the stores keep. Pure; the stores and the recorder
// do the I/O.
import { field } from "../object-fields.ts";

/** One image seen cold in one namespace. Times are milliseconds since the Unix epoch. */
export interface ColdImageEntry {
  /** The reference as pulled: the mirror reference when the webhook rewrote it. */
  readonly image: string;
  readonly namespace: string;
  /** Names of the pods' imagePullSecrets; the secrets themselves are never read. */
  readonly pullSecrets: readonly string[];
  readonly firstSeen: number;
  readonly lastSeen: number;
  /** Admissions that found the image cold. */
  readonly count: number;
}

/** Limits of the record. */
export interface RecordBounds {
  readonly maxEntries: number;
  readonly ttlSeconds: number;
  /** Most bytes of the encoded entries; defaults to MAX_RECORD_BYTES. */
  readonly maxBytes?: number;
}

/** The entries kept after eviction, and how many were evicted for each reason. */
export interface Eviction {
  readonly kept: ColdImageEntry[];
  readonly expired: number;
  readonly overflow: number;
}

/** A decoded record and the entries that could not be read, each with the reason. */
export interface DecodedRecord {
  readonly entries: ColdImageEntry[];
  readonly problems: string[];
}

/**
 * Bytes the encoded entries may take. The API server rejects a ConfigMap whose data exceeds
 * 1 MiB (validation of ConfigMap, MaxSecretSize), so this leaves room for the document's frame.
 */
export const MAX_RECORD_BYTES = 900 * 1024;

// Kubernetes does not bound imagePullSecrets; the record keeps this many names per entry, the
// most recently seen first.
const MAX_PULL_SECRETS = 16;

const RECORD_VERSION = 1;

/** Returns the key that identifies an entry: its namespace and image. */
export function entryKey(entry: Pick<ColdImageEntry, "image" | "namespace">): string {
  return `${entry.namespace}/${entry.image}`;
}

/**
 * Merges two entries of the same image and namespace: first seen is the earlier, last seen
 * the later, counts add up, and pull-secret names are unioned with the later entry's first.
 */
export function mergeEntry(stored: ColdImageEntry, update: ColdImageEntry): ColdImageEntry {
  const newerFirst =
    update.lastSeen >= stored.lastSeen
      ? [...update.pullSecrets, ...stored.pullSecrets]
      : [...stored.pullSecrets, ...update.pullSecrets];
  return {
    image: stored.image,
    namespace: stored.namespace,
    pullSecrets: [...new Set(newerFirst)].slice(0, MAX_PULL_SECRETS),
    firstSeen: Math.min(stored.firstSeen, update.firstSeen),
    lastSeen: Math.max(stored.lastSeen, update.lastSeen),
    count: stored.count + update.count,
  };
}

/** Adds a batch of entries to the stored ones; each batch count is a delta added once. */
export function mergeEntries(
  stored: readonly ColdImageEntry[],
  batch: readonly ColdImageEntry[],
): ColdImageEntry[] {
  const merged = new Map<string, ColdImageEntry>();
  for (const entry of [...stored, ...batch]) {
    const key = entryKey(entry);
    const existing = merged.get(key);
    merged.set(key, existing === undefined ? normalise(entry) : mergeEntry(existing, entry));
  }
  return [...merged.values()];
}

/**
 * Evicts entries not seen within ttlSeconds before `now`, then the least recently seen until
 * at most maxEntries remain and their encoding fits maxBytes. The kept entries are ordered
 * most recently seen first.
 */
export function evictEntries(
  entries: readonly ColdImageEntry[],
  bounds: RecordBounds,
  now: number,
): Eviction {
  const oldestKept = now - bounds.ttlSeconds * 1000;
  const live = entries.filter((entry) => entry.lastSeen > oldestKept);
  const byRecency = [...live].sort(compareRecency);

  const maxBytes = bounds.maxBytes ?? MAX_RECORD_BYTES;
  const kept: ColdImageEntry[] = [];
  let bytes = 0;
  for (const entry of byRecency) {
    const size = JSON.stringify(toJson(entry)).length + 1;
    if (kept.length >= bounds.maxEntries || bytes + size > maxBytes) {
      break;
    }
    kept.push(entry);
    bytes += size;
  }
  return {
    kept,
    expired: entries.length - live.length,
    overflow: live.length - kept.length,
  };
}

/** Encodes entries as the record document, one entry per line so diffs stay readable. */
export function encodeRecord(entries: readonly ColdImageEntry[]): string {
  const lines = entries.map((entry) => JSON.stringify(toJson(entry)));
  const body = lines.length === 0 ? "" : `\n  ${lines.join(",\n  ")}\n`;
  return `{"version":${RECORD_VERSION},"entries":[${body}]}\n`;
}

/**
 * Decodes a record document. Entries that cannot be read are skipped and listed in `problems`.
 * A document that is not a record at all yields no entries and one problem.
 */
export function decodeRecord(text: string): DecodedRecord {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error: unknown) {
    return { entries: [], problems: [`not valid JSON: ${messageOf(error)}`] };
  }
  const version = field(document, "version");
  const rawEntries = field(document, "entries");
  if (version !== RECORD_VERSION || !Array.isArray(rawEntries)) {
    return {
      entries: [],
      problems: [
        `expected {"version":${RECORD_VERSION},"entries":[...]}, got version ${String(version)}`,
      ],
    };
  }

  const entries: ColdImageEntry[] = [];
  const problems: string[] = [];
  rawEntries.forEach((raw: unknown, index) => {
    const entry = fromJson(raw);
    if (entry === undefined) {
      problems.push(`entries[${index}]: not a valid entry, skipped: ${JSON.stringify(raw)}`);
    } else {
      entries.push(entry);
    }
  });
  return { entries: mergeEntries([], entries), problems };
}

/** Orders entries most recently seen first, then by key, so eviction is deterministic. */
function compareRecency(a: ColdImageEntry, b: ColdImageEntry): number {
  if (a.lastSeen !== b.lastSeen) {
    return b.lastSeen - a.lastSeen;
  }
  return entryKey(a) < entryKey(b) ? -1 : 1;
}

function normalise(entry: ColdImageEntry): ColdImageEntry {
  return { ...entry, pullSecrets: [...new Set(entry.pullSecrets)].slice(0, MAX_PULL_SECRETS) };
}

interface EntryJson {
  image: string;
  namespace: string;
  pullSecrets: string[];
  firstSeen: string;
  lastSeen: string;
  count: number;
}

function toJson(entry: ColdImageEntry): EntryJson {
  return {
    image: entry.image,
    namespace: entry.namespace,
    pullSecrets: [...entry.pullSecrets],
    firstSeen: new Date(entry.firstSeen).toISOString(),
    lastSeen: new Date(entry.lastSeen).toISOString(),
    count: entry.count,
  };
}

function fromJson(raw: unknown): ColdImageEntry | undefined {
  const image = field(raw, "image");
  const namespace = field(raw, "namespace");
  const pullSecrets = field(raw, "pullSecrets");
  const firstSeen = Date.parse(String(field(raw, "firstSeen")));
  const lastSeen = Date.parse(String(field(raw, "lastSeen")));
  const count = field(raw, "count");
  const valid =
    typeof image === "string" &&
    image !== "" &&
    typeof namespace === "string" &&
    namespace !== "" &&
    Array.isArray(pullSecrets) &&
    pullSecrets.every((name) => typeof name === "string") &&
    Number.isFinite(firstSeen) &&
    Number.isFinite(lastSeen) &&
    typeof count === "number" &&
    Number.isSafeInteger(count) &&
    count > 0;
  if (!valid) {
    return undefined;
  }
  return { image, namespace, pullSecrets, firstSeen, lastSeen, count };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
