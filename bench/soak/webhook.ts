// The webhook process of the soak benchmark: its configuration file, its log, readiness, samples
// of its memory and CPU, and its stop on SIGTERM.
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { parse as parseYaml, stringify as stringifyYaml } from "yaml";

import { LOCAL_DEFAULTS } from "../../src/cli/start-local.ts";

// Kubernetes' default terminationGracePeriodSeconds, which the webhook's manifest also sets.
const GRACE_PERIOD_MS = 30_000;

/** Log lines of the webhook, counted by level, with the first few warnings and errors kept. */
export interface WebhookLog {
  warnings: number;
  errors: number;
  relists: number;
  readonly first: string[];
}

export function followLog(child: ChildProcessWithoutNullStreams): {
  url: Promise<string>;
  log: WebhookLog;
} {
  const log: WebhookLog = { warnings: 0, errors: 0, relists: 0, first: [] };
  const url = new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      const level = Number(parsed["level"]);
      const msg = String(parsed["msg"]);
      if (msg === "listening") {
        resolve(String(parsed["url"]));
      }
      if (msg.startsWith("resourceVersion expired")) {
        log.relists += 1;
      }
      if (level >= 40) {
        log[level >= 50 ? "errors" : "warnings"] += 1;
        if (log.first.length < 5) {
          log.first.push(line.slice(0, 400));
        }
      }
    });
    child.once("exit", (code) =>
      reject(new Error(`the webhook exited with ${String(code)} before listening`)),
    );
  });
  child.stderr.on("data", (chunk: Buffer) => process.stderr.write(chunk));
  return { url, log };
}

function get(url: string, path: string, ca: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

export async function waitReady(url: string, ca: Buffer): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt += 1) {
    if ((await get(url, "/readyz", ca)).status === 200) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("the webhook did not report ready within 60 s");
}

/**
 * Returns the configuration file for the webhook: the example one (mirror rules, registry reads
 * and mirror probes off, so nothing leaves 127.0.0.1), with balance.inflightSeconds when given.
 */
export async function writeConfig(
  directory: string,
  inflightSeconds: number | undefined,
): Promise<string> {
  if (inflightSeconds === undefined) {
    return LOCAL_DEFAULTS.configPath;
  }
  const config = parseYaml(await readFile(LOCAL_DEFAULTS.configPath, "utf8")) as Record<
    string,
    unknown
  >;
  const path = join(directory, "config.yaml");
  await writeFile(path, stringifyYaml({ ...config, balance: { inflightSeconds } }));
  return path;
}

/** One sample of the webhook process: memory in bytes, CPU time used so far in seconds. */
export interface MemorySample {
  readonly atMs: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly cpuSeconds: number;
}

// Linux reports utime and stime in clock ticks of 1/100 s (USER_HZ on every common platform).
const CLOCK_TICKS_PER_SECOND = 100;

export async function sampleMemory(
  pid: number,
  url: string,
  ca: Buffer,
  atMs: number,
): Promise<MemorySample> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11] ?? "0") + Number(fields[12] ?? "0");
  const rssKb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? "0");
  const metrics = (await get(url, "/metrics", ca)).text;
  const heapUsed = Number(
    /^nodejs_heap_size_used_bytes (\d+(?:\.\d+)?)$/m.exec(metrics)?.[1] ?? "0",
  );
  return { atMs, rss: rssKb * 1024, heapUsed, cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND };
}

/** Sends SIGTERM and waits for the exit, up to the grace period; SIGKILL after it. */
export async function stopWebhook(
  webhook: ChildProcessWithoutNullStreams,
): Promise<{ exitCode: number | null; seconds: number }> {
  const started = Date.now();
  const exited = new Promise<number | null>((resolve) =>
    webhook.once("exit", (code) => resolve(code)),
  );
  webhook.kill("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), GRACE_PERIOD_MS);
  });
  const outcome = await Promise.race([exited, late]);
  clearTimeout(timer);
  if (outcome === "late") {
    webhook.kill("SIGKILL");
    await exited;
    return { exitCode: null, seconds: (Date.now() - started) / 1000 };
  }
  return { exitCode: outcome, seconds: (Date.now() - started) / 1000 };
}

/** Returns the webhook's CPU use between the first and last sample, in percent of one core. */
export function cpuPercentOf(samples: readonly MemorySample[]): number {
  const first = samples[0];
  const last = samples.at(-1);
  if (first === undefined || last === undefined || last.atMs === first.atMs) {
    return 0;
  }
  const busy = last.cpuSeconds - first.cpuSeconds;
  return Math.round((busy / ((last.atMs - first.atMs) / 1000)) * 100);
}
