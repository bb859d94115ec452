// The report of a run: one markdown table of raw figures per policy, and the ratios against
// default scoring that the target is judged by.
import type { SimulationParams } from "./params.ts";
import type { PolicyResult } from "./simulate.ts";

// Targets: start-path bytes at least 60 % below default scoring, and the coefficient of
// variation of requested CPU at most 10 % above it.
const BYTES_TARGET = 0.6;
const IMBALANCE_TARGET = 0.1;

function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? 0;
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / values.length;
}

const gb = (bytes: number): string => (bytes / 1e9).toFixed(1);

export function formatReport(params: SimulationParams, results: readonly PolicyResult[]): string {
  const base = results[0];
  if (base === undefined) {
    return "no results";
  }
  const baseCov = mean(base.cpuCov);
  const lines = [
    `| Policy | Pods started | Start-path GB | Background GB (pulls) | Pulls avoided | Pull time mean / p95 / p99 s | CPU CoV mean / max | arm64 / all mean CPU share | Hinted pods (on a hinted node) |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
  ];
  for (const result of results) {
    const cov = mean(result.cpuCov);
    lines.push(
      `| ${result.policy.name} | ${result.podsStarted} | ${gb(result.startBytes)} | ${gb(result.backgroundBytes)} (${result.backgroundPulls}) | ${result.pullsAvoided} of ${result.containerStarts} | ${mean(result.startSeconds).toFixed(1)} / ${percentile(result.startSeconds, 0.95).toFixed(1)} / ${percentile(result.startSeconds, 0.99).toFixed(1)} | ${cov.toFixed(3)} / ${Math.max(...result.cpuCov).toFixed(3)} | ${mean(result.arm64Share).toFixed(3)} / ${mean(result.meanShare).toFixed(3)} | ${result.podsHinted} (${result.podsOnHintedNode}) |`,
    );
  }
  lines.push("", "| Policy | Start-path bytes vs (a) | Target | CPU CoV vs (a) | Target | Met |");
  lines.push("| --- | ---: | ---: | ---: | ---: | --- |");
  for (const result of results.slice(1)) {
    const saved = 1 - result.startBytes / base.startBytes;
    const worse = mean(result.cpuCov) / baseCov - 1;
    const met = saved >= BYTES_TARGET && worse <= IMBALANCE_TARGET;
    lines.push(
      `| ${result.policy.name} | ${(-saved * 100).toFixed(1)} % | -60 % | ${(worse * 100 >= 0 ? "+" : "") + (worse * 100).toFixed(1)} % | +10 % | ${met ? "yes" : "no"} |`,
    );
  }
  lines.push(
    "",
    `pull bandwidth ${params.pullMBps} MB/s per node; figures after ${params.warmupHours} h of warm-up`,
  );
  return lines.join("\n");
}
