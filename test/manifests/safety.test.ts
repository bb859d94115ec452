// The fields that decide whether the webhook can block pod creation, and how the manifests fit
// the server: the MutatingWebhookConfiguration's safety settings, its timeout against the
// server's internal deadline, the namespaces it never sees, and the configuration it runs with.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { ICertificate } from "@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate";
import type { IMutatingWebhookConfiguration } from "kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IService } from "kubernetes-models/v1/Service";

import { SKIP_LABEL } from "../../src/admission/pod-mutation.ts";
import { parseConfigText, type Config } from "../../src/config.ts";
import { findObject } from "./manifests.ts";

const NAMESPACE = findObject("Namespace", "kube-image-cache").metadata.name;
const CONFIG_MAP = findObject<IConfigMap>("ConfigMap", "kube-image-cache");
const CONFIGURATION = readConfiguration();
const MWC = findObject<IMutatingWebhookConfiguration>(
  "MutatingWebhookConfiguration",
  "kube-image-cache",
);
const WEBHOOK = MWC.webhooks?.[0];
const SERVICE = findObject<IService>("Service", "kube-image-cache");

function readConfiguration(): Config {
  const text = CONFIG_MAP.data?.["config.yaml"];
  assert.ok(text, "the ConfigMap has no config.yaml");
  // parseConfigText validates with validateConfig and throws listing every problem.
  return parseConfigText(text, "manifests/webhook-configmap.yaml");
}

/** The values of the NotIn expression on `key` in a label selector. */
function excludedValues(
  selector: { matchExpressions?: { key: string; operator: string; values?: string[] }[] },
  key: string,
): string[] {
  const expression = selector.matchExpressions?.find((e) => e.key === key);
  assert.equal(expression?.operator, "NotIn", `no NotIn expression on ${key}`);
  return expression.values ?? [];
}

describe("webhook safety", () => {
  it("has one webhook", () => {
    assert.equal(MWC.webhooks?.length, 1);
  });

  it("never fails pod creation", () => {
    assert.equal(WEBHOOK?.failurePolicy, "Ignore");
  });

  it("declares side effects skipped on dry run", () => {
    assert.equal(WEBHOOK?.sideEffects, "NoneOnDryRun");
  });

  it("times out after the internal deadline", () => {
    const timeoutMs = (WEBHOOK?.timeoutSeconds ?? 10) * 1000;

    assert.ok(
      timeoutMs > CONFIGURATION.server.deadlineMs,
      `timeoutSeconds ${timeoutMs / 1000} s must exceed server.deadlineMs ${CONFIGURATION.server.deadlineMs} ms`,
    );
    assert.ok(timeoutMs <= 30_000, "the API server allows at most 30 s");
  });

  it("uses review version v1", () => {
    assert.deepEqual(WEBHOOK?.admissionReviewVersions, ["v1"]);
  });

  it("matches equivalent versions", () => {
    assert.equal(WEBHOOK?.matchPolicy, "Equivalent");
  });

  it("is reinvoked when needed", () => {
    assert.equal(WEBHOOK?.reinvocationPolicy, "IfNeeded");
  });

  it("sees pod creates and ephemeral containers", () => {
    const rules = (WEBHOOK?.rules ?? []).map(
      (rule) =>
        `${rule.operations?.join(",")} ${rule.apiGroups?.join(",")}/${rule.resources?.join(",")}`,
    );

    assert.deepEqual(rules, ["CREATE /pods", "UPDATE /pods/ephemeralcontainers"]);
  });

  it("excludes kube-system and its own namespace", () => {
    const excluded = excludedValues(
      WEBHOOK?.namespaceSelector ?? {},
      "kubernetes.io/metadata.name",
    );

    assert.ok(excluded.includes("kube-system"));
    assert.ok(excluded.includes(NAMESPACE));
    assert.ok(excluded.includes(CONFIGURATION.webhook.namespace));
  });

  it("skips pods with the skip label", () => {
    assert.deepEqual(excludedValues(WEBHOOK?.objectSelector ?? {}, SKIP_LABEL), ["true"]);
  });

  it("calls the webhook Service", () => {
    const service = WEBHOOK?.clientConfig.service;

    assert.equal(service?.name, SERVICE.metadata?.name);
    assert.equal(service?.namespace, SERVICE.metadata?.namespace);
    assert.equal(service?.path, "/mutate");
    assert.ok(SERVICE.spec?.ports?.some((port) => port.port === (service?.port ?? 443)));
  });

  it("gets its CA from the serving certificate", () => {
    const [namespace, name] = (
      MWC.metadata?.annotations?.["cert-manager.io/inject-ca-from"] ?? ""
    ).split("/");
    const certificate = findObject<ICertificate>("Certificate", name ?? "");

    assert.equal(namespace, certificate.metadata?.namespace);
  });

  it("sets no caBundle of its own", () => {
    assert.equal(WEBHOOK?.clientConfig.caBundle, undefined);
  });
});

describe("webhook configuration", () => {
  it("names the webhook namespace", () => {
    assert.equal(CONFIGURATION.webhook.namespace, NAMESPACE);
  });

  it("excludes kube-system", () => {
    assert.ok(CONFIGURATION.exclude.namespaces.includes("kube-system"));
  });

  it("mirrors to the example mirror Service", () => {
    const mirror = findObject<IService>("Service", "kube-image-cache-mirror");
    const port = mirror.spec?.ports?.[0]?.port;
    const host = `${mirror.metadata?.name}.${mirror.metadata?.namespace}.svc:${port}`;

    assert.equal(CONFIGURATION.mirror.registries.get("docker.io")?.split("/")[0], host);
    assert.equal(CONFIGURATION.registries.get(host)?.plainHTTP, true);
  });

  it("strips the mirror prefix in the example", () => {
    const prefix = CONFIGURATION.mirror.registries.get("docker.io")?.split("/")[1];
    const nginx = findObject<IConfigMap>("ConfigMap", "kube-image-cache-mirror-nginx");

    assert.match(nginx.data?.["mirror.conf"] ?? "", new RegExp(`location /v2/${prefix}/ \\{`));
  });
});
