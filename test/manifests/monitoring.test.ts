// The monitoring component. The ServiceMonitors point at real Service ports and the webhook's
// certificate, and the alert rules cover the conditions operators need. Every query in the
// rules and the Grafana dashboard selects only series the webhook and pre-puller export.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, it } from "node:test";

import type { ICertificate } from "@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IService } from "kubernetes-models/v1/Service";

import { parseConfigText } from "../../src/config.ts";
import { exportedSeriesNames, selectedSeries } from "./exported-metrics.ts";
import { at, findObject } from "./manifests.ts";
import { prometheusOperatorProblems } from "./prometheus-operator.ts";

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const RULES = (
  at(findObject("PrometheusRule", "kube-image-cache"), "spec.groups") as {
    rules: Rule[];
  }[]
).flatMap((group) => group.rules);

const DASHBOARD = JSON.parse(
  readFileSync("manifests/monitoring/grafana-dashboard.json", "utf8"),
) as { panels: { id: number; title: string; type: string; targets?: { expr: string }[] }[] };

const DASHBOARD_QUERIES = DASHBOARD.panels.flatMap((panel) =>
  (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr })),
);

function ruleFor(pattern: RegExp): Rule | undefined {
  return RULES.find((rule) => pattern.test(rule.expr));
}

describe("ServiceMonitors", () => {
  for (const name of ["kube-image-cache", "kube-image-cache-prepull"]) {
    it(`${name} scrapes a named Service port`, () => {
      const monitor = findObject("ServiceMonitor", name);
      const service = findObject<IService>("Service", name);
      const selector = at(monitor, "spec.selector.matchLabels") as Record<string, string>;
      const endpoints = at(monitor, "spec.endpoints") as { port: string }[];
      const ports = (service.spec?.ports ?? []).map((port) => port.name);

      assert.deepEqual(selector, service.metadata?.labels);
      for (const endpoint of endpoints) {
        assert.ok(ports.includes(endpoint.port), `${name}: no Service port ${endpoint.port}`);
      }
    });
  }

  it("trusts the webhook's CA", () => {
    const monitor = findObject("ServiceMonitor", "kube-image-cache");
    const certificate = findObject<ICertificate>("Certificate", "kube-image-cache-tls");
    const endpoint = (at(monitor, "spec.endpoints") as Record<string, unknown>[])[0];

    assert.equal(endpoint?.["scheme"], "https");
    assert.equal(at(endpoint, "tlsConfig.ca.secret.name"), certificate.spec.secretName);
    assert.equal(at(endpoint, "tlsConfig.ca.secret.key"), "ca.crt");
    assert.ok(certificate.spec.dnsNames?.includes(at(endpoint, "tlsConfig.serverName") as string));
  });
});

describe("alert rules", () => {
  const required: [string, RegExp][] = [
    ["webhook errors", /admission_requests_total\{result=~"error\|timeout"\}/],
    ["latency near the timeout", /admission_duration_seconds_bucket/],
    ["watch lost", /kube_image_cache_watch_connected/],
    ["mirror unhealthy", /kube_image_cache_mirror_up/],
    ["pre-pull failures", /prepull_pulls_total\{result="failed"\}/],
    ["warm-bytes ratio falling", /warm_bytes_ratio_sum.*offset 1d/s],
  ];
  for (const [condition, pattern] of required) {
    it(`alert on ${condition}`, () => {
      assert.ok(ruleFor(pattern), `no rule's expr matches ${String(pattern)}`);
    });
  }

  it("latency alert fires below the deadline", () => {
    const configMap = findObject<IConfigMap>("ConfigMap", "kube-image-cache");
    const config = parseConfigText(
      configMap.data?.["config.yaml"] ?? "",
      "manifests/webhook-configmap.yaml",
    );
    const threshold = Number(/>\s*([\d.]+)\s*$/.exec(ruleFor(/duration_seconds/)?.expr ?? "")?.[1]);

    assert.ok(threshold > 0);
    assert.ok(threshold < config.server.deadlineMs / 1000);
  });

  it("every alert has a severity and summary", () => {
    for (const rule of RULES) {
      assert.match(rule.labels?.["severity"] ?? "", /^(critical|warning|info)$/, rule.alert);
      assert.ok(rule.annotations?.["summary"], `${rule.alert} has no summary`);
    }
  });

  it("alert names are unique", () => {
    const names = RULES.map((rule) => rule.alert);
    assert.deepEqual(names, [...new Set(names)]);
  });
});

describe("queries use exported series", () => {
  let exported: Set<string>;
  before(async () => {
    exported = await exportedSeriesNames();
  });

  it("alert expressions", () => {
    for (const rule of RULES) {
      const unknown = selectedSeries(rule.expr).filter((name) => !exported.has(name));
      assert.deepEqual(unknown, [], `${rule.alert} selects series nothing exports`);
    }
  });

  it("dashboard queries", () => {
    for (const query of DASHBOARD_QUERIES) {
      const unknown = selectedSeries(query.expr).filter((name) => !exported.has(name));
      assert.deepEqual(unknown, [], `panel "${query.panel}" selects series nothing exports`);
    }
  });

  it("parentheses balance", () => {
    for (const expr of [
      ...RULES.map((rule) => rule.expr),
      ...DASHBOARD_QUERIES.map((q) => q.expr),
    ]) {
      assert.ok(isBalanced(expr), `unbalanced brackets in ${expr}`);
    }
  });
});

describe("dashboard", () => {
  const topics: [string, string][] = [
    ["admissions", "kube_image_cache_admission_requests_total"],
    ["latency", "kube_image_cache_admission_duration_seconds_bucket"],
    ["rewrites", "kube_image_cache_images_rewritten_total"],
    ["hints", "kube_image_cache_preferred_nodes_added_total"],
    ["warm-bytes ratio", "kube_image_cache_warm_bytes_ratio_sum"],
    ["pre-pull progress", "kube_image_cache_prepull_nodes"],
  ];
  for (const [topic, series] of topics) {
    it(`shows ${topic}`, () => {
      assert.ok(DASHBOARD_QUERIES.some((query) => selectedSeries(query.expr).includes(series)));
    });
  }

  it("panel ids are unique", () => {
    const ids = DASHBOARD.panels.map((panel) => panel.id);
    assert.deepEqual(ids, [...new Set(ids)]);
  });
});

describe("selectedSeries", () => {
  const rows: [string, string[]][] = [
    ["up", []],
    ['up{job="x"}', ["up"]],
    ["sum by (le) (rate(a_bucket[5m]))", ["a_bucket"]],
    ["rate(a[$__rate_interval]) / rate(b [5m] offset 1d)", ["a", "b"]],
    ["max by (mirror) (kube_image_cache_mirror_up) == 0", ["kube_image_cache_mirror_up"]],
    ['x{result=~"error|timeout"} and on (pod) y', ["x"]],
  ];
  for (const [expr, names] of rows) {
    it(`reads ${expr}`, () => {
      assert.deepEqual(selectedSeries(expr), names);
    });
  }
});

describe("prometheusOperatorProblems", () => {
  const monitor = {
    kind: "ServiceMonitor",
    metadata: { name: "m" },
    spec: { selector: {}, endpoints: [{ port: "https", intervall: "30s" }] },
  };

  it("rejects misspelt endpoint field", () => {
    assert.match(prometheusOperatorProblems(monitor).join("\n"), /endpoints\[0\]\.intervall/);
  });

  it("rejects rule without expr", () => {
    const rule = {
      kind: "PrometheusRule",
      metadata: { name: "r" },
      spec: { groups: [{ name: "g", rules: [{ alert: "A" }] }] },
    };
    assert.match(prometheusOperatorProblems(rule).join("\n"), /rules\[0\]\.expr/);
  });

  it("rejects invalid duration", () => {
    const rule = {
      kind: "PrometheusRule",
      metadata: { name: "r" },
      spec: { groups: [{ name: "g", rules: [{ alert: "A", expr: "up", for: "5 minutes" }] }] },
    };
    assert.match(
      prometheusOperatorProblems(rule).join("\n"),
      /\.for: "5 minutes" is not a duration/,
    );
  });
});

function isBalanced(expr: string): boolean {
  const closing: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
  const stack: string[] = [];
  // Quoted label values may hold any character.
  for (const character of expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')) {
    if ("([{".includes(character)) {
      stack.push(character);
    } else if (character in closing && stack.pop() !== closing[character]) {
      return false;
    }
  }
  return stack.length === 0;
}
