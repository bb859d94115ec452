// dry-run: every admission case through the CLI, workloads and Lists, the output formats and
// the exit codes.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { PassThrough, Readable } from "node:stream";
import { describe, it } from "node:test";

import { runDryRun } from "../../src/cli/dry-run.ts";
import { applyPatches } from "../support/apiserver-jsonpatch.ts";
import { checkAdmissionCase } from "../support/admission-expectations.ts";
import { fixturePath, loadCases } from "../support/cases.ts";
import { validateObject } from "../support/schema.ts";

const R1 = fixturePath("configs/r1-offline.yaml");
const C1 = fixturePath("cases/c1-nodes.json");
const WORKLOADS = fixturePath("objects/deployment.yaml");

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function dryRun(args: string[], stdin = ""): Promise<RunResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (chunk: Buffer) => out.push(chunk));
  stderr.on("data", (chunk: Buffer) => err.push(chunk));
  const code = await runDryRun(args, { stdout, stderr, stdin: Readable.from([stdin]) });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

interface JsonEntry {
  patch: unknown[];
  object: unknown;
  containers: {
    name: string;
    image: string;
    result: string;
    rewrittenImage: string | null;
    reason: string;
  }[];
  preferredNodes: { node: string; weight: number; heldBytes: number; totalBytes: number }[];
  coldImages: string[];
  warnings: string[];
}

describe("dry-run admission cases", () => {
  for (const testCase of loadCases("admission")) {
    it(`${testCase.id} through dry-run`, async () => {
      const input = JSON.stringify(testCase.input);
      const review = await dryRun(["--config", R1, "--nodes", C1, "-o", "review", "-"], input);
      assert.equal(review.code, 0, review.stderr);
      const json = await dryRun(["--config", R1, "--nodes", C1, "-o", "json", "-"], input);
      assert.equal(json.code, 0, json.stderr);
      const [entry] = JSON.parse(json.stdout) as JsonEntry[];
      const original = (testCase.input["request"] as { object?: unknown }).object;
      const [applied] =
        entry !== undefined && entry.patch.length > 0
          ? applyPatches([{ doc: original, patch: entry.patch }])
          : [];
      checkAdmissionCase(
        testCase,
        JSON.parse(review.stdout) as Record<string, unknown>,
        entry?.coldImages,
        original,
        applied,
      );
    });
  }
});

describe("dry-run workloads", () => {
  it("mutates pod templates", async () => {
    const result = await dryRun(["--config", R1, "--nodes", C1, "-o", "json", WORKLOADS]);
    assert.equal(result.code, 0, result.stderr);
    const entries = JSON.parse(result.stdout) as JsonEntry[];
    assert.equal(entries.length, 3);
    assert.equal(
      entries[0]?.containers[0]?.rewrittenImage,
      "registry.example.com/dockerhub/library/nginx:1.25",
    );
    assert.equal(
      entries[1]?.containers[0]?.rewrittenImage,
      "registry.example.com/quay/team-a/report:2",
    );
    assert.match((entries[2] as { skipReason?: string }).skipReason ?? "", /ConfigMap/);
  });

  it("patches apply to the workloads", async () => {
    const result = await dryRun(["--config", R1, "--nodes", C1, "-o", "json", WORKLOADS]);
    const entries = (JSON.parse(result.stdout) as JsonEntry[]).slice(0, 2);
    const originals = (await dryRun(["-o", "pod", WORKLOADS])).stdout;
    const items = (JSON.parse(originals) as { items: unknown[] }).items;
    const applied = applyPatches(
      entries.map((entry, index) => ({ doc: items[index], patch: entry.patch })),
    );
    for (const [index, outcome] of applied.entries()) {
      assert.ok(outcome.ok, outcome.error);
      assert.deepEqual(outcome.doc, entries[index]?.object);
      assert.deepEqual(validateObject(outcome.doc), []);
    }
  });

  it("patch paths point into the template", async () => {
    const result = await dryRun(["--config", R1, "-o", "json", WORKLOADS]);
    const entries = JSON.parse(result.stdout) as { patch: { path: string }[] }[];
    assert.ok(entries[0]?.patch.every((operation) => operation.path.startsWith("/spec/template/")));
    assert.ok(
      entries[1]?.patch.every((operation) =>
        operation.path.startsWith("/spec/jobTemplate/spec/template/"),
      ),
    );
  });

  it("expands a List", async () => {
    const list = {
      apiVersion: "v1",
      kind: "List",
      items: [
        {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "a" },
          spec: { containers: [{ name: "a", image: "nginx" }] },
        },
      ],
    };
    const result = await dryRun(["--config", R1, "-o", "patch", "-"], JSON.stringify(list));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /registry\.example\.com\/dockerhub\/library\/nginx/);
  });

  it("summary names reasons and nodes", async () => {
    const result = await dryRun(["--config", R1, "--nodes", C1, WORKLOADS]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /rewritten by rule docker\.io -> registry\.example\.com\/dockerhub/,
    );
    assert.match(result.stdout, /node-a {2}weight \d+/);
    assert.match(result.stdout, /cold images:\n {4}registry\.example\.com\/quay\/team-a\/report:2/);
  });
});

describe("dry-run exit codes", () => {
  it("returns 2 for a missing file", async () => {
    const result = await dryRun(["/nonexistent/pod.yaml"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /\/nonexistent\/pod\.yaml/);
  });

  it("returns 2 for an unknown format", async () => {
    const result = await dryRun(["-o", "xml", WORKLOADS]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /"xml"/);
  });

  it("returns 2 for invalid YAML", async () => {
    assert.equal((await dryRun(["-"], "kind: [")).code, 2);
  });

  it("returns 2 for review of a Pod", async () => {
    assert.equal((await dryRun(["-o", "review", WORKLOADS])).code, 2);
  });

  it("returns 3 for invalid configuration", async () => {
    const result = await dryRun(["--config", C1, WORKLOADS]);
    assert.equal(result.code, 3);
    assert.match(result.stderr, /invalid configuration/);
  });

  it("runs through the installed binary", () => {
    const child = spawnSync(
      process.execPath,
      ["src/cli/bin.mjs", "dry-run", "--config", R1, "-o", "patch", WORKLOADS],
      {
        encoding: "utf8",
      },
    );
    assert.equal(child.status, 0, child.stderr);
    assert.match(child.stdout, /\/spec\/template\/spec\/containers\/0\/image/);
  });
});

describe("dry-run input edges", () => {
  it("returns 2 for binary garbage", async () => {
    const result = await dryRun(["-"], "\u0001\u0002garbage\u0003");
    assert.equal(result.code, 2);
    assert.match(result.stderr, /not a Kubernetes object/);
  });

  it("reads duplicate JSON keys as the server does", async () => {
    const text =
      '{"apiVersion":"v1","kind":"Pod","kind":"Pod","metadata":{"name":"a"},"spec":{"containers":[{"name":"a","image":"busybox","image":"nginx"}]}}';
    const result = await dryRun(["--config", R1, "-o", "json", "-"], text);
    assert.equal(result.code, 0, result.stderr);
    const [entry] = JSON.parse(result.stdout) as JsonEntry[];
    assert.equal(entry?.containers[0]?.image, "nginx");
  });

  it("names a missing pod template", async () => {
    const text = JSON.stringify({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "d" },
      spec: {},
    });
    const result = await dryRun(["-o", "json", "-"], text);
    const [entry] = JSON.parse(result.stdout) as { skipReason?: string }[];
    assert.match(entry?.skipReason ?? "", /no pod template at \/spec\/template/);
  });

  it("prints usage for --help", async () => {
    const result = await dryRun(["--help"]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /usage: kube-image-cache dry-run/);
  });

  it("prints several patches as one array", async () => {
    const result = await dryRun(["--config", R1, "-o", "patch", WORKLOADS]);
    const patches = JSON.parse(result.stdout) as unknown[][];
    assert.equal(patches.length, 3);
  });

  it("returns 3 for a bad node snapshot", async () => {
    const result = await dryRun(["--nodes", WORKLOADS, WORKLOADS]);
    assert.equal(result.code, 3);
  });
});
