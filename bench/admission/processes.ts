// Child processes of the admission benchmark: the three servers, readiness polling over TLS,
// reading the webhook's /metrics, and the forked load generator.
import { spawn, fork, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

import type { LoadRequest, LoadResult } from "./load.ts";

const REPOSITORY_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const HERE = fileURLToPath(new URL(".", import.meta.url));

export type ServerKind = "https" | "express" | "webhook";

/** A started server process. */
export interface ServerProcess {
  readonly kind: ServerKind;
  readonly url: string;
  readonly child: ChildProcess;
  /** performance.now() when the process was spawned. */
  readonly spawnedAt: number;
}

/** Files the servers share: the dev certificate, and for the webhook its inputs. */
export interface ServerFiles {
  readonly certPath: string;
  readonly keyPath: string;
  readonly caPath: string;
  readonly configPath: string;
}

/** Returns a TCP port of 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") {
    throw new Error("no TCP address for a free port");
  }
  return address.port;
}

/**
 * Spawns one server. The webhook runs as `kube-image-cache serve` with the snapshot at
 * `nodesPath`, logging at its default level into `logPath`. `nodeFlags` go to node itself.
 */
export async function spawnServer(
  kind: ServerKind,
  files: ServerFiles,
  options: { nodesPath?: string; logPath: string; nodeFlags?: readonly string[]; root?: string },
): Promise<ServerProcess> {
  const port = await freePort();
  const args =
    kind === "webhook"
      ? [
          "src/cli/bin.mjs",
          "serve",
          ...["--config", files.configPath, "--nodes", options.nodesPath ?? ""],
          ...["--tls-cert", files.certPath, "--tls-key", files.keyPath],
          ...["--host", "127.0.0.1", "--port", String(port)],
        ]
      : ["--import", "tsx", `${HERE}floor.ts`, kind, String(port), files.certPath, files.keyPath];
  const log = openSync(options.logPath, "a");
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), ...args], {
    cwd: kind === "webhook" ? (options.root ?? REPOSITORY_ROOT) : REPOSITORY_ROOT,
    stdio: ["ignore", log, log],
  });
  closeSync(log);
  return { kind, url: `https://127.0.0.1:${port}`, child, spawnedAt };
}

/** Sends GET with the CA; resolves with the status and body, or undefined on an error or timeout. */
export function get(
  url: string,
  ca: Buffer,
): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    // Long enough to outlast the webhook's layer index rebuild at 5,000 nodes, which blocks it.
    const req = request(url, { ca, timeout: 60_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", () => resolve(undefined));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

/** Polls /readyz every 10 ms; resolves with milliseconds from spawn to the first 200. */
export async function waitReady(server: ServerProcess, ca: Buffer, limitMs = 120_000) {
  while (performance.now() - server.spawnedAt < limitMs) {
    if (server.child.exitCode !== null) {
      throw new Error(`${server.kind} server exited with code ${server.child.exitCode}`);
    }
    const response = await get(`${server.url}/readyz`, ca);
    if (response?.status === 200) {
      return performance.now() - server.spawnedAt;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${server.kind} server not ready after ${limitMs} ms`);
}

/** Reads one sample of each series of the webhook's /metrics, keyed by name and labels. */
export async function readMetrics(url: string, ca: Buffer): Promise<Map<string, number>> {
  const response = await get(`${url}/metrics`, ca);
  if (response?.status !== 200) {
    throw new Error(`GET ${url}/metrics failed with ${response?.status ?? "no response"}`);
  }
  const samples = new Map<string, number>();
  for (const line of response.body.split("\n")) {
    if (line.startsWith("#") || line === "") {
      continue;
    }
    const at = line.lastIndexOf(" ");
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

// Linux reports process CPU time in clock ticks of 1/100 s (USER_HZ, `getconf CLK_TCK`).
const TICKS_PER_SECOND = 100;

/** CPU time (user and system) a process has used so far, in seconds, from /proc/PID/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command name.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Stops a server with SIGTERM and waits for it to exit (the webhook drains, then exits). */
export function stopServer(server: ServerProcess): Promise<void> {
  if (server.child.exitCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    server.child.once("exit", () => resolve());
    server.child.kill("SIGTERM");
  });
}

/** The forked load generator and a function that runs one measurement on it. */
export interface LoadGenerator {
  readonly measure: (request: LoadRequest) => Promise<LoadResult>;
  readonly stop: () => void;
}

export async function forkLoadGenerator(
  templatesPath: string,
  caPath: string,
): Promise<LoadGenerator> {
  const child = fork(`${HERE}load.ts`, [templatesPath, caPath], {
    execArgv: ["--import", "tsx"],
    cwd: REPOSITORY_ROOT,
  });
  await new Promise<void>((resolve, reject) => {
    child.once("message", () => resolve());
    child.once("exit", (code) => reject(new Error(`load generator exited with code ${code}`)));
  });

  const measure = (load: LoadRequest) =>
    new Promise<LoadResult>((resolve, reject) => {
      child.once("message", (message: { ok: boolean; result?: LoadResult; error?: string }) => {
        if (message.ok && message.result !== undefined) {
          resolve(message.result);
        } else {
          reject(new Error(`load generator failed: ${message.error ?? "no result"}`));
        }
      });
      child.send(load);
    });
  return { measure, stop: () => child.kill("SIGTERM") };
}
