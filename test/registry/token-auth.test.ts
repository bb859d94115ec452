// Bearer token authentication against a real registry configured with `auth: token`, and a token
// service in this process that signs RS256 tokens with a certificate the registry trusts.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import type { RegistryAccess } from "../../src/config.ts";
import { RegistryClient } from "../../src/registry/client.ts";
import {
  InvalidCredentialsFileError,
  RegistryUnauthorizedError,
} from "../../src/registry/errors.ts";
import { pushImage, startRegistry, type TestRegistry } from "../support/registry.ts";
import { buildTestImages, layersOf } from "../support/registry-fixtures.ts";
import { startTokenServer, type TokenServer } from "../support/registry-token.ts";

const USER = "puller";
const PASSWORD = "correct horse battery staple";
const TIMEOUT_MS = 5000;

describe("token authentication", () => {
  const images = buildTestImages();
  let dir: string;
  let tokens: TokenServer;
  let registry: TestRegistry;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "kic-token-auth-"));
    tokens = await startTokenServer(dir, {
      users: { [USER]: PASSWORD },
      publicPrefix: "public/",
      expiresInSeconds: 300,
    });
    registry = await startRegistry(tokens.settings);
    const credentials = { username: USER, password: PASSWORD };
    await pushImage(registry, "public/app", "v1", images.appV1, { credentials });
    await pushImage(registry, "private/app", "v1", images.appV1, { credentials });
  });
  after(async () => {
    await registry?.stop();
    await tokens?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Writes a dockerconfigjson file and returns a client that reads it for the registry. */
  async function clientWithCredentials(name: string, entry: unknown): Promise<RegistryClient> {
    const path = join(dir, name);
    await writeFile(path, JSON.stringify({ auths: { [registry.host]: entry } }));
    return clientWith({ plainHTTP: true, credentials: path });
  }
  function clientWith(access: RegistryAccess): RegistryClient {
    return new RegistryClient({
      registries: new Map([[registry.host, access]]),
      timeoutMs: TIMEOUT_MS,
    });
  }
  const image = (path: string) => ({ domain: registry.host, path, tag: "v1" });
  const tokenRequestsFor = (scope: string) =>
    tokens.requests.filter((request) => request.scopes.includes(scope));

  test("anonymous token reads public image", async () => {
    const fetched = await clientWith({ plainHTTP: true }).getManifest(image("public/app"));

    assert.ok(fetched.document.kind === "manifest");
    assert.deepEqual(fetched.document.layers, layersOf(images.appV1));
    assert.equal(tokenRequestsFor("repository:public/app:pull").at(-1)?.user, undefined);
  });

  test("anonymous token denied private image", async () => {
    await assert.rejects(
      clientWith({ plainHTTP: true }).getManifest(image("private/app")),
      (error: unknown) => {
        assert.ok(error instanceof RegistryUnauthorizedError);
        assert.match(error.message, new RegExp(`registry ${registry.host} denied access`));
        assert.match(error.message, /\.credentials to a dockerconfigjson file/);
        return true;
      },
    );
  });

  test("credentials read private image", async () => {
    const auth = Buffer.from(`${USER}:${PASSWORD}`).toString("base64");
    const client = await clientWithCredentials("auth.json", { auth });
    const fetched = await client.getManifest(image("private/app"));

    assert.equal(fetched.digest, images.appV1.manifest.digest);
    assert.equal(tokenRequestsFor("repository:private/app:pull").at(-1)?.user, USER);
  });

  test("token reused until expiry", async () => {
    const client = await clientWithCredentials("fields.json", {
      username: USER,
      password: PASSWORD,
    });
    await client.getManifest(image("private/app"));
    const issued = tokens.requests.length;

    await client.headManifest(image("private/app"));
    await client.getManifest(image("private/app"));
    assert.equal(tokens.requests.length, issued);
  });

  test("wrong password rejected by token service", async () => {
    const client = await clientWithCredentials("wrong.json", { username: USER, password: "nope" });

    await assert.rejects(client.getManifest(image("private/app")), (error: unknown) => {
      assert.ok(error instanceof RegistryUnauthorizedError);
      assert.match(
        error.message,
        /token service http:\/\/127\.0\.0\.1:\d+\/token returned HTTP 401/,
      );
      assert.doesNotMatch(error.message, /nope/);
      return true;
    });
  });

  test("unreadable credentials file reported", async () => {
    const client = clientWith({ plainHTTP: true, credentials: join(dir, "missing.json") });

    await assert.rejects(client.getManifest(image("private/app")), InvalidCredentialsFileError);
  });
});
