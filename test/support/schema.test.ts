import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  InvalidKubernetesObjectError,
  assertValidObject,
  pointerToFieldPath,
  supportedTypes,
  validateObject,
} from "./schema.ts";

interface Requirement {
  key: string;
  operator: string;
  values?: string[];
}

interface Term {
  matchExpressions?: Requirement[];
  matchFields?: Requirement[];
}

interface Container {
  name: string;
  image: string;
}

interface TestPod {
  apiVersion: "v1";
  kind: "Pod";
  metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> };
  spec: {
    containers: Container[];
    initContainers: Container[];
    ephemeralContainers: Container[];
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: Term[] };
        preferredDuringSchedulingIgnoredDuringExecution: { weight: number; preference: Term }[];
      };
    };
  };
}

const KIB = 1024;

/** Builds a pod that uses every part the rules look at and breaks none of them. */
function validPod(): TestPod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "web-0",
      labels: { app: "web", "app.kubernetes.io/part-of": "shop", empty: "" },
      annotations: { "kube-image-cache.io/rewritten": "web=registry.example.com/nginx:1.25" },
    },
    spec: {
      containers: [{ name: "web", image: "nginx:1.25" }],
      initContainers: [{ name: "migrate", image: "flyway:10" }],
      ephemeralContainers: [{ name: "debugger-x7k2p", image: "busybox:1.36" }],
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              {
                matchExpressions: [{ key: "kubernetes.io/os", operator: "In", values: ["linux"] }],
              },
            ],
          },
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 100, preference: nodeNameTerm("node-a") },
            { weight: 1, preference: nodeNameTerm("node-b.zone-1") },
          ],
        },
      },
    },
  };
}

function nodeNameTerm(...names: string[]): Term {
  return { matchFields: [{ key: "metadata.name", operator: "In", values: names }] };
}

function expressionTerm(requirement: Requirement): Term {
  return { matchExpressions: [requirement] };
}

function setPreferred(pod: TestPod, weight: number, preference: Term): void {
  pod.spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution = [
    { weight, preference },
  ];
}

function setRequired(pod: TestPod, terms: Term[]): void {
  pod.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution = {
    nodeSelectorTerms: terms,
  };
}

function withPod(change: (pod: TestPod) => void): TestPod {
  const pod = validPod();
  change(pod);
  return pod;
}

/** Builds a valid RFC 1123 subdomain of exactly `length` characters (length >= 3). */
function subdomainOfLength(length: number): string {
  const labels: string[] = [];
  let remaining = length;
  while (remaining > 64) {
    labels.push("a".repeat(63));
    remaining -= 64;
  }
  labels.push("b".repeat(remaining));
  return labels.join(".");
}

interface Row {
  readonly name: string;
  readonly change: (pod: TestPod) => void;
}

interface RejectRow extends Row {
  /** Matches the one problem the change must cause. */
  readonly problem: RegExp;
}

const ACCEPTED: readonly Row[] = [
  { name: "weight 1 and 100", change: () => undefined },
  {
    name: "matchFields NotIn one name",
    change: (pod) =>
      setPreferred(pod, 50, {
        matchFields: [{ key: "metadata.name", operator: "NotIn", values: ["node-c"] }],
      }),
  },
  {
    name: "one term per node",
    change: (pod) => setRequired(pod, [nodeNameTerm("node-a"), nodeNameTerm("node-b")]),
  },
  {
    name: "Exists without values",
    change: (pod) => setPreferred(pod, 5, expressionTerm({ key: "gpu", operator: "Exists" })),
  },
  {
    name: "DoesNotExist with empty values",
    change: (pod) =>
      setPreferred(pod, 5, expressionTerm({ key: "gpu", operator: "DoesNotExist", values: [] })),
  },
  {
    name: "Gt with integer",
    change: (pod) =>
      setPreferred(pod, 5, expressionTerm({ key: "cores", operator: "Gt", values: ["5"] })),
  },
  {
    name: "Lt largest int64",
    change: (pod) =>
      setRequired(pod, [
        expressionTerm({ key: "cores", operator: "Lt", values: ["9223372036854775807"] }),
      ]),
  },
  {
    name: "label value 63 characters",
    change: (pod) => (pod.metadata.labels.app = "v".repeat(63)),
  },
  {
    name: "label name part 63 characters",
    change: (pod) => (pod.metadata.labels[`example.com/${"n".repeat(63)}`] = "x"),
  },
  {
    name: "label prefix 253 characters",
    change: (pod) => (pod.metadata.labels[`${subdomainOfLength(253)}/app`] = "x"),
  },
  {
    name: "annotation prefix with capitals",
    change: (pod) => (pod.metadata.annotations["Example.COM/Key"] = "x"),
  },
  {
    name: "annotations exactly 256 KiB",
    change: (pod) => {
      const key = "example.com/big";
      pod.metadata.annotations = { [key]: "x".repeat(256 * KIB - key.length) };
    },
  },
  {
    name: "container name 63 characters",
    change: (pod) => (pod.spec.containers = [{ name: "c".repeat(63), image: "nginx" }]),
  },
];

const REJECTED: readonly RejectRow[] = [
  {
    name: "required matchFields two names",
    change: (pod) => setRequired(pod, [nodeNameTerm("node-a", "node-b")]),
    problem: /nodeSelectorTerms\[0\]\.matchFields\[0\]\.values: must have exactly one value.*got 2/,
  },
  {
    name: "preferred matchFields two names",
    change: (pod) => setPreferred(pod, 10, nodeNameTerm("node-a", "node-b")),
    problem: /preference\.matchFields\[0\]\.values: must have exactly one value.*got 2/,
  },
  {
    name: "matchFields NotIn no names",
    change: (pod) =>
      setPreferred(pod, 10, {
        matchFields: [{ key: "metadata.name", operator: "NotIn", values: [] }],
      }),
    problem: /matchFields\[0\]\.values: must have exactly one value when operator is NotIn, got 0/,
  },
  {
    name: "matchFields key not metadata.name",
    change: (pod) =>
      setPreferred(pod, 10, {
        matchFields: [{ key: "metadata.namespace", operator: "In", values: ["node-a"] }],
      }),
    problem: /matchFields\[0\]\.key: "metadata\.namespace" is not a supported field/,
  },
  {
    name: "matchFields operator Exists",
    change: (pod) =>
      setPreferred(pod, 10, { matchFields: [{ key: "metadata.name", operator: "Exists" }] }),
    problem: /matchFields\[0\]\.operator: "Exists" is not supported; expected In or NotIn/,
  },
  {
    name: "matchFields invalid node name",
    change: (pod) => setPreferred(pod, 10, nodeNameTerm("Node_A")),
    problem: /matchFields\[0\]\.values\[0\]: "Node_A" is not a valid node name/,
  },
  {
    name: "In without values",
    change: (pod) => setPreferred(pod, 10, expressionTerm({ key: "zone", operator: "In" })),
    problem: /matchExpressions\[0\]\.values: must be non-empty when operator is In/,
  },
  {
    name: "NotIn with empty values",
    change: (pod) =>
      setRequired(pod, [expressionTerm({ key: "zone", operator: "NotIn", values: [] })]),
    problem: /matchExpressions\[0\]\.values: must be non-empty when operator is NotIn/,
  },
  {
    name: "Exists with a value",
    change: (pod) =>
      setPreferred(pod, 10, expressionTerm({ key: "gpu", operator: "Exists", values: ["yes"] })),
    problem: /values: must be empty when operator is Exists, got 1 value$/,
  },
  {
    name: "DoesNotExist with values",
    change: (pod) =>
      setRequired(pod, [
        expressionTerm({ key: "gpu", operator: "DoesNotExist", values: ["a", "b"] }),
      ]),
    problem: /values: must be empty when operator is DoesNotExist, got 2 values$/,
  },
  {
    name: "Gt with two values",
    change: (pod) =>
      setPreferred(pod, 10, expressionTerm({ key: "cores", operator: "Gt", values: ["1", "2"] })),
    problem: /values: must have exactly one value when operator is Gt, got 2 values$/,
  },
  {
    name: "Lt without values",
    change: (pod) => setPreferred(pod, 10, expressionTerm({ key: "cores", operator: "Lt" })),
    problem: /values: must have exactly one value when operator is Lt, got 0 values$/,
  },
  {
    name: "Gt with decimal fraction",
    change: (pod) =>
      setPreferred(pod, 10, expressionTerm({ key: "cores", operator: "Gt", values: ["1.5"] })),
    problem: /values: "1\.5" is not a 64-bit decimal integer/,
  },
  {
    // The value must also be a label value, and those start with a letter or digit.
    name: "Gt with negative integer",
    change: (pod) =>
      setPreferred(pod, 10, expressionTerm({ key: "cores", operator: "Gt", values: ["-5"] })),
    problem: /values\[0\]: "-5" is not a valid label value/,
  },
  {
    name: "Lt beyond int64",
    change: (pod) =>
      setPreferred(
        pod,
        10,
        expressionTerm({ key: "cores", operator: "Lt", values: ["9223372036854775808"] }),
      ),
    problem: /values: "9223372036854775808" is not a 64-bit decimal integer/,
  },
  {
    name: "expression key with space",
    change: (pod) => setPreferred(pod, 10, expressionTerm({ key: "bad key", operator: "Exists" })),
    problem: /matchExpressions\[0\]\.key: "bad key" is not a valid label key/,
  },
  {
    name: "expression value too long",
    change: (pod) =>
      setPreferred(
        pod,
        10,
        expressionTerm({ key: "zone", operator: "In", values: ["z".repeat(64)] }),
      ),
    problem: /matchExpressions\[0\]\.values\[0\]: "z{64}" is not a valid label value: has 64/,
  },
  {
    name: "required terms empty",
    change: (pod) => setRequired(pod, []),
    problem: /nodeSelectorTerms: must have at least one term/,
  },
  {
    name: "weight 0",
    change: (pod) => setPreferred(pod, 0, nodeNameTerm("node-a")),
    problem: /\[0\]\.weight: 0 is invalid; expected an integer from 1 to 100/,
  },
  {
    name: "weight 101",
    change: (pod) => setPreferred(pod, 101, nodeNameTerm("node-a")),
    problem: /\[0\]\.weight: 101 is invalid/,
  },
  {
    name: "label name part 64 characters",
    change: (pod) => (pod.metadata.labels[`example.com/${"n".repeat(64)}`] = "x"),
    problem: /metadata\.labels\[.*\]: key .* the name part has 64 characters; the maximum is 63/,
  },
  {
    name: "label name starts with dash",
    change: (pod) => (pod.metadata.labels["-app"] = "x"),
    problem: /metadata\.labels\["-app"\]: key "-app" is invalid: the name part must contain/,
  },
  {
    name: "label empty prefix",
    change: (pod) => (pod.metadata.labels["/app"] = "x"),
    problem: /key "\/app" is invalid: the prefix before "\/" must not be empty/,
  },
  {
    name: "label prefix with capitals",
    change: (pod) => (pod.metadata.labels["Example.com/app"] = "x"),
    problem: /key "Example\.com\/app" is invalid: prefix must be lowercase/,
  },
  {
    name: "label prefix 254 characters",
    change: (pod) => (pod.metadata.labels[`${subdomainOfLength(254)}/app`] = "x"),
    problem: /is invalid: prefix has 254 characters; the maximum is 253/,
  },
  {
    name: "label key two slashes",
    change: (pod) => (pod.metadata.labels["a.io/b/c"] = "x"),
    problem: /key "a\.io\/b\/c" is invalid: must be "name" or "prefix\/name"/,
  },
  {
    name: "label value 64 characters",
    change: (pod) => (pod.metadata.labels.app = "v".repeat(64)),
    problem: /metadata\.labels\.app: value "v{64}" is invalid: has 64 characters/,
  },
  {
    name: "label value with space",
    change: (pod) => (pod.metadata.labels.app = "web shop"),
    problem: /metadata\.labels\.app: value "web shop" is invalid: must contain only/,
  },
  {
    name: "label value ends with dot",
    change: (pod) => (pod.metadata.labels.app = "web."),
    problem: /metadata\.labels\.app: value "web\." is invalid/,
  },
  {
    name: "annotation name part 64 characters",
    change: (pod) => (pod.metadata.annotations[`example.com/${"n".repeat(64)}`] = "x"),
    problem: /metadata\.annotations\[.*\]: key .* the name part has 64 characters/,
  },
  {
    name: "annotation key with space",
    change: (pod) => (pod.metadata.annotations["rewritten image"] = "x"),
    problem: /metadata\.annotations\["rewritten image"\]: key "rewritten image" is invalid/,
  },
  {
    name: "annotations over 256 KiB",
    change: (pod) => {
      const key = "example.com/big";
      pod.metadata.annotations = { [key]: "x".repeat(256 * KIB - key.length + 1) };
    },
    problem: /metadata\.annotations: keys and values take 262145 bytes; the maximum is 262144/,
  },
  {
    name: "annotation size counts UTF-8 bytes",
    change: (pod) => {
      const key = "example.com/big";
      // "é" is two bytes in UTF-8, so this value is one byte over the limit.
      pod.metadata.annotations = { [key]: `é${"x".repeat(256 * KIB - key.length - 1)}` };
    },
    problem: /metadata\.annotations: keys and values take 262145 bytes/,
  },
  {
    name: "duplicate within containers",
    change: (pod) => pod.spec.containers.push({ name: "web", image: "nginx:1.26" }),
    problem:
      /spec\.containers\[1\]\.name: duplicate container name "web", first at spec\.containers\[0\]/,
  },
  {
    name: "init container reuses name",
    change: (pod) => pod.spec.initContainers.push({ name: "web", image: "busybox" }),
    problem: /spec\.initContainers\[1\]\.name: duplicate container name "web"/,
  },
  {
    name: "ephemeral container reuses name",
    change: (pod) => pod.spec.ephemeralContainers.push({ name: "migrate", image: "busybox" }),
    problem:
      /spec\.ephemeralContainers\[1\]\.name: duplicate .* first at spec\.initContainers\[0\]/,
  },
  {
    name: "container name with capitals",
    change: (pod) => (pod.spec.containers = [{ name: "Web", image: "nginx" }]),
    problem: /spec\.containers\[0\]\.name: "Web" is not a valid container name/,
  },
  {
    name: "container name 64 characters",
    change: (pod) => (pod.spec.containers = [{ name: "c".repeat(64), image: "nginx" }]),
    problem: /spec\.containers\[0\]\.name: "c{64}" is not a valid container name: has 64/,
  },
];

describe("validateObject on pods", () => {
  it("accepts valid pod", () => {
    assert.deepEqual(validateObject(validPod()), []);
  });

  for (const row of ACCEPTED) {
    it(`accepts ${row.name}`, () => {
      assert.deepEqual(validateObject(withPod(row.change)), []);
    });
  }

  for (const row of REJECTED) {
    it(`rejects ${row.name}`, () => {
      const problems = validateObject(withPod(row.change));

      assert.equal(problems.length, 1, `expected one problem, got:\n${problems.join("\n")}`);
      assert.match(problems[0] ?? "", row.problem);
    });
  }
});

describe("validateObject on other objects", () => {
  it("reports schema violations", () => {
    const problems = validateObject({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web" },
      spec: { containers: [{ name: 7, image: "nginx" }], restartPolicy: "Sometimes" },
    });

    assert.ok(problems.includes("spec.containers[0].name: must be string"), problems.join("\n"));
    assert.ok(
      problems.some((p) => p.startsWith("spec.restartPolicy: must be equal to one of the allowed")),
      problems.join("\n"),
    );
  });

  it("checks deployment pod template", () => {
    const problems = validateObject({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web" },
      spec: {
        selector: { matchLabels: { app: "web" } },
        template: {
          metadata: { labels: { app: "web", tier: "t".repeat(64) } },
          spec: {
            containers: [{ name: "web", image: "nginx" }],
            affinity: {
              nodeAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  { weight: 10, preference: nodeNameTerm("node-a", "node-b") },
                ],
              },
            },
          },
        },
      },
    });

    assert.equal(problems.length, 2, problems.join("\n"));
    assert.match(problems[0] ?? "", /^spec\.template\.metadata\.labels\.tier: value/);
    assert.match(problems[1] ?? "", /^spec\.template\.spec\.affinity\.nodeAffinity\..*matchFields/);
  });

  it("checks cronjob pod template", () => {
    const problems = validateObject({
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: { name: "nightly" },
      spec: {
        schedule: "0 3 * * *",
        jobTemplate: {
          metadata: { labels: { "-bad": "x" } },
          spec: {
            template: {
              spec: {
                restartPolicy: "Never",
                containers: [{ name: "job", image: "busybox" }],
                initContainers: [{ name: "job", image: "busybox" }],
              },
            },
          },
        },
      },
    });

    assert.equal(problems.length, 2, problems.join("\n"));
    assert.match(problems[0] ?? "", /^spec\.jobTemplate\.metadata\.labels\["-bad"\]: key/);
    assert.match(
      problems[1] ?? "",
      /^spec\.jobTemplate\.spec\.template\.spec\.initContainers\[0\]/,
    );
  });

  it("accepts cert-manager certificate", () => {
    const certificate = {
      apiVersion: "cert-manager.io/v1",
      kind: "Certificate",
      metadata: { name: "webhook-tls", namespace: "kube-image-cache" },
      spec: {
        secretName: "webhook-tls",
        dnsNames: ["kube-image-cache.kube-image-cache.svc"],
        issuerRef: { name: "selfsigned", kind: "Issuer" },
      },
    };

    assert.deepEqual(validateObject(certificate), []);
  });

  it("rejects certificate without issuerRef", () => {
    const problems = validateObject({
      apiVersion: "cert-manager.io/v1",
      kind: "Certificate",
      metadata: { name: "webhook-tls" },
      spec: { secretName: "webhook-tls" },
    });

    assert.deepEqual(problems, ["spec: must have required property issuerRef"]);
  });

  it("rejects unsupported type", () => {
    const problems = validateObject({ apiVersion: "v1", kind: "PodExecOptions" });

    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? "", /no schema for v1 PodExecOptions/);
  });

  it("rejects non-object input", () => {
    assert.deepEqual(validateObject([]), ["(root): expected a Kubernetes object, got an array"]);
    assert.deepEqual(validateObject(null), ["(root): expected a Kubernetes object, got null"]);
  });

  it("rejects missing kind", () => {
    assert.deepEqual(validateObject({ apiVersion: "v1" }), [
      "(root): apiVersion and kind must both be strings",
    ]);
  });

  it("supports the expected types", () => {
    const expected = [
      "v1 Pod",
      "v1 Namespace",
      "v1 ServiceAccount",
      "v1 Service",
      "v1 ConfigMap",
      "v1 PersistentVolumeClaim",
      "apps/v1 Deployment",
      "apps/v1 StatefulSet",
      "apps/v1 DaemonSet",
      "apps/v1 ReplicaSet",
      "batch/v1 Job",
      "batch/v1 CronJob",
      "rbac.authorization.k8s.io/v1 Role",
      "rbac.authorization.k8s.io/v1 RoleBinding",
      "rbac.authorization.k8s.io/v1 ClusterRole",
      "rbac.authorization.k8s.io/v1 ClusterRoleBinding",
      "admissionregistration.k8s.io/v1 MutatingWebhookConfiguration",
      "networking.k8s.io/v1 NetworkPolicy",
      "policy/v1 PodDisruptionBudget",
      "coordination.k8s.io/v1 Lease",
      "cert-manager.io/v1 Certificate",
      "cert-manager.io/v1 CertificateRequest",
      "cert-manager.io/v1 Issuer",
      "cert-manager.io/v1 ClusterIssuer",
    ];

    assert.deepEqual(supportedTypes().sort(), expected.sort());
  });
});

describe("assertValidObject", () => {
  it("passes valid pod", () => {
    assert.doesNotThrow(() => assertValidObject(validPod()));
  });

  it("throws with every problem", () => {
    const pod = withPod((p) => {
      p.metadata.labels.app = "web shop";
      setPreferred(p, 0, nodeNameTerm("node-a"));
    });

    assert.throws(
      () => assertValidObject(pod),
      (err: unknown) =>
        err instanceof InvalidKubernetesObjectError &&
        err.problems.length === 2 &&
        err.message.startsWith("v1 Pod web-0 is invalid:"),
    );
  });
});

describe("pointerToFieldPath", () => {
  const rows: [string, string][] = [
    ["", "(root)"],
    ["/spec", "spec"],
    ["/spec/containers/0/image", "spec.containers[0].image"],
    ["/metadata/annotations/example.com~1key", 'metadata.annotations["example.com/key"]'],
    ["/metadata/labels/a~0b", 'metadata.labels["a~b"]'],
    ["/metadata/labels/app_name", "metadata.labels.app_name"],
    ["/items/10/x", "items[10].x"],
    ["/data/01", 'data["01"]'],
  ];

  for (const [pointer, expected] of rows) {
    it(`formats ${JSON.stringify(pointer)}`, () => {
      assert.equal(pointerToFieldPath(pointer), expected);
    });
  }
});
