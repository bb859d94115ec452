// Soak benchmark: the real webhook (`serve --kubeconfig`) in a child process over TLS, backed by
// the API-server double with continuous node churn and periodic 410 Gone, under a fixed rate of
// admissions from a separate load process that verifies the CA. Prints one row per interval
// (webhook CPU, RSS, heap used, p50/p99 latency, error counts) and a verdict against a stated
// memory bound.
//
// Run: node --import tsx bench/soak/run.ts --duration 600 --rate 500 --nodes 2000
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { writeDevCertificates } from "../../src/cli/certs.ts";
import { ApiServerDouble, kubeconfigFor } from "../../test/support/apiserver-double.ts";
import { buildNode, buildReviewTemplates, nodeName, seededRandom, startChurn } from "./cluster.ts";
import type { IntervalReport } from "./protocol.ts";
import { formatReport, judge, type IntervalRow, type SoakSettings } from "./report.ts";
import {
  cpuPercentOf,
  followLog,
  sampleMemory,
  stopWebhook,
  waitReady,
  writeConfig,
  type MemorySample,
} from "./webhook.ts";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const LOAD_CLIENT = fileURLToPath(new URL("./load-client.ts", import.meta.url));
const SAMPLE_MS = 5000;

function readSettings(argv: string[]): SoakSettings {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: "string", default: "600" },
      rate: { type: "string", default: "500" },
      nodes: { type: "string", default: "2000" },
      interval: { type: "string", default: "60" },
      "updates-per-second": { type: "string", default: "5" },
      "join-leave-seconds": { type: "string", default: "10" },
      "gone-seconds": { type: "string", default: "60" },
      "max-heap-growth-mb": { type: "string", default: "32" },
      json: { type: "string" },
      "cpu-prof-dir": { type: "string" },
      "inflight-seconds": { type: "string" },
    },
  });
  const number = (name: keyof typeof values): number => {
    const value = Number(values[name]);
    if (!Number.isFinite(value) || value < 0) {
      throw new Error(
        `--${name}: invalid value ${JSON.stringify(values[name])}; expected a number of 0 or more`,
      );
    }
    return value;
  };
  return {
    durationSeconds: number("duration"),
    rate: number("rate"),
    nodes: number("nodes"),
    intervalSeconds: number("interval"),
    updatesPerSecond: number("updates-per-second"),
    joinLeaveSeconds: number("join-leave-seconds"),
    goneSeconds: number("gone-seconds"),
    maxHeapGrowthMb: number("max-heap-growth-mb"),
    ...(values.json === undefined ? {} : { jsonPath: values.json }),
    ...(values["cpu-prof-dir"] === undefined ? {} : { cpuProfileDir: values["cpu-prof-dir"] }),
    ...(values["inflight-seconds"] === undefined
      ? {}
      : { inflightSeconds: number("inflight-seconds") }),
  };
}

async function main(settings: SoakSettings): Promise<number> {
  const directory = await mkdtemp(join(tmpdir(), "kic-soak-"));
  const double = await ApiServerDouble.start({ historyLimit: 5000 });
  const random = seededRandom(42);
  for (let index = 0; index < settings.nodes; index += 1) {
    double.add("nodes", buildNode(nodeName(index), random));
  }
  const certificates = await writeDevCertificates(join(directory, "certs"), {
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
  });
  const ca = await readFile(certificates.caCertPath);
  const configPath = await writeConfig(directory, settings.inflightSeconds);
  const reviewsPath = join(directory, "reviews.json");
  await writeFile(reviewsPath, JSON.stringify(buildReviewTemplates(random)));

  const webhook = spawn(
    process.execPath,
    [
      ...(settings.cpuProfileDir === undefined
        ? []
        : ["--cpu-prof", "--cpu-prof-dir", settings.cpuProfileDir]),
      ...["--import", "tsx", MAIN, "serve", "--config", configPath],
      ...["--kubeconfig", await kubeconfigFor(double)],
      ...["--tls-cert", certificates.certPath, "--tls-key", certificates.keyPath],
      ...["--host", "127.0.0.1", "--port", "0"],
    ],
    { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, LOG_LEVEL: "info" } },
  );
  const { url: listening, log } = followLog(webhook);
  const churn = startChurn(
    double,
    settings.nodes,
    {
      updatesPerSecond: settings.updatesPerSecond,
      joinLeaveMs: settings.joinLeaveSeconds * 1000,
      goneMs: settings.goneSeconds * 1000,
    },
    random,
  );

  try {
    const url = await listening;
    await waitReady(url, ca);
    const rows = await runLoad(settings, webhook.pid ?? 0, url, ca, reviewsPath);
    churn.stop();
    const shutdown = await stopWebhook(webhook);
    const verdict = judge(settings, rows, shutdown);
    process.stdout.write(
      formatReport(settings, rows, { churn: churn.counts, log, shutdown, verdict }),
    );
    if (settings.jsonPath !== undefined) {
      const record = { settings, rows, churn: churn.counts, log, shutdown, verdict };
      await writeFile(settings.jsonPath, `${JSON.stringify(record, null, 2)}\n`);
    }
    return verdict.passed ? 0 : 1;
  } finally {
    churn.stop();
    if (webhook.exitCode === null && webhook.signalCode === null) {
      webhook.kill("SIGKILL");
    }
    await double.close();
    await rm(directory, { recursive: true, force: true });
  }
}

/** Runs the load client for the whole duration and pairs its reports with memory samples. */
async function runLoad(
  settings: SoakSettings,
  pid: number,
  url: string,
  ca: Buffer,
  reviewsPath: string,
): Promise<IntervalRow[]> {
  const caPath = join(reviewsPath, "..", "certs", "ca.crt");
  const client = spawn(
    process.execPath,
    [
      ...["--import", "tsx", LOAD_CLIENT, url, caPath, reviewsPath],
      ...[
        String(settings.rate),
        String(settings.durationSeconds),
        String(settings.intervalSeconds),
      ],
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const started = Date.now();
  const samples: MemorySample[] = [];
  const sampler = setInterval(() => {
    sampleMemory(pid, url, ca, Date.now() - started).then(
      (sample) => samples.push(sample),
      (error: unknown) => process.stderr.write(`memory sample failed: ${String(error)}\n`),
    );
  }, SAMPLE_MS);

  const reports: IntervalReport[] = [];
  for await (const line of createInterface({ input: client.stdout })) {
    reports.push(JSON.parse(line) as IntervalReport);
  }
  clearInterval(sampler);

  const intervalMs = settings.intervalSeconds * 1000;
  return reports.map((report) => {
    const inInterval = samples.filter(
      (sample) => Math.ceil(sample.atMs / intervalMs) === report.interval,
    );
    const heaps = inInterval.map((sample) => sample.heapUsed);
    const rss = inInterval.map((sample) => sample.rss);
    return {
      ...report,
      cpuPercent: cpuPercentOf(inInterval),
      rssMaxMb: toMb(Math.max(0, ...rss)),
      heapMinMb: toMb(heaps.length === 0 ? 0 : Math.min(...heaps)),
      heapMaxMb: toMb(Math.max(0, ...heaps)),
    };
  });
}

function toMb(bytes: number): number {
  return Math.round((bytes / 1024 / 1024) * 10) / 10;
}

main(readSettings(process.argv.slice(2))).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 2;
  },
);
