// Configuration validation: defaults, and every problem reported with its field path.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  DEFAULTS,
  InvalidConfigError,
  defaultConfig,
  parseConfigText,
  validateConfig,
} from "../src/config.ts";

function problemsOf(raw: unknown): readonly string[] {
  try {
    validateConfig(raw, "test.yaml");
  } catch (error: unknown) {
    assert.ok(error instanceof InvalidConfigError);
    return error.problems;
  }
  assert.fail("configuration was accepted");
}

describe("configuration", () => {
  it("fills documented defaults", () => {
    const config = defaultConfig();
    assert.deepEqual(config.exclude.namespaces, DEFAULTS.excludeNamespaces);
    assert.equal(config.webhook.namespace, DEFAULTS.webhookNamespace);
    assert.equal(config.affinity.maxPreferredNodes, DEFAULTS.maxPreferredNodes);
    assert.equal(config.mirror.registries.size, 0);
    assert.equal(config.mirror.default, undefined);
  });

  it("folds index.docker.io into docker.io", () => {
    const config = parseConfigText(
      "mirror:\n  registries:\n    index.docker.io: mirror.local/hub\n",
      "test.yaml",
    );
    assert.equal(config.mirror.registries.get("docker.io"), "mirror.local/hub");
  });

  it("accepts JSON", () => {
    const config = parseConfigText('{"exclude": {"namespaces": ["a"]}}', "test.json");
    assert.deepEqual(config.exclude.namespaces, ["a"]);
  });

  it("freezes the result", () => {
    assert.ok(Object.isFrozen(defaultConfig().exclude));
  });

  it("reports every problem with its path", () => {
    const problems = problemsOf({
      mirror: {
        registries: { "docker.io": "mirror.local", "bad host!": "mirror.local/x" },
        default: 5,
      },
      exclude: { namespaces: "kube-system", images: [""] },
      webhook: { namespace: "Not_Valid" },
      affinity: { maxPreferredNodes: 101 },
      server: { deadlineMs: -1 },
      extra: true,
    });
    const paths = [
      'mirror.registries["docker.io"]',
      'mirror.registries["bad host!"]',
      "mirror.default",
      "exclude.namespaces",
      "exclude.images[0]",
      "webhook.namespace",
      "affinity.maxPreferredNodes",
      "server.deadlineMs",
      "extra",
    ];
    for (const path of paths) {
      assert.ok(
        problems.some((problem) => problem.startsWith(`${path}:`)),
        `no problem reported for ${path}`,
      );
    }
    assert.equal(problems.length, paths.length);
  });

  it("names the expected prefix form", () => {
    const [problem] = problemsOf({ mirror: { registries: { "docker.io": "mirror.local" } } });
    assert.match(problem ?? "", /expected "<host>\/<path>"/);
  });

  it("rejects invalid YAML", () => {
    assert.throws(() => parseConfigText("mirror: [", "broken.yaml"), InvalidConfigError);
  });

  it("rejects a non-mapping top level", () => {
    assert.deepEqual(problemsOf(["a"]).length, 1);
  });
});
