// Tables of the admission benchmark: medians over rounds, error counts, and the ratios of the
// webhook to the express floor that the targets are judged by.
import type { LoadResult } from "./load.ts";
import type { ServerKind } from "./processes.ts";

/** One measurement of one server in one round; `rate` is undefined at saturation. */
export interface LoadCell {
  readonly server: ServerKind;
  readonly round: number;
  readonly rate: number | undefined;
  readonly result: LoadResult & { readonly cpuMsPerRequest: number };
}

/** One start of the webhook: times from spawn and /metrics samples at ready and when warm. */
export interface StartupSample {
  readonly nodes: number;
  readonly readyMs: number;
  /** Until the layer index covers every node (manifests fetched, index rebuilt). */
  readonly warmMs: number;
  /** Maximum event-loop delay seen between ready and warm, in seconds. */
  readonly maxStallSeconds: number;
  readonly atReady: ReadonlyMap<string, number>;
  readonly atWarm: ReadonlyMap<string, number>;
}

const SERVERS: readonly ServerKind[] = ["https", "express", "webhook"];
const THROUGHPUT_TARGET = 0.8;
const P99_TARGET = 1.5;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((left, right) => left - right);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

function cellsOf(cells: readonly LoadCell[], server: ServerKind, rate: number | undefined) {
  return cells.filter((cell) => cell.server === server && cell.rate === rate);
}

function medianOf(
  cells: readonly LoadCell[],
  server: ServerKind,
  rate: number | undefined,
  pick: (result: LoadCell["result"]) => number,
): number {
  return median(cellsOf(cells, server, rate).map((cell) => pick(cell.result)));
}

/** Formats the load results as markdown tables with the target ratios. */
export function reportLoad(
  cells: readonly LoadCell[],
  settings: { connections: number; seconds: number; rounds: number },
): string {
  const rates = [...new Set(cells.flatMap((cell) => (cell.rate === undefined ? [] : [cell.rate])))];
  const header = [
    `Medians of ${settings.rounds} rounds of ${settings.seconds} s, ${settings.connections} connections.`,
    "",
    `| Server | Saturation req/s | CPU ms per request | ${rates.map((rate) => `p50 / p99 at ${rate}/s`).join(" | ")} |`,
    `| --- | --- | --- | ${rates.map(() => "---").join(" | ")} |`,
  ];
  const rows = SERVERS.map((server) => {
    const saturation = medianOf(cells, server, undefined, (result) => result.perSecond);
    const cpu = medianOf(cells, server, undefined, (result) => result.cpuMsPerRequest);
    const latencies = rates.map((rate) => {
      const p50 = medianOf(cells, server, rate, (result) => result.p50Ms);
      const p99 = medianOf(cells, server, rate, (result) => result.p99Ms);
      return `${p50.toFixed(1)} / ${p99.toFixed(1)} ms`;
    });
    return `| ${server} | ${saturation.toFixed(0)} | ${cpu.toFixed(3)} | ${latencies.join(" | ")} |`;
  });

  const ratioLines = ratios(cells);
  const checks = SERVERS.map((server) => {
    const own = cells.filter((cell) => cell.server === server).map((cell) => cell.result);
    const sum = (pick: (result: LoadResult) => number) =>
      own.reduce((total, result) => total + pick(result), 0);
    const completed = sum((result) => result.completed);
    return (
      `- ${server}: ${completed} responses, non-2xx ${sum((result) => result.non2xx)}, ` +
      `errors ${sum((result) => result.errors)}, timeouts ${sum((result) => result.timeouts)}, ` +
      `unverified TLS ${sum((result) => result.unverified)}, uid echoed ` +
      `${sum((result) => result.uidEchoed)}, with patch ${sum((result) => result.patched)}`
    );
  });
  return [...header, ...rows, "", ...ratioLines, "", ...checks].join("\n");
}

function ratios(cells: readonly LoadCell[]): string[] {
  const throughput = (server: ServerKind) =>
    medianOf(cells, server, undefined, (result) => result.perSecond);
  const p99At500 = (server: ServerKind) => medianOf(cells, server, 500, (result) => result.p99Ms);
  const cpu = (server: ServerKind) =>
    medianOf(cells, server, undefined, (result) => result.cpuMsPerRequest);
  const throughputRatio = throughput("webhook") / throughput("express");
  const p99Ratio = p99At500("webhook") / p99At500("express");

  // Per-round ratios show how much the machine's noise moves them.
  const rounds = [...new Set(cells.map((cell) => cell.round))];
  const perRound = rounds.map((round) => {
    const inRound = cells.filter((cell) => cell.round === round);
    const value = (server: ServerKind, rate: number | undefined, pick: (r: LoadResult) => number) =>
      medianOf(inRound, server, rate, pick);
    const t =
      value("webhook", undefined, (r) => r.perSecond) /
      value("express", undefined, (r) => r.perSecond);
    const p = value("webhook", 500, (r) => r.p99Ms) / value("express", 500, (r) => r.p99Ms);
    return `${t.toFixed(2)} / ${p.toFixed(2)}`;
  });
  return [
    `- Throughput, webhook / express: ${throughputRatio.toFixed(2)} ` +
      `(target >= ${THROUGHPUT_TARGET}: ${throughputRatio >= THROUGHPUT_TARGET ? "met" : "not met"})`,
    `- p99 at 500/s, webhook / express: ${p99Ratio.toFixed(2)} ` +
      `(target <= ${P99_TARGET}: ${p99Ratio <= P99_TARGET ? "met" : "not met"})`,
    `- CPU per request at saturation, express / webhook: ${(cpu("express") / cpu("webhook")).toFixed(2)} ` +
      "(the throughput ratio a server with a core of its own would reach)",
    `- Bare https / express throughput: ${(throughput("https") / throughput("express")).toFixed(2)}`,
    `- Per round, throughput ratio / p99 ratio: ${perRound.join(", ")}`,
  ];
}

/** Formats the start-up samples as a markdown table of medians per node count. */
export function reportStartup(samples: readonly StartupSample[]): string {
  const counts = [...new Set(samples.map((sample) => sample.nodes))];
  const mb = (value: number) => `${(value / 1e6).toFixed(0)} MB`;
  const rows = counts.map((nodes) => {
    const own = samples.filter((sample) => sample.nodes === nodes);
    const at = (pick: (sample: StartupSample) => number) => median(own.map(pick));
    const metric = (key: "atReady" | "atWarm", name: string) =>
      at((sample) => sample[key].get(name) ?? Number.NaN);
    const build = (suffix: string) =>
      metric("atWarm", `kube_image_cache_layer_index_build_seconds_${suffix}`);
    return (
      `| ${nodes} | ${at((s) => s.readyMs).toFixed(0)} ms | ` +
      `${mb(metric("atReady", "process_resident_memory_bytes"))} | ` +
      `${mb(metric("atReady", "nodejs_heap_size_used_bytes"))} | ${at((s) => s.warmMs).toFixed(0)} ms | ` +
      `${mb(metric("atWarm", "process_resident_memory_bytes"))} | ` +
      `${mb(metric("atWarm", "nodejs_heap_size_used_bytes"))} | ` +
      `${(at((s) => s.maxStallSeconds) * 1000).toFixed(0)} ms | ` +
      `${((build("sum") / build("count")) * 1000).toFixed(0)} ms over ${build("count")} |`
    );
  });
  return [
    `Medians of ${samples.length / counts.length} starts per node count.`,
    "",
    "| Nodes | Spawn to ready | RSS at ready | Heap at ready | Spawn to layer index complete | RSS then | Heap then | Max event-loop delay | Index build, mean |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
}
