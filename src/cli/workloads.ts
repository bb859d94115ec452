// Objects dry-run accepts, and where each keeps its pod: a Pod is its own pod, workloads carry a
// pod template, and Lists and AdmissionReviews wrap other objects.
import { field, isObject, stringField } from "../object-fields.ts";

/** JSON pointer to the pod template of each workload kind (group/kind from apiVersion). */
const TEMPLATE_PATHS: ReadonlyMap<string, string> = new Map([
  ["apps/Deployment", "/spec/template"],
  ["apps/StatefulSet", "/spec/template"],
  ["apps/DaemonSet", "/spec/template"],
  ["apps/ReplicaSet", "/spec/template"],
  ["batch/Job", "/spec/template"],
  ["batch/CronJob", "/spec/jobTemplate/spec/template"],
]);

export type InputItem =
  | { readonly type: "pod"; readonly object: Record<string, unknown> }
  | {
      readonly type: "workload";
      readonly object: Record<string, unknown>;
      readonly templatePath: string;
    }
  | { readonly type: "review"; readonly object: Record<string, unknown> }
  | { readonly type: "unsupported"; readonly object: unknown; readonly reason: string };

/** Flattens parsed documents into the items to mutate, Lists expanded, in input order. */
export function classifyDocuments(documents: readonly unknown[]): InputItem[] {
  return documents.flatMap((document) => classify(document));
}

function classify(document: unknown): InputItem[] {
  if (!isObject(document)) {
    return [{ type: "unsupported", object: document, reason: "document is not an object" }];
  }
  const kind = stringField(document, "kind");
  const apiVersion = stringField(document, "apiVersion") ?? "";
  if (kind !== undefined && kind.endsWith("List") && Array.isArray(document["items"])) {
    return classifyDocuments(document["items"] as unknown[]);
  }
  if (kind === "AdmissionReview") {
    return [{ type: "review", object: document }];
  }
  if (kind === "Pod" && !apiVersion.includes("/")) {
    return [{ type: "pod", object: document }];
  }
  const group = apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : "";
  const templatePath = TEMPLATE_PATHS.get(`${group}/${kind ?? ""}`);
  if (templatePath !== undefined) {
    return [{ type: "workload", object: document, templatePath }];
  }
  return [
    {
      type: "unsupported",
      object: document,
      reason: `kind ${kind ?? "(missing)"} (apiVersion ${apiVersion || "(missing)"}) has no pod; expected a Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, List or AdmissionReview`,
    },
  ];
}

/** Reads the object at a JSON pointer made of plain member names. */
export function valueAtPath(object: unknown, path: string): unknown {
  return path
    .split("/")
    .slice(1)
    .reduce<unknown>((value, key) => field(value, key), object);
}

/** A label for messages: "Kind namespace/name". */
export function describeObject(object: unknown, namespace: string | undefined): string {
  const metadata = field(object, "metadata");
  const name =
    stringField(metadata, "name") ?? `${stringField(metadata, "generateName") ?? ""}<generated>`;
  const kind = stringField(object, "kind") ?? "object";
  return `${kind} ${namespace === undefined ? "" : `${namespace}/`}${name}`;
}
