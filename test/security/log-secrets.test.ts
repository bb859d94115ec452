// No secret reaches the logs, even at debug level. The test sends pod env values, image pull
// secret names, an Authorization header on the admission request and a malformed body. The
// webhook also reads manifests from a real registry with token authentication, first with the
// right password and then with a wrong one, so credentials and tokens pass through it.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { stringify as stringifyYaml } from "yaml";

import { startLocalServer, type LocalServer } from "../../src/cli/start-local.ts";
import { createReview, nodeWith, podWith } from "../support/pods.ts";
import { pushImage, startRegistry, type TestRegistry } from "../support/registry.ts";
import { buildTestImages } from "../support/registry-fixtures.ts";
import { startTokenServer, type TokenServer } from "../support/registry-token.ts";
import { send, waitUntil, type Reply } from "../server/https-client.ts";
import { captureLogs, type LogCapture } from "../server/test-server.ts";

const USER = "puller";
const PASSWORD = "registry-password-7f3a9c";
const WRONG_PASSWORD = "wrong-password-b41e02";
const ENV_SECRET = "env-secret-value-91d2";
const HEADER_SECRET = "header-secret-token-5c8e";
const BODY_SECRET = "body-secret-value-2a6f";
const PULL_SECRET_NAME = "pull-secret-name-0b7d";
// A JSON Web Token, the form of the bearer tokens the token service issues.
const JWT_PATTERN = /eyJ[\w-]{8,}\.[\w-]{8,}/;

describe("secrets in logs", () => {
  let directory: string;
  let tokens: TokenServer;
  let registry: TestRegistry;
  let local: LocalServer;
  let logs: LogCapture;
  let ca: Buffer;
  let credentialsPath: string;
  const replies: Reply[] = [];

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), "kube-image-cache-secrets-"));
    tokens = await startTokenServer(directory, {
      users: { [USER]: PASSWORD },
      publicPrefix: "public/",
      expiresInSeconds: 300,
    });
    registry = await startRegistry(tokens.settings);
    const credentials = { username: USER, password: PASSWORD };
    await pushImage(registry, "private/library/app", "v1", buildTestImages().appV1, {
      credentials,
    });

    credentialsPath = join(directory, "dockerconfig.json");
    await writeCredentials(PASSWORD);
    // The only node reports an image of the loopback registry, so the webhook reads manifests from
    // that registry alone; other hosts are never looked up.
    const nodesPath = join(directory, "nodes.json");
    const nodeImage: [string[], number] = [[`${registry.host}/private/library/app:v1`], 1_000_000];
    await writeFile(
      nodesPath,
      JSON.stringify({
        apiVersion: "v1",
        kind: "NodeList",
        items: [nodeWith("node-a", [nodeImage])],
      }),
    );
    const configPath = join(directory, "config.yaml");
    await writeFile(
      configPath,
      stringifyYaml({
        mirror: { registries: { "docker.io": `${registry.host}/private` } },
        registries: { [registry.host]: { plainHTTP: true, credentials: credentialsPath } },
        registry: { enabled: true, timeoutMs: 5000, admissionBudgetMs: 1000 },
        mirrorHealth: { enabled: false },
      }),
    );
    logs = captureLogs("debug");
    local = await startLocalServer({
      logger: logs.logger,
      certDirectory: join(directory, "certs"),
      configPath,
      nodesPath,
      port: 0,
    });
    ca = await readFile(local.caCertPath);
  });

  after(async () => {
    await local?.server.close();
    await registry?.stop();
    await tokens?.close();
    await rm(directory, { recursive: true, force: true });
  });

  async function writeCredentials(password: string): Promise<void> {
    const auth = Buffer.from(`${USER}:${password}`).toString("base64");
    await writeFile(credentialsPath, JSON.stringify({ auths: { [registry.host]: { auth } } }));
  }

  async function post(body: string): Promise<Reply> {
    const reply = await send(local.server.url, "/mutate", {
      ca,
      body,
      headers: { "content-type": "application/json", authorization: `Bearer ${HEADER_SECRET}` },
    });
    replies.push(reply);
    return reply;
  }

  function podReview(image: string): string {
    const pod = podWith(
      [{ name: "web", image, env: [{ name: "API_KEY", value: ENV_SECRET }] } as never],
      {
        imagePullSecrets: [{ name: PULL_SECRET_NAME }],
      },
    );
    return JSON.stringify(createReview(pod));
  }

  it("reads manifests with the right password", async () => {
    assert.equal((await post(podReview("app:v1"))).status, 200);
    await waitUntil("a token issued to the user", () =>
      tokens.requests.some((request) => request.user === USER && request.status === 200),
    );
  });

  it("reports the wrong password", async () => {
    await writeCredentials(WRONG_PASSWORD);
    assert.equal((await post(podReview("other:v1"))).status, 200);
    await waitUntil("a token request rejected", () =>
      tokens.requests.some((request) => request.status === 401),
    );
  });

  it("rejects malformed body without quoting it", async () => {
    const reply = await post(`{"env": ${BODY_SECRET}}`);
    assert.equal(reply.status, 400);
    assert.match(reply.text, /not valid JSON: syntax error/);
  });

  it("logs none of the secrets", () => {
    const text = logs
      .lines()
      .map((line) => JSON.stringify(line))
      .join("\n");
    const secrets = [
      PASSWORD,
      WRONG_PASSWORD,
      Buffer.from(`${USER}:${PASSWORD}`).toString("base64"),
      Buffer.from(`${USER}:${WRONG_PASSWORD}`).toString("base64"),
      ENV_SECRET,
      HEADER_SECRET,
      BODY_SECRET,
      PULL_SECRET_NAME,
    ];
    for (const secret of secrets) {
      assert.ok(!text.includes(secret), `the logs contain ${secret}`);
    }
    assert.doesNotMatch(text, JWT_PATTERN);
    assert.ok(
      logs.lines().some((line) => line["level"] === 20),
      "debug lines were written",
    );
  });

  it("answers with none of the secrets", () => {
    const text = replies.map((reply) => reply.text).join("\n");
    assert.ok(!text.includes(BODY_SECRET));
    assert.ok(!text.includes(ENV_SECRET));
  });
});
