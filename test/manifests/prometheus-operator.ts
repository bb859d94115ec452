// A structural check of the Prometheus operator's ServiceMonitor and PrometheusRule
// (monitoring.coreos.com/v1). kubernetes-models has no schema for them, and no npm package
// ships one we trust more than these few rules: required fields, value types, known keys (a
// misspelt key would be dropped by the API server's pruning), and the duration syntax.

// The CRD's pattern for durations such as "30s", "1h30m" (prometheus-operator's Duration type).
const DURATION = /^(0|(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?)$/;

const SERVICE_MONITOR_SPEC_KEYS = [
  "endpoints",
  "selector",
  "namespaceSelector",
  "jobLabel",
  "targetLabels",
  "podTargetLabels",
  "sampleLimit",
  "targetLimit",
  "attachMetadata",
];

const ENDPOINT_KEYS = [
  "port",
  "targetPort",
  "path",
  "scheme",
  "params",
  "interval",
  "scrapeTimeout",
  "tlsConfig",
  "bearerTokenSecret",
  "authorization",
  "basicAuth",
  "oauth2",
  "honorLabels",
  "honorTimestamps",
  "metricRelabelings",
  "relabelings",
  "proxyUrl",
  "followRedirects",
  "enableHttp2",
  "filterRunning",
];

const RULE_KEYS = ["alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"];

/** Lists "<field path>: <problem>" strings for a ServiceMonitor or PrometheusRule. */
export function prometheusOperatorProblems(object: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const metadata = object["metadata"];
  if (!isRecord(metadata) || typeof metadata["name"] !== "string") {
    problems.push("metadata.name: required");
  }
  const spec = object["spec"];
  if (!isRecord(spec)) {
    return [...problems, "spec: required"];
  }
  switch (object["kind"]) {
    case "ServiceMonitor":
      return [...problems, ...serviceMonitorProblems(spec)];
    case "PrometheusRule":
      return [...problems, ...ruleProblems(spec)];
    default:
      return [...problems, `kind: ${String(object["kind"])} is not checked here`];
  }
}

function serviceMonitorProblems(spec: Record<string, unknown>): string[] {
  const problems = unknownKeys(spec, SERVICE_MONITOR_SPEC_KEYS, "spec");
  if (!isRecord(spec["selector"])) {
    problems.push("spec.selector: required");
  }
  const endpoints = spec["endpoints"];
  if (!Array.isArray(endpoints) || endpoints.length === 0) {
    return [...problems, "spec.endpoints: must be a non-empty list"];
  }
  endpoints.forEach((endpoint: unknown, index) => {
    const path = `spec.endpoints[${index}]`;
    if (!isRecord(endpoint)) {
      problems.push(`${path}: must be a mapping`);
      return;
    }
    problems.push(...unknownKeys(endpoint, ENDPOINT_KEYS, path));
    if (typeof endpoint["port"] !== "string") {
      problems.push(`${path}.port: must name a Service port`);
    }
    if (!["http", "https", undefined].includes(endpoint["scheme"] as string | undefined)) {
      problems.push(`${path}.scheme: must be http or https`);
    }
    checkDuration(endpoint["interval"], `${path}.interval`, problems);
  });
  return problems;
}

function ruleProblems(spec: Record<string, unknown>): string[] {
  const problems = unknownKeys(spec, ["groups"], "spec");
  const groups = spec["groups"];
  if (!Array.isArray(groups) || groups.length === 0) {
    return [...problems, "spec.groups: must be a non-empty list"];
  }
  groups.forEach((group: unknown, index) => {
    const path = `spec.groups[${index}]`;
    const rules = isRecord(group) ? group["rules"] : undefined;
    if (!isRecord(group) || typeof group["name"] !== "string") {
      problems.push(`${path}.name: required`);
    }
    if (!Array.isArray(rules) || rules.length === 0) {
      problems.push(`${path}.rules: must be a non-empty list`);
      return;
    }
    rules.forEach((rule: unknown, position) => {
      problems.push(...oneRuleProblems(rule, `${path}.rules[${position}]`));
    });
  });
  return problems;
}

function oneRuleProblems(rule: unknown, path: string): string[] {
  if (!isRecord(rule)) {
    return [`${path}: must be a mapping`];
  }
  const problems = unknownKeys(rule, RULE_KEYS, path);
  if ((typeof rule["alert"] === "string") === (typeof rule["record"] === "string")) {
    problems.push(`${path}: needs exactly one of alert and record`);
  }
  if (typeof rule["expr"] !== "string" || rule["expr"].trim() === "") {
    problems.push(`${path}.expr: must be a non-empty string`);
  }
  checkDuration(rule["for"], `${path}.for`, problems);
  for (const key of ["labels", "annotations"]) {
    const map = rule[key];
    if (map !== undefined && !(isRecord(map) && Object.values(map).every(isString))) {
      problems.push(`${path}.${key}: must map strings to strings`);
    }
  }
  return problems;
}

function checkDuration(value: unknown, path: string, problems: string[]): void {
  if (value !== undefined && (typeof value !== "string" || !DURATION.test(value))) {
    problems.push(`${path}: ${JSON.stringify(value)} is not a duration such as "30s" or "1h"`);
  }
}

function unknownKeys(value: Record<string, unknown>, known: readonly string[], path: string) {
  return Object.keys(value)
    .filter((key) => !known.includes(key))
    .map((key) => `${path}.${key}: unknown field; expected one of ${known.join(", ")}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isString(value: unknown): value is string {
  return typeof value === "string";
}
