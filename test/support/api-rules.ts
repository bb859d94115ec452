// Rules the Kubernetes API server (or the scheduler) enforces in Go code rather than in the
// OpenAPI schemas, so a schema-valid object can still be rejected or silently ignored. The checks
// follow apimachinery's ValidateAnnotations and label validation and the pod checks in
// k8s.io/kubernetes pkg/apis/core/validation (node affinity, container names). Each problem is
// one string, "<field path>: <what is wrong>".
import {
  dnsLabelProblems,
  dnsSubdomainProblems,
  isInt64,
  labelValueProblems,
  qualifiedNameProblems,
} from "./k8s-names.ts";

/** Total bytes of all annotation keys and values (TotalAnnotationSizeLimitB in apimachinery). */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024;

/** Kinds whose pod template sits at spec.template. */
const TEMPLATE_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"]);

type Problems = string[];

/** Pod-shaped parts of an object: a Pod itself, or the pod templates of a workload. */
interface PodPart {
  /** Field path of the part, or "" for the object itself. */
  readonly path: string;
  readonly metadata?: unknown;
  readonly spec?: unknown;
}

/** Lists the violations of these rules in `obj`, or an empty array when there are none. */
export function findApiRuleViolations(obj: Readonly<Record<string, unknown>>): string[] {
  const problems: Problems = [];
  checkObjectMeta(obj.metadata, "metadata", problems);

  for (const part of podParts(obj)) {
    if (part.path !== "") {
      checkObjectMeta(part.metadata, `${part.path}.metadata`, problems);
    }
    checkPodSpec(part.spec, part.path === "" ? "spec" : `${part.path}.spec`, problems);
  }
  return problems;
}

function podParts(obj: Readonly<Record<string, unknown>>): PodPart[] {
  const spec = asRecord(obj.spec);
  if (spec === undefined) {
    return [];
  }
  if (obj.kind === "Pod") {
    return [{ path: "", spec }];
  }
  if (typeof obj.kind === "string" && TEMPLATE_KINDS.has(obj.kind)) {
    const template = asRecord(spec.template);
    return template === undefined ? [] : [templatePart("spec.template", template)];
  }
  if (obj.kind === "CronJob") {
    return cronJobParts(spec);
  }
  return [];
}

function cronJobParts(spec: Record<string, unknown>): PodPart[] {
  const jobTemplate = asRecord(spec.jobTemplate);
  if (jobTemplate === undefined) {
    return [];
  }
  // The job template carries metadata of its own but no pod spec.
  const parts: PodPart[] = [{ path: "spec.jobTemplate", metadata: jobTemplate.metadata }];
  const template = asRecord(asRecord(jobTemplate.spec)?.template);
  if (template !== undefined) {
    parts.push(templatePart("spec.jobTemplate.spec.template", template));
  }
  return parts;
}

function templatePart(path: string, template: Record<string, unknown>): PodPart {
  return { path, metadata: template.metadata, spec: template.spec };
}

function checkObjectMeta(value: unknown, path: string, problems: Problems): void {
  const meta = asRecord(value);
  if (meta === undefined) {
    return;
  }
  checkLabels(meta.labels, `${path}.labels`, problems);
  checkAnnotations(meta.annotations, `${path}.annotations`, problems);
}

function checkLabels(value: unknown, path: string, problems: Problems): void {
  for (const [key, labelValue] of Object.entries(asRecord(value) ?? {})) {
    const keyPath = fieldPath(path, key);
    for (const message of qualifiedNameProblems(key)) {
      problems.push(`${keyPath}: key ${quote(key)} is invalid: ${message}`);
    }
    if (typeof labelValue === "string") {
      for (const message of labelValueProblems(labelValue)) {
        problems.push(`${keyPath}: value ${quote(labelValue)} is invalid: ${message}`);
      }
    }
  }
}

function checkAnnotations(value: unknown, path: string, problems: Problems): void {
  let totalBytes = 0;
  for (const [key, annotationValue] of Object.entries(asRecord(value) ?? {})) {
    // ValidateAnnotations lowercases each key before checking it, so capitals are allowed.
    for (const message of qualifiedNameProblems(key.toLowerCase())) {
      problems.push(`${fieldPath(path, key)}: key ${quote(key)} is invalid: ${message}`);
    }
    const text = typeof annotationValue === "string" ? annotationValue : "";
    totalBytes += Buffer.byteLength(key, "utf8") + Buffer.byteLength(text, "utf8");
  }
  if (totalBytes > MAX_ANNOTATIONS_BYTES) {
    const limit = `${MAX_ANNOTATIONS_BYTES} (256 KiB)`;
    problems.push(`${path}: keys and values take ${totalBytes} bytes; the maximum is ${limit}`);
  }
}

function checkPodSpec(value: unknown, path: string, problems: Problems): void {
  const spec = asRecord(value);
  if (spec === undefined) {
    return;
  }
  checkContainerNames(spec, path, problems);
  const nodeAffinity = asRecord(asRecord(spec.affinity)?.nodeAffinity);
  if (nodeAffinity !== undefined) {
    checkNodeAffinity(nodeAffinity, `${path}.affinity.nodeAffinity`, problems);
  }
}

/** Container names are RFC 1123 labels, unique across all three container lists of a pod. */
function checkContainerNames(
  spec: Record<string, unknown>,
  path: string,
  problems: Problems,
): void {
  const firstSeen = new Map<string, string>();

  for (const list of ["containers", "initContainers", "ephemeralContainers"]) {
    asArray(spec[list]).forEach((container, index) => {
      const name = asRecord(container)?.name;
      const namePath = `${path}.${list}[${index}].name`;
      if (typeof name !== "string") {
        return;
      }
      for (const message of dnsLabelProblems(name)) {
        problems.push(`${namePath}: ${quote(name)} is not a valid container name: ${message}`);
      }
      const earlier = firstSeen.get(name);
      if (earlier === undefined) {
        firstSeen.set(name, namePath);
      } else {
        problems.push(`${namePath}: duplicate container name ${quote(name)}, first at ${earlier}`);
      }
    });
  }
}

function checkNodeAffinity(
  affinity: Record<string, unknown>,
  path: string,
  problems: Problems,
): void {
  const requiredPath = `${path}.requiredDuringSchedulingIgnoredDuringExecution`;
  const required = asRecord(affinity.requiredDuringSchedulingIgnoredDuringExecution);
  if (required !== undefined) {
    const terms = asArray(required.nodeSelectorTerms);
    if (terms.length === 0) {
      problems.push(`${requiredPath}.nodeSelectorTerms: must have at least one term`);
    }
    terms.forEach((term, index) => {
      checkNodeSelectorTerm(term, `${requiredPath}.nodeSelectorTerms[${index}]`, problems);
    });
  }

  const preferredPath = `${path}.preferredDuringSchedulingIgnoredDuringExecution`;
  asArray(affinity.preferredDuringSchedulingIgnoredDuringExecution).forEach((item, index) => {
    const term = asRecord(item);
    const termPath = `${preferredPath}[${index}]`;
    const weight = term?.weight;
    if (typeof weight === "number" && !(Number.isInteger(weight) && weight >= 1 && weight <= 100)) {
      problems.push(`${termPath}.weight: ${weight} is invalid; expected an integer from 1 to 100`);
    }
    checkNodeSelectorTerm(term?.preference, `${termPath}.preference`, problems);
  });
}

function checkNodeSelectorTerm(value: unknown, path: string, problems: Problems): void {
  const term = asRecord(value);
  asArray(term?.matchExpressions).forEach((requirement, index) => {
    checkLabelRequirement(requirement, `${path}.matchExpressions[${index}]`, problems);
  });
  asArray(term?.matchFields).forEach((requirement, index) => {
    checkFieldRequirement(requirement, `${path}.matchFields[${index}]`, problems);
  });
}

/** Checks a matchExpressions entry: a label key, an operator, and values that fit the operator. */
function checkLabelRequirement(value: unknown, path: string, problems: Problems): void {
  const requirement = asRecord(value);
  if (requirement === undefined) {
    return;
  }
  const { key, operator } = requirement;
  const values = asArray(requirement.values);

  if (typeof key === "string") {
    for (const message of qualifiedNameProblems(key)) {
      problems.push(`${path}.key: ${quote(key)} is not a valid label key: ${message}`);
    }
  }
  const valueProblem = operatorValuesProblem(operator, values);
  if (valueProblem !== undefined) {
    problems.push(`${path}.values: ${valueProblem}`);
  }
  // The scheduler turns each term into a label selector with labels.NewRequirement, which
  // rejects values that are not label values, so the scheduler cannot evaluate such a term.
  values.forEach((item, index) => {
    for (const message of typeof item === "string" ? labelValueProblems(item) : []) {
      problems.push(
        `${path}.values[${index}]: ${quote(item)} is not a valid label value: ${message}`,
      );
    }
  });
}

function operatorValuesProblem(operator: unknown, values: unknown[]): string | undefined {
  switch (operator) {
    case "In":
    case "NotIn":
      return values.length === 0 ? `must be non-empty when operator is ${operator}` : undefined;
    case "Exists":
    case "DoesNotExist":
      return values.length === 0
        ? undefined
        : `must be empty when operator is ${operator}, got ${countValues(values.length)}`;
    case "Gt":
    case "Lt":
      return integerValueProblem(operator, values);
    default:
      // The schema's enum reports unknown operators.
      return undefined;
  }
}

/** Checks the values of a Gt or Lt requirement: exactly one, and a 64-bit decimal integer. */
function integerValueProblem(operator: "Gt" | "Lt", values: unknown[]): string | undefined {
  if (values.length !== 1) {
    return exactlyOneValue(operator, values.length);
  }
  if (isInt64(values[0])) {
    return undefined;
  }
  const value = quote(values[0]);
  return `${value} is not a 64-bit decimal integer, which operator ${operator} requires`;
}

/**
 * Checks a matchFields entry. Only metadata.name is supported, with In or NotIn and exactly one
 * node name, so steering toward several nodes takes one term per node.
 */
function checkFieldRequirement(value: unknown, path: string, problems: Problems): void {
  const requirement = asRecord(value);
  if (requirement === undefined) {
    return;
  }
  const { key, operator } = requirement;
  const values = asArray(requirement.values);

  if (key !== "metadata.name") {
    problems.push(`${path}.key: ${quote(key)} is not a supported field; expected "metadata.name"`);
  }
  if (operator !== "In" && operator !== "NotIn") {
    problems.push(`${path}.operator: ${quote(operator)} is not supported; expected In or NotIn`);
  } else if (values.length !== 1) {
    problems.push(`${path}.values: ${exactlyOneValue(operator, values.length)}`);
  }
  values.forEach((item, index) => {
    const messages = typeof item === "string" ? dnsSubdomainProblems(item) : [];
    for (const message of messages) {
      problems.push(
        `${path}.values[${index}]: ${quote(item)} is not a valid node name: ${message}`,
      );
    }
  });
}

function exactlyOneValue(operator: string, count: number): string {
  return `must have exactly one value when operator is ${operator}, got ${countValues(count)}`;
}

function countValues(count: number): string {
  return count === 1 ? "1 value" : `${count} values`;
}

/** Appends a map key to a field path, quoting keys that are not plain identifiers. */
function fieldPath(parent: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${parent}.${key}` : `${parent}[${quote(key)}]`;
}

function quote(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? (value as unknown[]) : [];
}
