// Reading registry credentials from kubernetes.io/dockerconfigjson documents.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import {
  hostOfAuthKey,
  parseDockerConfig,
  readRegistryCredentials,
} from "../../src/registry/credentials.ts";
import { InvalidCredentialsFileError } from "../../src/registry/errors.ts";

const SUBJECT = { registry: "registry.test", image: "registry.test/app:v1" };

test("auth field decoded", () => {
  const text = JSON.stringify({
    auths: { "registry.test": { auth: Buffer.from("alice:pa:ss").toString("base64") } },
  });

  assert.deepEqual(parseDockerConfig(text, "creds.json", SUBJECT).get("registry.test"), {
    username: "alice",
    password: "pa:ss",
  });
});

test("username and password fields", () => {
  const text = JSON.stringify({ auths: { "registry.test": { username: "bob", password: "pw" } } });

  assert.deepEqual(parseDockerConfig(text, "creds.json", SUBJECT).get("registry.test"), {
    username: "bob",
    password: "pw",
  });
});

test("auth keys reduced to hosts", () => {
  assert.equal(hostOfAuthKey("https://index.docker.io/v1/"), "docker.io");
  assert.equal(hostOfAuthKey("registry-1.docker.io"), "docker.io");
  assert.equal(hostOfAuthKey("https://registry.test:5000/v2/"), "registry.test:5000");
  assert.equal(hostOfAuthKey("registry.test"), "registry.test");
});

test("malformed entries rejected without the secret", () => {
  const secret = "c2VjcmV0LXdpdGhvdXQtY29sb24";
  const text = JSON.stringify({ auths: { "registry.test": { auth: secret } } });

  assert.throws(
    () => parseDockerConfig(text, "creds.json", SUBJECT),
    (error: unknown) => {
      assert.ok(error instanceof InvalidCredentialsFileError);
      assert.match(error.message, /creds\.json/);
      assert.match(error.message, /entry "registry\.test"/);
      assert.doesNotMatch(error.message, new RegExp(secret));
      return true;
    },
  );
});

test("invalid JSON rejected without its text", () => {
  assert.throws(
    () => parseDockerConfig('{"auths": {"r": {"password": "hunter2"', "creds.json", SUBJECT),
    (error: unknown) =>
      error instanceof InvalidCredentialsFileError &&
      /not valid JSON/.test(error.message) &&
      !error.message.includes("hunter2"),
  );
});

test("missing auths rejected", () => {
  assert.throws(() => parseDockerConfig("{}", "creds.json", SUBJECT), /no "auths" mapping/);
});

test("file read per call", async () => {
  const dir = await mkdtemp(join(tmpdir(), "kic-creds-"));
  try {
    const path = join(dir, "config.json");
    const entry = (password: string) =>
      JSON.stringify({ auths: { "registry.test": { username: "u", password } } });

    await writeFile(path, entry("first"));
    assert.equal(
      (await readRegistryCredentials(path, "registry.test", SUBJECT))?.password,
      "first",
    );
    await writeFile(path, entry("rotated"));
    assert.equal(
      (await readRegistryCredentials(path, "registry.test", SUBJECT))?.password,
      "rotated",
    );
    assert.equal(await readRegistryCredentials(path, "other.test", SUBJECT), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("missing file names the path", async () => {
  await assert.rejects(
    readRegistryCredentials("/nonexistent/kic-creds.json", "registry.test", SUBJECT),
    /credentials file \/nonexistent\/kic-creds\.json for registry registry\.test is invalid: cannot read it \(ENOENT\)/,
  );
});
