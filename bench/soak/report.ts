// The soak benchmark's verdict and its Markdown report.
import type { ChurnCounts } from "./cluster.ts";
import type { IntervalReport } from "./protocol.ts";

/** The command-line settings of a soak run. */
export interface SoakSettings {
  readonly durationSeconds: number;
  /** Admissions per second. */
  readonly rate: number;
  readonly nodes: number;
  readonly intervalSeconds: number;
  readonly updatesPerSecond: number;
  readonly joinLeaveSeconds: number;
  readonly goneSeconds: number;
  /**
   * Memory bound: the heap floor (lowest heap used sampled in an interval, which follows
   * retained memory rather than garbage) of any later interval under load may exceed the first
   * interval's by at most this many MB.
   */
  readonly maxHeapGrowthMb: number;
  readonly jsonPath?: string;
  /** Replaces balance.inflightSeconds of the example configuration (default 60). */
  readonly inflightSeconds?: number;
  /** Directory for a V8 CPU profile of the webhook, written when it exits. */
  readonly cpuProfileDir?: string;
}

/** One interval's load figures with the webhook's memory sampled during it. */
export interface IntervalRow extends IntervalReport {
  /** The webhook's CPU time over the interval, in percent of one core. */
  readonly cpuPercent: number;
  readonly rssMaxMb: number;
  readonly heapMinMb: number;
  readonly heapMaxMb: number;
}

export interface Verdict {
  readonly passed: boolean;
  readonly failedResponses: number;
  readonly heapGrowthMb: number;
  readonly rssGrowthMb: number;
  readonly checks: readonly string[];
}

export interface Shutdown {
  readonly exitCode: number | null;
  readonly seconds: number;
}

function failedOf(row: IntervalReport): number {
  return row.errors + row.non2xx + row.missingUid + row.notAllowed + row.skipped;
}

/** Judges a run: no failed responses, the heap bound held, and a clean exit on SIGTERM. */
export function judge(
  settings: SoakSettings,
  rows: readonly IntervalRow[],
  shutdown: Shutdown,
): Verdict {
  const failedResponses = rows.reduce((sum, row) => sum + failedOf(row), 0);
  // The row after the load ends (nothing sent, late responses only) is not judged for memory.
  const [first, ...later] = rows.filter((row) => row.heapMinMb > 0 && row.sent > 0);
  const heapGrowthMb =
    first === undefined ? 0 : Math.max(0, ...later.map((row) => row.heapMinMb - first.heapMinMb));
  const rssGrowthMb =
    first === undefined ? 0 : Math.max(0, ...later.map((row) => row.rssMaxMb - first.rssMaxMb));
  const round = (mb: number) => Math.round(mb * 10) / 10;

  const checks = [
    "failed responses (errors, non-2xx, missing uid, not allowed, skipped): " +
      `${failedResponses}, expected 0`,
    `heap floor growth after the first interval: ${round(heapGrowthMb)} MB, ` +
      `bound ${settings.maxHeapGrowthMb} MB`,
    `exit on SIGTERM: code ${String(shutdown.exitCode)} after ` +
      `${shutdown.seconds.toFixed(1)} s, expected 0 within 30 s`,
  ];
  const passed =
    failedResponses === 0 &&
    first !== undefined &&
    heapGrowthMb <= settings.maxHeapGrowthMb &&
    shutdown.exitCode === 0;
  return {
    passed,
    failedResponses,
    heapGrowthMb: round(heapGrowthMb),
    rssGrowthMb: round(rssGrowthMb),
    checks,
  };
}

const COLUMNS = [
  "Interval",
  "Sent",
  "OK",
  "Patched",
  "Errors",
  "Non-2xx",
  "Missing uid",
  "Skipped",
  "p50 ms",
  "p99 ms",
  "Max ms",
  "Webhook CPU %",
  "RSS max MB",
  "Heap min-max MB",
];

/** Returns one table row's cells, in the order of COLUMNS. */
function cellsOf(row: IntervalRow): string[] {
  const counts = [row.sent, row.ok, row.patched, row.errors, row.non2xx, row.missingUid];
  const latencies = [row.p50, row.p99, row.max];
  const usage = [row.cpuPercent, row.rssMaxMb];
  const cells = [row.interval, ...counts, row.skipped, ...latencies, ...usage].map(String);
  return [...cells, `${row.heapMinMb}-${row.heapMaxMb}`];
}

/** Formats the run as Markdown: settings, one table row per interval, churn, and the verdict. */
export function formatReport(
  settings: SoakSettings,
  rows: readonly IntervalRow[],
  extra: {
    churn: ChurnCounts;
    log: { warnings: number; errors: number; relists: number; first: readonly string[] };
    shutdown: Shutdown;
    verdict: Verdict;
  },
): string {
  const { churn, log, verdict } = extra;
  const lines = [
    `Soak: ${settings.durationSeconds} s at ${settings.rate}/s, ${settings.nodes} nodes, ` +
      `churn ${settings.updatesPerSecond} node updates/s, a join and a leave every ` +
      `${settings.joinLeaveSeconds} s, 410 Gone every ${settings.goneSeconds} s, ` +
      `balance.inflightSeconds ${settings.inflightSeconds ?? "60 (default)"}`,
    "",
    `| ${COLUMNS.join(" | ")} |`,
    `| ${COLUMNS.map((column) => "-".repeat(column.length)).join(" | ")} |`,
    ...rows.map((row) => `| ${cellsOf(row).join(" | ")} |`),
    "",
    `Churn applied: ${churn.updates} node updates, ${churn.joined} joins, ${churn.left} leaves, ` +
      `${churn.forcedExpiries} forced 410 Gone. ` +
      `The webhook logged ${log.relists} relists after 410.`,
    `Webhook log: ${log.warnings} warnings, ${log.errors} errors.`,
    ...log.first.map((line) => `  ${line}`),
    `RSS growth after the first interval: ${verdict.rssGrowthMb} MB (reported, not judged).`,
    "",
    ...verdict.checks.map((check) => `- ${check}`),
    `Verdict: ${verdict.passed ? "PASSED" : "FAILED"}`,
    "",
  ];
  return lines.join("\n");
}
