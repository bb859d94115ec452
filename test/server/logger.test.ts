// The logger's redaction of credentials, its error field, its level check, and what the root
// logger does when standard output is blocked.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";

import { InvalidConfigError } from "../../src/config.ts";
import { createLogger, withoutRedaction } from "../../src/logger.ts";
import { fieldAt } from "./https-client.ts";
import { captureLogs } from "./test-server.ts";

test("authorization header redacted", () => {
  const logs = captureLogs("info");
  logs.logger.info({ req: { headers: { authorization: "Bearer abc.def" } } }, "request");

  assert.equal(fieldAt(logs.lines()[0], "req", "headers", "authorization"), "[redacted]");
});

test("pull secret data redacted", () => {
  const logs = captureLogs("info");
  const secret = { data: { ".dockerconfigjson": "eyJhdXRocyI6e319" } };
  logs.logger.info({ secret }, "pull secret");

  assert.equal(fieldAt(logs.lines()[0], "secret", "data", ".dockerconfigjson"), "[redacted]");
});

test("docker auths and tokens redacted", () => {
  const logs = captureLogs("info");
  const config = { auths: { "registry.example.com": { auth: "dXNlcjpwYXNz" } } };
  logs.logger.info({ config, token: "t0ken", registry: { password: "hunter2" } }, "registry");
  const line = logs.lines()[0];

  assert.equal(fieldAt(line, "config", "auths"), "[redacted]");
  assert.equal(fieldAt(line, "token"), "[redacted]");
  assert.equal(fieldAt(line, "registry", "password"), "[redacted]");
});

test("unredacted child leaves parent redacting", () => {
  const logs = captureLogs("info");
  withoutRedaction(logs.logger).info({ image: "nginx:1.25" }, "decision");
  logs.logger.info({ token: "t0ken" }, "registry");
  const [decision, registry] = logs.lines();

  assert.equal(fieldAt(decision, "image"), "nginx:1.25");
  assert.equal(fieldAt(registry, "token"), "[redacted]");
});

test("errors serialised under err", () => {
  const logs = captureLogs("info");
  logs.logger.error({ err: new Error("mirror unreachable") }, "probe failed");
  const line = logs.lines()[0];

  assert.equal(fieldAt(line, "err", "message"), "mirror unreachable");
  assert.equal(typeof fieldAt(line, "err", "stack"), "string");
});

test("unknown level rejected", () => {
  assert.throws(() => createLogger({ level: "verbose" }), InvalidConfigError);
});

// A child process logs 20 MiB through the root logger into a pipe that is not read. The lines past
// the 16 MiB buffer are dropped and counted, the logger never blocks, and every line kept is
// written once the pipe is read.
test("blocked output drops and counts lines", async () => {
  const script = [
    'import { writeSync } from "node:fs";',
    'import { droppedLogLines, rootLogger } from "./src/logger.ts";',
    'const filler = "x".repeat(1000);',
    "for (let i = 0; i < 20_000; i += 1) rootLogger().info({ i, filler }, 'line');",
    "writeSync(2, `dropped ${droppedLogLines()}\\n`);",
  ].join("\n");
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, LOG_LEVEL: "info" },
  });
  child.stdout.pause();
  let errors = "";
  const reported = new Promise<number>((resolve) => {
    child.stderr.on("data", (chunk: Buffer) => {
      errors += chunk.toString("utf8");
      const match = /dropped (\d+)/.exec(errors);
      if (match !== null) {
        resolve(Number(match[1]));
      }
    });
  });
  const dropped = await reported;

  let lines = 0;
  child.stdout.on("data", (chunk: Buffer) => {
    lines += chunk.toString("utf8").split("\n").length - 1;
  });
  child.stdout.resume();
  const [code] = (await once(child, "exit")) as [number | null];
  assert.equal(code, 0, errors);
  assert.ok(dropped > 0, `expected dropped lines, got ${dropped}`);
  assert.equal(lines + dropped, 20_000);
});
