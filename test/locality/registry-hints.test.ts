// Layer-level hints end to end against a real registry (Debian's docker-registry on 127.0.0.1):
// the images are built by the tests, their manifests read by the manifest store, and the hints
// computed by the same pipeline dry-run and the server run.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { after, before, describe, it } from "node:test";

import { writeDevCertificates } from "../../src/cli/certs.ts";
import { runDryRun } from "../../src/cli/dry-run.ts";
import { startFromSettings } from "../../src/cli/serve.ts";
import { createLogger } from "../../src/logger.ts";
import { applyPatch } from "../support/apiserver-jsonpatch.ts";
import { decodePatch } from "../support/admission-expectations.ts";
import { createReview, nodeWith, podWith } from "../support/pods.ts";
import { buildTestImages, pushTestImages } from "../support/registry-fixtures.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { validateObject } from "../support/schema.ts";
import { send } from "../server/https-client.ts";

interface JsonEntry {
  preferredNodes: { node: string; heldBytes: number; totalBytes: number }[];
  localityBasis?: string;
}

describe("layer hints from a real registry", () => {
  let registry: TestRegistry;
  let directory: string;
  let configPath: string;
  let nodesPath: string;
  const images = buildTestImages();

  before(async () => {
    registry = await startRegistry();
    await pushTestImages(registry, images);
    directory = await mkdtemp(join(tmpdir(), "kic-layer-hints-"));
    configPath = join(directory, "config.yaml");
    nodesPath = join(directory, "nodes.json");
    await writeFile(
      configPath,
      [
        "registries:",
        `  "${registry.host}":`,
        "    plainHTTP: true",
        "registry:",
        "  timeoutMs: 3000",
        "  admissionBudgetMs: 1500",
        "mirrorHealth:",
        "  enabled: false",
        "",
      ].join("\n"),
    );
    const arm = { labels: { "kubernetes.io/arch": "arm64" } };
    const nodes = [
      nodeWith("warm-v1", [[[`${registry.host}/app:v1`], 30_000]]),
      nodeWith("empty", []),
      nodeWith("arm-warm", [[[`${registry.host}/multi:v1`], 30_000]], arm),
      nodeWith("arm-empty", [], arm),
    ];
    await writeFile(nodesPath, JSON.stringify({ apiVersion: "v1", kind: "List", items: nodes }));
  });

  after(async () => {
    await registry.stop();
    await rm(directory, { recursive: true, force: true });
  });

  async function dryRunJson(image: string): Promise<JsonEntry> {
    const stdout = new PassThrough();
    const chunks: Buffer[] = [];
    stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    const stderr = new PassThrough();
    const pod = podWith([{ name: "app", image }]);
    const code = await runDryRun(
      ["--config", configPath, "--nodes", nodesPath, "-o", "json", "-"],
      { stdout, stderr, stdin: Readable.from([JSON.stringify(pod)]) },
    );
    assert.equal(code, 0);
    const [entry] = JSON.parse(Buffer.concat(chunks).toString()) as JsonEntry[];
    assert.ok(entry);
    return entry;
  }

  it("prefers the node holding a sibling image", async () => {
    const entry = await dryRunJson(`${registry.host}/app:v2`);
    assert.equal(entry.localityBasis, "layers");
    assert.deepEqual(
      entry.preferredNodes.map((preference) => preference.node),
      ["warm-v1"],
    );
    const shared = images.layers.os.size + images.layers.runtime.size;
    assert.equal(entry.preferredNodes[0]?.heldBytes, shared);
    assert.equal(entry.preferredNodes[0]?.totalBytes, shared + images.layers.appV2.size);
  });

  it("never prefers a node of the wrong architecture", async () => {
    const entry = await dryRunJson(`${registry.host}/arm-single:v1`);
    assert.equal(entry.localityBasis, "layers");
    assert.deepEqual(
      entry.preferredNodes.map((preference) => preference.node),
      ["arm-warm"],
    );
  });

  it("server hints the next pod by layers", async () => {
    const certs = join(directory, "certs");
    await writeDevCertificates(certs, { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
    const server = await startFromSettings(
      {
        configPath,
        nodesPath,
        tls: { certPath: join(certs, "tls.crt"), keyPath: join(certs, "tls.key") },
        host: "127.0.0.1",
        port: 0,
      },
      createLogger({ level: "silent" }),
      { indexIntervalMs: 200 },
    );
    try {
      const ca = await readFile(join(certs, "ca.crt"));
      const pod = podWith([{ name: "app", image: `${registry.host}/app:v2` }]);
      let nodes: string[] = [];
      // The first pods may be admitted before the node layer index has the nodes' manifests;
      // the index is rebuilt in the background, so a later pod gets the layer hint.
      for (let attempt = 0; attempt < 50 && nodes.length === 0; attempt += 1) {
        const reply = await send(server.url, "/mutate", {
          ca,
          body: JSON.stringify(createReview(pod)),
        });
        const patch = decodePatch(JSON.parse(reply.text) as Record<string, unknown>);
        const applied = applyPatch(pod, patch);
        assert.ok(applied.ok, applied.error);
        assert.deepEqual(validateObject(applied.doc), []);
        nodes = JSON.stringify(patch).match(/"values":\["([^"]+)"\]/g) ?? [];
        if (nodes.length === 0) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      assert.deepEqual(nodes, ['"values":["warm-v1"]']);
    } finally {
      await server.close();
    }
  });
});
