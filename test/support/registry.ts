// A real OCI registry for tests: Debian's docker-registry (distribution 2.8) serving plain HTTP on
// 127.0.0.1 from a temporary directory, and image pushes through skopeo. .ci/run installs both;
// elsewhere run `apt-get install -y docker-registry skopeo`.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { writeOciLayout, type TestArtifact } from "./registry-images.ts";

const REGISTRY_BINARY = "/usr/bin/docker-registry";
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;
const POLL_INTERVAL_MS = 50;
const MAX_LOG_CHARS = 20_000;

/** Token authentication settings for the registry's `auth.token` section. */
export interface TokenAuthSettings {
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** PEM file with the certificate whose key signs the tokens. */
  readonly rootCertBundle: string;
}

/** A running registry. */
export interface TestRegistry {
  /** "127.0.0.1:<port>", the domain of image references on this registry. */
  readonly host: string;
  readonly pid: number;
  /** Output of the registry so far, for failure messages. */
  log(): string;
  /**
   * Stops the process from responding (SIGSTOP), as a hung registry would. Resolves once every
   * thread is stopped, because the signal takes effect asynchronously.
   */
  pause(): Promise<void>;
  /** Resumes a paused registry (SIGCONT). */
  resume(): void;
  /** Stops the registry and deletes its storage. Safe to call twice. */
  stop(): Promise<void>;
}

/** Starts a registry on a free port and waits until GET /v2/ responds. */
export async function startRegistry(auth?: TokenAuthSettings): Promise<TestRegistry> {
  if (!existsSync(REGISTRY_BINARY)) {
    throw new Error(
      `${REGISTRY_BINARY} not found; install it with: apt-get install -y docker-registry skopeo`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), "kic-registry-"));
  const port = await freePort();
  const configPath = join(dir, "config.yml");
  await writeFile(configPath, registryConfig(join(dir, "storage"), port, auth));

  const child = spawn(REGISTRY_BINARY, ["serve", configPath], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString("utf8")).slice(-MAX_LOG_CHARS);
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);

  const registry = handle(child, `127.0.0.1:${port}`, dir, () => output);
  try {
    await waitUntilServing(child, registry.host, auth !== undefined);
  } catch (error: unknown) {
    await registry.stop();
    throw new Error(`docker-registry did not start: ${String(error)}\n${output}`, {
      cause: error,
    });
  }
  return registry;
}

function handle(child: ChildProcess, host: string, dir: string, log: () => string): TestRegistry {
  const pid = child.pid;
  if (pid === undefined) {
    throw new Error(`${REGISTRY_BINARY} could not be started`);
  }
  let paused = false;
  return {
    host,
    pid,
    log,
    async pause() {
      process.kill(pid, "SIGSTOP");
      paused = true;
      await waitUntilStopped(pid);
    },
    resume() {
      process.kill(pid, "SIGCONT");
      paused = false;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        if (paused) {
          process.kill(pid, "SIGCONT");
        }
        await terminate(child, pid);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function terminate(child: ChildProcess, pid: number): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  process.kill(pid, "SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS);
  });
  const late = await Promise.race([exited.then(() => false), timedOut]);
  clearTimeout(timer);
  if (late) {
    process.kill(pid, "SIGKILL");
    await exited;
  }
}

/** Polls /proc until every thread of `pid` is in state T (stopped), within STOP_TIMEOUT_MS. */
async function waitUntilStopped(pid: number): Promise<void> {
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const threads = await readdir(`/proc/${pid}/task`);
    const states = await Promise.all(
      threads.map(async (thread) => {
        const stat = await readFile(`/proc/${pid}/task/${thread}/stat`, "utf8");
        // The state follows the parenthesised command name, which may itself contain spaces.
        return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      }),
    );
    if (states.every((state) => state === "T")) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`docker-registry ${pid} did not stop within ${STOP_TIMEOUT_MS} ms of SIGSTOP`);
}

function registryConfig(storage: string, port: number, auth?: TokenAuthSettings): string {
  const lines = [
    "version: 0.1",
    "log:",
    "  level: warn",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${storage}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: 127.0.0.1:${port}`,
  ];
  if (auth !== undefined) {
    lines.push(
      "auth:",
      "  token:",
      `    realm: ${auth.realm}`,
      `    service: ${auth.service}`,
      `    issuer: ${auth.issuer}`,
      `    rootcertbundle: ${auth.rootCertBundle}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** Asks the kernel for a free loopback port. Another process could take it before us, rarely. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") {
    throw new Error("could not read the port of a loopback listener");
  }
  return address.port;
}

/** Polls GET /v2/ until it returns 200 (or 401 with token auth), within START_TIMEOUT_MS. */
async function waitUntilServing(child: ChildProcess, host: string, auth: boolean): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`exited with code ${child.exitCode}`);
    }
    try {
      const response = await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(1000) });
      if (response.status === 200 || (auth && response.status === 401)) {
        return;
      }
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  throw new Error(`GET http://${host}/v2/ did not answer within ${START_TIMEOUT_MS} ms`);
}

/** Options of pushImage. */
export interface PushOptions {
  /** Credentials for a registry with token authentication. */
  readonly credentials?: { readonly username: string; readonly password: string };
  /** "docker" converts to Docker media types (manifest list v2, manifest v2) while pushing. */
  readonly format?: "oci" | "docker";
}

/**
 * Pushes an image or index to `<registry>/<repository>:<tag>` with skopeo, from an OCI layout
 * written to a temporary directory. `--all` copies every image of an index, not only the one for
 * this machine's platform.
 */
export async function pushImage(
  registry: TestRegistry,
  repository: string,
  tag: string,
  artifact: TestArtifact,
  options: PushOptions = {},
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "kic-layout-"));
  try {
    await writeOciLayout(dir, tag, artifact);
    const args = [
      "--insecure-policy",
      "copy",
      "--all",
      "--quiet",
      "--dest-tls-verify=false",
      ...(options.format === "docker" ? ["--format", "v2s2"] : []),
      ...(options.credentials === undefined
        ? []
        : ["--dest-creds", `${options.credentials.username}:${options.credentials.password}`]),
      `oci:${dir}:${tag}`,
      `docker://${registry.host}/${repository}:${tag}`,
    ];
    // Asynchronous, because the token server of an authenticating registry runs in this process.
    await new Promise<void>((resolve, reject) => {
      execFile("skopeo", args, { timeout: 60_000 }, (error, _stdout, stderr) => {
        if (error === null) {
          resolve();
          return;
        }
        const target = `${registry.host}/${repository}:${tag}`;
        reject(new Error(`skopeo copy to ${target} failed: ${error.message}\n${stderr}`));
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
