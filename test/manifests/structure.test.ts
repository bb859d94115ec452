// The kustomize layout of manifests/. Each directory's kustomization.yaml lists every YAML file
// in it and only files that exist, each file holds one object, and every object is valid
// against the Kubernetes and cert-manager schemas. When kubectl is installed, kustomize builds
// the directories too.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it, type TestContext } from "node:test";

import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import { parseAllDocuments } from "yaml";

import { validateObject } from "../support/schema.ts";
import {
  ALL_OBJECTS,
  filesIn,
  MANIFEST_DIRECTORIES,
  readDocuments,
  readKustomization,
  type ManifestObject,
} from "./manifests.ts";
import { prometheusOperatorProblems } from "./prometheus-operator.ts";

const NAMESPACE = "kube-image-cache";

describe("kustomization files", () => {
  for (const directory of MANIFEST_DIRECTORIES) {
    const kustomization = readKustomization(directory);
    const resources = kustomization.resources ?? [];
    const generated = (kustomization.configMapGenerator ?? []).flatMap((generator) =>
      (generator.files ?? []).map((file) => file.slice(file.indexOf("=") + 1)),
    );

    it(`${directory} lists every YAML file`, () => {
      assert.deepEqual([...resources].sort(), filesIn(directory, [".yaml", ".yml"]));
    });

    it(`${directory} lists only existing files`, () => {
      for (const file of [...resources, ...generated]) {
        assert.ok(existsSync(join(directory, file)), `${directory}: ${file} does not exist`);
      }
    });

    it(`${directory} uses every other file`, () => {
      // Markdown explains the directory; anything else must feed a generator.
      const others = filesIn(directory, [".json", ".conf", ".txt", ".toml"]);
      assert.deepEqual(others, [...generated].sort());
    });

    it(`${directory} has one object per file`, () => {
      for (const file of resources) {
        const count = readDocuments(join(directory, file)).length;
        assert.equal(count, 1, `${directory}/${file} holds ${count} objects`);
      }
    });
  }

  it("base is a Kustomization", () => {
    assert.equal(readKustomization("manifests").kind, "Kustomization");
  });

  it("optional parts are components", () => {
    assert.equal(readKustomization("manifests/monitoring").kind, "Component");
    assert.equal(readKustomization("manifests/mirror-example").kind, "Component");
  });
});

describe("manifest objects", () => {
  for (const object of ALL_OBJECTS) {
    it(`${object.kind} ${object.metadata.name} is valid`, () => {
      assert.deepEqual(problemsOf(object), [], object.file);
    });
  }

  it("namespaced objects use the webhook namespace", () => {
    const clusterScoped = new Set([
      "Namespace",
      "ClusterRole",
      "ClusterRoleBinding",
      "MutatingWebhookConfiguration",
    ]);
    for (const object of ALL_OBJECTS.filter((o) => !clusterScoped.has(o.kind))) {
      assert.equal(object.metadata.namespace, NAMESPACE, object.file);
    }
  });

  it("names are unique per kind", () => {
    const keys = ALL_OBJECTS.map((o) => `${o.kind}/${o.metadata.name}`);
    assert.deepEqual(keys, [...new Set(keys)]);
  });
});

describe("dashboard file", () => {
  it("is valid JSON", () => {
    const text = readFileSync("manifests/monitoring/grafana-dashboard.json", "utf8");
    assert.doesNotThrow(() => JSON.parse(text) as unknown);
  });
});

/**
 * Schema problems of one object. The Prometheus operator's kinds have no schema in
 * kubernetes-models, so prometheus-operator.ts checks their structure; PersistentVolumeClaim is
 * validated with its kubernetes-models class, because test/support/schema.ts does not list it.
 */
function problemsOf(object: ManifestObject): string[] {
  // The file name is this test's own field, not part of the object.
  const raw = Object.fromEntries(Object.entries(object).filter(([key]) => key !== "file"));
  if (object.apiVersion === "monitoring.coreos.com/v1") {
    return prometheusOperatorProblems(raw);
  }
  if (object.kind === "PersistentVolumeClaim") {
    try {
      new PersistentVolumeClaim(raw).validate();
      return [];
    } catch (error: unknown) {
      return [String(error)];
    }
  }
  return validateObject(raw);
}

describe("kustomize build", () => {
  // A copy, so that the tests can add an overlay beside it and change its image.
  const scratch = mkdtempSync(join(tmpdir(), "kic-kustomize-"));
  cpSync("manifests", join(scratch, "manifests"), { recursive: true });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  /** Runs `kubectl kustomize DIR`; skips the test with the reason when kubectl is missing. */
  function build(t: TestContext, directory: string): ManifestObject[] | undefined {
    const run = spawnSync("kubectl", ["kustomize", directory], { encoding: "utf8" });
    if (run.error !== undefined) {
      t.skip(`kubectl not found (${run.error.message}); the file checks above still ran`);
      return undefined;
    }
    assert.equal(run.status, 0, run.stderr);
    return parseAllDocuments(run.stdout).map((document) => document.toJS() as ManifestObject);
  }

  it("builds the base", (t) => {
    const objects = build(t, "manifests");
    if (objects !== undefined) {
      assert.equal(objects.length, readKustomization("manifests").resources?.length);
    }
  });

  it("builds the base with both components", (t) => {
    const overlay = join(scratch, "overlay");
    mkdirSync(overlay);
    const kustomization = [
      "apiVersion: kustomize.config.k8s.io/v1beta1",
      "kind: Kustomization",
      "resources: [../manifests]",
      "components: [../manifests/monitoring, ../manifests/mirror-example]",
    ];
    writeFileSync(join(overlay, "kustomization.yaml"), `${kustomization.join("\n")}\n`);
    const objects = build(t, overlay);
    if (objects === undefined) {
      return;
    }
    const dashboards = objects.filter((o) => o.metadata.name === "kube-image-cache-dashboard");

    assert.equal(dashboards.length, 1);
    assert.equal(objects.length, ALL_OBJECTS.length + 1);
  });

  it("copies the image into --helper-image", (t) => {
    const file = join(scratch, "manifests", "kustomization.yaml");
    const image = "registry.example.com/kube-image-cache";
    writeFileSync(
      file,
      readFileSync(file, "utf8").replace("newName: kube-image-cache\n", `newName: ${image}\n`),
    );
    const objects = build(t, join(scratch, "manifests"));
    if (objects === undefined) {
      return;
    }
    const controller = objects.find(
      (o) => o.kind === "Deployment" && o.metadata.name === "kube-image-cache-prepull",
    ) as IDeployment | undefined;
    const container = controller?.spec?.template.spec?.containers[0];
    const args = container?.args ?? [];

    assert.equal(container?.image, `${image}:0.1.0`);
    assert.equal(args[args.indexOf("--helper-image") + 1], container?.image);
  });
});
