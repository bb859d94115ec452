// The Deployments: high availability, hardening, probes, resources, graceful shutdown, and the
// files and flags they hand the server; plus the disruption budgets, network policies and
// certificates around them.
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { describe, it } from "node:test";

import type { ICertificate } from "@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate";
import type { IIssuer } from "@kubernetes-models/cert-manager/cert-manager.io/v1/Issuer";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { IService } from "kubernetes-models/v1/Service";

import { ALL_OBJECTS, findObject } from "./manifests.ts";

const DEPLOYMENTS = ALL_OBJECTS.filter((o) => o.kind === "Deployment").map(
  (o) => o as unknown as IDeployment,
);
const WEBHOOK = findObject<IDeployment>("Deployment", "kube-image-cache");
const WEBHOOK_POD = WEBHOOK.spec?.template.spec;
const WEBHOOK_CONTAINER = WEBHOOK_POD?.containers[0];
const ARGS = WEBHOOK_CONTAINER?.args ?? [];
// The server waits this long for admissions in flight when it stops (src/server/serve.ts,
// DEFAULT_SHUTDOWN_TIMEOUT_MS).
const SERVER_SHUTDOWN_SECONDS = 10;
// The user the Dockerfile's final stage runs as.
const IMAGE_UID = 65532;

function flag(args: readonly string[], name: string): string | undefined {
  const index = args.indexOf(name);
  return index < 0 ? undefined : args[index + 1];
}

function nameOf(deployment: IDeployment): string {
  return deployment.metadata?.name ?? "(unnamed)";
}

describe("every Deployment", () => {
  for (const deployment of DEPLOYMENTS) {
    const name = nameOf(deployment);
    const pod = deployment.spec?.template.spec;

    it(`${name} runs as non-root with seccomp`, () => {
      assert.equal(pod?.securityContext?.runAsNonRoot, true);
      assert.equal(pod?.securityContext?.seccompProfile?.type, "RuntimeDefault");
    });

    it(`${name} hardens each container`, () => {
      for (const container of pod?.containers ?? []) {
        const context = container.securityContext;
        assert.equal(context?.allowPrivilegeEscalation, false, container.name);
        assert.equal(context?.readOnlyRootFilesystem, true, container.name);
        assert.deepEqual(context?.capabilities?.drop, ["ALL"], container.name);
        assert.equal(context?.privileged, undefined, container.name);
      }
    });

    it(`${name} sets requests and limits`, () => {
      for (const container of pod?.containers ?? []) {
        for (const kind of ["requests", "limits"] as const) {
          assert.ok(container.resources?.[kind]?.["cpu"], `${container.name} ${kind} cpu`);
          assert.ok(container.resources?.[kind]?.["memory"], `${container.name} ${kind} memory`);
        }
      }
    });

    it(`${name} selects its own pods`, () => {
      const labels = deployment.spec?.template.metadata?.labels ?? {};
      for (const [key, value] of Object.entries(deployment.spec?.selector.matchLabels ?? {})) {
        assert.equal(labels[key], value, key);
      }
    });
  }
});

describe("webhook Deployment", () => {
  it("runs at least two replicas", () => {
    assert.ok((WEBHOOK.spec?.replicas ?? 1) >= 2);
  });

  it("spreads replicas across nodes", () => {
    const spread = WEBHOOK_POD?.topologySpreadConstraints?.find(
      (constraint) => constraint.topologyKey === "kubernetes.io/hostname",
    );

    assert.equal(spread?.whenUnsatisfiable, "DoNotSchedule");
    assert.deepEqual(spread?.labelSelector?.matchLabels, WEBHOOK.spec?.selector.matchLabels);
  });

  it("keeps capacity during rollouts", () => {
    assert.equal(WEBHOOK.spec?.strategy?.rollingUpdate?.maxUnavailable, 0);
  });

  it("runs as the image's user", () => {
    assert.equal(WEBHOOK_POD?.securityContext?.runAsUser, IMAGE_UID);
  });

  it("probes readyz and healthz over HTTPS", () => {
    const readiness = WEBHOOK_CONTAINER?.readinessProbe?.httpGet;
    const liveness = WEBHOOK_CONTAINER?.livenessProbe?.httpGet;

    assert.equal(readiness?.path, "/readyz");
    assert.equal(readiness?.scheme, "HTTPS");
    assert.equal(liveness?.path, "/healthz");
    assert.equal(liveness?.scheme, "HTTPS");
  });

  it("listens on the probed port", () => {
    const port = WEBHOOK_CONTAINER?.ports?.find((p) => p.name === "https");

    assert.equal(String(port?.containerPort), flag(ARGS, "--port"));
    assert.equal(WEBHOOK_CONTAINER?.readinessProbe?.httpGet?.port, "https");
  });

  it("serves", () => {
    assert.equal(ARGS[0], "serve");
  });

  it("mounts the TLS secret where the server reads it", () => {
    const certificate = findObject<ICertificate>("Certificate", "kube-image-cache-tls");
    const volume = WEBHOOK_POD?.volumes?.find(
      (v) => v.secret?.secretName === certificate.spec.secretName,
    );
    const mount = WEBHOOK_CONTAINER?.volumeMounts?.find((m) => m.name === volume?.name);

    assert.equal(mount?.mountPath, dirname(flag(ARGS, "--tls-cert") ?? ""));
    assert.equal(mount?.mountPath, dirname(flag(ARGS, "--tls-key") ?? ""));
    assert.equal(mount?.subPath, undefined, "subPath mounts never see renewed certificates");
  });

  it("mounts the configuration it reads", () => {
    const volume = WEBHOOK_POD?.volumes?.find((v) => v.configMap?.name === "kube-image-cache");
    const mount = WEBHOOK_CONTAINER?.volumeMounts?.find((m) => m.name === volume?.name);

    assert.equal(`${mount?.mountPath}/config.yaml`, flag(ARGS, "--config"));
  });

  it("finishes admissions before it is killed", () => {
    const sleep = Number(WEBHOOK_CONTAINER?.lifecycle?.preStop?.exec?.command?.[1]);
    const grace = WEBHOOK_POD?.terminationGracePeriodSeconds ?? 30;

    assert.ok(sleep > 0, "preStop sleeps while the endpoint is removed");
    assert.ok(grace > sleep + SERVER_SHUTDOWN_SECONDS);
  });
});

describe("pre-pull controller Deployment", () => {
  const controller = findObject<IDeployment>("Deployment", "kube-image-cache-prepull");
  const container = controller.spec?.template.spec?.containers[0];
  const args = container?.args ?? [];

  it("runs the controller command", () => {
    assert.equal(args[0], "prepull-controller");
  });

  it("names its own image as helper", () => {
    assert.equal(flag(args, "--helper-image"), container?.image);
  });

  it("serves metrics on its port", () => {
    const port = container?.ports?.find((p) => p.name === "metrics");

    assert.equal(String(port?.containerPort), flag(args, "--metrics-port"));
  });
});

describe("disruption budgets", () => {
  for (const name of ["kube-image-cache", "kube-image-cache-prepull"]) {
    it(`${name} covers its Deployment`, () => {
      const budget = findObject<IPodDisruptionBudget>("PodDisruptionBudget", name);
      const deployment = findObject<IDeployment>("Deployment", name);

      assert.deepEqual(budget.spec?.selector?.matchLabels, deployment.spec?.selector.matchLabels);
      assert.ok((deployment.spec?.replicas ?? 1) > Number(budget.spec?.maxUnavailable ?? 0));
    });
  }
});

describe("network policies", () => {
  for (const name of ["kube-image-cache", "kube-image-cache-prepull"]) {
    it(`${name} admits its container ports only`, () => {
      const policy = findObject<INetworkPolicy>("NetworkPolicy", name);
      const deployment = findObject<IDeployment>("Deployment", name);
      const ports = deployment.spec?.template.spec?.containers.flatMap((c) =>
        (c.ports ?? []).map((p) => p.name),
      );

      assert.deepEqual(policy.spec?.podSelector.matchLabels, deployment.spec?.selector.matchLabels);
      assert.deepEqual(policy.spec?.policyTypes, ["Ingress"]);
      for (const rule of policy.spec?.ingress ?? []) {
        assert.ok(rule.ports?.length, "a rule without ports admits every port");
        for (const port of rule.ports ?? []) {
          assert.ok(
            ports?.includes(String(port.port)),
            `${String(port.port)} is no container port`,
          );
        }
      }
    });
  }
});

describe("certificates", () => {
  const serving = findObject<ICertificate>("Certificate", "kube-image-cache-tls");
  const service = findObject<IService>("Service", "kube-image-cache");

  it("covers the Service DNS name", () => {
    const name = `${service.metadata?.name}.${service.metadata?.namespace}.svc`;
    assert.ok(serving.spec.dnsNames?.includes(name));
  });

  it("renews before expiry", () => {
    assert.ok(hours(serving.spec.renewBefore) > 0);
    assert.ok(hours(serving.spec.renewBefore) < hours(serving.spec.duration));
  });

  it("is signed by the CA chain", () => {
    const issuer = findObject<IIssuer>("Issuer", serving.spec.issuerRef.name);
    const ca = findObject<ICertificate>("Certificate", "kube-image-cache-ca");
    const root = findObject<IIssuer>("Issuer", ca.spec.issuerRef.name);

    assert.equal(issuer.spec.ca?.secretName, ca.spec.secretName);
    assert.equal(ca.spec.isCA, true);
    assert.ok(root.spec.selfSigned);
  });

  it("CA outlives serving renewals", () => {
    const ca = findObject<ICertificate>("Certificate", "kube-image-cache-ca");
    const servingLifetime = hours(serving.spec.duration) - hours(serving.spec.renewBefore);

    assert.ok(hours(ca.spec.renewBefore) > servingLifetime);
  });
});

describe("services", () => {
  for (const name of ["kube-image-cache", "kube-image-cache-prepull", "kube-image-cache-mirror"]) {
    it(`${name} targets a named container port`, () => {
      const service = findObject<IService>("Service", name);
      const deployment = findObject<IDeployment>("Deployment", name);
      const ports = deployment.spec?.template.spec?.containers.flatMap((c) =>
        (c.ports ?? []).map((p) => p.name),
      );

      assert.deepEqual(service.spec?.selector, deployment.spec?.selector.matchLabels);
      for (const port of service.spec?.ports ?? []) {
        assert.ok(ports?.includes(String(port.targetPort)), String(port.targetPort));
      }
    });
  }
});

/** Hours of a Go duration in whole hours ("2160h"), as these manifests write them. */
function hours(duration: string | undefined): number {
  const match = /^(\d+)h$/.exec(duration ?? "");
  assert.ok(match, `${duration} is not a duration in whole hours`);
  return Number(match[1]);
}
