// Summarises a V8 .cpuprofile (written by node --cpu-prof): self time by area of the code and by
// function, as shares of the time the process was not idle.
import { readFileSync } from "node:fs";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
}

interface CpuProfile {
  readonly endTime: number;
  readonly startTime: number;
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Areas in match order: the first pattern found in a frame's URL names its area. */
const AREAS: readonly (readonly [string, string])[] = [
  ["/src/server/", "src/server"],
  ["/src/admission/", "src/admission"],
  ["/src/locality/", "src/locality"],
  ["/src/inventory/", "src/inventory"],
  ["/src/image/", "src/image"],
  ["/src/mirror/", "src/mirror"],
  ["/src/registry/", "src/registry"],
  ["/src/", "src (other)"],
  ["/node_modules/pino", "pino"],
  ["/node_modules/@pinojs/", "pino"],
  ["/node_modules/prom-client", "prom-client"],
  ["/node_modules/fast-json-patch", "fast-json-patch"],
  ["/node_modules/tsx", "tsx"],
  ["/node_modules/", "express and other packages"],
  ["node:", "node internals (http, tls, streams)"],
];

function areaOf(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (url === "") {
    return functionName === "" ? "(anonymous native)" : `(${functionName.replace(/[()]/g, "")})`;
  }
  return AREAS.find(([pattern]) => url.includes(pattern))?.[1] ?? "other";
}

/** Self time per area and per function, in milliseconds, from a profile file. */
export interface ProfileSummary {
  readonly busyMs: number;
  readonly areas: readonly { readonly name: string; readonly ms: number }[];
  readonly functions: readonly { readonly name: string; readonly ms: number }[];
}

/**
 * Sums self time from a profile file. With `lastSeconds`, only samples of that many seconds
 * before the profile's end count, which leaves out start-up when the load ran last.
 */
export function summarizeProfile(path: string, lastSeconds?: number, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  // Sample times are in microseconds: startTime plus the running sum of timeDeltas.
  const from =
    lastSeconds === undefined ? Number.NEGATIVE_INFINITY : profile.endTime - lastSeconds * 1e6;
  let at = profile.startTime;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;

  profile.samples.forEach((id, index) => {
    const node = byId.get(id);
    const ms = (profile.timeDeltas[index] ?? 0) / 1000;
    at += ms * 1000;
    if (node === undefined || node.callFrame.functionName === "(idle)" || at < from) {
      return;
    }
    busy += ms;
    const area = areaOf(node);
    areas.set(area, (areas.get(area) ?? 0) + ms);
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.slice(url.lastIndexOf("/") + 1);
    const name = `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`;
    functions.set(name, (functions.get(name) ?? 0) + ms);
  });

  const sorted = (map: Map<string, number>) =>
    [...map.entries()]
      .map(([name, ms]) => ({ name, ms }))
      .sort((left, right) => right.ms - left.ms);
  return { busyMs: busy, areas: sorted(areas), functions: sorted(functions).slice(0, top) };
}

/** Formats a summary as text lines with shares of the busy time. */
export function formatSummary(summary: ProfileSummary): string {
  const share = (ms: number) => `${((100 * ms) / summary.busyMs).toFixed(1).padStart(5)} %`;
  return [
    `busy ${(summary.busyMs / 1000).toFixed(1)} s; self time by area:`,
    ...summary.areas
      .filter((area) => area.ms >= summary.busyMs / 200)
      .map((area) => `  ${share(area.ms)}  ${area.name}`),
    "self time by function:",
    ...summary.functions.map((entry) => `  ${share(entry.ms)}  ${entry.name}`),
  ].join("\n");
}

// Run directly: node --import tsx bench/admission/profile.ts FILE.cpuprofile [LAST_SECONDS]
if (process.argv[1]?.endsWith("profile.ts") === true && process.argv[2] !== undefined) {
  const lastSeconds = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
  console.log(formatSummary(summarizeProfile(process.argv[2], lastSeconds)));
}
