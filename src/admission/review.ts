// AdmissionReview handling: decode the request, decide whether it is ours to mutate, run the
// pod mutation and build the response. Pure and synchronous; the server and dry-run share it.
import { field, isObject, stringField } from "../object-fields.ts";
import type { MutationContext, MutationResult, RequestSummary, ReviewOutcome } from "./contract.ts";
import { mutatePod, skipped, type MutationMode } from "./pod-mutation.ts";

/** Review versions the webhook accepts; the response must carry the request's own apiVersion. */
const SUPPORTED_VERSIONS = new Set(["admission.k8s.io/v1", "admission.k8s.io/v1beta1"]);

/** Decodes one AdmissionReview body and builds its response. */
export function reviewAdmission(body: unknown, context: MutationContext): ReviewOutcome {
  const problem = reviewProblem(body);
  if (problem !== undefined) {
    return { kind: "invalid", status: 400, message: problem };
  }
  const request = field(body, "request") as Record<string, unknown>;
  const summary = summarise(request);
  const mode = requestMode(request);
  const result =
    typeof mode === "string"
      ? skipped(field(request, "object"), mode)
      : mutatePod(field(request, "object"), namespaceOf(request), mode, {
          ...context,
          tieBreakSeed: summary.uid,
        });

  return {
    kind: "reviewed",
    status: 200,
    review: buildResponse(
      stringField(body, "apiVersion") ?? "admission.k8s.io/v1",
      summary.uid,
      result,
    ),
    request: summary,
    result,
  };
}

/** Returns why the body is not an AdmissionReview the webhook accepts, or undefined. */
function reviewProblem(body: unknown): string | undefined {
  if (!isObject(body)) {
    return "request body is not a JSON object; expected an AdmissionReview";
  }
  const apiVersion = body["apiVersion"];
  if (
    body["kind"] !== "AdmissionReview" ||
    typeof apiVersion !== "string" ||
    !SUPPORTED_VERSIONS.has(apiVersion)
  ) {
    return `expected kind AdmissionReview with apiVersion admission.k8s.io/v1 or v1beta1, got kind ${JSON.stringify(body["kind"])} apiVersion ${JSON.stringify(apiVersion)}`;
  }
  const request = body["request"];
  if (!isObject(request)) {
    return "AdmissionReview has no request object";
  }
  const uid = request["uid"];
  if (typeof uid !== "string" || uid === "") {
    return "AdmissionReview request has no uid";
  }
  return undefined;
}

/**
 * Pods are mutated on CREATE, and on UPDATE of the ephemeralcontainers subresource
 * (kubectl debug). Everything else is allowed unchanged, with the reason as a string.
 */
function requestMode(request: Record<string, unknown>): MutationMode | string {
  const kind = field(request, "kind");
  const kindName = stringField(kind, "kind");
  const group = stringField(kind, "group") ?? "";
  if (kindName !== "Pod" || group !== "") {
    return `kind ${group === "" ? "" : `${group}/`}${kindName ?? "(missing)"} is not a Pod`;
  }
  const operation = stringField(request, "operation");
  const subResource = stringField(request, "subResource") ?? "";
  if (operation === "CREATE" && subResource === "") {
    return { kind: "create" };
  }
  if (operation === "UPDATE" && subResource === "ephemeralcontainers") {
    return { kind: "ephemeral", oldPod: field(request, "oldObject") };
  }
  if (operation === "UPDATE") {
    return subResource === ""
      ? "pod UPDATE: a live pod's images and affinity are not changed"
      : `pod UPDATE of subresource ${subResource} is not mutated`;
  }
  return `operation ${operation ?? "(missing)"}${subResource === "" ? "" : ` of ${subResource}`} is not mutated`;
}

/** Returns the namespace: from the request, because the object often lacks it (generateName pods). */
function namespaceOf(request: Record<string, unknown>): string | undefined {
  return (
    stringField(request, "namespace") ??
    stringField(field(field(request, "object"), "metadata"), "namespace")
  );
}

/** Builds the request's identity; fields the request lacks are left out, not set to undefined. */
function summarise(request: Record<string, unknown>): RequestSummary {
  const metadata = field(field(request, "object"), "metadata");
  const summary: { -readonly [K in keyof RequestSummary]: RequestSummary[K] } = {
    uid: stringField(request, "uid") ?? "",
    dryRun: field(request, "dryRun") === true,
  };
  const optional: [keyof RequestSummary, string | undefined][] = [
    ["namespace", namespaceOf(request)],
    ["name", stringField(request, "name") ?? stringField(metadata, "name")],
    ["generateName", stringField(metadata, "generateName")],
    ["operation", stringField(request, "operation")],
    ["subResource", stringField(request, "subResource")],
    ["kind", stringField(field(request, "kind"), "kind")],
  ];
  for (const [key, value] of optional) {
    if (value !== undefined) {
      (summary as Record<string, unknown>)[key] = value;
    }
  }
  return summary;
}

/**
 * Builds the response review. patchType is set only together with a non-empty patch: the API
 * server rejects a patchType without a patch.
 */
export function buildResponse(
  apiVersion: string,
  uid: string,
  result: MutationResult,
): Record<string, unknown> {
  const response: Record<string, unknown> = { uid, allowed: true };
  if (result.patch.length > 0) {
    response["patchType"] = "JSONPatch";
    response["patch"] = Buffer.from(JSON.stringify(result.patch)).toString("base64");
  }
  if (result.warnings.length > 0) {
    response["warnings"] = [...result.warnings];
  }
  return { apiVersion, kind: "AdmissionReview", response };
}

/**
 * Builds a response that admits the pod unchanged with a warning, for internal failures and the
 * internal deadline. Returns undefined when the body has no request uid to echo.
 */
export function allowUnchanged(
  body: unknown,
  warning: string,
): Record<string, unknown> | undefined {
  const uid = stringField(field(body, "request"), "uid");
  if (uid === undefined || uid === "") {
    return undefined;
  }
  const apiVersion = stringField(body, "apiVersion");
  const version =
    apiVersion !== undefined && SUPPORTED_VERSIONS.has(apiVersion)
      ? apiVersion
      : "admission.k8s.io/v1";
  return {
    apiVersion: version,
    kind: "AdmissionReview",
    response: { uid, allowed: true, warnings: [warning] },
  };
}

/** Serialises a response review exactly as the server sends it. */
export function serializeReview(review: Record<string, unknown>): string {
  return JSON.stringify(review);
}
