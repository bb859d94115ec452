// `serve` watching a cluster (the API-server double) instead of reading a node snapshot. Readiness
// follows the first node list and admission never waits for the API server. A spawned process
// started with --kubeconfig hints toward a node that only the double reports.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { writeDevCertificates, type DevCertificateFiles } from "../../src/cli/certs.ts";
import { runCli } from "../../src/cli/main.ts";
import { startFromSettings } from "../../src/cli/serve.ts";
import { LOCAL_DEFAULTS } from "../../src/cli/start-local.ts";
import type { RunningServer } from "../../src/server/serve.ts";
import { ApiServerDouble, kubeconfigFor } from "../support/apiserver-double.ts";
import { fieldAt, json, send, waitUntil } from "../server/https-client.ts";
import { captureLogs, reviewWithUid } from "../server/test-server.ts";
import { captureIo } from "./capture-io.ts";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
// The example configuration rewrites docker.io/library/nginx:1.25 to this mirror image.
const MIRRORED_NGINX = "registry.example.com/dockerhub/library/nginx:1.25";
const WARM_NODE = "warm-from-double";

describe("serve with a cluster", () => {
  let directory: string;
  let certificates: DevCertificateFiles;
  let ca: Buffer;
  let double: ApiServerDouble;
  let kubeconfig: string;

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), "kube-image-cache-serve-cluster-"));
    certificates = await writeDevCertificates(directory, {
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
    });
    ca = await readFile(certificates.caCertPath);
    double = await ApiServerDouble.start();
    double.add("nodes", clusterNode(WARM_NODE, [MIRRORED_NGINX]));
    for (const name of ["cold-1", "cold-2", "cold-3"]) {
      double.add("nodes", clusterNode(name, []));
    }
    kubeconfig = await kubeconfigFor(double);
  });
  after(async () => {
    await double.close();
    await rm(directory, { recursive: true, force: true });
  });

  async function review(url: string, uid: string) {
    const reply = await send(url, "/mutate", { ca, body: await reviewWithUid(uid) });
    const response = fieldAt(json(reply), "response");
    const patch = fieldAt(response, "patch");
    return {
      status: reply.status,
      allowed: fieldAt(response, "allowed"),
      patch: typeof patch === "string" ? Buffer.from(patch, "base64").toString("utf8") : "",
    };
  }

  test("unreachable API server: not ready, still admits", async (t) => {
    await double.stopListening();
    t.after(() => double.startListening());
    const server: RunningServer = await startFromSettings(
      {
        configPath: LOCAL_DEFAULTS.configPath,
        kubeconfigPath: kubeconfig,
        tls: { certPath: certificates.certPath, keyPath: certificates.keyPath },
        host: "127.0.0.1",
        port: 0,
      },
      captureLogs().logger,
      { cluster: { backoff: { initialMs: 20, maxMs: 200 } } },
    );
    t.after(() => server.close());

    const notReady = await send(server.url, "/readyz", { ca });
    const before = await review(server.url, "00000000-0000-4000-8000-00000000c001");
    assert.equal(notReady.status, 503);
    assert.equal(before.status, 200);
    assert.equal(before.allowed, true);
    assert.doesNotMatch(before.patch, /nodeAffinity|matchFields/);

    await double.startListening();
    await waitUntil(
      "ready",
      async () => (await send(server.url, "/readyz", { ca })).status === 200,
    );
    const after = await review(server.url, "00000000-0000-4000-8000-00000000c002");
    assert.equal(after.allowed, true);
    assert.match(after.patch, new RegExp(WARM_NODE));

    await server.close();
    await waitUntil("watches closed", () => double.openWatches() === 0);
  });

  test("serve --kubeconfig process hints from the double", async () => {
    const child = spawn(
      process.execPath,
      [
        ...["--import", "tsx", MAIN, "serve", "--config", LOCAL_DEFAULTS.configPath],
        ...["--kubeconfig", kubeconfig, "--context", "double"],
        ...["--tls-cert", certificates.certPath, "--tls-key", certificates.keyPath],
        ...["--host", "127.0.0.1", "--port", "0"],
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const exited = once(child, "exit");
    try {
      const url = await listeningUrl(child.stdout);
      // Keep reading the log so that the child never blocks on a full pipe.
      child.stdout.resume();
      await waitUntil("ready", async () => (await send(url, "/readyz", { ca })).status === 200, {
        attempts: 200,
      });
      const result = await review(url, "00000000-0000-4000-8000-00000000c003");

      assert.equal(result.status, 200);
      assert.equal(result.allowed, true);
      assert.match(result.patch, new RegExp(WARM_NODE));
    } finally {
      child.kill("SIGTERM");
    }
    const [exitCode] = (await exited) as [number | null];
    assert.equal(exitCode, 0);
  });

  test("serve outside a cluster exits 3", async () => {
    const environment = { ...process.env };
    delete environment["KUBERNETES_SERVICE_HOST"];
    delete environment["KUBERNETES_SERVICE_PORT"];
    const child = spawn(
      process.execPath,
      [
        ...["--import", "tsx", MAIN, "serve"],
        ...["--tls-cert", certificates.certPath, "--tls-key", certificates.keyPath],
      ],
      { stdio: ["ignore", "pipe", "pipe"], env: environment },
    );
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    const [exitCode] = (await once(child, "exit")) as [number | null];

    assert.equal(exitCode, 3);
    assert.match(stderr, /in-cluster configuration not found/);
    assert.match(stderr, /pass --kubeconfig FILE/);
  });

  test("serve unknown context exits 3", async () => {
    const io = captureIo();
    const args = ["serve", "--kubeconfig", kubeconfig, "--context", "production"];
    const tls = ["--tls-cert", certificates.certPath, "--tls-key", certificates.keyPath];

    assert.equal(await runCli([...args, ...tls], io), 3);
    assert.match(io.errors(), /context "production" \(from --context\) not found/);
    assert.match(io.errors(), /available contexts: double/);
  });
});

function clusterNode(name: string, images: readonly string[]): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux" },
    },
    spec: {},
    status: {
      allocatable: { cpu: "4", memory: "8Gi" },
      nodeInfo: { architecture: "amd64", operatingSystem: "linux" },
      images: images.map((image) => ({ names: [image], sizeBytes: 70_000_000 })),
    },
  };
}

/** Reads the child's JSON log lines until the "listening" one; returns its URL. */
async function listeningUrl(stdout: NodeJS.ReadableStream): Promise<string> {
  for await (const line of createInterface({ input: stdout })) {
    const parsed = parseLine(line);
    if (parsed?.["msg"] === "listening") {
      return String(parsed["url"]);
    }
  }
  throw new Error("the server exited before logging that it listens");
}

function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
