// serve records the cold images of admitted pods, and nothing for dry-run requests.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";

import { writeDevCertificates } from "../../src/cli/certs.ts";
import { startFromSettings } from "../../src/cli/serve.ts";
import { LOCAL_DEFAULTS } from "../../src/cli/start-local.ts";
import { createLogger } from "../../src/logger.ts";
import { createReview, podWith } from "../support/pods.ts";
import { send } from "../server/https-client.ts";

let directory: string;

before(async () => {
  directory = await mkdtemp(join(tmpdir(), "kic-serve-record-"));
  await writeDevCertificates(directory, { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
});

after(async () => {
  await rm(directory, { recursive: true, force: true });
});

it("records cold images but not dry-runs", async () => {
  const recordFile = join(directory, "record.json");
  const server = await startFromSettings(
    {
      configPath: LOCAL_DEFAULTS.configPath,
      nodesPath: LOCAL_DEFAULTS.nodesPath,
      recordFile,
      tls: { certPath: join(directory, "tls.crt"), keyPath: join(directory, "tls.key") },
      host: "127.0.0.1",
      port: 0,
    },
    createLogger({ level: "silent" }),
  );
  const ca = await readFile(join(directory, "ca.crt"));
  const cold = podWith([{ name: "app", image: "quay.io/team-a/worker:9" }], {
    imagePullSecrets: [{ name: "team-a-pull" }],
  });
  const dry = createReview(
    podWith([{ name: "app", image: "quay.io/team-a/other:1" }]),
    "team-a",
    "uid-dry",
  );
  (dry["request"] as Record<string, unknown>)["dryRun"] = true;
  for (const body of [createReview(cold), dry]) {
    const reply = await send(server.url, "/mutate", { ca, body: JSON.stringify(body) });
    assert.equal(reply.status, 200);
  }
  // Closing flushes the recorder's queue.
  await server.close();

  const record = JSON.parse(await readFile(recordFile, "utf8")) as {
    entries: { image: string; namespace: string; pullSecrets: string[] }[];
  };
  assert.deepEqual(
    record.entries.map(({ image, namespace, pullSecrets }) => ({ image, namespace, pullSecrets })),
    [
      {
        image: "registry.example.com/quay/team-a/worker:9",
        namespace: "team-a",
        pullSecrets: ["team-a-pull"],
      },
    ],
  );
});
