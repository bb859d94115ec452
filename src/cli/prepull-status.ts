// The report of `kube-image-cache prepull status`: the record joined with the controller's
// status, as a kubectl-style table or as JSON. Pure; prepull.ts reads the inputs.
import type { ColdImageEntry } from "../prepull/record.ts";
import { entryKey } from "../prepull/record.ts";
import type { ImageStatus, PrepullStatus } from "../prepull/status.ts";

/** One row of the report: a recorded entry and, once planned, its progress. */
export interface StatusRow {
  readonly image: string;
  readonly namespace: string;
  readonly count: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly pullSecrets: readonly string[];
  /** Absent until the controller has planned the entry. */
  readonly progress?: Omit<ImageStatus, "image" | "namespace" | "count" | "lastSeen">;
}

/** The JSON document `-o json` prints. */
export interface StatusReport {
  /** When the controller last wrote its status, and which instance; absent before it ran. */
  readonly updatedAt?: string;
  readonly holder?: string;
  readonly totals?: PrepullStatus["totals"];
  readonly images: readonly StatusRow[];
}

/** Joins the record with the status, ordered by namespace and image. */
export function buildReport(
  entries: readonly ColdImageEntry[],
  status: PrepullStatus | undefined,
): StatusReport {
  const progress = new Map((status?.images ?? []).map((image) => [entryKey(image), image]));
  const rows = [...entries]
    .sort((a, b) => (entryKey(a) < entryKey(b) ? -1 : 1))
    .map((entry): StatusRow => {
      const found = progress.get(entryKey(entry));
      return {
        image: entry.image,
        namespace: entry.namespace,
        count: entry.count,
        firstSeen: new Date(entry.firstSeen).toISOString(),
        lastSeen: new Date(entry.lastSeen).toISOString(),
        pullSecrets: entry.pullSecrets,
        ...(found === undefined ? {} : { progress: progressOf(found) }),
      };
    });
  return status === undefined
    ? { images: rows }
    : { updatedAt: status.updatedAt, holder: status.holder, totals: status.totals, images: rows };
}

function progressOf(status: ImageStatus): NonNullable<StatusRow["progress"]> {
  return {
    ...(status.sizeBytes === undefined ? {} : { sizeBytes: status.sizeBytes }),
    done: status.done,
    ...(status.doneOmitted === undefined ? {} : { doneOmitted: status.doneOmitted }),
    pending: status.pending,
    failed: status.failed,
    ...(status.note === undefined ? {} : { note: status.note }),
  };
}

const HEADERS = ["IMAGE", "NAMESPACE", "SEEN", "LAST SEEN", "DONE", "PENDING", "FAILED", "REASON"];

/** Formats the report as kubectl formats tables: left-aligned columns three spaces apart. */
export function formatTable(report: StatusReport): string {
  const rows = report.images.map((row) => {
    const progress = row.progress;
    const done =
      progress === undefined ? "-" : String(progress.done.length + (progress.doneOmitted ?? 0));
    return [
      row.image,
      row.namespace,
      String(row.count),
      row.lastSeen,
      done,
      progress === undefined ? "-" : String(progress.pending.length),
      progress === undefined ? "-" : String(progress.failed.length),
      reasonOf(row),
    ];
  });
  const widths = HEADERS.map((header, column) =>
    Math.max(header.length, ...rows.map((cells) => (cells[column] ?? "").length)),
  );
  return [HEADERS, ...rows]
    .map((cells) =>
      cells
        .map((cell, column) =>
          column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0),
        )
        .join("   ")
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join("");
}

/** Returns the first failure with its node, else the note. "+N more" counts the other failures. */
function reasonOf(row: StatusRow): string {
  const progress = row.progress;
  if (progress === undefined) {
    return "not planned yet";
  }
  const [first, ...others] = progress.failed;
  if (first === undefined) {
    return progress.note ?? "";
  }
  const more = others.length === 0 ? "" : ` (+${others.length} more)`;
  return `${first.node}: ${first.reason}${more}`;
}
