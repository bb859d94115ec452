// Admission speed against its floors. One run measures throughput at saturation and latency at
// fixed rates for a bare node:https server, an express 5 server and the webhook, interleaved.
// Then it measures the webhook's start-to-ready time and memory at 50, 500 and 5,000 nodes.
//
// Run: node --import tsx bench/admission/run.ts [--rounds 3] [--seconds 8] [--keep]
//        [--profile | --compare DIR | --startup-only]
// --profile instead runs the webhook, then the express floor, alone at saturation under
// --cpu-prof and prints where their CPU time went. --compare DIR instead measures this
// checkout's webhook against the one in DIR (a copy of the repository before a change).
// --startup-only skips the load measurements. --keep leaves the work directory (logs,
// profiles) in place.
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";

import type { LoadResult } from "./load.ts";
import {
  readMetrics,
  spawnServer,
  stopServer,
  waitReady,
  forkLoadGenerator,
  type LoadGenerator,
  type ServerKind,
  type ServerProcess,
} from "./processes.ts";
import { formatSummary, summarizeProfile } from "./profile.ts";
import { reportLoad, reportStartup, type LoadCell, type StartupSample } from "./report.ts";
import {
  CONNECTIONS,
  LOAD_NODES,
  NODE_COUNTS,
  RATES,
  measureOn,
  prepare,
  startWebhook,
  warmUp,
  type Setup,
} from "./setup.ts";

const OPTIONS = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "8" },
    profile: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    compare: { type: "string" },
    "startup-only": { type: "boolean", default: false },
  },
}).values;
const ROUNDS = Number(OPTIONS.rounds);
const SECONDS = Number(OPTIONS.seconds);
const STARTUP_REPEATS = 2;
const PROFILE_SECONDS = 20;

async function measureStartup(setup: Setup): Promise<StartupSample[]> {
  const samples: StartupSample[] = [];
  for (let repeat = 0; repeat < STARTUP_REPEATS; repeat += 1) {
    for (const count of NODE_COUNTS) {
      const started = await startWebhook(setup, count);
      await stopServer(started.server);
      samples.push({ nodes: count, ...started });
      console.log(`startup ${count} nodes: ready ${started.readyMs.toFixed(0)} ms`);
    }
  }
  return samples;
}

async function measureLoad(setup: Setup, load: LoadGenerator): Promise<LoadCell[]> {
  const webhook = await startWebhook(setup, LOAD_NODES);
  const servers: ServerProcess[] = [
    await spawnServer("https", setup.files, { logPath: join(setup.work, "https.log") }),
    await spawnServer("express", setup.files, { logPath: join(setup.work, "express.log") }),
    webhook.server,
  ];
  try {
    for (const server of servers) {
      await waitReady(server, setup.ca);
      await warmUp(load, server);
    }
    const cells: LoadCell[] = [];
    const phases = [undefined, ...RATES];
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const rate of phases) {
        // Rotate the order each round, so no server always runs right after another.
        for (let offset = 0; offset < servers.length; offset += 1) {
          const server = servers[(round + offset) % servers.length] as ServerProcess;
          const result = await measureOn(load, server, {
            connections: CONNECTIONS,
            durationSeconds: SECONDS,
            ...(rate === undefined ? {} : { rate }),
          });
          cells.push({ server: server.kind, round, rate, result });
          console.log(
            `round ${round} ${server.kind} ${rate ?? "saturation"}: ${JSON.stringify(result)}`,
          );
        }
      }
    }
    const metrics = await readMetrics(webhook.server.url, setup.ca);
    console.log("webhook admissions by result:");
    for (const [name, value] of metrics) {
      if (name.startsWith("kube_image_cache_admission_requests_total")) {
        console.log(`  ${name} ${value}`);
      }
    }
    return cells;
  } finally {
    await Promise.all(servers.map(stopServer));
  }
}

async function profileWebhook(setup: Setup, load: LoadGenerator, kind: ServerKind): Promise<void> {
  const directory = join(setup.work, `profile-${kind}`);
  await mkdir(directory, { recursive: true });
  const flags = ["--cpu-prof", `--cpu-prof-dir=${directory}`];
  const server =
    kind === "webhook"
      ? (await startWebhook(setup, LOAD_NODES, { nodeFlags: flags })).server
      : await spawnServer(kind, setup.files, { logPath: join(directory, "log"), nodeFlags: flags });
  await waitReady(server, setup.ca);
  await warmUp(load, server);
  const result = await load.measure({
    url: server.url,
    connections: CONNECTIONS,
    durationSeconds: PROFILE_SECONDS,
  });
  console.log(`${kind} under profile: ${JSON.stringify(result)}`);
  await stopServer(server);
  const file = (await readdir(directory)).find((name) => name.endsWith(".cpuprofile"));
  if (file === undefined) {
    throw new Error(`no .cpuprofile written in ${directory}`);
  }
  console.log(`profile ${join(directory, file)}`);
  console.log(formatSummary(summarizeProfile(join(directory, file))));
}

/**
 * Measures the webhook of this checkout against the one at `baselineRoot` (another copy of the
 * repository, e.g. before a change), interleaved: saturation and p99 at 500/s.
 */
async function compareWebhooks(setup: Setup, load: LoadGenerator, baselineRoot: string) {
  const current = (await startWebhook(setup, LOAD_NODES)).server;
  const baseline = (await startWebhook(setup, LOAD_NODES, { root: baselineRoot })).server;
  const servers = [
    { label: "this checkout", server: current },
    { label: baselineRoot, server: baseline },
  ];
  try {
    for (const { server } of servers) {
      await warmUp(load, server);
    }
    const results = new Map<string, (LoadResult & { cpuMsPerRequest: number })[]>();
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const rate of [undefined, 500]) {
        for (let offset = 0; offset < servers.length; offset += 1) {
          const { label, server } = servers[(round + offset) % servers.length] as {
            label: string;
            server: ServerProcess;
          };
          const result = await measureOn(load, server, {
            connections: CONNECTIONS,
            durationSeconds: SECONDS,
            ...(rate === undefined ? {} : { rate }),
          });
          const key = `${label} ${rate ?? "saturation"}`;
          results.set(key, [...(results.get(key) ?? []), result]);
          console.log(`round ${round} ${key}: ${JSON.stringify(result)}`);
        }
      }
    }
    for (const [key, list] of results) {
      const median = (pick: (result: LoadResult & { cpuMsPerRequest: number }) => number) =>
        list.map(pick).sort((left, right) => left - right)[Math.floor(list.length / 2)] ?? 0;
      console.log(
        `${key}: ${median((r) => r.perSecond).toFixed(0)} req/s, p50 ${median((r) => r.p50Ms)} ms, ` +
          `p99 ${median((r) => r.p99Ms)} ms, CPU ${median((r) => r.cpuMsPerRequest).toFixed(3)} ms per request`,
      );
    }
  } finally {
    await Promise.all(servers.map(({ server }) => stopServer(server)));
  }
}

async function main(): Promise<void> {
  const setup = await prepare();
  const load = await forkLoadGenerator(setup.templatesPath, setup.files.caPath);
  try {
    if (OPTIONS.compare !== undefined) {
      await compareWebhooks(setup, load, OPTIONS.compare);
      return;
    }
    if (OPTIONS.profile) {
      await profileWebhook(setup, load, "webhook");
      await profileWebhook(setup, load, "express");
      return;
    }
    if (!OPTIONS["startup-only"]) {
      const cells = await measureLoad(setup, load);
      console.log(
        reportLoad(cells, { connections: CONNECTIONS, seconds: SECONDS, rounds: ROUNDS }),
      );
    }
    console.log(reportStartup(await measureStartup(setup)));
  } finally {
    load.stop();
    await setup.stop();
    if (!OPTIONS.keep) {
      await rm(setup.work, { recursive: true, force: true });
    } else {
      console.log(`kept ${setup.work}`);
    }
  }
}

await main();
