// `report` end to end. A node snapshot names images pushed to a real registry (Debian's
// docker-registry on 127.0.0.1), whose manifests give the sizes. An offline run names every
// manifest it did not read, and the exit codes are checked last.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { runReport } from "../../src/cli/report.ts";
import type { LayerReport } from "../../src/report/layer-report.ts";
import { captureIo } from "../cli/capture-io.ts";
import { nodeWith } from "../support/pods.ts";
import { buildTestImages, pushTestImages } from "../support/registry-fixtures.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";

interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function report(args: string[]): Promise<RunResult> {
  const io = captureIo();
  const code = await runReport(args, io);
  return { code, stdout: io.output(), stderr: io.errors() };
}

describe("report against a registry", () => {
  const images = buildTestImages();
  const { os, runtime, appV1, appV2 } = images.layers;
  let registry: TestRegistry;
  let directory: string;
  let configPath: string;
  let nodesPath: string;

  before(async () => {
    registry = await startRegistry();
    await pushTestImages(registry, images);
    directory = await mkdtemp(join(tmpdir(), "kic-report-"));
    configPath = join(directory, "config.yaml");
    nodesPath = join(directory, "nodes.json");
    const host = registry.host;
    await writeFile(
      configPath,
      [
        "registries:",
        `  "${host}":`,
        "    plainHTTP: true",
        "registry:",
        "  timeoutMs: 3000",
        "mirrorHealth:",
        "  enabled: false",
        "",
      ].join("\n"),
    );
    // Node sizes are deliberately wrong: the report must take sizes from the manifests.
    const v1Digest = images.appV1.manifest.digest;
    const nodes = [
      nodeWith("warm-v1", [
        [[`${host}/app@${v1Digest}`, `${host}/app:v1`], 1],
        [[`${host}/base:latest`], 1],
      ]),
      nodeWith("warm-v2", [[[`${host}/app:v2`], 1]]),
      nodeWith("empty", []),
      nodeWith("missing", [[[`${host}/missing:v1`], 1]]),
    ];
    await writeFile(nodesPath, JSON.stringify({ apiVersion: "v1", kind: "List", items: nodes }));
  });

  after(async () => {
    await registry.stop();
    await rm(directory, { recursive: true, force: true });
  });

  async function jsonReport(): Promise<LayerReport> {
    const result = await report(["--config", configPath, "--nodes", nodesPath, "-o", "json"]);
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as LayerReport;
  }

  it("counts layers from manifests", async () => {
    const { layers } = await jsonReport();
    const base = os.size + runtime.size;

    assert.equal(layers.unique, 4);
    assert.equal(layers.uniqueBytes, base + appV1.size + appV2.size);
    assert.equal(layers.references, 6);
    assert.equal(layers.storedBytes, 2 * base + appV1.size + appV2.size);
    assert.equal(layers.unsharedBytes, 3 * base + appV1.size + appV2.size);
  });

  it("ranks pre-pull candidates", async () => {
    const { prepullCandidates } = await jsonReport();
    const host = registry.host;

    assert.deepEqual(
      prepullCandidates.map((candidate) => candidate.image),
      [`${host}/app:v2`, `${host}/app:v1`, `${host}/base:latest`],
    );
    assert.equal(prepullCandidates[0]?.eligibleNodes, 4);
  });

  it("names the unreadable manifest", async () => {
    const { unreadManifests, readImages } = await jsonReport();

    assert.equal(readImages, 3);
    assert.equal(unreadManifests.length, 1);
    assert.equal(unreadManifests[0]?.image, `${registry.host}/missing:v1`);
    assert.doesNotMatch(unreadManifests[0]?.reason ?? "", /offline/);
  });

  it("prints a table", async () => {
    const result = await report(["--config", configPath, "--nodes", nodesPath]);

    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^nodes: 4$/m);
    assert.match(result.stdout, /^images most worth pre-pulling/m);
    const host = registry.host.replaceAll(".", "\\.");
    assert.match(result.stdout, new RegExp(`^  ${host}/missing:v1 +1  `, "m"));
  });

  it("offline names every unread manifest", async () => {
    const result = await report(["--config", configPath, "--nodes", nodesPath, "--offline"]);
    const unread = result.stdout.match(/manifest not read: --offline$/gm) ?? [];

    assert.equal(result.code, 0, result.stderr);
    assert.equal(unread.length, 4);
    assert.match(result.stdout, /none: no image manifest was read/);
  });
});

describe("report exit codes", () => {
  it("requires a node source", async () => {
    const result = await report(["-o", "json"]);

    assert.equal(result.code, 2);
    assert.match(result.stderr, /pass exactly one of --nodes FILE/);
  });

  it("rejects an unknown format", async () => {
    const result = await report(["--nodes", "src/examples/nodes.json", "-o", "yaml"]);

    assert.equal(result.code, 2);
    assert.match(result.stderr, /-o "yaml" is not an output format/);
  });

  it("rejects an invalid top", async () => {
    const result = await report(["--nodes", "src/examples/nodes.json", "--top", "0"]);

    assert.equal(result.code, 2);
  });

  it("rejects a missing snapshot", async () => {
    const result = await report(["--nodes", "does-not-exist.json", "--offline"]);

    assert.equal(result.code, 3);
    assert.match(result.stderr, /invalid node snapshot does-not-exist\.json/);
  });

  it("rejects an invalid configuration", async () => {
    const result = await report(["--nodes", "src/examples/nodes.json", "--config", "package.json"]);

    assert.equal(result.code, 3);
  });

  it("prints help", async () => {
    const result = await report(["--help"]);

    assert.equal(result.code, 0);
    assert.match(result.stdout, /^usage: kube-image-cache report/);
  });
});
