// The pull pod: schema-valid, no shell anywhere, pinned to its node with that node's taints
// tolerated, and its outcome read from the statuses a kubelet reports.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { buildPullPod, readPullOutcome } from "../../src/prepull/pull-pod.ts";
import { validateObject } from "../support/schema.ts";

const SPEC = {
  image: "registry.example.com/distroless/static:nonroot",
  namespace: "team-a",
  node: "worker-1",
  taints: [
    { key: "dedicated", value: "batch", effect: "NoSchedule" },
    { key: "example.com/maintenance", effect: "NoExecute" },
  ],
  pullSecrets: ["regcred"],
  helperImage: "registry.example.com/kube-image-cache:0.1.0",
  helperBinaryPath: "/usr/local/bin/kube-image-cache-noop",
  timeoutSeconds: 600,
};
const SHELLS = /(^|\/)(sh|bash|ash|dash|zsh|busybox)$/;

type Container = { command?: string[]; args?: string[]; image?: string };

function containersOf(pod: Record<string, unknown>): Container[] {
  const spec = pod["spec"] as { containers: Container[]; initContainers: Container[] };
  return [...spec.initContainers, ...spec.containers];
}

describe("pull pod", () => {
  const pod = buildPullPod(SPEC);
  const spec = pod["spec"] as Record<string, unknown>;

  test("pod is schema-valid", () => {
    assert.deepEqual(validateObject(pod), []);
  });

  test("no container runs a shell", () => {
    for (const container of containersOf(pod)) {
      assert.ok(container.command !== undefined);
      assert.ok(container.command.length > 0);
      assert.doesNotMatch(container.command[0] ?? "", SHELLS);
      assert.equal(container.args, undefined);
    }
  });

  test("target container runs the copied binary", () => {
    const [, target] = containersOf(pod);

    assert.equal(target?.image, SPEC.image);
    assert.deepEqual(target?.command, ["/kube-image-cache/noop"]);
  });

  test("pod is pinned and skipped", () => {
    const labels = (pod["metadata"] as { labels: Record<string, string> }).labels;

    assert.equal(spec["nodeName"], "worker-1");
    assert.equal(spec["restartPolicy"], "Never");
    assert.equal(spec["automountServiceAccountToken"], false);
    assert.equal(spec["activeDeadlineSeconds"], 600);
    assert.equal(labels["kube-image-cache.io/skip"], "true");
  });

  test("pull secrets by name", () => {
    assert.deepEqual(spec["imagePullSecrets"], [{ name: "regcred" }]);
  });

  test("node taints are tolerated", () => {
    assert.deepEqual(spec["tolerations"], [
      { key: "dedicated", operator: "Equal", value: "batch", effect: "NoSchedule" },
      { key: "example.com/maintenance", operator: "Exists", effect: "NoExecute" },
    ]);
  });

  test("security context is restrictive", () => {
    const podContext = spec["securityContext"] as Record<string, unknown>;
    const containers = spec["containers"] as { securityContext: Record<string, unknown> }[];

    assert.equal(podContext["runAsNonRoot"], true);
    assert.deepEqual(podContext["seccompProfile"], { type: "RuntimeDefault" });
    assert.equal(containers[0]?.securityContext["allowPrivilegeEscalation"], false);
    assert.deepEqual(containers[0]?.securityContext["capabilities"], { drop: ["ALL"] });
  });
});

describe("pull outcome", () => {
  const waiting = (name: string, reason: string, message?: string) => ({
    name,
    state: { waiting: { reason, ...(message === undefined ? {} : { message }) } },
  });
  const cases: [string, Record<string, unknown>, ReturnType<typeof readPullOutcome>][] = [
    ["pending", { phase: "Pending" }, { kind: "running" }],
    ["succeeded", { phase: "Succeeded" }, { kind: "pulled" }],
    [
      "started",
      { phase: "Running", containerStatuses: [{ name: "pull", state: { running: {} } }] },
      { kind: "pulled" },
    ],
    [
      "not found",
      {
        phase: "Pending",
        containerStatuses: [waiting("pull", "ErrImagePull", "manifest unknown")],
      },
      { kind: "failed", reason: "ErrImagePull: manifest unknown", imageWide: true },
    ],
    [
      "backing off",
      { phase: "Pending", containerStatuses: [waiting("pull", "ImagePullBackOff")] },
      { kind: "failed", reason: "ImagePullBackOff", imageWide: true },
    ],
    [
      "config error after pull",
      { phase: "Pending", containerStatuses: [waiting("pull", "CreateContainerConfigError")] },
      { kind: "pulled" },
    ],
    [
      "helper image missing",
      { phase: "Pending", initContainerStatuses: [waiting("copy-noop", "ErrImagePull", "denied")] },
      { kind: "failed", reason: "helper image ErrImagePull: denied", imageWide: true },
    ],
    [
      "deadline exceeded",
      { phase: "Failed", reason: "DeadlineExceeded", message: "Pod was active too long" },
      { kind: "failed", reason: "DeadlineExceeded: Pod was active too long", imageWide: false },
    ],
  ];
  for (const [name, status, expected] of cases) {
    test(name, () => {
      assert.deepEqual(readPullOutcome({ status }), expected);
    });
  }
});
