// Pulled bytes and balance: replays one generated workload under four policies. They are
// default scoring, image-level hints, layer-level hints, and layer-level hints with pre-pulling.
// It prints the bytes pulled on the pod start path and in the background, pulls avoided,
// estimated pull times and the spread of requested CPU across nodes, each against default
// scoring.
//
// Run: node --import tsx bench/scheduling/run.ts [params.json] [--json FILE] [--only a,c]
//      [--seeds 42,43,44]
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { readParams, type SimulationParams } from "./params.ts";
import { formatReport } from "./report.ts";
import { Simulation, type Policy, type PolicyResult } from "./simulate.ts";
import { generateWorkload } from "./workload.ts";

const POLICIES: readonly Policy[] = [
  { name: "a. default scoring", hints: "none", prepull: false },
  { name: "b. + image-level hints", hints: "images", prepull: false },
  { name: "c. + layer-level hints", hints: "layers", prepull: false },
  { name: "d. + layer hints and pre-pulling", hints: "layers", prepull: true },
];

function main(argv: readonly string[]): void {
  const option = (name: string): string | undefined => {
    const at = argv.indexOf(name);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  const jsonPath = option("--json");
  const only = option("--only");
  const seeds = option("--seeds");
  const paramsPath =
    argv.find((arg, index) => !arg.startsWith("--") && !argv[index - 1]?.startsWith("--")) ??
    fileURLToPath(new URL("params.json", import.meta.url));
  const params = readParams(paramsPath);
  // --only a,c runs a subset (the first listed is the baseline of the ratios).
  const chosen =
    only === undefined
      ? POLICIES
      : POLICIES.filter((policy) => only.split(",").includes(policy.name[0] ?? ""));
  // --seeds 42,43 replays one workload per seed and ends with one summary line per policy.
  const seedList = seeds === undefined ? [params.seed] : seeds.split(",").map(Number);
  const summaries: string[] = [];
  const runs: PolicyResult[][] = [];
  for (const seed of seedList) {
    const results = runSeed({ ...params, seed }, chosen);
    runs.push(results);
    summaries.push(...summaryLines(seed, results));
  }
  if (seedList.length > 1) {
    console.log(
      ["", "seed | policy | start-path bytes vs first | CPU CoV vs first", ...summaries].join("\n"),
    );
  }
  if (jsonPath !== undefined) {
    const summary = runs.flat().map(({ startSeconds, cpuCov, arm64Share, meanShare, ...rest }) => ({
      ...rest,
      startSecondsCount: startSeconds.length,
      cpuCovSamples: cpuCov.length,
      arm64ShareSamples: arm64Share.length,
      meanShareSamples: meanShare.length,
    }));
    writeFileSync(jsonPath, `${JSON.stringify(summary, null, 2)}\n`);
  }
}

function runSeed(params: SimulationParams, chosen: readonly Policy[]): PolicyResult[] {
  const workload = generateWorkload(params);
  const creates = workload.events.filter((event) => event.kind === "create").length;
  console.log(
    `seed ${params.seed} workload: ${workload.nodes.length} nodes, ${workload.events.length} events, ${creates} pod creations over ${params.hours} h`,
  );
  const results: PolicyResult[] = [];
  for (const policy of chosen) {
    const result = new Simulation(params, workload, policy).run();
    console.log(`${policy.name}: simulated in ${result.wallSeconds.toFixed(1)} s`);
    results.push(result);
  }
  console.log(formatReport(params, results));
  return results;
}

/** Formats one line per policy after the first: start-path bytes and mean CPU CoV against it. */
function summaryLines(seed: number, results: readonly PolicyResult[]): string[] {
  const [base, ...rest] = results;
  if (base === undefined) {
    return [];
  }
  const mean = (values: readonly number[]): number =>
    values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
  const percent = (ratio: number): string =>
    `${ratio >= 0 ? "+" : ""}${(ratio * 100).toFixed(1)} %`;
  return rest.map(
    (result) =>
      `${seed} | ${result.policy.name} | ${percent(result.startBytes / base.startBytes - 1)} | ${percent(mean(result.cpuCov) / mean(base.cpuCov) - 1)}`,
  );
}

main(process.argv.slice(2));
