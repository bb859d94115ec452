// `serve` and the installed entry point as separate processes: signals, exit codes and the
// startup failures that are reported before the server listens.
import assert from "node:assert/strict";
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { Agent, request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { writeDevCertificates, type DevCertificateFiles } from "../../src/cli/certs.ts";
import { LOCAL_DEFAULTS } from "../../src/cli/start-local.ts";
import { reviewWithUid } from "../server/test-server.ts";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const BIN = fileURLToPath(new URL("../../src/cli/bin.mjs", import.meta.url));
const UID = "516e7e70-0000-4000-8000-000000000001";

describe("serve process", () => {
  let directory: string;
  let files: DevCertificateFiles;

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), "kube-image-cache-serve-"));
    files = await writeDevCertificates(directory, {
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
    });
  });
  after(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  const serveArgs = () => [
    "serve",
    ...["--config", LOCAL_DEFAULTS.configPath, "--nodes", LOCAL_DEFAULTS.nodesPath],
    ...["--tls-cert", files.certPath, "--tls-key", files.keyPath],
    ...["--host", "127.0.0.1", "--port", "0"],
  ];

  test("SIGTERM lets request finish", async () => {
    const child = runMain(serveArgs());
    const logs = logLines(child);
    const listening = await logs.next((line) => line["msg"] === "listening");
    const url = String(listening["url"]);

    const body = await reviewWithUid(UID);
    const req = request(new URL("/mutate", url), {
      method: "POST",
      ca: await readFile(files.caCertPath),
      agent: new Agent({ keepAlive: true }),
      headers: { "content-length": Buffer.byteLength(body), expect: "100-continue" },
    });
    req.flushHeaders();
    const response = once(req, "response");
    await once(req, "continue");

    child.kill("SIGTERM");
    await logs.next((line) => line["msg"] === "stop signal received");
    req.end(body);
    const [res] = (await response) as [IncomingMessage];
    const text = await readAll(res);
    const [exitCode] = (await once(child, "exit")) as [number | null];

    assert.equal(res.statusCode, 200);
    assert.match(text, new RegExp(`"uid":"${UID}"`));
    assert.equal(exitCode, 0);
  });

  test("invalid TLS files exit 3", async () => {
    const args = serveArgs().map((arg) => (arg === files.keyPath ? files.caKeyPath : arg));
    const child = runMain(args);
    const stderr = readAll(child.stderr);
    const [exitCode] = (await once(child, "exit")) as [number | null];

    assert.equal(exitCode, 3);
    assert.match(await stderr, /invalid TLS files/);
  });

  test("invalid LOG_LEVEL exits 3", async () => {
    const child = runMain(serveArgs(), { LOG_LEVEL: "loud" });
    const stderr = readAll(child.stderr);
    const [exitCode] = (await once(child, "exit")) as [number | null];

    assert.equal(exitCode, 3);
    assert.match(await stderr, /LOG_LEVEL: "loud" is not a log level/);
  });

  test("bin.mjs runs the CLI", async () => {
    const child = spawn(process.execPath, [BIN, "help"], { stdio: ["ignore", "pipe", "pipe"] });
    const stdout = readAll(child.stdout);
    const [exitCode] = (await once(child, "exit")) as [number | null];

    assert.equal(exitCode, 0);
    assert.match(await stdout, /^Usage: kube-image-cache/);
  });
});

type Child = ChildProcessByStdio<null, Readable, Readable>;

function runMain(args: string[], env: Record<string, string> = {}): Child {
  return spawn(process.execPath, ["--import", "tsx", MAIN, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
}

/** Reads the JSON log lines of a child's stdout in order. */
function logLines(child: Child) {
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    /** Returns the next log line that matches, skipping the others. */
    async next(matches: (line: Record<string, unknown>) => boolean) {
      for (;;) {
        const next: IteratorResult<string> = await lines.next();
        if (next.done === true) {
          throw new Error("the server exited before writing the expected log line");
        }
        const line = parseLogLine(next.value);
        if (line !== undefined && matches(line)) {
          return line;
        }
      }
    },
  };
}

function parseLogLine(text: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = "";
  for await (const chunk of stream) {
    text += String(chunk);
  }
  return text;
}
