// Validates Kubernetes objects the way tests need: against the OpenAPI schemas shipped by
// kubernetes-models and @kubernetes-models/cert-manager, then against the API server rules those
// schemas leave out (api-rules.ts). Use it on patched pods and on the manifests we ship.
import { Certificate } from "@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate";
import { CertificateRequest } from "@kubernetes-models/cert-manager/cert-manager.io/v1/CertificateRequest";
import { ClusterIssuer } from "@kubernetes-models/cert-manager/cert-manager.io/v1/ClusterIssuer";
import { Issuer } from "@kubernetes-models/cert-manager/cert-manager.io/v1/Issuer";
import { MutatingWebhookConfiguration } from "kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration";
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { ReplicaSet } from "kubernetes-models/apps/v1/ReplicaSet";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { CronJob } from "kubernetes-models/batch/v1/CronJob";
import { Job } from "kubernetes-models/batch/v1/Job";
import { Lease } from "kubernetes-models/coordination.k8s.io/v1/Lease";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Pod } from "kubernetes-models/v1/Pod";
import { Service } from "kubernetes-models/v1/Service";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";

import { findApiRuleViolations } from "./api-rules.ts";

/**
 * A kubernetes-models class: its static type meta, and validate() that throws on violations.
 * Each class types its constructor argument as the fields of its kind. Here the data is
 * unchecked until validate() runs, so the parameter is typed `never` and callers cast to it.
 */
interface ModelClass {
  readonly apiVersion: string;
  readonly kind: string;
  new (data: never): { validate(): void };
}

const MODELS: readonly ModelClass[] = [
  Pod,
  Namespace,
  ServiceAccount,
  Service,
  ConfigMap,
  PersistentVolumeClaim,
  Deployment,
  StatefulSet,
  DaemonSet,
  ReplicaSet,
  Job,
  CronJob,
  Role,
  RoleBinding,
  ClusterRole,
  ClusterRoleBinding,
  MutatingWebhookConfiguration,
  NetworkPolicy,
  PodDisruptionBudget,
  Lease,
  Certificate,
  CertificateRequest,
  Issuer,
  ClusterIssuer,
];

const MODELS_BY_TYPE = new Map(
  MODELS.map((model) => [typeKey(model.apiVersion, model.kind), model]),
);

/** Raised by assertValidObject; `problems` lists every violation found. */
export class InvalidKubernetesObjectError extends Error {
  readonly problems: readonly string[];

  constructor(subject: string, problems: readonly string[]) {
    super(`${subject} is invalid:\n  - ${problems.join("\n  - ")}`);
    this.name = "InvalidKubernetesObjectError";
    this.problems = problems;
  }
}

/** Lists the apiVersion and kind pairs validateObject supports, e.g. "apps/v1 Deployment". */
export function supportedTypes(): string[] {
  return [...MODELS_BY_TYPE.keys()];
}

/**
 * Validates a Kubernetes object against the schema for its apiVersion and kind, then against
 * the API server rules the schemas miss. Returns one "<field path>: <problem>" string per
 * violation, empty when the object is valid. An object of a type not in supportedTypes() is a
 * problem, never a pass. Unknown fields are not reported, because the schemas allow them.
 */
export function validateObject(obj: unknown): string[] {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    return [`(root): expected a Kubernetes object, got ${describeType(obj)}`];
  }
  const record = obj as Record<string, unknown>;
  const { apiVersion, kind } = record;
  if (typeof apiVersion !== "string" || typeof kind !== "string") {
    return ["(root): apiVersion and kind must both be strings"];
  }

  const model = MODELS_BY_TYPE.get(typeKey(apiVersion, kind));
  if (model === undefined) {
    return [
      `(root): no schema for ${typeKey(apiVersion, kind)}; ` +
        `add its kubernetes-models class to MODELS in test/support/schema.ts`,
    ];
  }
  return [...schemaProblems(model, record), ...findApiRuleViolations(record)];
}

/** Throws InvalidKubernetesObjectError listing every problem validateObject finds. */
export function assertValidObject(obj: unknown): void {
  const problems = validateObject(obj);
  if (problems.length > 0) {
    throw new InvalidKubernetesObjectError(describeObject(obj), problems);
  }
}

function schemaProblems(model: ModelClass, obj: Record<string, unknown>): string[] {
  try {
    new model(obj as never).validate();
    return [];
  } catch (err: unknown) {
    const errors = ajvErrors(err);
    if (errors === undefined) {
      throw err;
    }
    return errors.map(formatAjvError);
  }
}

/** The subset of an ajv ErrorObject this module reads. */
interface AjvError {
  readonly instancePath: string;
  readonly message?: string;
  readonly params?: Readonly<Record<string, unknown>>;
}

/** Extracts the ajv errors from the ValidationError that kubernetes-models throws. */
function ajvErrors(err: unknown): AjvError[] | undefined {
  if (typeof err !== "object" || err === null || !("errors" in err) || !Array.isArray(err.errors)) {
    return undefined;
  }
  return (err.errors as unknown[]).filter(
    (item): item is AjvError =>
      typeof item === "object" &&
      item !== null &&
      "instancePath" in item &&
      typeof item.instancePath === "string",
  );
}

function formatAjvError(error: AjvError): string {
  const path = pointerToFieldPath(error.instancePath);
  const message = error.message ?? "is invalid";
  const allowed = error.params?.allowedValues;
  const detail = Array.isArray(allowed)
    ? ` (${allowed.map((v) => JSON.stringify(v)).join(", ")})`
    : "";
  return `${path}: ${message}${detail}`;
}

/** Converts an ajv instancePath ("/spec/containers/0/image") into "spec.containers[0].image". */
export function pointerToFieldPath(pointer: string): string {
  if (pointer === "") {
    return "(root)";
  }
  const segments = pointer
    .slice(1)
    .split("/")
    .map((segment) => segment.replaceAll("~1", "/").replaceAll("~0", "~"));

  let path = "";
  for (const segment of segments) {
    if (/^(0|[1-9][0-9]*)$/.test(segment)) {
      path += `[${segment}]`;
    } else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(segment)) {
      path += path === "" ? segment : `.${segment}`;
    } else {
      path += `[${JSON.stringify(segment)}]`;
    }
  }
  return path;
}

/** Names an object for error messages: "<apiVersion> <kind> <name>". */
function describeObject(obj: unknown): string {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    return describeType(obj);
  }
  const { apiVersion, kind, metadata } = obj as Record<string, unknown>;
  const meta = typeof metadata === "object" && metadata !== null ? metadata : {};
  const { name, generateName } = meta as Record<string, unknown>;

  let shownName = "(unnamed)";
  if (typeof name === "string") {
    shownName = name;
  } else if (typeof generateName === "string") {
    shownName = `${generateName}*`;
  }
  return `${String(apiVersion)} ${String(kind)} ${shownName}`;
}

function describeType(value: unknown): string {
  if (value === null) {
    return "null";
  }
  return Array.isArray(value) ? "an array" : typeof value;
}

function typeKey(apiVersion: string, kind: string): string {
  return `${apiVersion} ${kind}`;
}
