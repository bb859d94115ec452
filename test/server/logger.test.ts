// The logger's redaction of credentials, its error field and its level check.
import assert from "node:assert/strict";
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
