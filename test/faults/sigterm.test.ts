// SIGTERM during load on a real `serve --kubeconfig` process backed by the API-server double.
// Readiness fails while an admission is still in flight. That admission and every other one the
// server started get a response with their uid, and the process exits 0 within the grace period.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { writeDevCertificates } from "../../src/cli/certs.ts";
import { LOCAL_DEFAULTS } from "../../src/cli/start-local.ts";
import { ApiServerDouble, kubeconfigFor } from "../support/apiserver-double.ts";
import { podWith } from "../support/pods.ts";
import { fieldAt, send, waitUntil } from "../server/https-client.ts";
import { reviewWithUid } from "../server/test-server.ts";
import { isDeadlineWarning } from "./admissions.ts";
import { startAdmissionStream, type StreamedAdmission } from "./admission-stream.ts";
import { parkAdmission } from "./parked-request.ts";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const HELD_UID = "516e0000-0000-4000-8000-000000000001";
const MIRRORED_NGINX = "registry.example.com/dockerhub/library/nginx:1.25";
// Kubernetes' default terminationGracePeriodSeconds, which the webhook's manifest also sets.
// Only a hang can exceed it; the test does not time the shutdown otherwise.
const GRACE_PERIOD_MS = 30_000;
// Failures a client may see when the server closes a connection it had kept alive, or refuses
// a new one, before the request was read: the server never started those admissions.
const CONNECTION_ERRORS = /ECONNREFUSED|ECONNRESET|socket hang up|EPIPE/;

test("SIGTERM under load finishes admissions", async (t) => {
  const directory = await mkdtemp(join(tmpdir(), "kic-sigterm-"));
  const double = await ApiServerDouble.start();
  t.after(async () => {
    await double.close();
    await rm(directory, { recursive: true, force: true });
  });
  double.add("nodes", clusterNode("warm-1", [MIRRORED_NGINX]));
  double.add("nodes", clusterNode("cold-1", []));
  const files = await writeDevCertificates(directory, {
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
  });
  const ca = await readFile(files.caCertPath);

  const child = spawn(
    process.execPath,
    [
      ...["--import", "tsx", MAIN, "serve", "--config", LOCAL_DEFAULTS.configPath],
      ...["--kubeconfig", await kubeconfigFor(double)],
      ...["--tls-cert", files.certPath, "--tls-key", files.keyPath],
      ...["--host", "127.0.0.1", "--port", "0"],
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
    }
  });
  const log = followLog(child.stdout);
  const url = await log.listening;
  await waitUntil("ready", async () => (await send(url, "/readyz", { ca })).status === 200, {
    attempts: 300,
  });

  const pod = podWith([{ name: "web", image: "nginx:1.25" }]);
  const reused = startAdmissionStream(url, ca, pod, { streamId: 1 });
  const fresh = startAdmissionStream(url, ca, pod, { keepAlive: false, workers: 2, streamId: 2 });
  await waitUntil("admissions flowing", () => fresh.results().length >= 10);
  const heldAdmission = await parkAdmission(url, ca, await reviewWithUid(HELD_UID));

  const signalledAt = Date.now();
  child.kill("SIGTERM");
  await waitUntil("readiness failing", async () => !(await probeReady(url, ca)));
  const aliveAfterReadinessFailed = child.exitCode === null;
  const heldReply = await heldAdmission.finish();
  const [exitCode] = await exited;
  const shutdownMs = Date.now() - signalledAt;
  const results = [...(await reused.stop()), ...(await fresh.stop())];

  assert.equal(aliveAfterReadinessFailed, true);
  assert.equal(heldReply.status, 200);
  assert.equal(fieldAt(JSON.parse(heldReply.text), "response", "uid"), HELD_UID);
  assert.equal(exitCode, 0);
  assert.ok(shutdownMs < GRACE_PERIOD_MS, `exited ${shutdownMs} ms after SIGTERM`);
  assertAnsweredOrNeverStarted(results, log.decidedUids());
  assert.ok(log.decidedUids().has(HELD_UID));
});

/** Returns whether /readyz returns 200 on a new connection; a refused one counts as not ready. */
async function probeReady(url: string, ca: Buffer): Promise<boolean> {
  try {
    return (await send(url, "/readyz", { ca })).status === 200;
  } catch {
    return false;
  }
}

/**
 * Asserts that every response echoed its uid and admitted the pod, that every request without a
 * response failed at the connection, and that each admission the server logged a decision for
 * reached its client.
 */
function assertAnsweredOrNeverStarted(
  results: readonly StreamedAdmission[],
  decided: ReadonlySet<string>,
): void {
  const answered = new Set<string>();
  for (const { uid, admission, error } of results) {
    if (admission === undefined) {
      assert.match(String(error), CONNECTION_ERRORS);
      continue;
    }
    assert.equal(admission.status, 200);
    assert.equal(admission.uid, uid);
    assert.equal(admission.allowed, true);
    assert.deepEqual(admission.warnings.filter(isDeadlineWarning), []);
    answered.add(uid);
  }
  assert.ok(answered.size > 0);
  const unanswered = [...decided].filter((uid) => uid !== HELD_UID && !answered.has(uid));
  assert.deepEqual(unanswered, []);
}

/** Follows the child's JSON log: the listening URL, and the uids of admission decisions. */
function followLog(stdout: NodeJS.ReadableStream) {
  const decided = new Set<string>();
  const listening = new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: stdout });
    lines.on("line", (line) => {
      const parsed = parseLine(line);
      if (parsed?.["msg"] === "listening") {
        resolve(String(parsed["url"]));
      }
      if (typeof parsed?.["uid"] === "string" && typeof parsed["result"] === "string") {
        decided.add(parsed["uid"]);
      }
    });
    lines.on("close", () => reject(new Error("the server exited before it listened")));
  });
  return { listening, decidedUids: (): ReadonlySet<string> => decided };
}

function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function clusterNode(name: string, images: readonly string[]): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux" } },
    spec: {},
    status: {
      allocatable: { cpu: "4", memory: "8Gi" },
      nodeInfo: { architecture: "amd64", operatingSystem: "linux" },
      images: images.map((image) => ({ names: [image], sizeBytes: 70_000_000 })),
    },
  };
}
